// builder.h — assembling an Encoder from named weight arrays: shape checks, QKV fusion, precision.
//
// The builder takes the encoder one piece at a time, so the caller can let each piece's source pages go
// once it is packed (peak memory during a load: the packed weights plus one layer's sources, not both
// copies of everything). Pieces are maps of float32 row-major arrays under these names:
//   embeddings():          position (P, E) with absolute positions, token_type (TV, E) when TV > 0,
//                          norm.{weight,bias} (E), projection.{weight (H, E), bias (H)} optional,
//                          relative_bias (NH, 2P − 1) optional; copied into aligned storage.
//   word_embedding_rows(): rows (n, E) of the word table, from row `begin`, in order until all V are
//                          given: the caller converts and releases the table block by block (on XLM-R,
//                          250k x 768, it is most of the weights).
//   add_layer_set():       {q,k,v,attn_out}.{weight (H, H), bias (H)}, attn_norm.{weight,bias} (H),
//                          ffn_in.{weight (I, H), bias (I)}, ffn_gate.{weight (I, H), bias (I)} when
//                          gated, ffn_out.{weight (H, I), bias (H)}, ffn_norm.{weight,bias} (H); weight
//                          sets are numbered in the order they are added. q, k and v are packed into the
//                          fused (3H, H) QKV panel through one reused staging buffer (no caller-side
//                          concat). Every bias may be absent (none; a norm's is then zeros); attn_norm
//                          may be absent in a pre-LN layer.
//   relative_positions():  DeBERTa's shared relative embeddings (R, H) with norm.{weight,bias} (H)
//                          optional (applied here, once), and the relative position → table row map
//                          (2P − 1); before the layer sets, which then may carry pos_key.{weight,bias}
//                          and pos_query.{weight,bias} (H, H): the projections the embeddings go
//                          through for that set's position terms (a layout sharing the attention's
//                          key and query projections passes those). Only the projected tables are
//                          kept (LayerWeights::pos_key, pos_query), computed in float32.
//   add_rotary():          cos, sin (P, dim / 2): rotary table number i for the i-th call.
//   final_norm():          weight, bias (H): pre-LN families.
//   pooler():              weight (H, H), bias (H).
// `precision` applies to the layers' four matrix multiplies (qkv, attn_out, ffn_in, ffn_out); the
// embedding projection and the pooler stay fp32, and so does every layer named in keep_float32
// ("layers.<s>.<role>", s counting the weight sets added), for layers whose accuracy a measurement
// showed to be sensitive. build() validates the whole (Encoder's constructor) and hands the encoder
// over; the builder is then spent. Errors are std::invalid_argument naming the piece and key.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "model/encoder.h"

namespace pbc {

// A float32 row-major array lent by the caller for the duration of one builder call.
struct WeightArray {
  const float* data = nullptr;
  std::vector<int64_t> shape;
};
using WeightPiece = std::map<std::string, WeightArray>;

Precision parse_precision(const std::string& name);  // "float32", "bfloat16", "int8"
const char* precision_name(Precision p);

class EncoderBuilder {
 public:
  EncoderBuilder(const EncoderConfig& c, std::vector<int> layer_map, Precision precision,
                 std::vector<std::string> keep_float32);
  void embeddings(const WeightPiece& w);
  void word_embedding_rows(int64_t begin, const WeightArray& rows);
  void add_layer_set(const WeightPiece& w);
  void relative_positions(const WeightPiece& w, std::vector<int> columns);
  void add_rotary(const WeightPiece& w);
  void final_norm(const WeightPiece& w);
  void pooler(const WeightPiece& w);
  std::unique_ptr<Encoder> build();

 private:
  void check_open() const;
  Precision precision_of(const std::string& name) const;

  EncoderConfig c_;
  Precision lowp_;
  std::vector<std::string> keep_float32_;
  const Kernels* k_;
  EncoderWeights ew_;
  AlignedBuffer qkv_stage_;  // (3H, H) weights then (3H) bias, reused across layer sets
  WeightVector relative_;    // (R, H) normalised relative embeddings, until build()
  int64_t word_rows_ = 0;    // word embedding rows given so far
  bool have_embeddings_ = false;
  bool spent_ = false;
};

}  // namespace pbc
