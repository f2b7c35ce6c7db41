#include "runtime/python/transport.h"

#include <string>
#include <vector>

#include "runtime/python/capi.h"

#if PY_VERSION_HEX >= 0x030D0000
// 3.13 keeps it in its internal headers; exported (pyexpat, _ctypes call it).
extern "C" void _PyTraceback_Add(const char*, const char*, int);
#endif

#if PY_VERSION_HEX < 0x03090000
inline PyObject* PyObject_CallNoArgs(PyObject* f) { return PyObject_CallObject(f, nullptr); }
inline PyObject* PyObject_CallOneArg(PyObject* f, PyObject* arg) {
  return PyObject_CallFunctionObjArgs(f, arg, nullptr);
}
#endif

// --- selector_events._SelectorSocketTransport's hot methods in C --------------------------------
//
// A 1 KiB echo request on CPython's transport runs `_read_ready`, `_read_ready__data_received`
// and `write` in the eval loop (~2,900 instructions of the ~8,200 a request costs on aioref,
// session 22). These C methods do what those Python methods do, statement by statement, on
// every CPython 3.8-3.13 (their text is the same in each, but for write's remainder): the same
// attributes read in the same order, the socket's own `recv`/`recv_into`/`send` methods called
// (a socket subclass or a socket with a timeout behaves as it does on CPython's transport), the
// same exceptions caught, `_fatal_error` called with the same messages while the exception is
// the handled one (sys.exc_info(), the __context__ of what it raises), and an exception leaving
// a step carries the traceback entry of the Python frame's line (selector_events.py's file and
// line: the logged tracebacks read as CPython's). Where the state is unusual, the Python method
// of the base class is called instead (before any side effect), as it is when that method was
// replaced after install.
namespace aioref_bridge {

namespace {

// The steps whose exceptions get a traceback entry (the order of the Python side's line list).
enum Step {
  kCallback,            // _read_ready: self._read_ready_cb()
  kRecv,                // _read_ready__data_received: data = self._sock.recv(self.max_size)
  kRecvFatal,           //   self._fatal_error(exc, 'Fatal read error on socket transport')
  kNotData,             //   if not data:
  kEof,                 //   self._read_ready__on_eof()
  kDataReceived,        //   self._protocol.data_received(data)
  kDataReceivedFatal,   //   self._fatal_error(exc, 'Fatal error: protocol.data_received() ...')
  kGetBuffer,           // _read_ready__get_buffer: buf = self._protocol.get_buffer(-1)
  kLenBuf,              //   if not len(buf):
  kEmptyBuffer,         //   raise RuntimeError('get_buffer() returned an empty buffer')
  kGetBufferFatal,      //   self._fatal_error(exc, 'Fatal error: protocol.get_buffer() ...')
  kRecvInto,            //   nbytes = self._sock.recv_into(buf)
  kRecvIntoFatal,       //   self._fatal_error(exc, 'Fatal read error on socket transport')
  kNotNbytes,           //   if not nbytes:
  kEofBuffered,         //   self._read_ready__on_eof()
  kBufferUpdated,       //   self._protocol.buffer_updated(nbytes)
  kBufferUpdatedFatal,  //   self._fatal_error(exc, 'Fatal error: protocol.buffer_updated() ...')
  kSend,                // write: n = self._sock.send(data)
  kSendFatal,           //   self._fatal_error(exc, 'Fatal write error on socket transport')
  kRemainder,           //   data = data[n:] (3.12+: memoryview(data)[n:]); if not data:
  kAddWriter,           //   self._loop._add_writer(self._sock_fd, self._write_ready)
  kBufferAdd,           //   self._buffer.extend(data) (3.12+: append)
  kPause,               //   self._maybe_pause_protocol()
  kStepCount,
};

enum Method { kReadReady, kDataReceivedMethod, kGetBufferMethod, kWrite, kMethodCount };

const char* const kMethodNames[kMethodCount] = {"_read_ready", "_read_ready__data_received",
                                                "_read_ready__get_buffer", "write"};

Method method_of(Step s) {
  if (s == kCallback) return kReadReady;
  if (s <= kDataReceivedFatal) return kDataReceivedMethod;
  if (s <= kBufferUpdatedFatal) return kGetBufferMethod;
  return kWrite;
}

struct Names {
  PyObject* read_ready_cb = PyUnicode_InternFromString("_read_ready_cb");
  PyObject* conn_lost = PyUnicode_InternFromString("_conn_lost");
  PyObject* sock = PyUnicode_InternFromString("_sock");
  PyObject* max_size = PyUnicode_InternFromString("max_size");
  PyObject* recv = PyUnicode_InternFromString("recv");
  PyObject* recv_into = PyUnicode_InternFromString("recv_into");
  PyObject* send = PyUnicode_InternFromString("send");
  PyObject* fatal_error = PyUnicode_InternFromString("_fatal_error");
  PyObject* on_eof = PyUnicode_InternFromString("_read_ready__on_eof");
  PyObject* protocol = PyUnicode_InternFromString("_protocol");
  PyObject* data_received = PyUnicode_InternFromString("data_received");
  PyObject* get_buffer = PyUnicode_InternFromString("get_buffer");
  PyObject* buffer_updated = PyUnicode_InternFromString("buffer_updated");
  PyObject* eof = PyUnicode_InternFromString("_eof");
  PyObject* empty_waiter = PyUnicode_InternFromString("_empty_waiter");
  PyObject* buffer = PyUnicode_InternFromString("_buffer");
  PyObject* loop = PyUnicode_InternFromString("_loop");
  PyObject* add_writer = PyUnicode_InternFromString("_add_writer");
  PyObject* sock_fd = PyUnicode_InternFromString("_sock_fd");
  PyObject* write_ready = PyUnicode_InternFromString("_write_ready");
  PyObject* extend = PyUnicode_InternFromString("extend");
  PyObject* append = PyUnicode_InternFromString("append");
  PyObject* maybe_pause = PyUnicode_InternFromString("_maybe_pause_protocol");
  PyObject* minus_one = PyLong_FromLong(-1);
  PyObject* read_error = PyUnicode_InternFromString("Fatal read error on socket transport");
  PyObject* write_error = PyUnicode_InternFromString("Fatal write error on socket transport");
  PyObject* data_received_error =
      PyUnicode_InternFromString("Fatal error: protocol.data_received() call failed.");
  PyObject* get_buffer_error =
      PyUnicode_InternFromString("Fatal error: protocol.get_buffer() call failed.");
  PyObject* buffer_updated_error =
      PyUnicode_InternFromString("Fatal error: protocol.buffer_updated() call failed.");
  PyObject* method_names[kMethodCount] = {
      PyUnicode_InternFromString(kMethodNames[kReadReady]),
      PyUnicode_InternFromString(kMethodNames[kDataReceivedMethod]),
      PyUnicode_InternFromString(kMethodNames[kGetBufferMethod]),
      PyUnicode_InternFromString(kMethodNames[kWrite])};
};

struct State {
  Names* names = nullptr;
  PyTypeObject* base = nullptr;
  PyObject* originals[kMethodCount] = {};  // base's functions at install
  std::string filename;
  int lines[kStepCount] = {};
  bool write_appends_memoryview = false;  // 3.12+: memoryview(data)[n:] appended to a deque
};

State g;

// An exception leaving `step`: the traceback entry the Python method's frame would add.
PyObject* traced(Step step) {
  _PyTraceback_Add(kMethodNames[method_of(step)], g.filename.c_str(), g.lines[step]);
  return nullptr;
}

PyObject* call_method(PyObject* const* argv, std::size_t n, PyObject* name) {
#if PY_VERSION_HEX >= 0x03090000
  return PyObject_VectorcallMethod(name, argv, n | PY_VECTORCALL_ARGUMENTS_OFFSET, nullptr);
#else
  PyObject* method = PyObject_GetAttr(argv[0], name);
  if (method == nullptr) return nullptr;
  PyObject* result = PyObject_Vectorcall(method, argv + 1, n - 1, nullptr);
  Py_DECREF(method);
  return result;
#endif
}

// obj.name(arg) / obj.name(a, b): a new reference or nullptr.
PyObject* call1(PyObject* obj, PyObject* name, PyObject* arg) {
  PyObject* argv[3] = {nullptr, obj, arg};
  return call_method(argv + 1, 2, name);
}
PyObject* call2(PyObject* obj, PyObject* name, PyObject* a, PyObject* b) {
  PyObject* argv[4] = {nullptr, obj, a, b};
  return call_method(argv + 1, 3, name);
}
PyObject* call0(PyObject* obj, PyObject* name) {
  PyObject* argv[2] = {nullptr, obj};
  return call_method(argv + 1, 1, name);
}

// The base class's method `m` as a lookup finds it now, when it is not the one of install (a
// patch): the caller calls it instead. Borrowed; nullptr when it is the original.
PyObject* replaced(Method m) {
  PyObject* now = _PyType_Lookup(g.base, g.names->method_names[m]);
  return now == g.originals[m] ? nullptr : now;
}

// base.<method>(self, *args) as attribute lookup on the instance would call it (the original
// function of install, or what replaced it: bound as its descriptor binds).
PyObject* call_python(PyObject* function, PyObject* self, PyObject* arg) {
  if (function == nullptr) {  // removed from the base class: as the lookup would fail
    PyErr_SetObject(PyExc_AttributeError, self);
    return nullptr;
  }
  descrgetfunc get = Py_TYPE(function)->tp_descr_get;
  PyObject* bound = get ? get(function, self, reinterpret_cast<PyObject*>(Py_TYPE(self)))
                        : (Py_INCREF(function), function);
  if (bound == nullptr) return nullptr;
  PyObject* result = arg ? PyObject_CallOneArg(bound, arg) : PyObject_CallNoArgs(bound);
  Py_DECREF(bound);
  return result;
}

PyObject* call_python(Method m, PyObject* self, PyObject* arg) {
  PyObject* now = _PyType_Lookup(g.base, g.names->method_names[m]);
  return call_python(now, self, arg);
}

bool matches(PyObject* a, PyObject* b) {
  return PyErr_ExceptionMatches(a) || PyErr_ExceptionMatches(b);
}

// `except BaseException as exc: self._fatal_error(exc, message)` with the exception set (its
// traceback entry added): called while exc is the handled exception. 0, or -1 with the error
// of _fatal_error set (its traceback entry too).
int fatal(PyObject* self, Step step, PyObject* message) {
#if PY_VERSION_HEX >= 0x030C0000
  PyObject* value = PyErr_GetRaisedException();  // normalized, its traceback attached
  PyObject* type = Py_NewRef(Py_TYPE(value));
  PyObject* tb = PyException_GetTraceback(value);
#else
  PyObject *type, *value, *tb;
  PyErr_Fetch(&type, &value, &tb);
  PyErr_NormalizeException(&type, &value, &tb);
  if (tb != nullptr) PyException_SetTraceback(value, tb);
#endif
  PyObject *old_type, *old_value, *old_tb;
  PyErr_GetExcInfo(&old_type, &old_value, &old_tb);
  Py_INCREF(value);
  PyErr_SetExcInfo(type, value, tb);  // steals
  PyObject* r = call2(self, g.names->fatal_error, value, message);
  Py_DECREF(value);
  if (r == nullptr) traced(step);
  PyErr_SetExcInfo(old_type, old_value, old_tb);
  if (r == nullptr) return -1;
  Py_DECREF(r);
  return 0;
}

// The truth of self.<name> (-1: reading it or its truth raised: the error is cleared and the
// caller calls the Python method, which meets it again in its place).
int attr_truth(PyObject* self, PyObject* name) {
  PyObject* v = PyObject_GetAttr(self, name);
  int r = v ? PyObject_IsTrue(v) : -1;
  Py_XDECREF(v);
  if (r < 0) PyErr_Clear();
  return r;
}

// The truth of `value`, -1 (error cleared) when it raised.
int attr_truth_of(PyObject* value) {
  int r = PyObject_IsTrue(value);
  if (r < 0) PyErr_Clear();
  return r;
}

// `data = self._sock.recv(self.max_size)` (or `nbytes = self._sock.recv_into(buf)`).
PyObject* sock_call(PyObject* self, PyObject* name, PyObject* arg) {
  PyObject* sock = PyObject_GetAttr(self, g.names->sock);
  if (sock == nullptr) return nullptr;
  PyObject* result;
  if (arg == nullptr) {
    PyObject* max_size = PyObject_GetAttr(self, g.names->max_size);
    result = max_size ? call1(sock, name, max_size) : nullptr;
    Py_XDECREF(max_size);
  } else {
    result = call1(sock, name, arg);
  }
  Py_DECREF(sock);
  return result;
}

// self._protocol.<name>(arg)
PyObject* protocol_call(PyObject* self, PyObject* name, PyObject* arg) {
  PyObject* protocol = PyObject_GetAttr(self, g.names->protocol);
  if (protocol == nullptr) return nullptr;
  PyObject* result = call1(protocol, name, arg);
  Py_DECREF(protocol);
  return result;
}

// The except clauses of a protocol call (step) whose fatal message is `message`.
PyObject* protocol_failed(PyObject* self, Step step, Step fatal_step, PyObject* message) {
  traced(step);
  if (matches(PyExc_SystemExit, PyExc_KeyboardInterrupt)) return nullptr;
  if (fatal(self, fatal_step, message) < 0) return nullptr;
  Py_RETURN_NONE;
}

// `if not <value>: self._read_ready__on_eof(); return` -> 1 (done: *result set), 0 go on.
int eof_if_empty(PyObject* self, PyObject* value, Step not_step, Step eof_step, PyObject** result) {
  int truth = PyObject_IsTrue(value);
  if (truth < 0) {
    *result = traced(not_step);
    return 1;
  }
  if (truth) return 0;
  PyObject* r = call0(self, g.names->on_eof);
  if (r == nullptr) {
    *result = traced(eof_step);
    return 1;
  }
  Py_DECREF(r);
  Py_INCREF(Py_None);
  *result = Py_None;
  return 1;
}

PyObject* read_ready(PyObject* self, PyObject*) {
  if (PyObject* patched = replaced(kReadReady)) return call_python(patched, self, nullptr);
  PyObject* cb = PyObject_GetAttr(self, g.names->read_ready_cb);
  if (cb == nullptr) return traced(kCallback);
  PyObject* r = PyObject_CallNoArgs(cb);
  Py_DECREF(cb);
  return r ? r : traced(kCallback);
}

PyObject* read_ready__data_received(PyObject* self, PyObject*) {
  if (PyObject* patched = replaced(kDataReceivedMethod)) {
    return call_python(patched, self, nullptr);
  }
  int conn_lost = attr_truth(self, g.names->conn_lost);
  if (conn_lost < 0) return call_python(kDataReceivedMethod, self, nullptr);
  if (conn_lost) Py_RETURN_NONE;
  PyObject* data = sock_call(self, g.names->recv, nullptr);
  if (data == nullptr) {
    if (matches(PyExc_BlockingIOError, PyExc_InterruptedError)) {
      PyErr_Clear();
      Py_RETURN_NONE;
    }
    return protocol_failed(self, kRecv, kRecvFatal, g.names->read_error);
  }
  PyObject* result = nullptr;
  if (!eof_if_empty(self, data, kNotData, kEof, &result)) {
    PyObject* r = protocol_call(self, g.names->data_received, data);
    if (r == nullptr) {
      result =
          protocol_failed(self, kDataReceived, kDataReceivedFatal, g.names->data_received_error);
    } else {
      Py_DECREF(r);
      Py_INCREF(Py_None);
      result = Py_None;
    }
  }
  Py_DECREF(data);
  return result;
}

PyObject* read_ready__get_buffer(PyObject* self, PyObject*) {
  if (PyObject* patched = replaced(kGetBufferMethod)) return call_python(patched, self, nullptr);
  int conn_lost = attr_truth(self, g.names->conn_lost);
  if (conn_lost < 0) return call_python(kGetBufferMethod, self, nullptr);
  if (conn_lost) Py_RETURN_NONE;
  PyObject* buf = protocol_call(self, g.names->get_buffer, g.names->minus_one);
  if (buf == nullptr) {
    return protocol_failed(self, kGetBuffer, kGetBufferFatal, g.names->get_buffer_error);
  }
  Py_ssize_t size = PyObject_Size(buf);
  if (size <= 0) {
    Step step = kLenBuf;
    if (size == 0) {
      PyErr_SetString(PyExc_RuntimeError, "get_buffer() returned an empty buffer");
      step = kEmptyBuffer;
    }
    Py_DECREF(buf);
    return protocol_failed(self, step, kGetBufferFatal, g.names->get_buffer_error);
  }
  PyObject* nbytes = sock_call(self, g.names->recv_into, buf);
  Py_DECREF(buf);
  if (nbytes == nullptr) {
    if (matches(PyExc_BlockingIOError, PyExc_InterruptedError)) {
      PyErr_Clear();
      Py_RETURN_NONE;
    }
    return protocol_failed(self, kRecvInto, kRecvIntoFatal, g.names->read_error);
  }
  PyObject* result = nullptr;
  if (!eof_if_empty(self, nbytes, kNotNbytes, kEofBuffered, &result)) {
    PyObject* r = protocol_call(self, g.names->buffer_updated, nbytes);
    if (r == nullptr) {
      result =
          protocol_failed(self, kBufferUpdated, kBufferUpdatedFatal, g.names->buffer_updated_error);
    } else {
      Py_DECREF(r);
      Py_INCREF(Py_None);
      result = Py_None;
    }
  }
  Py_DECREF(nbytes);
  return result;
}

// The usual write: exact bytes, bytearray or memoryview (`isinstance` passes; subclasses take
// the Python method), not empty (`not data`: their truth, as Python's), no write_eof, no
// sendfile, the connection up and nothing buffered (1); else 0: the Python write's case
// (reading a state that raised too: the Python method meets it again in its place).
bool plain_write(PyObject* self, PyObject* data) {
  if (PyBytes_CheckExact(data)) {
    if (PyBytes_GET_SIZE(data) == 0) return false;
  } else if (PyByteArray_CheckExact(data) || PyMemoryView_Check(data)) {
    if (Py_TYPE(data) != &PyByteArray_Type && Py_TYPE(data) != &PyMemoryView_Type) return false;
    if (attr_truth_of(data) != 1) return false;
  } else {
    return false;
  }
  if (attr_truth(self, g.names->eof) != 0) return false;
  PyObject* waiter = PyObject_GetAttr(self, g.names->empty_waiter);
  if (waiter == nullptr) {
    PyErr_Clear();
    return false;
  }
  Py_DECREF(waiter);
  if (waiter != Py_None) return false;
  return attr_truth(self, g.names->conn_lost) == 0 && attr_truth(self, g.names->buffer) == 0;
}

// Not all was written (`rest`: what is left, a new reference): register the write handler,
// buffer it, maybe pause the protocol.
PyObject* write_rest(PyObject* self, PyObject* rest) {
  PyObject* loop = PyObject_GetAttr(self, g.names->loop);
  PyObject* fd = loop ? PyObject_GetAttr(self, g.names->sock_fd) : nullptr;
  PyObject* ready = fd ? PyObject_GetAttr(self, g.names->write_ready) : nullptr;
  PyObject* r = ready ? call2(loop, g.names->add_writer, fd, ready) : nullptr;
  Py_XDECREF(loop);
  Py_XDECREF(fd);
  Py_XDECREF(ready);
  if (r == nullptr) {
    Py_DECREF(rest);
    return traced(kAddWriter);
  }
  Py_DECREF(r);
  PyObject* buffer = PyObject_GetAttr(self, g.names->buffer);
  r = buffer ? call1(buffer, g.write_appends_memoryview ? g.names->append : g.names->extend, rest)
             : nullptr;
  Py_XDECREF(buffer);
  Py_DECREF(rest);
  if (r == nullptr) return traced(kBufferAdd);
  Py_DECREF(r);
  r = call0(self, g.names->maybe_pause);
  return r ? r : traced(kPause);
}

PyObject* write(PyObject* self, PyObject* data) {
  if (PyObject* patched = replaced(kWrite)) return call_python(patched, self, data);
  if (!plain_write(self, data)) return call_python(kWrite, self, data);
  PyObject* n = sock_call(self, g.names->send, data);
  if (n == nullptr) {
    if (!matches(PyExc_BlockingIOError, PyExc_InterruptedError)) {
      traced(kSend);
      if (matches(PyExc_SystemExit, PyExc_KeyboardInterrupt)) return nullptr;
      if (fatal(self, kSendFatal, g.names->write_error) < 0) return nullptr;
      Py_RETURN_NONE;
    }
    PyErr_Clear();
    Py_INCREF(data);
    return write_rest(self, data);
  }
  // All sent (the usual case): `data[n:]` is empty, the write is done.
  if (PyLong_CheckExact(n) && PyBytes_CheckExact(data)) {
    Py_ssize_t sent = PyLong_AsSsize_t(n);
    if (sent == PyBytes_GET_SIZE(data)) {
      Py_DECREF(n);
      Py_RETURN_NONE;
    }
    if (sent == -1 && PyErr_Occurred()) PyErr_Clear();  // the slice below meets it
  }
  PyObject* rest = nullptr;
  PyObject* slice = PySlice_New(n, nullptr, nullptr);
  Py_DECREF(n);
  if (slice != nullptr) {
    if (g.write_appends_memoryview) {
      PyObject* view = PyMemoryView_FromObject(data);
      rest = view ? PyObject_GetItem(view, slice) : nullptr;
      Py_XDECREF(view);
    } else {
      rest = PyObject_GetItem(data, slice);
    }
    Py_DECREF(slice);
  }
  if (rest == nullptr) return traced(kRemainder);
  int truth = PyObject_IsTrue(rest);
  if (truth <= 0) {
    Py_DECREF(rest);
    if (truth < 0) return traced(kRemainder);
    Py_RETURN_NONE;
  }
  return write_rest(self, rest);
}

PyMethodDef g_defs[kMethodCount] = {
    {kMethodNames[kReadReady], read_ready, METH_NOARGS, nullptr},
    {kMethodNames[kDataReceivedMethod], read_ready__data_received, METH_NOARGS, nullptr},
    {kMethodNames[kGetBufferMethod], read_ready__get_buffer, METH_NOARGS, nullptr},
    {kMethodNames[kWrite], write, METH_O, nullptr},
};

}  // namespace

void install_socket_transport(py::type cls, py::type base, const std::string& filename,
                              const std::vector<int>& lines, bool write_appends_memoryview) {
  if (lines.size() != kStepCount) {
    throw std::invalid_argument("install_socket_transport: expected " + std::to_string(kStepCount) +
                                " lines");
  }
  if (g.names == nullptr) g.names = new Names();
  g.base = reinterpret_cast<PyTypeObject*>(base.release().ptr());
  for (int m = 0; m < kMethodCount; ++m) {
    PyObject* f = _PyType_Lookup(g.base, g.names->method_names[m]);
    if (f == nullptr) throw std::invalid_argument("install_socket_transport: no method");
    Py_INCREF(f);
    g.originals[m] = f;
  }
  g.filename = filename;
  for (int i = 0; i < kStepCount; ++i) g.lines[i] = lines[static_cast<std::size_t>(i)];
  g.write_appends_memoryview = write_appends_memoryview;
  for (PyMethodDef& def : g_defs) set_method(cls, &def);
}

}  // namespace aioref_bridge
