// io.h — the inputs and outputs of one forward call, as the caller's (B, T) arrays.
#pragma once

#include <cstdint>

namespace pbc {

// Inputs of one forward call; all (B, T) row-major int64, every pointer but input_ids optional.
// position_ids defaults to the token's index t in its padded row.
struct ForwardInputs {
  int B = 0, T = 0;
  const int64_t* input_ids = nullptr;
  const int64_t* attention_mask = nullptr;  // nonzero = real token
  const int64_t* token_type_ids = nullptr;  // defaults to 0
  const int64_t* position_ids = nullptr;
};

// Output buffers, allocated by the caller; null where not wanted. The forward pass writes every
// element of each buffer it is given.
struct ForwardOutputs {
  float* last_hidden_state = nullptr;  // (B, T, H)
  float* pooler_output = nullptr;      // (B, H); needs a pooler
  float* hidden_states = nullptr;      // (L + 1, B, T, H): the embeddings' output, then each layer's
  float* attentions = nullptr;         // (L, B, NH, T, T)
  // (B, H): each sequence's position 0 after the last layer (last_hidden_state[:, 0]). Asked for without
  // last_hidden_state, hidden_states, attentions, mean_pooled and packed_rows, the last layer computes
  // nothing else.
  float* first_hidden_state = nullptr;
  // (B, H): the mean of each sequence's real tokens (attention_mask 1) of the last hidden state, zeros
  // where it has none: sentence-transformers' mean pooling, computed on the packed rows.
  float* mean_pooled = nullptr;
  // (N, H): the last hidden state of every row the core computes (model/packing.h), as it holds them:
  // sequence after sequence, in token order, each sequence's real tokens (attention_mask non-zero)
  // preceded by its position 0 where that is masked. N = Σ_b (real tokens of b, + 1 where b's position 0
  // is masked); B·T without a mask. For a caller that reads the real tokens alone (a token head, SPLADE,
  // any pooling) and would otherwise gather them back out of last_hidden_state's padding.
  float* packed_rows = nullptr;
};

}  // namespace pbc
