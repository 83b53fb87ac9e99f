// cancel.cc — the calling thread's cancel flag (cancel.h).
#include "runtime/cancel.h"

namespace pbc {
namespace {
thread_local const CancelFlag* t_flag = nullptr;
}  // namespace

const CancelFlag* current_cancel_flag() { return t_flag; }

bool cancel_requested() { return t_flag != nullptr && t_flag->load(std::memory_order_relaxed); }

CancelScope::CancelScope(const CancelFlag* flag) : previous_(t_flag) { t_flag = flag; }

CancelScope::~CancelScope() { t_flag = previous_; }

}  // namespace pbc
