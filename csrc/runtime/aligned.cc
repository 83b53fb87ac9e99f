// aligned.cc — aligned_allocate on std::aligned_alloc.
#include "runtime/aligned.h"

#include <cstdlib>

namespace pbc {

void* aligned_allocate(size_t bytes) noexcept {
  // aligned_alloc wants a size that is a multiple of the alignment, and a non-zero one.
  const size_t rounded = bytes == 0 ? 64 : (bytes + 63) / 64 * 64;
  if (rounded < bytes) return nullptr;  // wrapped around
  return std::aligned_alloc(64, rounded);
}

void aligned_release(void* p) noexcept { std::free(p); }

AlignedBuffer aligned_floats(size_t count) {
  if (count > static_cast<size_t>(-1) / sizeof(float)) throw std::bad_alloc();
  void* p = aligned_allocate(count * sizeof(float));
  if (!p) throw std::bad_alloc();
  return AlignedBuffer(static_cast<float*>(p));
}

}  // namespace pbc
