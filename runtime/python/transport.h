// The socket transport of the Python loops: a subclass of the interpreter's own
// asyncio.selector_events._SelectorSocketTransport whose hot methods are C (transport.cc).
#pragma once

#include <Python.h>
#include <pybind11/pybind11.h>

#include <string>
#include <vector>

namespace aioref_bridge {

namespace py = pybind11;

// Sets `cls._read_ready`, `_read_ready__data_received`, `_read_ready__get_buffer` and `write`
// (cls: a Python subclass of `base`, selector_events._SelectorSocketTransport) to C methods
// doing what `base`'s Python methods of this interpreter do (the same in 3.8-3.13 but for
// write's remainder: `data[n:]` into a bytearray buffer before 3.12, `memoryview(data)[n:]`
// appended to a deque since), calling the Python method of `base` itself where the state is
// unusual (a write that is not of exact bytes, after write_eof, during sendfile, with data
// buffered or the connection lost; a read with the connection lost) and whenever `base`'s
// method is no longer the one it had at install (a test's patch).
// `lines`: the source lines of `base`'s methods (selector_events.py) where each step of the C
// methods is, in the order of transport.cc's Step: an exception leaving a step gets that
// line's traceback entry, as the Python frame would have added it. `filename`: that file.
// `write_appends_memoryview`: base.write buffers `memoryview(data)[n:]` with `append` (3.12+),
// else `data[n:]` with `extend`.
void install_socket_transport(py::type cls, py::type base, const std::string& filename,
                              const std::vector<int>& lines, bool write_appends_memoryview);

}  // namespace aioref_bridge
