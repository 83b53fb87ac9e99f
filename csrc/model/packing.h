// packing.h — the batch as packed rows: every real token of every sequence, concatenated.
//
// Matrix multiplies run over these N rows only (no padding work); attention runs per sequence over its
// span; results go back to (B, T) by scatter_rows. A sequence whose position 0 is masked keeps that
// row as a query only (SequenceSpan::key_begin), because the pooler and the classification heads read
// position 0 and transformers computes a value there.
#pragma once

#include <vector>

#include "kernels/kernels.h"
#include "model/io.h"

namespace pbc {

struct TokenPacking {
  std::vector<int> batch;           // (N) the sequence each row belongs to
  std::vector<int> slot;            // (N) its token index t within the padded sequence
  std::vector<int> position;        // (N) its position id: position_ids[b][t] when given, else t
  std::vector<SequenceSpan> spans;  // (B)
  int rows() const { return static_cast<int>(slot.size()); }
};

TokenPacking pack_tokens(const ForwardInputs& in);

// The packing of sequences [begin, end) alone, as pack_tokens would give it for that part of the batch.
TokenPacking slice_packing(const TokenPacking& whole, int begin, int end);

// out (B, T, C) = the packed rows (N, C) at their places, every padded place zero.
void scatter_rows(float* out, const float* rows, const TokenPacking& p, int B, int T, int C);

}  // namespace pbc
