// interrupt.cc — SigintCancels and raise_interrupt (interrupt.h).
#include "bindings/interrupt.h"

#include <pybind11/pybind11.h>
#include <signal.h>

#include <atomic>

namespace py = pybind11;

namespace pbc {
namespace {

std::atomic<CancelFlag*> g_flag{nullptr};
struct sigaction g_python_handler;  // the handler in force before ours, called after setting the flag

extern "C" void on_sigint(int sig, siginfo_t* info, void* context) {
  if (CancelFlag* flag = g_flag.load()) flag->store(true);
  if (g_python_handler.sa_flags & SA_SIGINFO) {
    if (g_python_handler.sa_sigaction) g_python_handler.sa_sigaction(sig, info, context);
  } else if (g_python_handler.sa_handler != SIG_DFL && g_python_handler.sa_handler != SIG_IGN) {
    g_python_handler.sa_handler(sig);
  }
}

bool default_handler_on_main_thread() {
  // Module objects fetched once and kept for the process's life (never released at exit).
  static PyObject* threading = py::module_::import("threading").release().ptr();
  static PyObject* signal_module = py::module_::import("signal").release().ptr();
  py::handle th(threading), sg(signal_module);
  if (!th.attr("current_thread")().is(th.attr("main_thread")())) return false;
  return sg.attr("getsignal")(SIGINT).is(sg.attr("default_int_handler"));
}

}  // namespace

SigintCancels::SigintCancels(CancelFlag* flag) {
  if (!default_handler_on_main_thread()) return;
  struct sigaction previous;
  if (sigaction(SIGINT, nullptr, &previous) != 0) return;
  if (!(previous.sa_flags & SA_SIGINFO) && (previous.sa_handler == SIG_DFL || previous.sa_handler == SIG_IGN)) return;
  g_python_handler = previous;
  g_flag.store(flag);
  struct sigaction ours = {};
  ours.sa_sigaction = on_sigint;
  ours.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&ours.sa_mask);
  installed_ = sigaction(SIGINT, &ours, nullptr) == 0;
  if (!installed_) g_flag.store(nullptr);
}

SigintCancels::~SigintCancels() {
  if (!installed_) return;
  sigaction(SIGINT, &g_python_handler, nullptr);
  g_flag.store(nullptr);
}

void raise_interrupt() {
  if (PyErr_CheckSignals() == 0) PyErr_SetNone(PyExc_KeyboardInterrupt);
  throw py::error_already_set();
}

}  // namespace pbc
