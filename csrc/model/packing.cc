// packing.cc — building the packed-row index of a batch, and scattering rows back to (B, T).
#include "model/packing.h"

#include <cstring>

#include "runtime/parallel.h"

namespace pbc {

TokenPacking pack_tokens(const ForwardInputs& in) {
  TokenPacking p;
  auto add = [&p, &in](int b, int t) {
    p.batch.push_back(b);
    p.slot.push_back(t);
    p.position.push_back(in.position_ids ? static_cast<int>(in.position_ids[static_cast<size_t>(b) * in.T + t]) : t);
  };
  p.spans.resize(in.B);
  for (int b = 0; b < in.B; ++b) {
    const int64_t* mask = in.attention_mask ? in.attention_mask + static_cast<size_t>(b) * in.T : nullptr;
    SequenceSpan& s = p.spans[b];
    s.row_begin = p.rows();
    if (mask && mask[0] == 0) add(b, 0);  // position 0 masked: a query-only row for the pooler
    s.key_begin = p.rows();
    for (int t = 0; t < in.T; ++t) {
      if (mask && mask[t] == 0) continue;
      add(b, t);
    }
    s.row_end = p.rows();
  }
  return p;
}

TokenPacking slice_packing(const TokenPacking& whole, int begin, int end) {
  TokenPacking p;
  const int r0 = whole.spans[begin].row_begin, r1 = whole.spans[end - 1].row_end;
  p.batch.reserve(r1 - r0);
  for (int r = r0; r < r1; ++r) p.batch.push_back(whole.batch[r] - begin);
  p.slot.assign(whole.slot.begin() + r0, whole.slot.begin() + r1);
  p.position.assign(whole.position.begin() + r0, whole.position.begin() + r1);
  for (int b = begin; b < end; ++b) {
    const SequenceSpan& s = whole.spans[b];
    p.spans.push_back(SequenceSpan{s.row_begin - r0, s.key_begin - r0, s.row_end - r0});
  }
  return p;
}

namespace {

struct Scatter {
  float* out;
  const float* rows;
  const TokenPacking* p;
  int T, C;
};

void scatter_row(void* ctx, long r, int /*worker*/) {
  const Scatter& s = *static_cast<const Scatter*>(ctx);
  std::memcpy(s.out + (static_cast<size_t>(s.p->batch[r]) * s.T + s.p->slot[r]) * s.C,
              s.rows + static_cast<size_t>(r) * s.C, sizeof(float) * s.C);
}

}  // namespace

void scatter_rows(float* out, const float* rows, const TokenPacking& p, int B, int T, int C) {
  std::memset(out, 0, sizeof(float) * static_cast<size_t>(B) * T * C);
  Scatter s{out, rows, &p, T, C};
  parallel_for(p.rows(), scatter_row, &s);
}

}  // namespace pbc
