// kernels.h — the numeric kernels the encoder is built from, their argument structs and the dispatch
// table that binds one ISA level's implementations together.
//
// Dimension vocabulary (used in every shape comment of the core):
//   B batch, T tokens per padded sequence, N packed (real) token rows of the whole batch,
//   H hidden, NH heads, HS head size (H = NH * HS), I intermediate, V vocab, L layers.
// Matrices are row-major. Weights are (out, in) exactly as transformers stores them, so a linear layer
// computes y = x · Wᵀ + b.
//
// What this header leaves out: no kernel throws or reads Python objects. Kernels allocate nothing per
// call once warm: attention scratch comes from the caller, the GEMM's packed A from the calling
// thread's reusable scratch (parallel.h). ISA files avoid std:: templates, whose weak symbols
// compiled with AVX flags could be picked by the linker for baseline code; the SIMD levels are the
// shared bodies in simd/*.h over one vector header per level, and they parallelise through
// parallel.h (a function-pointer interface for the same reason), as does the scalar reference; all
// follow the calling thread's ThreadLease (runtime/threads.h). Callers validate every shape and
// index before the first parallel region (an exception escaping a parallel region kills the
// process). Numerical guarantee: every level matches the scalar reference (ref/) within the per-op
// tolerances of tests/test_kernels.py; reductions are written in a fixed order, no -ffast-math.
#pragma once

#include <cstddef>
#include <cstdint>

namespace pbc {

// Activations an encoder or head may apply. Bound to Python once (pybertcore._core.Activation);
// never copy these numbers into Python code.
enum class Activation : int {
  kIdentity = 0,
  kGeluErf = 1,    // transformers "gelu", "gelu_python": x/2 · (1 + erf(x/√2))
  kGeluTanh = 2,   // "gelu_new", "gelu_pytorch_tanh", "gelu_fast": x/2 · (1 + tanh(√(2/π)(x + 0.044715x³)))
  kQuickGelu = 3,  // "quick_gelu": x · σ(1.702x)
  kRelu = 4,       // "relu"
  kSilu = 5,       // "silu", "swish": x · σ(x)
  kTanh = 6,       // the pooler's activation
};

// Instruction-set levels, lowest first; each implies the ones below. A level is usable when the CPU and
// the OS support it and the build compiled it. The AVX-512 extensions are levels of their own so that
// PYBERTCORE_ISA can force a machine that has them down to the plain AVX-512 kernels, and the tests run
// each natively where the CPU allows: avx512_vnni adds the int8 GEMM on vpdpbusd (Ice Lake and later),
// avx512_bf16 the bf16 GEMM on vdpbf16ps (Cooper Lake, Zen 4, Sapphire Rapids: every CPU with
// AVX512_BF16 also has VNNI, so it sits above avx512_vnni). amx replaces both low-precision GEMMs by
// AMX tile kernels (tdpbf16ps, tdpbusd: Sapphire Rapids and later) and keeps the rest of avx512_bf16;
// it is detected like the others (CPUID, XCR0, Linux's permission) and is the default where detected
// (PYBERTCORE_AMX=0 opts a process out).
enum class Isa : int { kScalar = 0, kAvx2 = 1, kAvx512 = 2, kAvx512Vnni = 3, kAvx512Bf16 = 4, kAmx = 5 };
constexpr int kIsaLevels = 6;

// Compute precision of a linear layer's matrix multiply (quantize.h defines the formats). Accumulation
// is fp32 (bf16) or exact int32 (int8); bias, activation and residual run in fp32 either way.
enum class Precision : int { kFloat32 = 0, kBFloat16 = 1, kInt8 = 2 };

// C = act(A · Bᵀ + bias) + residual, with B a weight matrix packed by the same level's pack_weight.
//   A (M, K) with row stride lda; B (N, K) packed; bias (N) or null; residual (M, N) with row stride
//   ldr, or null; C (M, N) with row stride ldc. C must not overlap A or the residual: the blocked
//   levels keep partial sums of earlier K blocks in C before the epilogue reads the residual.
//
// Packed operands (gemm only; gemm_bf16 and gemm_int8 read a and write c): a_packed hands over A
// already in this level's packed layout of an (M, K) operand (packed_a_floats(M, K) floats), written
// by a producer — LayerNorm (LayerNormArgs::packed) or the previous GEMM (c_packed) — so that this
// GEMM skips its packing pass; a and lda are then unused. c_packed makes this GEMM write C in that
// layout, as an (M, N) operand for the next GEMM's a_packed, instead of to c and ldc. The layout is
// the level's own business: only a GEMM of the same level may read it. gemm_bf16 takes these fp32 ones
// too on a level with bf16_takes_fp32_packed (the widening levels), and bf16 ones on a
// level with packed_a_bf16_floats (amx): the operand rounded to bf16 (as gemm_bf16 would round it) in
// that level's tile layout, handed from one bf16 GEMM to the next (LayerNorm writes only the fp32 one).
struct GemmArgs {
  int M = 0, N = 0, K = 0;
  const float* a = nullptr;
  int lda = 0;
  const float* a_packed = nullptr;
  const float* b_packed = nullptr;
  const float* bias = nullptr;
  Activation act = Activation::kIdentity;
  const float* residual = nullptr;
  int ldr = 0;
  float* c = nullptr;
  int ldc = 0;
  float* c_packed = nullptr;
  // gemm_bf16 / gemm_int8 only: the weight packed by that entry's pack function (b_packed unused).
  const void* b_lowp = nullptr;
};

// One sequence of the packed batch. Its rows are [row_begin, row_end) of the packed matrices; the rows
// [key_begin, row_end) are its real tokens and serve as keys and values. A row before key_begin is a
// query only: position 0 of a sequence whose first token is masked, kept so that the pooler reads the
// same state transformers computes there.
struct SequenceSpan {
  int row_begin = 0;
  int key_begin = 0;
  int row_end = 0;
};

// Multi-head self-attention over packed rows, each sequence attending only to its own real tokens.
//   qkv (N, 3H) with row stride ld_qkv: Q in columns [0, H), K in [H, 2H), V in [2H, 3H), head h
//   at columns h·HS within each; ctx (N, H) with row stride ld_ctx receives softmax(Q·Kᵀ·scale)·V.
//   slot (N) is each row's token index within its padded sequence (ascending within a sequence's keys).
//   probs, when not null, receives the attention probabilities of every query row: for packed row r
//   of sequence s, head h, probs[((s·NH + h)·T + slot[r])·T + slot[k]] for each key row k. Entries for
//   masked keys are left untouched (the caller zero-fills).
// A sequence with no keys (an all-masked mask) produces ctx = 0.
// scratch: `threads` slices of scratch_floats floats each (at least the level's
// attention_scratch_floats(T, HS, pos_rows), pos_rows the position tables' R or 0), one per thread of the kernel's team; the caller owns it so that
// nothing is allocated per layer and nothing can fail inside the parallel region.
struct AttentionArgs {
  float* ctx = nullptr;
  int ld_ctx = 0;
  float* probs = nullptr;
  const int* slot = nullptr;  // (N) token index within the padded sequence
  const float* qkv = nullptr;
  int ld_qkv = 0;
  const SequenceSpan* seqs = nullptr;
  int B = 0, NH = 0, HS = 0, T = 0;
  float scale = 1.0f;  // > 0: the SIMD softmax takes each row's maximum before scaling
  // A relative-position bias added to the scaled scores (MPNet), or null: for query slot i, key slot j,
  // head h, rel_bias[h·(2·rel_span − 1) + (j − i + rel_span − 1)]; rel_span > every slot (|j − i| < rel_span).
  const float* rel_bias = nullptr;
  int rel_span = 0;
  // A local window (ModernBERT's sliding layers): > 0 lets a query at slot i see only the keys at slots
  // j with |j − i| ≤ window (a query with none in reach gets ctx = 0); 0 lets it see every key.
  int window = 0;
  // > 0: each sequence's first query_rows rows (from row_begin) are its only queries; its other ctx rows
  // are left as they were. Its keys stay all of its rows. The encoder's last layer asks for row 0 alone
  // when only position 0 is read after it (a classification head, CLS pooling). A row's context does
  // not depend on which other rows are queries.
  int query_rows = 0;
  // DeBERTa's disentangled attention, or null pos_key and pos_query: the score of query slot i and key
  // slot j gains, before scaling, the content→position term q_i · pos_key[c] (when pos_key is given)
  // and the position→content term k_j · pos_query[c] (when pos_query is), both per head (columns h·HS
  // of the (R, ld_pos) tables), at c = pos_col[i − j + rel_span − 1], the table row of that relative
  // position (nondecreasing in i − j; rel_span > every slot). The SIMD levels form both terms as
  // products over the rows a sequence can reach (tokens × reachable rows), never a T × T × NH tensor.
  const float* pos_key = nullptr;
  const float* pos_query = nullptr;
  int ld_pos = 0;
  const int* pos_col = nullptr;
  float* scratch = nullptr;
  size_t scratch_floats = 0;  // per thread
  int threads = 1;            // the team size; scratch holds this many slices
};

// The end of sequence sp's query rows under a.query_rows: the rows every level computes a context for.
// static: each translation unit keeps its own copy, compiled with its own ISA flags (an inline one could be
// merged at link time with the AVX-512 unit's copy).
static inline int query_rows_end(const AttentionArgs& a, const SequenceSpan& sp) {
  return a.query_rows > 0 && sp.row_end - sp.row_begin > a.query_rows ? sp.row_begin + a.query_rows : sp.row_end;
}

// out = LayerNorm(inp) · weight + bias over the last dimension; inp and out (N, C), may alias.
// packed, when not null, receives out a second time in the level's packed layout of an (N, C) GEMM
// operand (packed_a_floats(N, C) floats), for the next GEMM's GemmArgs::a_packed.
struct LayerNormArgs {
  float* out = nullptr;
  float* packed = nullptr;
  const float* inp = nullptr;
  const float* weight = nullptr;
  const float* bias = nullptr;
  int N = 0, C = 0;
  float eps = 1e-12f;
};

// The dispatch table. Filled from the lowest level up: each level copies the one below and overrides
// what it implements, so no entry is ever null.
struct Kernels {
  const char* name = "scalar";
  Isa isa = Isa::kScalar;
  // Number of floats the packed form of an (N, K) weight needs, and the packing itself.
  size_t (*packed_weight_size)(int N, int K) = nullptr;
  void (*pack_weight)(float* packed, const float* w, int N, int K) = nullptr;
  // The inverse of pack_weight: w (N, K) back from its packed form, exactly (a permutation of floats).
  // For state_dict(): a float32 model keeps its matrices only in the packed form.
  void (*unpack_weight)(float* w, const float* packed, int N, int K) = nullptr;
  void (*gemm)(const GemmArgs& args) = nullptr;
  // Floats of an (M, K) operand in this level's packed layout (GemmArgs::a_packed, c_packed).
  size_t (*packed_a_floats)(int M, int K) = nullptr;
  void (*attention)(const AttentionArgs& args) = nullptr;
  // The attention of models whose linear layers run in bf16: `attention` itself, except where the CPU
  // has bf16 arithmetic: its two products then run in bf16 (avx512/attention_avx512bf16.cc on
  // vdpbf16ps, amx/attention_amx.cc on tiles). Its scratch is attention_scratch_floats too.
  void (*attention_bf16)(const AttentionArgs& args) = nullptr;
  const char* bf16_attention = nullptr;  // which bf16 products attention_bf16 runs, or null: it is `attention`
  // Floats of per-thread attention scratch for sequences of up to T tokens, head size HS, with
  // disentangled position tables of pos_rows rows (0: none).
  size_t (*attention_scratch_floats)(int T, int HS, int pos_rows) = nullptr;
  void (*layernorm)(const LayerNormArgs& args) = nullptr;
  // Low precision (quantize.h): bytes of an (N, K) weight packed as bf16 / int8 (with its per-channel
  // scales and sums), the packing, and the GEMM over it (A, bias, residual, C stay fp32).
  size_t (*packed_bf16_bytes)(int N, int K) = nullptr;
  void (*pack_weight_bf16)(void* packed, const float* w, int N, int K) = nullptr;
  void (*gemm_bf16)(const GemmArgs& args) = nullptr;
  // Whether gemm_bf16 rounds A to bf16 too (a native bf16 dot product: AVX512-BF16); otherwise A stays
  // fp32 and only the weights are bf16.
  bool bf16_rounds_activations = false;
  // Whether gemm_bf16 reads and writes the fp32 GEMM's packed operands (GemmArgs::a_packed, c_packed in
  // packed_a_floats' layout), as gemm does: the widening levels, whose bf16 GEMM is the fp32 loop nest.
  bool bf16_takes_fp32_packed = false;
  // Floats of an (M, K) operand in gemm_bf16's own bf16 layout (its a_packed, c_packed), or null on a
  // level whose gemm_bf16 takes no packed operands.
  size_t (*packed_a_bf16_floats)(int M, int K) = nullptr;
  size_t (*packed_int8_bytes)(int N, int K) = nullptr;
  void (*pack_weight_int8)(void* packed, const float* w, int N, int K) = nullptr;
  void (*gemm_int8)(const GemmArgs& args) = nullptr;
  // The per-row activation quantization gemm_int8 applies (quantize.h's quantize_act_row): the same
  // codes, scale, zero point and outliers on every level (exposed for the tests).
  void (*quantize_act_row)(uint8_t* q, float* scale, int32_t* zero, int32_t* out_idx, float* out_res,
                           const float* a, int K, int Kp) = nullptr;
  const char* bf16_kernel = "scalar";  // which implementation fills the entries above (for cpu_info)
  const char* int8_kernel = "scalar";
};

// Each level's table. The higher ones exist only in x86 builds.
void fill_kernels_ref(Kernels* k);
void fill_kernels_avx2(Kernels* k);
void fill_kernels_avx512(Kernels* k);
// The low-precision entries of each level (own translation units: lowp_<isa>.cc).
void fill_lowp_ref(Kernels* k);
void fill_lowp_avx2(Kernels* k);
void fill_lowp_avx512(Kernels* k);
void fill_lowp_avx512bf16(Kernels* k);  // gemm_bf16 on vdpbf16ps, when the CPU has AVX512_BF16
void fill_lowp_avx512vnni(Kernels* k);  // gemm_int8 on vpdpbusd, when the CPU has AVX512_VNNI
void fill_lowp_amx(Kernels* k);  // gemm_bf16 on tdpbf16ps, gemm_int8 on tdpbusd (amx/lowp_amx.cc)
void fill_attention_avx512bf16(Kernels* k);  // attention_bf16's products on vdpbf16ps
void fill_attention_amx(Kernels* k);  // attention_bf16's products on tdpbf16ps (amx/attention_amx.cc)
// For tests, where the amx level runs: configures this thread's tiles and zeroes one, then releases
// them, reporting amx_tile_state_in_use() (runtime/cpu.h) in between and after (true, false on AMX
// hardware): the positive control of the check that the AMX GEMMs release their tiles.
void amx_tile_state_probe(bool* while_configured, bool* after_release);

// --- dispatch.cc ----------------------------------------------------------------------------------
const char* isa_name(Isa isa);
// The best level this CPU, its OS and this build support (CPUID + XGETBV; for amx, Linux's permission).
Isa detected_isa();
// The level new work starts at: detected_isa(), but avx512_bf16 instead of amx with PYBERTCORE_AMX=0.
Isa default_isa();
// The level in use: default_isa(), or lower if PYBERTCORE_ISA or set_active_isa() asked for it.
Isa active_isa();
// Forces a level (not above detected_isa(); throws std::invalid_argument otherwise).
void set_active_isa(Isa isa);
// "scalar" | "avx2" | "avx512" | "avx512_vnni" | "avx512_bf16" | "amx"; throws std::invalid_argument
Isa parse_isa(const char* name);
// PYBERTCORE_AMX's value: unset or "" or "1" → true, "0" → false; anything else throws
// std::invalid_argument naming it (raised by pybertcore at import; dispatch reads it as false).
bool parse_amx_flag(const char* value);
// Why the AMX kernels are or are not in use: "on", or the first reason they are off (the CPU, the OS,
// Linux's permission, this build, PYBERTCORE_AMX, a lower forced level).
const char* amx_status();
// The table of a given level (must be supported), or of the active one.
const Kernels& kernels_for(Isa isa);
const Kernels& active_kernels();


}  // namespace pbc
