// register_testing.cc — _core.testing: hooks for the tests only. Kernels alone (attention, LayerNorm and
// GEMM with packed operands: the handovers of model/blocks.h) on any compiled level, and the number
// formats of kernels/quantize.h exactly as the kernels apply them. Nothing in pybertcore calls these.
#include <pybind11/stl.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "bindings/arrays.h"
#include "bindings/layer_norm.h"
#include "bindings/register.h"
#include "kernels/kernels.h"
#include "kernels/quantize.h"
#include "model/dense.h"
#include "runtime/aligned.h"
#include "runtime/cpu.h"
#include "runtime/parallel.h"
#include "runtime/threads.h"

namespace pbc_py {

namespace {

using pbc::Activation;
using pbc::Dense;

// d on a (M, K) input or, with packed_rows, on a 1-D operand of that many rows in the level's packed
// layout (GemmArgs::a_packed); packed_output returns the result in that layout (1-D) instead of (M, N).
// The layout is fp32's, or for a bf16 layer the level's bf16 one (AMX: bf16 pairs in float storage).
FloatArray dense_forward(const Dense& d, const FloatArray& x, Activation act, const py::object& residual,
                         const py::object& packed_rows, bool packed_output) {
  if ((!packed_rows.is_none() || packed_output) && !d.takes_packed() && !d.takes_packed_bf16()) {
    throw std::invalid_argument("packed operands are for float32 layers and bf16 layers of a level with a bf16 layout");
  }
  auto operand_floats = [&d](int rows, int cols) {
    return d.takes_packed() ? d.kernels->packed_a_floats(rows, cols) : d.kernels->packed_a_bf16_floats(rows, cols);
  };
  py::ssize_t M = 0;
  if (packed_rows.is_none()) {
    if (x.ndim() != 2 || x.shape(1) != d.K) {
      throw std::invalid_argument("input has shape " + shape_str(x) + ", expected (M, " + std::to_string(d.K) + ")");
    }
    M = x.shape(0);
  } else {
    M = packed_rows.cast<py::ssize_t>();
    if (M < 0 || M > std::numeric_limits<int>::max()) throw std::invalid_argument("packed_rows out of range");
    const size_t want = operand_floats(static_cast<int>(M), d.K);
    if (x.ndim() != 1 || static_cast<size_t>(x.shape(0)) != want) {
      throw std::invalid_argument("packed input has shape " + shape_str(x) + ", expected (" + std::to_string(want) +
                                  ",)");
    }
  }
  const float* rp = nullptr;
  FloatArray res;
  if (!residual.is_none()) {
    res = float_array(residual, "residual");
    if (res.ndim() != 2 || res.shape(0) != M || res.shape(1) != d.N) {
      throw std::invalid_argument("residual has shape " + shape_str(res) + ", expected (" + std::to_string(M) + ", " +
                                  std::to_string(d.N) + ")");
    }
    rp = res.data();
  }
  FloatArray y = packed_output
                     ? FloatArray(static_cast<py::ssize_t>(operand_floats(static_cast<int>(M), d.N)))
                     : FloatArray({M, static_cast<py::ssize_t>(d.N)});
  pbc::GemmArgs g = d.args(y.mutable_data(), d.N, x.data(), d.K, static_cast<int>(M), act, rp, d.N);
  if (!packed_rows.is_none()) g.a_packed = x.data(), g.a = nullptr;
  if (packed_output) g.c_packed = y.mutable_data(), g.c = nullptr;
  py::gil_scoped_release release;
  const pbc::ThreadLease lease;
  d.run(g);
  return y;
}

// qkv (N, 3H); spans (B, 3) int32 rows [row_begin, key_begin, row_end) of each sequence; slots (N) int32
// token index of each row within its padded sequence (needed for the probabilities). Returns
// (ctx (N, H), probs (B, NH, T, T) or None).
// rel_bias (NH, 2·T − 1) or None, window ≥ 0: AttentionArgs' relative bias (rel_span = T) and window.
// pos_key, pos_query (R, H) or None with pos_col (2·T − 1) int32: the disentangled terms (rel_span = T).
// bf16: run the level's attention_bf16 (the attention of bf16 models) instead of its attention.
py::tuple attention(const FloatArray& qkv, const py::array_t<int32_t, py::array::c_style>& spans, int num_heads,
                    int T, float scale, const py::object& slots, bool output_probs, const py::object& isa,
                    const py::object& rel_bias, int window, const py::object& pos_key, const py::object& pos_query,
                    const py::object& pos_col, bool bf16) {
  const pbc::Kernels& k = kernels_named(isa);
  if (qkv.ndim() != 2 || num_heads < 1 || qkv.shape(1) % (3 * num_heads) != 0) {
    throw std::invalid_argument("qkv has shape " + shape_str(qkv) + ", expected (N, 3 * num_heads * head_size)");
  }
  if (spans.ndim() != 2 || spans.shape(1) != 3) {
    throw std::invalid_argument("spans has shape " + shape_str(spans) + ", expected (B, 3)");
  }
  if (!(scale > 0.0f) || !std::isfinite(scale)) {
    throw std::invalid_argument("scale must be a positive finite number, got " + std::to_string(scale));
  }
  const int N = static_cast<int>(qkv.shape(0)), H = static_cast<int>(qkv.shape(1) / 3);
  const int B = static_cast<int>(spans.shape(0));
  std::vector<pbc::SequenceSpan> seqs(B);
  int prev = 0;
  for (int b = 0; b < B; ++b) {
    const int32_t* s = spans.data() + 3 * b;
    if (s[0] != prev || s[1] < s[0] || s[2] < s[1] || s[2] > N || s[2] - s[0] > T) {
      throw std::invalid_argument("spans row " + std::to_string(b) + " is not a valid contiguous span");
    }
    seqs[b] = pbc::SequenceSpan{s[0], s[1], s[2]};
    prev = s[2];
  }
  if (prev != N) throw std::invalid_argument("spans do not cover the N rows of qkv");
  std::vector<int> slot(N);
  if (!slots.is_none()) {
    auto sl = slots.cast<py::array_t<int32_t, py::array::c_style>>();
    if (sl.ndim() != 1 || sl.shape(0) != N) throw std::invalid_argument("slots must have shape (N,)");
    for (int r = 0; r < N; ++r) {
      if (sl.data()[r] < 0 || sl.data()[r] >= T) throw std::invalid_argument("slots out of [0, T)");
      slot[r] = sl.data()[r];
    }
  } else {
    for (const pbc::SequenceSpan& sp : seqs) {
      for (int r = sp.row_begin; r < sp.row_end; ++r) slot[r] = r - sp.row_begin;
    }
  }
  FloatArray bias;
  if (!rel_bias.is_none()) {
    bias = float_array(rel_bias, "rel_bias");
    if (bias.ndim() != 2 || bias.shape(0) != num_heads || bias.shape(1) != 2 * static_cast<py::ssize_t>(T) - 1) {
      throw std::invalid_argument("rel_bias has shape " + shape_str(bias) + ", expected (num_heads, 2 * T - 1)");
    }
  }
  if (window < 0) throw std::invalid_argument("window must be >= 0");
  // Disentangled terms: tables (R, H) and a nondecreasing map into [0, R); keys in ascending slot order.
  FloatArray tables[2];
  const py::object* table_objs[2] = {&pos_key, &pos_query};
  int R = -1;
  for (int i = 0; i < 2; ++i) {
    if (table_objs[i]->is_none()) continue;
    tables[i] = float_array(*table_objs[i], i ? "pos_query" : "pos_key");
    if (tables[i].ndim() != 2 || tables[i].shape(1) != H || (R >= 0 && tables[i].shape(0) != R)) {
      throw std::invalid_argument("pos_key and pos_query must have the same shape (R, H)");
    }
    R = static_cast<int>(tables[i].shape(0));
  }
  std::vector<int> columns;
  if (R >= 0) {
    if (pos_col.is_none()) throw std::invalid_argument("pos_key / pos_query need pos_col");
    auto pc = pos_col.cast<py::array_t<int32_t, py::array::c_style>>();
    if (pc.ndim() != 1 || pc.shape(0) != 2 * static_cast<py::ssize_t>(T) - 1) {
      throw std::invalid_argument("pos_col must have shape (2 * T - 1,)");
    }
    columns.assign(pc.data(), pc.data() + pc.shape(0));
    for (size_t i = 0; i < columns.size(); ++i) {
      if (columns[i] < 0 || columns[i] >= R || (i && columns[i] < columns[i - 1])) {
        throw std::invalid_argument("pos_col must be nondecreasing within [0, R)");
      }
    }
    for (const pbc::SequenceSpan& sp : seqs) {
      for (int r = sp.row_begin + 1; r < sp.row_end; ++r) {
        if (slot[r] <= slot[r - 1]) throw std::invalid_argument("slots must ascend within a sequence");
      }
    }
  }
  FloatArray ctx({static_cast<py::ssize_t>(N), static_cast<py::ssize_t>(H)});
  py::object probs_obj = py::none();
  float* probs = nullptr;
  if (output_probs) {
    FloatArray p({static_cast<py::ssize_t>(B), static_cast<py::ssize_t>(num_heads), static_cast<py::ssize_t>(T),
                  static_cast<py::ssize_t>(T)});
    std::fill(p.mutable_data(), p.mutable_data() + p.size(), 0.0f);
    probs = p.mutable_data();
    probs_obj = p;
  }
  pbc::AttentionArgs a;
  a.ctx = ctx.mutable_data();
  a.ld_ctx = H;
  a.probs = probs;
  a.slot = slot.data();
  a.qkv = qkv.data();
  a.ld_qkv = 3 * H;
  a.seqs = seqs.data();
  a.B = B;
  a.NH = num_heads;
  a.HS = H / num_heads;
  a.T = T;
  a.scale = scale;
  a.rel_bias = rel_bias.is_none() ? nullptr : bias.data();
  a.rel_span = T;
  a.window = window;
  if (R >= 0) {
    a.pos_key = pos_key.is_none() ? nullptr : tables[0].data();
    a.pos_query = pos_query.is_none() ? nullptr : tables[1].data();
    a.ld_pos = H;
    a.pos_col = columns.data();
  }
  {
    py::gil_scoped_release release;
    const pbc::ThreadLease lease;
    a.threads = lease.threads();
    a.scratch_floats = k.attention_scratch_floats(T, a.HS, R > 0 ? R : 0);
    pbc::AlignedBuffer scratch = pbc::aligned_floats(a.scratch_floats * a.threads);
    a.scratch = scratch.get();
    (bf16 ? k.attention_bf16 : k.attention)(a);
  }
  return py::make_tuple(ctx, probs_obj);
}

// LayerNorm of a 2-D array; returns (y, y in the level's packed layout of an (N, C) GEMM operand, 1-D).
py::tuple layer_norm_packed(const FloatArray& x, const FloatArray& weight, const FloatArray& bias, float eps,
                            const py::object& isa) {
  FloatArray packed;
  FloatArray y = run_layer_norm(kernels_named(isa), x, weight, bias, eps, &packed);
  return py::make_tuple(y, packed);
}

FloatArray bf16_round(const FloatArray& x) {
  FloatArray y(std::vector<py::ssize_t>(x.shape(), x.shape() + x.ndim()));
  const float* src = x.data();
  float* dst = y.mutable_data();
  for (py::ssize_t i = 0; i < x.size(); ++i) dst[i] = pbc::bf16_to_float(pbc::bf16_from_float(src[i]));
  return y;
}

py::tuple quantize_activations(const FloatArray& x, const py::object& isa) {
  if (x.ndim() != 2) throw std::invalid_argument("x must be 2-D (rows, K), got " + shape_str(x));
  const pbc::Kernels& k = kernels_named(isa);
  const py::ssize_t M = x.shape(0), K = x.shape(1);
  constexpr py::ssize_t kOut = pbc::kActOutliers;
  py::array_t<uint8_t> q({M, K});
  FloatArray scale(M);
  py::array_t<int32_t> zero(M);
  py::array_t<int32_t> idx({M, kOut});
  FloatArray res({M, kOut});
  for (py::ssize_t m = 0; m < M; ++m) {
    k.quantize_act_row(q.mutable_data() + m * K, scale.mutable_data() + m, zero.mutable_data() + m,
                       idx.mutable_data() + m * kOut, res.mutable_data() + m * kOut, x.data() + m * K,
                       static_cast<int>(K), static_cast<int>(K));
  }
  return py::make_tuple(q, scale, zero, idx, res);
}

py::tuple quantize_weights(const FloatArray& w) {
  if (w.ndim() != 2) throw std::invalid_argument("weight must be 2-D (out, in), got " + shape_str(w));
  const py::ssize_t N = w.shape(0), K = w.shape(1);
  const py::ssize_t G = pbc::weight_groups(static_cast<int>(K));
  py::array_t<int8_t> q({N, K});
  FloatArray scale({N, G});
  py::array_t<int32_t> qsum({N, G});
  for (py::ssize_t n = 0; n < N; ++n) {
    pbc::quantize_weight_row(q.mutable_data() + n * K, scale.mutable_data() + n * G, qsum.mutable_data() + n * G,
                             w.data() + n * K, static_cast<int>(K));
  }
  return py::make_tuple(q, scale, qsum);
}

}  // namespace

void register_testing(py::module_& m) {
  m.def("amx_tile_state_in_use", &pbc::amx_tile_state_in_use,
        "whether the calling thread's AMX tile state is in use (XINUSE bits 17-18)");
  m.def("amx_tile_state_probe", []() -> py::object {
    if (pbc::detected_isa() != pbc::Isa::kAmx) throw std::runtime_error(std::string("no AMX here: ") + pbc::amx_status());
#ifdef PBC_HAVE_AMX_KERNELS
    bool during = false, after = false;
    pbc::amx_tile_state_probe(&during, &after);
    return py::make_tuple(during, after);
#else
    return py::none();
#endif
  }, "(tile state in use while configured, after tilerelease) on this thread; True, False on AMX");
  m.def("dense_forward", &dense_forward, py::arg("dense"), py::arg("x"), py::arg("activation") = Activation::kIdentity,
        py::arg("residual") = py::none(), py::arg("packed_rows") = py::none(), py::arg("packed_output") = false,
        "Dense.forward with x and/or the result in the level's packed GEMM-operand layout");
  m.def("layer_norm_packed", &layer_norm_packed, py::arg("x"), py::arg("weight"), py::arg("bias"), py::arg("eps"),
        py::arg("isa") = py::none(), "(LayerNorm(x), the same in the level's packed GEMM-operand layout)");
  m.def("attention", &attention, py::arg("qkv"), py::arg("spans"), py::arg("num_heads"), py::arg("T"),
        py::arg("scale"), py::arg("slots") = py::none(), py::arg("output_probs") = false, py::arg("isa") = py::none(),
        py::arg("rel_bias") = py::none(), py::arg("window") = 0, py::arg("pos_key") = py::none(),
        py::arg("pos_query") = py::none(), py::arg("pos_col") = py::none(), py::arg("bf16") = false,
        "the attention kernel alone (bf16: the level's attention_bf16, a bf16 model's): returns (ctx, probs or None)");
  m.def("refuse_thread_scratch", &pbc::set_thread_scratch_refused, py::arg("refused"),
        "while True, the core's per-thread scratch allocations fail as when out of memory (their fallbacks "
        "run); returns the previous setting");
  m.def("bf16_round", &bf16_round, py::arg("x"), "x rounded to bfloat16 (nearest even), as float32");
  m.def("quantize_activations", &quantize_activations, py::arg("x"), py::arg("isa") = py::none(),
        "the int8 GEMM's per-row 8-bit quantization of a (rows, K) float32 array, as level `isa` computes it "
        "(default: the active one): (q uint8, scale, zero_point, outlier_index (rows, 8), outlier_value (rows, 8))");
  m.def("quantize_weights", &quantize_weights, py::arg("weight"),
        "the int8 GEMM's s8 quantization of (N, K) float32 per output channel and group of 128 k: (q int8, "
        "scale (N, groups), sum of q (N, groups))");
}

}  // namespace pbc_py
