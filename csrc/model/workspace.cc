// workspace.cc — the forward pass's buffer layout and the workspace pool.
#include "model/workspace.h"

#include <algorithm>

namespace pbc {

namespace {
size_t piece(size_t floats) { return (floats + 15) / 16 * 16; }  // 64-byte aligned pieces
}  // namespace

WorkspaceLayout::WorkspaceLayout(const EncoderConfig& c, const Kernels& k, bool projected, int B, int N, int T,
                                 bool pooled, int threads) {
  const size_t n = static_cast<size_t>(N);
  size_t at = 0;
  auto take = [&at](size_t floats) {
    const size_t offset = at;
    at += piece(floats);
    return offset;
  };
  x = take(n * c.H);
  x_mid = take(n * c.H);
  // qkv and ctx live only within the attention block, inter and up only within the FFN block, so the
  // two pairs share one region (the larger of the two). ctx keeps its own piece in pre-LayerNorm
  // blocks, where it carries LN(x_mid) into the FFN.
  const size_t inter_floats = std::max({n * c.I, k.packed_a_floats(N, c.I),
                                        k.packed_a_bf16_floats ? k.packed_a_bf16_floats(N, c.I) : size_t{0}});
  const size_t up_floats = c.gated_ffn ? n * c.I : 0;
  const size_t ctx_floats = n * c.H;
  const size_t attention_phase = piece(n * 3 * c.H) + (c.norm_first ? 0 : piece(ctx_floats));
  const size_t ffn_phase = piece(inter_floats) + piece(up_floats);
  const size_t shared = take(std::max(attention_phase, ffn_phase));
  qkv = shared;
  ctx = c.norm_first ? take(ctx_floats) : shared + piece(n * 3 * c.H);
  inter = shared;
  up = shared + piece(inter_floats);
  emb = take(projected ? n * c.E : 0);
  first = take(pooled ? static_cast<size_t>(B) * c.H : 0);
  attn_per_thread = piece(k.attention_scratch_floats(T, c.H / c.NH, c.pos_rows));
  attn_scratch = take(attn_per_thread * threads);
  packed = take(k.packed_a_floats(N, c.H));
  total = at;
}

Activations WorkspaceLayout::carve(float* base) const {
  return Activations{base + x,   base + x_mid, base + qkv,          base + ctx,   base + inter, base + up,
                     base + emb, base + first, base + attn_scratch, base + packed};
}

std::unique_ptr<Workspace> WorkspacePool::acquire(size_t floats, size_t keep) {
  {
    std::lock_guard<std::mutex> hold(mutex_);
    // Best fit among pooled workspaces; one over 4x the need and over `keep` is not taken (and is
    // freed below).
    const size_t limit = std::max(4 * floats + 4096, keep);
    size_t best = pool_.size();
    for (size_t i = 0; i < pool_.size(); ++i) {
      const size_t cap = pool_[i]->capacity;
      if (cap >= floats && cap <= limit && (best == pool_.size() || cap < pool_[best]->capacity)) {
        best = i;
      }
    }
    if (best < pool_.size()) {
      std::unique_ptr<Workspace> ws = std::move(pool_[best]);
      pool_.erase(pool_.begin() + static_cast<long>(best));
      return ws;
    }
    // Nothing fits: drop the smallest pooled one (it would only be outgrown) so the pool stays
    // bounded by the number of concurrent callers.
    if (!pool_.empty()) {
      size_t smallest = 0;
      for (size_t i = 1; i < pool_.size(); ++i) {
        if (pool_[i]->capacity < pool_[smallest]->capacity) smallest = i;
      }
      pool_.erase(pool_.begin() + static_cast<long>(smallest));
    }
  }
  auto ws = std::make_unique<Workspace>();
  ws->data = aligned_floats(floats);
  ws->capacity = floats;
  return ws;
}

void WorkspacePool::release(std::unique_ptr<Workspace> ws) {
  if (!ws) return;
  std::lock_guard<std::mutex> hold(mutex_);
  pool_.push_back(std::move(ws));
}

size_t WorkspacePool::pooled_floats() const {
  std::lock_guard<std::mutex> hold(mutex_);
  size_t total = 0;
  for (const auto& ws : pool_) total += ws->capacity;
  return total;
}

}  // namespace pbc
