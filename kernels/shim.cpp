// Launch support for the host build of the kernels: Rust sets the thread index, then calls
// the kernel function once per thread.
#include "shim.h"

thread_local int weave_shim_thread = 0;

extern "C" void weave_shim_set_thread(int i) { weave_shim_thread = i; }
