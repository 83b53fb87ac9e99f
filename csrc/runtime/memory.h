// memory.h — how much memory this process can still take, asked before a large allocation.
//
// Used to refuse a request that cannot fit (a forward pass over a huge batch, a config with huge
// sizes) at once, naming the bytes it needs, instead of letting it fail deep inside with a bare
// std::bad_alloc, or succeed by pushing the machine into swap and the OOM killer. The answer is an
// estimate from the kernel's own accounting: it moves as other processes allocate and free, so callers
// compare against it with their full need, not a margin of their own.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace pbc {

struct MemoryLimit {
  uint64_t available_bytes = UINT64_MAX;  // the tightest of the limits below; UINT64_MAX when none is known
  std::string source;                     // which limit that is ("MemAvailable", "cgroup memory.max", ...)
};

// The tightest of: the machine's MemAvailable (/proc/meminfo), the headroom left under this process's
// cgroup memory limit (v2 memory.max - memory.current along the cgroup path, or v1 limit - usage), and
// the address space left under RLIMIT_AS. Read afresh on every call (cheap: a few small files).
MemoryLimit available_memory();

// "1.5 GiB", "312 MiB", "900 bytes": sizes for error messages.
std::string format_bytes(uint64_t bytes);

// The product of the factors (a buffer's bytes from its dimensions) without wrapping: saturates at
// UINT64_MAX, which no machine has.
uint64_t product_bytes(std::initializer_list<uint64_t> factors);

// A request refused before allocating (the binding raises it as MemoryError).
struct NotEnoughMemory : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Throws NotEnoughMemory when the parts (name, bytes) of what `call` is about to allocate sum to more
// than available_memory(): "<call> needs 288.2 GiB (attentions 288.0 GiB, ...), more than the 22.9 GiB
// this process can still allocate (MemAvailable)<hint>".
void require_memory(const std::string& call, const std::vector<std::pair<std::string, uint64_t>>& parts,
                    const std::string& hint = "");

// Loading frees hundreds of MB of temporaries (dtype conversions, unpacked copies), and glibc keeps
// much of it in its heap after free. A build marks the heap as worth trimming; release_freed_heap()
// (the end of from_pretrained, or else the next forward pass) hands that memory back once (malloc_trim),
// so the resident size is the weights: on bert-base 498 → 422 MiB over the interpreter's baseline, for
// 418 MiB of packed weights.
void note_freed_heap();
void release_freed_heap();

}  // namespace pbc
