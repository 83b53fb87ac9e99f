// workspace.h — the activation memory of one forward call: its layout (named buffers, computed in one
// place from the call's sizes) and the pool that recycles whole workspaces between calls.
//
// A workspace is one 64-byte aligned block. Encoders keep finished workspaces in a pool and hand them
// to later calls, so a steady stream of calls allocates nothing; concurrent calls each take their own.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

#include "kernels/kernels.h"
#include "model/weights.h"
#include "runtime/aligned.h"

namespace pbc {

// The buffers of one forward call, carved from its workspace. ctx doubles as the normalised input of a
// pre-LayerNorm block (it is free until attention writes it, and again after attn_out reads it).
// qkv and ctx (post-LayerNorm) share their memory with inter and up: a block's buffers are dead once
// the next block starts (WorkspaceLayout), which saves (N, 3H) to (N, 4H) floats.
struct Activations {
  float* x;             // (N, H) the running state
  float* x_mid;         // (N, H) after attention
  float* qkv;           // (N, 3H)
  float* ctx;           // (N, H) attention's context
  float* inter;         // (N, I) the FFN's intermediate, plain or packed
  float* up;            // (N, I) a gated FFN's linear half (unused otherwise)
  float* emb;           // (N, E) before the embedding projection (unused without one)
  float* first;         // (B, H) the pooler's input, position 0 of each sequence (unused unpooled)
  float* attn_scratch;  // attn_per_thread floats per thread
  float* packed;        // (N, H) x or x_mid packed for the next GEMM
};

// Where each buffer starts (floats from the workspace's start, each piece 64-byte aligned).
struct WorkspaceLayout {
  WorkspaceLayout(const EncoderConfig& c, const Kernels& k, bool projected, int B, int N, int T, bool pooled,
                  int threads);
  Activations carve(float* base) const;
  size_t x, x_mid, qkv, ctx, inter, up, emb, first, attn_scratch, packed;
  size_t attn_per_thread;  // floats of attention scratch per thread
  size_t total;            // floats
};

struct Workspace {
  AlignedBuffer data;
  size_t capacity = 0;  // floats
};

class WorkspacePool {
 public:
  // A workspace of at least `floats`, from the pool when one fits. One much larger than the call
  // needs (over 4x, and over `keep` floats) is not taken, so a single huge batch does not pin its
  // memory forever; up to `keep` (the caller's full pass) it is, so a stream of long and short
  // batches reuses one workspace instead of freeing and reallocating it, which leaves the freed
  // memory behind in the heap.
  std::unique_ptr<Workspace> acquire(size_t floats, size_t keep = 0);
  void release(std::unique_ptr<Workspace> ws);
  size_t pooled_floats() const;

 private:
  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<Workspace>> pool_;
};

// A workspace borrowed from a pool for one call, given back however the call ends.
class BorrowedWorkspace {
 public:
  BorrowedWorkspace(WorkspacePool& pool, size_t floats, size_t keep = 0)
      : pool_(pool), ws_(pool.acquire(floats, keep)) {}
  ~BorrowedWorkspace() { pool_.release(std::move(ws_)); }
  BorrowedWorkspace(const BorrowedWorkspace&) = delete;
  BorrowedWorkspace& operator=(const BorrowedWorkspace&) = delete;
  float* data() const { return ws_->data.get(); }

 private:
  WorkspacePool& pool_;
  std::unique_ptr<Workspace> ws_;
};

}  // namespace pbc
