// cancel.h — stopping a running call early (Ctrl-C), safely.
//
// A call that may be stopped puts a CancelScope on its thread, naming a flag that another thread or a
// signal handler may set. The parallel loops (runtime/parallel.h) read the flag of the thread that
// starts them: once it is set, units not yet started are skipped, and every later loop of the call
// does nothing, so the call winds down within one unit of work per thread. What it computed is then
// garbage: the call checks cancel_requested() before returning and throws Cancelled instead.
// Skipping is memory-safe because no code between two loops indexes memory by values a loop computes
// (ids are validated and tokens packed before the first loop; the int8 GEMM's outlier indices are
// made by one loop and read by the next, which is skipped too).
#pragma once

#include <atomic>
#include <stdexcept>

namespace pbc {

using CancelFlag = std::atomic<bool>;

// The flag of the innermost CancelScope on the calling thread, or null.
const CancelFlag* current_cancel_flag();
// Whether the calling thread's flag is set.
bool cancel_requested();

class CancelScope {
 public:
  explicit CancelScope(const CancelFlag* flag);
  ~CancelScope();
  CancelScope(const CancelScope&) = delete;
  CancelScope& operator=(const CancelScope&) = delete;

 private:
  const CancelFlag* previous_;
};

// Thrown by a call that stopped because its flag was set.
struct Cancelled : std::runtime_error {
  Cancelled() : std::runtime_error("the call was cancelled") {}
};

}  // namespace pbc
