"""Failing system calls under the transports, servers and sock_* methods (see scenarios.py); the
C++ twin is runtime/tests/faults_test.cc, which makes the system calls themselves fail
(runtime/detail/fault_injection.h). Here a socket's methods fail as the failing call makes them
fail: OSError(errno, strerror), which is the errno's subclass (ConnectionResetError, ...).
EINTR never shows here: socket methods, select.epoll.poll and the self-pipe's send retry it
(PEP 475), so the scenarios whose C++ twin interrupts calls inject nothing. connect() is the
exception: a non-blocking connect that is interrupted raises InterruptedError while the
connection goes on."""
import asyncio
import errno
import logging
import os
import re
import socket
import threading

from scenarios import e, main, scenario


def out(line):
    line = re.sub(r"\('127\.0\.0\.1', \d+\)", "('127.0.0.1', PORT)", line)
    print(re.sub(r"fd=\d+", "fd=N", line))


class _LogLines(logging.Handler):
    def emit(self, record):
        out("log %s %s" % (record.levelname, record.getMessage()))


logging.getLogger("asyncio").addHandler(_LogLines())
logging.getLogger("asyncio").propagate = False


def os_error(code):
    return OSError(code, os.strerror(code))


class FaultySocket(socket.socket):
    """A socket whose next calls fail: faults['recv'] = [errno, ...] (recv and recv_into),
    faults['send'] (send and sendmsg), faults['accept'], faults['connect']; `short` caps what
    one send sends."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.faults = {}
        self.short = 0

    def _fail(self, name):
        queue = self.faults.get(name)
        if queue:
            raise os_error(queue.pop(0))

    def recv(self, *args):
        self._fail("recv")
        return super().recv(*args)

    def recv_into(self, *args):
        self._fail("recv")
        return super().recv_into(*args)

    def send(self, data, *args):
        self._fail("send")
        if self.short:
            data = memoryview(data)[:self.short]
        return super().send(data, *args)

    def sendmsg(self, buffers, *args):
        self._fail("send")
        if self.short:
            buffers = [b"".join(bytes(b) for b in buffers)[:self.short]]
        return super().sendmsg(buffers, *args)

    def accept(self):
        self._fail("accept")
        return super().accept()

    def connect(self, address):
        queue = self.faults.get("connect")
        if queue and queue[0] == errno.EINTR:  # interrupted: the connection is under way
            queue.pop(0)
            err = self.connect_ex(address)
            raise os_error(err if err not in (0, errno.EINPROGRESS) else errno.EINTR)
        self._fail("connect")
        return super().connect(address)


def show_handler_calls(loop):
    def handler(loop, context):
        out("handler %s: %s" % (context["message"], e(context["exception"])))
        if "socket" in context:
            out("handler socket %r" % context["socket"])
    loop.set_exception_handler(handler)


class Peer(asyncio.Protocol):
    """One end of a connection: keeps what it received, its connection_lost argument."""

    def __init__(self):
        loop = asyncio.get_running_loop()
        self.made = loop.create_future()
        self.lost = loop.create_future()
        self.data = b""
        self.data_calls = 0
        self.want = None  # (size, future): resolved when that much arrived

    def connection_made(self, transport):
        self.t = transport
        self.made.set_result(None)

    def data_received(self, data):
        self.data += data
        self.data_calls += 1
        if self.want and len(self.data) >= self.want[0] and not self.want[1].done():
            self.want[1].set_result(None)

    def eof_received(self):
        return False

    def connection_lost(self, exc):
        self.lost.set_result(exc)

    async def received(self, size):
        self.want = (size, asyncio.get_running_loop().create_future())
        if len(self.data) < size:
            await self.want[1]


def recording(accepted):
    """A server's protocol factory that keeps its protocols in `accepted`."""
    def factory():
        accepted.append(Peer())
        return accepted[-1]
    return factory


async def first_accepted(accepted):
    while not accepted:
        await asyncio.sleep(0)
    await accepted[0].made
    return accepted[0]


async def connect_pair():
    """A server and a connected client (the client's socket a FaultySocket): server, client,
    the server's protocol."""
    loop = asyncio.get_running_loop()
    show_handler_calls(loop)
    accepted = []
    server = await loop.create_server(recording(accepted), "127.0.0.1", 0)
    sock = FaultySocket()
    sock.connect(server.sockets[0].getsockname())
    sock.setblocking(False)
    _, client = await loop.create_connection(Peer, sock=sock)
    client.sock = sock
    return server, client, await first_accepted(accepted)


async def close_pair(server, client, peer):
    if not client.t.is_closing():
        client.t.close()
    out("client lost %s" % e(await client.lost) if await client.lost else "client lost None")
    out("server lost %s" % ("None" if await peer.lost is None else e(await peer.lost)))
    server.close()
    await server.wait_closed()


async def data_after(recv_faults):
    server, client, peer = await connect_pair()
    client.sock.faults["recv"] = recv_faults
    peer.t.write(b"hello")
    await client.received(5)
    out("client data %r in %d call(s)" % (client.data, client.data_calls))
    await close_pair(server, client, peer)


@scenario()
async def recv_would_block_storm():
    await data_after([errno.EAGAIN] * 50)


@scenario()
async def recv_interrupted():
    await data_after([])  # EINTR: recv retries it


@scenario()
async def recv_connection_reset():
    server, client, peer = await connect_pair()
    client.sock.faults["recv"] = [errno.ECONNRESET]
    peer.t.write(b"hello")
    await client.lost
    out("client data %r" % client.data)
    for _ in range(6):  # writes after the loss are counted; from the 5th on, a warning
        client.t.write(b"x")
    await close_pair(server, client, peer)


async def write_fails(send_faults):
    server, client, peer = await connect_pair()
    client.sock.faults["send"] = send_faults
    client.t.write(b"ping")
    out("buffered %d" % client.t.get_write_buffer_size())
    await client.lost
    out("buffered after loss %d" % client.t.get_write_buffer_size())
    await close_pair(server, client, peer)


@scenario()
async def send_broken_pipe():
    await write_fails([errno.EPIPE])


@scenario()
async def send_no_buffer_space():
    await write_fails([errno.ENOBUFS])


@scenario()
async def send_reset_when_writable():
    await write_fails([errno.EAGAIN, errno.ECONNRESET])


@scenario()
async def short_writes():
    server, client, peer = await connect_pair()
    client.sock.short = 3
    client.t.write(b"0123456789")
    out("buffered %d" % client.t.get_write_buffer_size())
    client.t.write(b"abcdefghij")
    out("buffered %d" % client.t.get_write_buffer_size())
    await peer.received(20)
    out("server data %r" % peer.data)
    out("buffered %d" % client.t.get_write_buffer_size())
    await close_pair(server, client, peer)


@scenario()
async def accept_out_of_resources():
    loop = asyncio.get_running_loop()
    show_handler_calls(loop)
    accepted = []
    listener = FaultySocket()
    listener.bind(("127.0.0.1", 0))
    listener.faults["accept"] = [errno.ENOBUFS]
    server = await loop.create_server(recording(accepted), sock=listener)
    _, client = await loop.create_connection(Peer, *listener.getsockname())
    peer = await first_accepted(accepted)
    out("accepted after the error: %d" % len(accepted))
    client.t.close()
    await close_pair(server, client, peer)


async def connect_with(connect_faults):
    loop = asyncio.get_running_loop()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    sock = FaultySocket()
    sock.setblocking(False)
    sock.faults["connect"] = connect_faults
    try:
        await loop.sock_connect(sock, listener.getsockname())
        out("connected %s" % (sock.getpeername() == listener.getsockname()))
    except OSError as x:
        out("sock_connect: %s" % e(x))
    sock.close()
    listener.close()


@scenario()
async def connect_reset():
    await connect_with([errno.ECONNRESET])


@scenario()
async def connect_interrupted():
    await connect_with([errno.EINTR])


@scenario()
async def selector_interrupted():
    await data_after([])  # EINTR: epoll.poll retries it


@scenario(sync=True)
def selector_fails():
    loop = asyncio.new_event_loop()
    selector = loop._selector
    select = selector.select

    def failing_select(timeout=None):  # the epoll.poll under select fails once
        selector.select = select
        raise os_error(errno.ENOMEM)

    selector.select = failing_select
    fut = loop.create_future()
    loop.call_later(0.01, fut.set_result, "late")
    try:
        loop.run_until_complete(fut)
    except OSError as x:
        out("run_until_complete: %s" % e(x))
    out("running %s, closed %s" % (loop.is_running(), loop.is_closed()))
    out("then %s" % loop.run_until_complete(fut))
    loop.close()


@scenario()
async def threadsafe_wakeup_interrupted():
    # EINTR: the self-pipe's send retries it
    loop = asyncio.get_running_loop()
    fut = loop.create_future()
    thread = threading.Timer(0.05, loop.call_soon_threadsafe, (fut.set_result, "woken"))
    thread.start()
    try:
        out(await asyncio.wait_for(fut, 10))
    except asyncio.TimeoutError:
        out("never woken")
    thread.join()


if __name__ == "__main__":
    main()
