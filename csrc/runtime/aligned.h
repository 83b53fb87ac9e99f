// aligned.h — 64-byte aligned memory: the one allocator behind the core's buffers (packed weights, the
// weights kept as vectors, workspaces, per-thread scratch), so every buffer starts on a cache line and the
// SIMD loads of its first rows never split one.
#pragma once

#include <cstddef>
#include <memory>
#include <new>
#include <vector>

namespace pbc {

// At least `bytes` (rounded up to whole cache lines) on a 64-byte boundary, or null when out of memory.
void* aligned_allocate(size_t bytes) noexcept;
void aligned_release(void* p) noexcept;

struct AlignedFree {
  void operator()(float* p) const noexcept { aligned_release(p); }
};
using AlignedBuffer = std::unique_ptr<float[], AlignedFree>;
// `count` floats; throws std::bad_alloc when out of memory.
AlignedBuffer aligned_floats(size_t count);

// std::vector storage on 64-byte boundaries.
template <class T>
struct CacheLineAllocator {
  using value_type = T;
  CacheLineAllocator() = default;
  template <class U>
  CacheLineAllocator(const CacheLineAllocator<U>&) {}
  T* allocate(size_t n) {
    void* p = aligned_allocate(n * sizeof(T));
    if (!p) throw std::bad_alloc();
    return static_cast<T*>(p);
  }
  void deallocate(T* p, size_t) noexcept { aligned_release(p); }
  template <class U>
  bool operator==(const CacheLineAllocator<U>&) const { return true; }
  template <class U>
  bool operator!=(const CacheLineAllocator<U>&) const { return false; }
};

}  // namespace pbc
