"""I/O through the C++ reactor (modes loop and full): add_reader/add_writer, sock_*, transports,
protocols, servers and streams on real loopback sockets.

Every behaviour is checked on every loop of loops.py (CPython's own loop, aioref's modes loop and
full): bodies under @loops.every_loop, or one program on each loop whose results must equal
CPython's (SameAsCPython); ReactorInternals checks aioref's C++ core apart.
"""

import asyncio
import selectors
import socket
import threading
import unittest

import aioref
import loops
from loops import SameAsCPython


@loops.every_loop
class ReaderWriter(object):
    def socketpair(self):
        a, b = socket.socketpair()
        self.addCleanup(a.close)
        self.addCleanup(b.close)
        return a, b

    def test_add_reader_is_level_triggered_and_removable(self):
        a, b = self.socketpair()
        a.setblocking(False)
        got = []

        def on_readable():
            got.append(a.recv(1))
            if len(got) == 3:
                self.assertTrue(self.loop.remove_reader(a))
                self.loop.stop()

        b.send(b"xyz")
        self.loop.add_reader(a, on_readable)
        self.loop.run_forever()
        self.assertEqual(got, [b"x", b"y", b"z"])
        self.assertFalse(self.loop.remove_reader(a))

    def test_replaced_reader_is_cancelled_and_keys_follow(self):
        a, b = self.socketpair()
        self.loop.add_reader(a.fileno(), lambda: None)
        first = self.loop._selector.get_key(a.fileno()).data[0]
        self.loop.add_writer(a.fileno(), lambda: None)
        self.loop.add_reader(a.fileno(), lambda: None)
        self.assertTrue(first.cancelled())
        key = self.loop._selector.get_key(a.fileno())
        self.assertEqual(key.events, selectors.EVENT_READ | selectors.EVENT_WRITE)
        self.assertTrue(self.loop.remove_writer(a.fileno()))
        self.assertEqual(self.loop._selector.get_key(a.fileno()).events, selectors.EVENT_READ)
        self.assertTrue(self.loop.remove_reader(a.fileno()))
        self.assertNotIn(a.fileno(), self.loop._selector.get_map())

    def test_cancelled_reader_handle_unregisters_at_its_next_event(self):
        a, b = self.socketpair()
        ran = []
        self.loop.add_reader(a.fileno(), ran.append, 1)  # 3.8's _add_reader returns None
        self.loop._selector.get_key(a.fileno()).data[0].cancel()
        b.send(b"x")
        self.loop.call_later(0.05, self.loop.stop)
        self.loop.run_forever()
        self.assertEqual(ran, [])
        self.assertNotIn(a.fileno(), self.loop._selector.get_map())

    def test_bad_fd(self):
        with self.assertRaises(ValueError):
            self.loop.add_reader(-1, lambda: None)
        r, w = self.socketpair()
        fd = r.fileno()
        r.close()
        with self.assertRaises(OSError):
            self.loop.add_reader(fd, lambda: None)
        self.assertNotIn(fd, self.loop._selector.get_map())

    def test_threadsafe_wakeup_while_waiting_on_io(self):
        a, b = self.socketpair()
        self.loop.add_reader(a, lambda: None)
        threading.Timer(0.05, self.loop.call_soon_threadsafe, (self.loop.stop,)).start()
        self.loop.run_forever()
        self.loop.remove_reader(a)


@loops.aioref_only
class ReactorInternals(object):
    def test_the_core_watches_only_registered_fds(self):
        a, b = socket.socketpair()
        self.addCleanup(a.close)
        self.addCleanup(b.close)
        self.assertFalse(self.loop._core.has_io)
        self.loop.add_reader(a, lambda: None)
        self.loop.add_writer(a, lambda: None)
        self.assertTrue(self.loop._core.has_io)
        self.loop.remove_reader(a)
        self.assertTrue(self.loop._core.has_io)
        self.loop.remove_writer(a)
        self.assertFalse(self.loop._core.has_io)


class SockTests(SameAsCPython):
    def test_sock_api_echo(self):
        async def program():
            loop = asyncio.get_running_loop()
            log = []
            listener = socket.socket()
            listener.bind(("127.0.0.1", 0))
            listener.listen()
            listener.setblocking(False)
            client = socket.socket()
            client.setblocking(False)
            accept = loop.create_task(loop.sock_accept(listener))
            await loop.sock_connect(client, listener.getsockname())
            conn, _ = await accept
            conn.setblocking(False)
            await loop.sock_sendall(client, b"hello" * 100000)
            got = b""
            while len(got) < 500000:
                got += await loop.sock_recv(conn, 65536)
            log.append(len(got))
            buf = bytearray(10)
            await loop.sock_sendall(conn, b"0123456789")
            n = await loop.sock_recv_into(client, buf)
            log.append(bytes(buf[:n]))
            conn.close()
            log.append(await loop.sock_recv(client, 10))  # EOF
            for s in (client, listener):
                s.close()
            return log

        self.assertEqual(self.check(program)[0], 500000)

    def test_connection_refused(self):
        async def program():
            loop = asyncio.get_running_loop()
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            addr = s.getsockname()
            s.close()
            c = socket.socket()
            c.setblocking(False)
            try:
                await loop.sock_connect(c, addr)
            except OSError as e:
                return [type(e).__name__, e.errno, str(e).replace(str(addr[1]), "PORT")]
            finally:
                c.close()

        log = self.check(program)
        self.assertEqual(log[0], "ConnectionRefusedError")


class StreamsAndProtocolsTests(SameAsCPython):
    def test_streams_echo(self):
        async def program():
            log = []

            async def handle(reader, writer):
                line = await reader.readline()
                log.append(("server got", line))
                writer.write(line.upper())
                await writer.drain()
                writer.close()

            server = await asyncio.start_server(handle, "127.0.0.1", 0)
            port = server.sockets[0].getsockname()[1]
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"hello\n")
            log.append(("client got", await reader.read()))
            log.append(("eof", reader.at_eof()))
            writer.close()
            server.close()
            await server.wait_closed()
            log.append(("serving", server.is_serving()))
            return log

        self.assertEqual(self.check(program)[1], ("client got", b"HELLO\n"))

    def test_protocol_callback_order(self):
        async def program():
            loop = asyncio.get_running_loop()
            log = []
            done = loop.create_future()

            class Server(asyncio.Protocol):
                def connection_made(self, transport):
                    log.append("server made")
                    self.transport = transport

                def data_received(self, data):
                    log.append(("server data", data))
                    self.transport.write(data)
                    self.transport.close()

                def connection_lost(self, exc):
                    log.append(("server lost", exc))

            class Client(asyncio.Protocol):
                def connection_made(self, transport):
                    log.append("client made")
                    transport.write(b"ping")

                def data_received(self, data):
                    log.append(("client data", data))

                def eof_received(self):
                    log.append("client eof")

                def connection_lost(self, exc):
                    log.append(("client lost", exc))
                    done.set_result(None)

            server = await loop.create_server(Server, "127.0.0.1", 0)
            port = server.sockets[0].getsockname()[1]
            transport, _ = await loop.create_connection(Client, "127.0.0.1", port)
            log.append(repr(transport).split(" fd=")[0])
            await done
            server.close()
            await server.wait_closed()
            return log

        self.check(program)

    def test_flow_control_pauses_and_resumes_writing(self):
        async def program():
            loop = asyncio.get_running_loop()
            log = []
            a, b = socket.socketpair()

            class Writer(asyncio.Protocol):
                def pause_writing(self):
                    log.append("pause")

                def resume_writing(self):
                    log.append("resume")

            transport, _ = await loop.create_connection(Writer, sock=a)
            transport.set_write_buffer_limits(high=64 * 1024)
            transport.write(b"x" * (4 * 1024 * 1024))
            b.setblocking(False)
            total = 0
            while total < 4 * 1024 * 1024:
                try:
                    total += len(b.recv(1 << 20))
                except BlockingIOError:
                    await asyncio.sleep(0)
            await asyncio.sleep(0)
            transport.close()
            b.close()
            return log

        self.assertEqual(self.check(program), ["pause", "resume"])

    def test_address_in_use(self):
        async def program():
            holder = socket.socket()
            holder.bind(("127.0.0.1", 0))
            holder.listen()
            port = holder.getsockname()[1]
            try:
                await asyncio.start_server(lambda r, w: None, "127.0.0.1", port)
            except OSError as e:
                return [type(e).__name__, e.errno, str(e).replace(str(port), "PORT")]
            finally:
                holder.close()

        self.assertEqual(self.check(program)[1], 98)


class VirtualTimeTests(unittest.TestCase):
    """With a Python selector (the harness's virtual clock), real I/O still wakes the loop."""

    def test_io_with_a_python_wait_selector(self):
        now = [1000.0]
        loop = aioref.Loop(time_source=lambda: now[0], selector=selectors.DefaultSelector())

        async def program():
            async def handle(reader, writer):
                writer.write(await reader.read(5))
                writer.close()

            server = await asyncio.start_server(handle, "127.0.0.1", 0)
            port = server.sockets[0].getsockname()[1]
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"hello")
            data = await reader.read()
            writer.close()
            server.close()
            await server.wait_closed()
            return data

        self.assertEqual(loop.run_until_complete(program()), b"hello")
        self.assertFalse(loop._core.has_io)
        loop.close()


if __name__ == "__main__":
    unittest.main()
