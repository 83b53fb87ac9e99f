// interrupt.h — Ctrl-C during a forward pass.
//
// Python's SIGINT handler only records the signal, for the interpreter to act on between bytecodes, so
// a pass running for seconds with the GIL released answered Ctrl-C only when it returned. While the main
// thread runs one, SigintCancels puts a handler in front of Python's: it sets the call's cancel flag
// (runtime/cancel.h: the parallel loops stop taking work within one unit) and then calls Python's
// handler, which records the signal as usual; the call then throws Cancelled, and the binding discards
// the outputs and calls raise_interrupt(). Only when Python's handler is the default one
// (signal.default_int_handler, which raises KeyboardInterrupt): a program with a SIGINT handler of its
// own gets it called after the pass, with the pass's result intact, as before.
#pragma once

#include "runtime/cancel.h"

namespace pbc {

class SigintCancels {
 public:
  // With the GIL held. Does nothing off the main thread (Python delivers signals to it only) or when
  // SIGINT's Python handler is not the default one.
  explicit SigintCancels(CancelFlag* flag);
  ~SigintCancels();  // with the GIL held
  SigintCancels(const SigintCancels&) = delete;
  SigintCancels& operator=(const SigintCancels&) = delete;

 private:
  bool installed_ = false;
};

// After a call that stopped on its cancel flag: raises the KeyboardInterrupt Python's handler recorded
// (or one of its own, had the record been consumed), as pybind11::error_already_set.
[[noreturn]] void raise_interrupt();

}  // namespace pbc
