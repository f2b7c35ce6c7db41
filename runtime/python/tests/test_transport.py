"""The socket transport's C methods (runtime/python/transport.cc): `_read_ready`,
`_read_ready__data_received`, `_read_ready__get_buffer` and `write` of aioref's
_SelectorSocketTransport must do what the interpreter's Python methods do. Every program below
runs on CPython's own loop and on aioref's modes loop and full, and its record (what the
protocol saw, what the loop's exception handler got, the tracebacks' frames and lines, the logged
warnings) must be CPython's.
"""

import asyncio
import logging
import re
import socket
import traceback
import unittest
from asyncio import selector_events
from unittest import mock

import loops
from loops import SameAsCPython


def _frames(exc):
    """The traceback of `exc` as (function, line text) pairs (the line numbers are the file's:
    the text shows the line is the right one)."""
    return [(f.name, f.line) for f in traceback.extract_tb(exc.__traceback__)]


class _Recorder(asyncio.Protocol):
    def __init__(self, record, on_data=None, on_eof=None):
        self.record = record
        self.on_data = on_data
        self.on_eof = on_eof
        self.lost = asyncio.get_event_loop().create_future()

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.record.append(("data", bytes(data)))
        if self.on_data is not None:
            self.on_data(self, data)

    def eof_received(self):
        self.record.append(("eof",))
        return self.on_eof(self) if self.on_eof is not None else None

    def connection_lost(self, exc):
        self.record.append(("lost", type(exc).__name__, str(exc) if exc else None))
        if not self.lost.done():
            self.lost.set_result(None)


async def _connect(protocol_factory, sock_type=socket.socket):
    """A transport over one end of a socket pair (a socket of `sock_type`), the other end."""
    loop = asyncio.get_running_loop()
    a, b = socket.socketpair()
    if sock_type is not socket.socket:
        a = sock_type(a.family, a.type, a.proto, fileno=a.detach())
    transport, protocol = await loop.create_connection(protocol_factory, sock=a)
    return transport, protocol, b


def _catch_errors(record):
    def handler(loop, context):
        exc = context.get("exception")
        record.append(("error", context["message"], type(exc).__name__,
                       _frames(exc) if exc else None,
                       type(exc.__context__).__name__ if exc and exc.__context__ else None))
    asyncio.get_running_loop().set_exception_handler(handler)


class _Logged(logging.Handler):
    def __init__(self, record):
        super().__init__(logging.DEBUG)
        self.record = record

    def emit(self, r):
        if r.levelno >= logging.WARNING:
            self.record.append(("log", r.levelname, r.getMessage()))


class TransportTests(SameAsCPython):
    def test_echo_and_reads(self):
        async def program():
            record = []

            def echo(proto, data):
                proto.transport.write(bytes(data))

            tr, proto, peer = await _connect(lambda: _Recorder(record, echo))
            peer.sendall(b"ping")
            await asyncio.sleep(0.05)
            got = peer.recv(100)
            peer.close()
            await proto.lost
            return (record, got, re.sub(r"fd=\d+", "fd=N", repr(tr)), type(tr).__name__,
                    type(tr).__qualname__)
        self.check(program)

    def test_data_received_raising_is_fatal_with_cpythons_traceback(self):
        async def program():
            record = []
            _catch_errors(record)

            def fail(proto, data):
                raise ValueError("boom")

            tr, proto, peer = await _connect(lambda: _Recorder(record, fail))
            peer.sendall(b"x")
            await proto.lost
            peer.close()
            return record
        self.check(program)

    def test_read_error_is_fatal(self):
        async def program():
            record = []
            _catch_errors(record)

            class Failing(socket.socket):
                def recv(self, n):
                    raise OSError(5, "bad read")

            tr, proto, peer = await _connect(lambda: _Recorder(record), Failing)
            peer.sendall(b"x")
            await proto.lost
            peer.close()
            return record
        self.check(program)

    def test_connection_reset(self):
        async def program():
            record = []
            _catch_errors(record)
            tr, proto, peer = await _connect(lambda: _Recorder(record))
            tr.write(b"unread")
            await asyncio.sleep(0.01)
            peer.close()  # unread data: the kernel resets the connection
            await proto.lost
            try:
                tr.write(b"after")
            except Exception as exc:
                record.append(("write raised", type(exc).__name__))
            return record
        self.check(program)

    def test_socket_subclass_methods_are_called(self):
        async def program():
            record = []

            class Counting(socket.socket):
                def recv(self, n):
                    record.append(("recv", n))
                    return super().recv(n)

                def send(self, data):
                    record.append(("send", bytes(data)))
                    return super().send(data)

            def echo(proto, data):
                proto.transport.write(data + b"!")

            tr, proto, peer = await _connect(lambda: _Recorder(record, echo), Counting)
            peer.sendall(b"abc")
            await asyncio.sleep(0.05)
            record.append(("peer got", peer.recv(100)))
            peer.close()
            await proto.lost
            return record
        self.check(program)

    def test_blocking_and_partial_sends_buffer_and_pause_writing(self):
        async def program():
            record = []

            class Writer(_Recorder):
                def pause_writing(self):
                    record.append(("pause", self.transport.get_write_buffer_size() > 0))

                def resume_writing(self):
                    record.append(("resume", self.transport.get_write_buffer_size()))

            class Partial(socket.socket):
                def send(self, data):
                    return super().send(bytes(data)[:3])

            class Blocked(socket.socket):
                blocked = False

                def send(self, data):
                    if not self.blocked:  # the first send only (the transport's own)
                        self.blocked = True
                        raise BlockingIOError(11, "would block")
                    return super().send(data)

            results = []
            for kind, make in ((Partial, bytes), (Partial, bytearray), (Blocked, bytearray),
                               (Partial, memoryview), (Blocked, memoryview), (Blocked, bytes),
                               (socket.socket, bytes)):
                tr, proto, peer = await _connect(lambda: Writer(record), kind)
                tr.set_write_buffer_limits(high=4)
                payload = b"0123456789" * (100000 if kind is socket.socket else 1)
                tr.write(make(payload))
                record.append(("buffered", kind.__name__, tr.get_write_buffer_size() > 0))
                peer.setblocking(False)
                got = b""
                while len(got) < len(payload):
                    try:
                        got += peer.recv(1 << 20)
                    except BlockingIOError:
                        await asyncio.sleep(0.001)
                results.append(got == payload)
                tr.close()
                peer.close()
                await proto.lost
            return record, results
        self.check(program)

    def test_write_checks_and_lost_connection_warnings(self):
        async def program():
            record = []
            handler = _Logged(record)
            logging.getLogger("asyncio").addHandler(handler)
            try:
                tr, proto, peer = await _connect(lambda: _Recorder(record))
                for data in ("text", 5, bytearray(b"ba"), memoryview(b"mv"), b""):
                    try:
                        tr.write(data)
                    except Exception as exc:
                        record.append(("raised", type(exc).__name__, str(exc)))
                await asyncio.sleep(0.02)
                record.append(("peer got", peer.recv(100)))
                tr.write_eof()
                try:
                    tr.write(b"x")
                except Exception as exc:
                    record.append(("raised", type(exc).__name__, str(exc)))
                tr.abort()
                await proto.lost
                tr._eof = False  # write after the connection is lost: counted, then logged
                for _ in range(7):
                    tr.write(b"y")
                record.append(("conn_lost", tr._conn_lost))
                peer.close()
            finally:
                logging.getLogger("asyncio").removeHandler(handler)
            return record
        self.check(program)

    def test_pause_reading_inside_data_received(self):
        async def program():
            record = []
            loop = asyncio.get_running_loop()

            def pause(proto, data):
                proto.transport.pause_reading()
                record.append(("reading", proto.transport.is_reading()))
                loop.call_later(0.02, proto.transport.resume_reading)

            tr, proto, peer = await _connect(lambda: _Recorder(record, pause))
            peer.sendall(b"one")
            await asyncio.sleep(0.01)
            peer.sendall(b"two")
            await asyncio.sleep(0.05)
            peer.close()
            await proto.lost
            joined = b"".join(r[1] for r in record if r[0] == "data")
            return joined, [r for r in record if r[0] != "data"][-1]
        self.check(program)

    def test_eof_received_keep_open_and_close(self):
        async def program():
            record = []
            for keep in (True, False, "raise"):
                def on_eof(proto, keep=keep):
                    if keep == "raise":
                        raise KeyError("eof")
                    if keep:
                        proto.transport.write(b"after eof")
                    return keep

                _catch_errors(record)
                tr, proto, peer = await _connect(lambda: _Recorder(record, on_eof=on_eof))
                peer.shutdown(socket.SHUT_WR)
                await asyncio.sleep(0.02)
                record.append(("closing", tr.is_closing()))
                if keep is True:
                    record.append(("peer got", peer.recv(100)))
                    tr.close()
                await proto.lost
                peer.close()
            return record
        self.check(program)

    def test_buffered_protocol(self):
        async def program():
            record = []
            _catch_errors(record)

            class Buffered(asyncio.BufferedProtocol):
                def __init__(self, mode):
                    self.mode = mode
                    self.buf = bytearray(4)
                    self.lost = asyncio.get_running_loop().create_future()

                def connection_made(self, transport):
                    self.transport = transport

                def get_buffer(self, sizehint):
                    record.append(("get_buffer", sizehint))
                    if self.mode == "empty":
                        return bytearray()
                    if self.mode == "raise":
                        raise ValueError("no buffer")
                    if self.mode == "nolen":
                        return object()
                    return self.buf

                def buffer_updated(self, nbytes):
                    record.append(("updated", bytes(self.buf[:nbytes])))
                    if self.mode == "update":
                        raise LookupError("update")

                def eof_received(self):
                    record.append(("eof",))

                def connection_lost(self, exc):
                    record.append(("lost", type(exc).__name__))
                    self.lost.set_result(None)

            for mode in ("ok", "empty", "raise", "nolen", "update"):
                tr, proto, peer = await _connect(lambda: Buffered(mode))
                peer.sendall(b"abcdefghij")
                await asyncio.sleep(0.02)
                peer.close()
                await proto.lost
            return record
        self.check(program)

    def test_a_patched_base_method_is_called(self):
        async def program():
            record = []
            original = selector_events._SelectorSocketTransport.write

            def write(self, data):
                record.append(("patched write", data))
                return original(self, data)

            with mock.patch.object(selector_events._SelectorSocketTransport, "write", write):
                tr, proto, peer = await _connect(lambda: _Recorder(record))
                tr.write(b"hi")
            await asyncio.sleep(0.01)
            record.append(("peer got", peer.recv(100)))
            tr.close()
            await proto.lost
            peer.close()
            return record
        self.check(program)


class EscapingExceptions(unittest.TestCase):
    """KeyboardInterrupt leaves the loop from inside the C methods: its traceback from
    `_read_ready` on and its __context__ must be CPython's (the frames below `_read_ready`, the
    loop's own, differ: aioref runs the handle in C)."""

    def escape(self, factory, fail_in_handler, read=True):
        loop = factory()
        a, b = socket.socketpair()
        try:
            def handler(loop, context):
                raise KeyboardInterrupt("from the handler")

            def fail(proto, data):
                if fail_in_handler:
                    raise ValueError("boom")
                raise KeyboardInterrupt("from data_received")

            loop.set_exception_handler(handler)
            tr, proto = loop.run_until_complete(
                loop.create_connection(lambda: _Recorder([], fail), sock=a))
            if read:
                b.sendall(b"x")
            else:
                class Failing(object):
                    def __getattr__(self, name):
                        return getattr(a, name)

                    def send(self, data):
                        raise ValueError("bad write")
                tr._sock = Failing()
                loop.call_soon(tr.write, b"data")
            try:
                loop.run_forever()
            except KeyboardInterrupt as exc:
                frames = _frames(exc)
                names = [name for name, _ in frames]
                start = names.index("_read_ready") if read else names.index("write")
                context = exc.__context__
                return (str(exc), frames[start:],
                        (type(context).__name__, str(context)) if context else None)
            finally:
                tr.abort()
        finally:
            a.close()
            b.close()
            loop.close()

    def test_keyboard_interrupt_from_data_received(self):
        loops.same_on_every_loop(self, lambda f: self.escape(f, False))

    def test_keyboard_interrupt_from_fatal_error(self):
        loops.same_on_every_loop(self, lambda f: self.escape(f, True))

    def test_keyboard_interrupt_from_a_write_error(self):
        loops.same_on_every_loop(self, lambda f: self.escape(f, True, read=False))


@loops.aioref_only
class TransportInternals(object):
    def test_the_transport_is_cpythons_class_with_c_methods(self):
        async def program():
            tr, proto, peer = await _connect(lambda: _Recorder([]))
            base = selector_events._SelectorSocketTransport
            cls = type(tr)
            self.assertIsNot(cls, base)
            self.assertTrue(issubclass(cls, base))
            self.assertEqual((cls.__name__, cls.__qualname__, cls.__module__),
                             (base.__name__, base.__qualname__, base.__module__))
            for name in ("_read_ready", "_read_ready__data_received",
                         "_read_ready__get_buffer", "write"):
                self.assertEqual(type(cls.__dict__[name]).__name__, "method_descriptor", name)
            tr.close()
            peer.close()
            await proto.lost
        self.loop.run_until_complete(program())


if __name__ == "__main__":
    unittest.main()
