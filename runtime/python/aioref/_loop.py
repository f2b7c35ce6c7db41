"""aioref.Loop: an asyncio event loop whose scheduling core is the C++ reference loop.

What is C++ (runtime/base_events.{h,cc} through loop_bridge.cc): the ready queue, the heapq
timer heap, `_run_once` (timeouts, the cancelled-timer purge, the ntodo snapshot, taking expired
timers), `loop.time()`, the `call_soon_threadsafe` queue and its self-pipe (an eventfd), the
epoll reactor (waiting with the GIL released, and `_process_events`: the readers and writers of
ready fds join the ready queue) and, on 3.13+, run_forever's loop itself.

What is CPython's (inherited from asyncio.BaseEventLoop, so that every Python version behaves and
words its errors as that version does): the Handle/TimerHandle objects (repr, contextvars,
`Handle._run` and the exception-handler context it builds; call_soon/call_at/call_later and the
running of handles are C when that changes nothing observable, see install_call_soon below, as
are get_debug, create_future and create_task's usual call), create_task and the task factory,
run_until_complete/run_forever's setup (running loop, asyncgen hooks),
the exception handler API, run_in_executor, shutdown_asyncgens, shutdown_default_executor, and
the I/O layer of asyncio.selector_events (add_reader/_add_reader and their handles, sock_*,
create_server/create_connection, Server, the socket transports; streams on top), which registers
its fds with `_CoreSelector`: the keys live there, the readiness in the C++ epoll set; and
asyncio.unix_events' selector loop on top of it (the loop is one): subprocesses with the child
watchers of each version (pidfd included), add_signal_handler, Unix sockets, pipes.

Time and waiting follow the interpreter, as CPython's own loop does: if `time.monotonic` or
`selectors.DefaultSelector` have been replaced when the loop is created (a virtual clock, a test
harness), the C++ core takes its time from that `time.monotonic` and waits in that selector, on
its eventfd (registered like CPython's self-pipe, with a `_read_from_self` reader).
"""

import asyncio
import inspect
import selectors
import sys
import time as _time
import socket
from asyncio import base_events, events, selector_events, unix_events

from . import _core_module

_core = _core_module.load()
Core = _core.Core

_BUILTIN_MONOTONIC = _time.monotonic
_STDLIB_DEFAULT_SELECTOR = selectors.DefaultSelector
# 3.11+: call_at(None) raises TypeError (before: TimerHandle's assertion).
_CALL_AT_REJECTS_NONE = sys.version_info >= (3, 11)
_HAS_RUN_FOREVER_SETUP = hasattr(base_events.BaseEventLoop, "_run_forever_setup")


# aioref.Handle and TimerHandle: events.Handle and events.TimerHandle with nothing added or
# overridden, made in C (handles.cc, make_handle_type) so that their instances are freed by a C
# deallocator doing what CPython's subtype_dealloc does for them, in its order (weak references
# before slots), without its generic walk. Neither can be subclassed (a subclass's slots would be
# cleared before the weak references): subclass asyncio.Handle, as with CPython's loop.
Handle = _core.make_handle_type(events.Handle, "Handle", __name__, """\
asyncio.Handle scheduled in the C++ ready queue. Nothing is overridden: as in CPython's
`_ready` deque, a cancelled handle stays queued and is skipped when its turn comes.""", 0)

TimerHandle = _core.make_handle_type(events.TimerHandle, "TimerHandle", __name__, """\
asyncio.TimerHandle scheduled in the C++ timer heap, which holds the handle itself as
CPython's _scheduled list does (and clears `_scheduled` when it drops it). Nothing is
overridden: cancel() counts the cancelled timer for the heap's purge through
Loop._timer_handle_cancelled, as in CPython.""", 1)


def _io_ready():
    """The wait selector's reader of the C++ epoll descriptor (see _CoreSelector)."""


def _key_handle(key, event):
    """The reader (EVENT_READ) or writer handle a selector_events key holds, or None."""
    if key is None or not key.events & event:
        return None
    return key.data[0 if event == selectors.EVENT_READ else 1]


class _CoreSelector(selectors._BaseSelectorImpl):
    """The selector asyncio.selector_events registers with: its keys (fd, mask, (reader,
    writer)) are kept here, for get_key/get_map and the transports' reprs; every change is
    mirrored into the C++ loop's epoll set, which the C++ _run_once waits on and dispatches.
    select() is never called.

    In virtual time the loop waits in the embedder's selector (`wait_selector`); while any fd is
    registered, the C++ epoll descriptor is registered there too (a reader named `_io_ready`),
    so that real I/O wakes the wait and counts as outside I/O."""

    def __init__(self, core, wait_selector):
        super().__init__()
        self._core = core
        self._wait_selector = wait_selector
        self._marker = None  # the _io_ready handle while registered in wait_selector
        self.loop = None

    def register(self, fileobj, events, data=None):
        key = super().register(fileobj, events, data)
        try:
            self._mirror(key.fd, None, key)
        except BaseException:
            super().unregister(fileobj)
            raise
        return key

    def unregister(self, fileobj):
        key = super().unregister(fileobj)
        self._mirror(key.fd, key, None)
        return key

    def modify(self, fileobj, events, data=None):
        try:
            old = self._fd_to_key[self._fileobj_lookup(fileobj)]
        except KeyError:
            raise KeyError("{!r} is not registered".format(fileobj)) from None
        if (not events) or (events & ~(selectors.EVENT_READ | selectors.EVENT_WRITE)):
            raise ValueError("Invalid events: {!r}".format(events))
        new = old._replace(events=events, data=data)
        self._fd_to_key[new.fd] = new
        self._mirror(new.fd, old, new)
        return new

    def select(self, timeout=None):
        raise RuntimeError("aioref's selector is waited on by the C++ loop")

    def close(self):
        self._watch_epoll(False)
        super().close()

    def _mirror(self, fd, old, new):
        core = self._core
        for event, add, remove in ((selectors.EVENT_READ, core.add_reader, core.remove_reader),
                                   (selectors.EVENT_WRITE, core.add_writer, core.remove_writer)):
            before, after = _key_handle(old, event), _key_handle(new, event)
            if after is not before:
                if after is None:
                    remove(fd)
                else:
                    add(fd, after)
        self._watch_epoll(bool(self._fd_to_key))

    def _watch_epoll(self, wanted):
        wait = self._wait_selector
        if wait is None or wanted == (self._marker is not None):
            return
        if wanted:
            self._marker = events.Handle(_io_ready, (), self.loop, None)
            wait.register(self._core.selector_fd, selectors.EVENT_READ, (self._marker, None))
        else:
            self._marker = None
            try:
                wait.unregister(self._core.selector_fd)
            except (KeyError, ValueError):
                pass  # the wait selector was closed first


class _CoreReady(object):
    """Stands for BaseEventLoop's `_ready` deque (the ready queue is the C++ loop's). Its only
    use left is BaseEventLoop.close's `self._ready.clear()`, right after `self._closed = True`:
    that closes the C++ loop, at the moment CPython's loop drops its callbacks."""

    __slots__ = ("_core",)

    def __init__(self, core):
        self._core = core

    def clear(self):
        if not self._core.closed:
            self._core.close()

    def __len__(self):
        return self._core.ready_count


class Loop(unix_events._UnixSelectorEventLoop):
    """An asyncio event loop driven by aioref's C++ reference loop: asyncio's Unix selector loop
    (asyncio.SelectorEventLoop on Linux) whose scheduling and I/O readiness are C++."""

    def __init__(self, time_source=None, selector=None):
        """`time_source`: a callable giving loop.time() (default: the C++ monotonic clock, or
        `time.monotonic` if it was replaced). `selector`: a selectors.BaseSelector to wait in
        (default: ppoll in C++, or `selectors.DefaultSelector()` if it was replaced)."""
        if time_source is None and _time.monotonic is not _BUILTIN_MONOTONIC:
            time_source = _time.monotonic
        if selector is None and selectors.DefaultSelector is not _STDLIB_DEFAULT_SELECTOR:
            selector = selectors.DefaultSelector()
        # Set before BaseEventLoop.__init__: it assigns _closed, _stopping and _debug.
        self._core = Core(time_source)
        self._wait_selector = selector
        self._core_handles = self._core.handles  # what the cycle collector sees
        self._core_call_soon = self._core.call_soon
        super().__init__(_CoreSelector(self._core, selector))
        self._ready = _CoreReady(self._core)
        self._selector.loop = self
        if selector is not None:
            # Like CPython's self-pipe: a reader named _read_from_self.
            selector.register(self._core.wake_fd, selectors.EVENT_READ,
                              (events.Handle(self._read_from_self, (), self, None), None))
            self._core.python_wait = selector.select

    # -- BaseEventLoop's state ---------------------------------------------------------------
    # `_closed` and `_debug` stay BaseEventLoop's plain attributes (read by every call_soon and
    # every Handle): close() closes the C++ loop through `_ready.clear()` (_CoreReady), and
    # set_debug() (which __init__ calls too) switches the C++ loop's debug runner.
    # `_stopping` lives in the C++ loop (run_forever's loop reads it there on 3.13+).
    @property
    def _stopping(self):
        return self._core.stopping

    @_stopping.setter
    def _stopping(self, value):
        self._core.stopping = bool(value)

    def set_debug(self, enabled):
        super().set_debug(enabled)
        self._core.debug_runner = self._run_handle_debug if enabled else None

    # -- scheduling ------------------------------------------------------------------------
    def time(self):
        return self._core.time()

    def _call_soon(self, callback, args, context):
        handle = Handle(callback, args, self, context)
        if handle._source_traceback:
            del handle._source_traceback[-1]
        self._core_call_soon(handle)
        return handle

    def call_at(self, when, callback, *args, context=None):
        if when is None and _CALL_AT_REJECTS_NONE:
            raise TypeError("when cannot be None")
        self._check_closed()
        if self._debug:
            self._check_thread()
            self._check_callback(callback, "call_at")
        timer = TimerHandle(when, callback, args, self, context)
        if timer._source_traceback:
            del timer._source_traceback[-1]
        self._core.call_at(timer._when, timer)
        timer._scheduled = True
        return timer

    def call_soon_threadsafe(self, callback, *args, context=None):
        self._check_closed()
        if self._debug:
            self._check_callback(callback, "call_soon_threadsafe")
        handle = Handle(callback, args, self, context)
        if handle._source_traceback:
            del handle._source_traceback[-1]
        self._core.call_soon_threadsafe(handle)
        return handle

    def _add_callback(self, handle):
        if not handle._cancelled:
            self._core_call_soon(handle)

    def _add_callback_signalsafe(self, handle):
        if not handle._cancelled:
            self._core.call_soon_threadsafe(handle)

    def _timer_handle_cancelled(self, handle):
        if handle._scheduled:
            self._core.timer_cancelled()  # the C++ heap's _timer_cancelled_count

    def _make_self_pipe(self):
        # The C++ loop's eventfd is the self-pipe. Signals need a socket the signal module can
        # write signal numbers to (signal.set_wakeup_fd): made by the first add_signal_handler.
        self._ssock = self._csock = None

    def _close_self_pipe(self):
        if self._ssock is not None:
            self._remove_reader(self._ssock.fileno())
            self._ssock.close()
            self._csock.close()
            self._ssock = self._csock = None
            self._internal_fds -= 1

    def add_signal_handler(self, sig, callback, *args):
        if self._ssock is None and not self.is_closed():
            self._ssock, self._csock = socket.socketpair()
            self._ssock.setblocking(False)
            self._csock.setblocking(False)
            self._internal_fds += 1
            self._add_reader(self._ssock.fileno(), self._read_signals)
        return super().add_signal_handler(sig, callback, *args)

    def _read_signals(self):
        # BaseSelectorEventLoop._read_from_self for the signal socket: each byte is a signal.
        while True:
            try:
                data = self._ssock.recv(4096)
                if not data:
                    break
                self._process_self_data(data)
            except InterruptedError:
                continue
            except BlockingIOError:
                break

    def _write_to_self(self):
        pass  # call_soon_threadsafe writes the C++ loop's eventfd itself

    def _read_from_self(self):
        self._core.read_from_self()

    def _process_events(self, event_list):
        pass

    # -- running ---------------------------------------------------------------------------
    def _run_once(self):
        self._core.run_once()

    if _HAS_RUN_FOREVER_SETUP:  # 3.13+: the whole loop runs in C++
        def run_forever(self):
            try:
                self._run_forever_setup()
                self._core.run_until_stopped()
            finally:
                self._run_forever_cleanup()

    def _run_handle_debug(self, handle):
        # The debug branch of BaseEventLoop._run_once: report slow callbacks.
        try:
            self._current_handle = handle
            t0 = self.time()
            handle._run()
            dt = self.time() - t0
            if dt >= self.slow_callback_duration:
                base_events.logger.warning("Executing %s took %.3f seconds",
                                           base_events._format_handle(handle), dt)
        finally:
            self._current_handle = None
            # As _run_once's `handle = None`: debug mode materializes frames (extract_stack),
            # and a task's exception traceback reaching this frame would keep the handle, so
            # the task, alive in a cycle (its "exception never retrieved" comes late).
            handle = None

    def close(self):
        if self.is_running():
            raise RuntimeError("Cannot close a running event loop")
        if self.is_closed():
            return
        super().close()  # BaseSelectorEventLoop.close: the C++ loop, then the _CoreSelector
        if not self._core.closed:  # in case BaseEventLoop.close did not clear _ready
            self._core.close()
        selector = self._wait_selector
        if selector is not None:
            self._wait_selector = None
            selector.close()

    # -- introspection (tests) ---------------------------------------------------------------
    def _core_counts(self):
        """(ready, scheduled, cancelled timers) of the C++ loop."""
        core = self._core
        return core.ready_count, core.scheduled_count, core.timer_cancelled_count


# Loop.call_soon is C (loop_bridge.cc, fast::call_soon): BaseEventLoop.call_soon, _call_soon and
# Handle.__init__ above for debug mode off; it calls BaseEventLoop.call_soon itself otherwise, or
# when one of these names (or aioref.Handle's) no longer finds what it finds now. Handles of these
# types then run in C too (events.Handle._run, see fast::run).
# Only over CPython's own functions: one replaced before aioref was imported would be taken for
# the original by the C code's checks.
def _is_cpythons(function, module, qualname):
    return (getattr(function, "__module__", None) == module
            and getattr(function, "__qualname__", None) == qualname)


if all(_is_cpythons(f, m, q) for f, m, q in (
        (events.Handle.__init__, "asyncio.events", "Handle.__init__"),
        (events.Handle._run, "asyncio.events", "Handle._run"),
        (events.TimerHandle.__init__, "asyncio.events", "TimerHandle.__init__"),
        (events.TimerHandle.cancel, "asyncio.events", "TimerHandle.cancel"),
        (events.Handle.cancel, "asyncio.events", "Handle.cancel"),
        (base_events.BaseEventLoop.call_soon, "asyncio.base_events", "BaseEventLoop.call_soon"),
        (base_events.BaseEventLoop.call_later, "asyncio.base_events",
         "BaseEventLoop.call_later"),
        (base_events.BaseEventLoop._check_closed, "asyncio.base_events",
         "BaseEventLoop._check_closed"),
        (base_events.BaseEventLoop.get_debug, "asyncio.base_events",
         "BaseEventLoop.get_debug"),
        (base_events.BaseEventLoop.create_future, "asyncio.base_events",
         "BaseEventLoop.create_future"))):
    _core.install_call_soon(Loop, Handle, events.Handle, base_events.BaseEventLoop,
                            Loop.call_soon_threadsafe,
                            ("_check_closed", "_call_soon", "get_debug"))
    # Loop.call_at (the Python one above: debug mode and unusual arguments) and call_later
    # (BaseEventLoop's) likewise, with TimerHandle.__init__, and TimerHandle.cancel
    # (events.TimerHandle's for debug mode) in C.
    _core.install_timers(Loop, TimerHandle, events.TimerHandle, Loop.call_at,
                         base_events.BaseEventLoop.call_later, TimerHandle.cancel)
    # Loop.create_task likewise (create_task.cc): `tasks.Task(coro, loop=self, name=name,
    # context=context)` with debug off and no task factory; BaseEventLoop's otherwise.
    if _is_cpythons(base_events.BaseEventLoop.create_task, "asyncio.base_events",
                    "BaseEventLoop.create_task"):
        _core.install_loop_create_task(Loop, base_events.BaseEventLoop.create_task,
                                       base_events, base_events.tasks)


# The socket transport (create_connection, create_server, streams): the interpreter's own
# selector_events._SelectorSocketTransport, with its hot methods in C (transport.cc):
# `_read_ready`, `_read_ready__data_received`, `_read_ready__get_buffer` and `write` do what that
# version's Python methods do and call them where the state is unusual or they were patched;
# the rest (pause/resume, buffer limits, eof, close/abort, connection_lost, sendfile, extra
# info) is CPython's inherited code. Same name, qualname and module as the base (reprs, logs).
_BaseSocketTransport = selector_events._SelectorSocketTransport
_BASE_MAKE_SOCKET_TRANSPORT = selector_events.BaseSelectorEventLoop._make_socket_transport


def _step_line(function, texts):
    """The source line of a step of `function`: the first line holding texts[0], then the first
    line from there holding texts[1], ... (the line its Python frame reports)."""
    code = function.__code__
    try:
        lines, first = inspect.getsourcelines(function)
    except (OSError, TypeError):
        return code.co_firstlineno
    i = 0
    for text in texts:
        while i < len(lines) and text not in lines[i]:
            i += 1
    return first + i if i < len(lines) else code.co_firstlineno


def _socket_transport_class():
    base = _BaseSocketTransport
    names = ("_read_ready", "_read_ready__data_received", "_read_ready__get_buffer", "write")
    if not all(_is_cpythons(base.__dict__.get(n), "asyncio.selector_events",
                            "_SelectorSocketTransport." + n) for n in names):
        return None
    if not _is_cpythons(_BASE_MAKE_SOCKET_TRANSPORT, "asyncio.selector_events",
                        "BaseSelectorEventLoop._make_socket_transport"):
        return None
    write_names = set(base.write.__code__.co_names)
    if {"send", "_fatal_error", "_add_writer", "_maybe_pause_protocol"} - write_names:
        return None
    if {"memoryview", "append"} <= write_names:
        appends = True
    elif "extend" in write_names:
        appends = False
    else:
        return None
    rr, dr = base._read_ready, base._read_ready__data_received
    gb, w = base._read_ready__get_buffer, base.write
    steps = (  # transport.cc's Step, in its order
        (rr, ("self._read_ready_cb()",)),
        (dr, ("self._sock.recv(",)),
        (dr, ("self._sock.recv(", "self._fatal_error(")),
        (dr, ("if not data",)),
        (dr, ("if not data", "self._read_ready__on_eof()")),
        (dr, ("self._protocol.data_received(",)),
        (dr, ("self._protocol.data_received(", "self._fatal_error(")),
        (gb, ("self._protocol.get_buffer(",)),
        (gb, ("if not len(buf)",)),
        (gb, ("raise RuntimeError(",)),
        (gb, ("self._protocol.get_buffer(", "self._fatal_error(")),
        (gb, ("self._sock.recv_into(",)),
        (gb, ("self._sock.recv_into(", "self._fatal_error(")),
        (gb, ("if not nbytes",)),
        (gb, ("if not nbytes", "self._read_ready__on_eof()")),
        (gb, ("self._protocol.buffer_updated(",)),
        (gb, ("self._protocol.buffer_updated(", "self._fatal_error(")),
        (w, ("self._sock.send(",)),
        (w, ("self._sock.send(", "self._fatal_error(")),
        (w, ("[n:]",)),
        (w, ("self._loop._add_writer(",)),
        (w, ("# Add it to the buffer", "self._buffer.")),
        (w, ("self._maybe_pause_protocol()",)),
    )

    class _SelectorSocketTransport(base):
        pass

    for attr in ("__name__", "__qualname__", "__module__"):
        setattr(_SelectorSocketTransport, attr, getattr(base, attr))
    _core.install_socket_transport(_SelectorSocketTransport, base, rr.__code__.co_filename,
                                   [_step_line(f, t) for f, t in steps], appends)
    return _SelectorSocketTransport


_SocketTransport = _socket_transport_class()
_ENSURE_FD_NO_TRANSPORT = "_ensure_fd_no_transport" in _BASE_MAKE_SOCKET_TRANSPORT.__code__.co_names

if _SocketTransport is not None:
    def _make_socket_transport(self, sock, protocol, waiter=None, *, extra=None, server=None):
        # BaseSelectorEventLoop._make_socket_transport with aioref's class, while the module's
        # class and that method are CPython's (a test's patch of either is called instead).
        if (selector_events._SelectorSocketTransport is not _BaseSocketTransport
                or selector_events.BaseSelectorEventLoop._make_socket_transport
                is not _BASE_MAKE_SOCKET_TRANSPORT):
            return selector_events.BaseSelectorEventLoop._make_socket_transport(
                self, sock, protocol, waiter, extra=extra, server=server)
        if _ENSURE_FD_NO_TRANSPORT:
            self._ensure_fd_no_transport(sock)
        return _SocketTransport(self, sock, protocol, waiter, extra, server)

    _make_socket_transport.__qualname__ = "BaseSelectorEventLoop._make_socket_transport"
    Loop._make_socket_transport = _make_socket_transport


def new_event_loop():
    """A new aioref loop (like uvloop.new_event_loop)."""
    return Loop()


class FullLoop(Loop):
    """Mode "full": an aioref.Loop whose create_future/create_task return the C++ Future and Task
    of the core (runtime/python/task_bridge.cc), which step the Python coroutines themselves."""

    if _core.FULL_TASK_CONTEXT_ARGUMENT:  # `context=` exists since 3.11, as in BaseEventLoop's
        def create_task(self, coro, *, name=None, context=None):
            if self._task_factory is not None:
                return super().create_task(coro, name=name, context=context)
            self._check_closed()
            # new_task drops the last frame of a source traceback, as BaseEventLoop's does.
            return _core.new_task(self, coro, name, context)
    else:
        def create_task(self, coro, *, name=None):
            if self._task_factory is not None:
                return super().create_task(coro, name=name)
            self._check_closed()
            return _core.new_task(self, coro, name, None)
    # A wrong call is worded as CPython's loop words it (3.10+ names the qualname).
    create_task.__qualname__ = "BaseEventLoop.create_task"


# FullLoop.create_future is C (future.cc): `Future(loop=self)` with the C++ Future.
_core.install_create_future(FullLoop)
# FullLoop.create_task is C (create_task.cc, as Loop.create_task; its task made by new_task)
# when aioref's call_soon is (the same guards on the loop's type): the Python one above for debug
# mode, a task factory, a closed loop and unusual arguments.
if getattr(Loop.__dict__.get("call_soon"), "__objclass__", None) is Loop:
    _core.install_create_task(FullLoop, FullLoop.create_task)


def new_full_event_loop():
    """A new aioref loop in mode "full" (C++ Future/Task)."""
    return FullLoop()


class EventLoopPolicy(unix_events.DefaultEventLoopPolicy):
    """asyncio's Unix policy (child watchers included where the version has them), making
    aioref loops (like uvloop.EventLoopPolicy)."""

    def _loop_factory(self):
        return Loop()


def install():
    """asyncio.set_event_loop_policy(aioref.EventLoopPolicy())."""
    if sys.version_info >= (3, 12):
        import warnings

        warnings.warn("aioref.install() is deprecated in favor of aioref.run() (or "
                      "asyncio.run(..., loop_factory=aioref.new_event_loop))",
                      DeprecationWarning, stacklevel=2)
    asyncio.set_event_loop_policy(EventLoopPolicy())


def run(main, *, debug=None, **run_kwargs):
    """asyncio.run(main) on an aioref loop."""
    if sys.version_info >= (3, 12):
        return asyncio.run(main, debug=debug, loop_factory=new_event_loop, **run_kwargs)
    if sys.version_info >= (3, 11):
        with asyncio.Runner(debug=debug, loop_factory=new_event_loop) as runner:
            return runner.run(main)
    old = events.get_event_loop_policy()
    asyncio.set_event_loop_policy(EventLoopPolicy())
    try:
        return asyncio.run(main, debug=bool(debug))
    finally:
        asyncio.set_event_loop_policy(old)
