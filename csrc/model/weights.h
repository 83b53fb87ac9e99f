// weights.h — what an encoder is made of: its sizes (EncoderConfig) and its parameters (EncoderWeights).
//
// One structure serves every family (BERT, DistilBERT, RoBERTa, ELECTRA, ALBERT, MPNet, NomicBERT, GTE,
// ModernBERT): they differ only in data, and those are fields here, never branches on a family name:
//   embeddings   token types or none; a learned position table or none (rotary families); an
//                embedding projection E→H after the LayerNorm (ALBERT), before it (DeBERTa), or none
//   layers       which weight set each layer runs (ALBERT shares one); post-LayerNorm (BERT) or
//                pre-LayerNorm with a final norm (norm_first: ModernBERT), a layer's first norm absent
//                (ModernBERT's layer 0); linears and norms with or without bias (a missing norm bias is
//                zeros); a plain FFN act(x·Wiᵀ)·Woᵀ or a gated one (act(x·Wgᵀ) ⊙ x·Wiᵀ)·Woᵀ (GeGLU, SwiGLU)
//   attention    per layer: rotary positions from one of the tables (a base per layer type, NeoX
//                half-split over the first `dim` features of each head) or none; a local window or
//                full; one relative-position bias table shared by every layer (MPNet) or none;
//                disentangled position terms (DeBERTa): per layer set, the shared relative embeddings
//                already projected by that layer's key and/or query projection, read through one
//                relative position → table row map; a score scale counting those terms
//   pooler       dense + tanh on position 0, or none
// Python maps each family's checkpoint names and config onto these fields; model/builder.h assembles them.
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
  bool absolute_positions = true;  // a learned (P, E) position table is added to the embeddings
  bool norm_first = false;         // pre-LayerNorm layers and a final norm; else post-LayerNorm
  bool gated_ffn = false;          // each layer set has ffn_gate
  std::vector<int> layer_window;   // (L) each layer's attention window (0: full), or empty: all full
  std::vector<int> layer_rotary;   // (L) each layer's rotary table (-1: none), or empty: none anywhere
  bool projection_before_norm = false;  // the embedding projection runs before the LayerNorm (then of size H)
  // Disentangled attention: rows R of the relative-position tables (0: none), and the scores' scale
  // 1/√(HS · score_scale_factor) (DeBERTa counts the position terms in it: 1 + c2p + p2c).
  int pos_rows = 0;
  int score_scale_factor = 1;
};

// cos and sin of position · inv_freq, (P, dim / 2) each, for rotating the first `dim` features of every
// head of q and k (NeoX half-split: feature i pairs with i + dim / 2). Computed by the caller exactly
// as transformers computes them.
struct RotaryTable {
  int dim = 0;
  WeightVector cos, sin;
};

// One transformer layer's parameters (a "weight set": ALBERT runs one set in several layers).
struct LayerWeights {
  Dense qkv;       // (3H, H): query, key and value weights stacked in that order
  Dense attn_out;  // (H, H)
  Norm attn_norm;  // (H); after attention (post-LN) or before it (pre-LN, where it may be empty: none)
  Dense ffn_in;    // (I, H); the linear half when gated
  Dense ffn_gate;  // (I, H) the activated half of a gated FFN, empty otherwise
  Dense ffn_out;   // (H, I)
  Norm ffn_norm;   // (H)
  // Disentangled attention (EncoderConfig::pos_rows R > 0): the relative embeddings through this set's
  // position key / query projections, (R, H) each, or empty where the layout has no such term.
  WeightVector pos_key, pos_query;
};

struct EncoderWeights {
  WeightVector word_embeddings;        // (V, E)
  WeightVector position_embeddings;    // (P, E), empty without absolute positions
  WeightVector token_type_embeddings;  // (TV, E), empty when TV == 0
  Norm embedding_norm;                 // (E)
  Dense embedding_projection;          // (H, E), empty when E == H and the family has none
  std::vector<LayerWeights> layer_sets;
  std::vector<int> layer_map;          // (L) indices into layer_sets
  Dense pooler;                        // (H, H) + tanh, empty when the family has none
  Norm final_norm;                     // (H) after the last layer (pre-LN families), empty otherwise
  WeightVector relative_bias;          // (NH, 2P − 1) AttentionArgs::rel_bias with rel_span P, or empty
  // (2S − 1), S ≥ P: AttentionArgs::pos_col with rel_span S, or empty. A map whose ends are the tables'
  // first and last rows reads them at every farther distance too (a clamped map, as DeBERTa's), so it
  // takes sequences longer than S; any other refuses them.
  std::vector<int> pos_col;
  std::vector<RotaryTable> rotary;     // indexed by EncoderConfig::layer_rotary
};

}  // namespace pbc
