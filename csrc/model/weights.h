// weights.h — what an encoder is made of: its sizes (EncoderConfig) and its parameters (EncoderWeights).
//
// One structure serves every family (BERT, DistilBERT, RoBERTa, ELECTRA, ALBERT, ...): they differ
// only in data — whether token-type embeddings exist, whether an embedding projection E→H follows the
// embedding LayerNorm, which weight set each layer uses (ALBERT shares one), whether a pooler exists —
// and those are fields here, never branches on a family name. Python maps each family's checkpoint
// names onto these fields; model/builder.h assembles them.
#pragma once

#include <vector>

#include "kernels/kernels.h"
#include "model/dense.h"

namespace pbc {

struct EncoderConfig {
  int V = 0;        // vocab
  int P = 0;        // max positions
  int TV = 0;       // token types; 0 when the family has none (DistilBERT)
  int E = 0;        // embedding size (== H unless an embedding projection exists)
  int H = 0, NH = 0, I = 0;
  int L = 0;        // layers run; layer_map[l] picks the weight set of layer l
  Activation act = Activation::kGeluErf;
  float layer_norm_eps = 1e-12f;
};

// One transformer layer's parameters (a "weight set": ALBERT runs one set in several layers).
struct LayerWeights {
  Dense qkv;       // (3H, H): query, key and value weights stacked in that order
  Dense attn_out;  // (H, H)
  Norm attn_norm;  // (H)
  Dense ffn_in;    // (I, H)
  Dense ffn_out;   // (H, I)
  Norm ffn_norm;   // (H)
};

struct EncoderWeights {
  WeightVector word_embeddings;        // (V, E)
  WeightVector position_embeddings;    // (P, E)
  WeightVector token_type_embeddings;  // (TV, E), empty when TV == 0
  Norm embedding_norm;                 // (E)
  Dense embedding_projection;          // (H, E), empty when E == H and the family has none
  std::vector<LayerWeights> layer_sets;
  std::vector<int> layer_map;          // (L) indices into layer_sets
  Dense pooler;                        // (H, H) + tanh, empty when the family has none
};

}  // namespace pbc
