#!/usr/bin/env python3
"""An echo server on one asyncio event loop, for the echo benchmark, in the modes of uvloop's
examples/bench/echoserver.py and rlserver.py (https://github.com/MagicStack/uvloop, MIT/Apache 2.0):
  streams    asyncio.start_server: read(102400), then write and drain
  protocols  a Protocol whose data_received writes back what it got (uvloop's --proto)
  buffered   a BufferedProtocol reading into one 256 KiB bytearray (uvloop's --proto --buffered)
  sock       loop.sock_accept, then per client a task of loop.sock_recv(1000000) and
             loop.sock_sendall (uvloop's default mode)
  readline   asyncio.start_server(limit=256000): readline(), then write (rlserver.py); the load
             generator ends every message with a newline
Listens on 127.0.0.1, prints the port on stdout, and serves until SIGTERM or SIGINT. With
--callgrind-markers, each SIGUSR1 calls os.getppid(): under `valgrind --tool=callgrind
--dump-before=*getppid*` that dumps the counts so far (the echo_callgrind group's marks between
two load generator runs).

    echo_server.py --loop cpython|uvloop|aioref|aioref-full --kind KIND [--port 0]
                   [--callgrind-markers]
"""

import argparse
import asyncio
import os
import signal
import socket
import sys


def new_loop(name):
    if name == "cpython":
        return asyncio.new_event_loop()
    if name == "uvloop":
        import uvloop

        return uvloop.new_event_loop()
    import aioref

    if name == "aioref":
        return aioref.new_event_loop()
    if name == "aioref-full":
        return aioref.new_full_event_loop()
    raise SystemExit("echo_server.py: unknown loop %r" % name)


async def echo_streams(reader, writer):
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    while True:
        data = await reader.read(102400)
        if not data:
            break
        writer.write(data)
        await writer.drain()
    writer.close()


async def echo_readline(reader, writer):
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    while True:
        data = await reader.readline()
        if not data:
            break
        writer.write(data)
    writer.close()


async def echo_sock_client(loop, client):
    client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    with client:
        while True:
            data = await loop.sock_recv(client, 1000000)
            if not data:
                break
            await loop.sock_sendall(client, data)


async def sock_server(loop, sock):
    with sock:
        while True:
            client, _ = await loop.sock_accept(sock)
            loop.create_task(echo_sock_client(loop, client))


class EchoProtocol(asyncio.Protocol):
    def connection_made(self, transport):
        transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)

    def connection_lost(self, exc):
        self.transport = None


class EchoBufferedProtocol(asyncio.BufferedProtocol):
    def connection_made(self, transport):
        transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.transport = transport
        self.buffer = bytearray(256 * 1024)

    def get_buffer(self, sizehint):
        return self.buffer

    def buffer_updated(self, nbytes):
        self.transport.write(self.buffer[:nbytes])  # a copy: the buffer is read into again

    def connection_lost(self, exc):
        self.transport = None


KINDS = ("streams", "protocols", "buffered", "sock", "readline")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--loop", required=True)
    parser.add_argument("--kind", choices=KINDS, required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--callgrind-markers", action="store_true")
    args = parser.parse_args()
    loop = new_loop(args.loop)
    asyncio.set_event_loop(loop)
    server = None
    if args.kind in ("streams", "readline"):
        handler, limit = ((echo_streams, 2 ** 16) if args.kind == "streams" else
                          (echo_readline, 256000))
        server = loop.run_until_complete(asyncio.start_server(
            handler, "127.0.0.1", args.port, backlog=1024, limit=limit))
        port = server.sockets[0].getsockname()[1]
    elif args.kind in ("protocols", "buffered"):
        protocol = EchoProtocol if args.kind == "protocols" else EchoBufferedProtocol
        server = loop.run_until_complete(
            loop.create_server(protocol, "127.0.0.1", args.port, backlog=1024))
        port = server.sockets[0].getsockname()[1]
    else:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", args.port))
        sock.listen(1024)
        sock.setblocking(False)
        port = sock.getsockname()[1]
        loop.create_task(sock_server(loop, sock))
    print(port, flush=True)
    # The loop's own signal handling (signal.set_wakeup_fd): a handler set with signal.signal
    # alone runs when the interpreter next checks for signals, and a signal that lands between
    # that check and the loop's epoll_wait (select, libuv's poll) waits for the next event,
    # which an idle server never gets (seen: a missed SIGTERM, a missed marker).
    loop.add_signal_handler(signal.SIGTERM, loop.stop)
    loop.add_signal_handler(signal.SIGINT, loop.stop)
    if args.callgrind_markers:
        loop.add_signal_handler(signal.SIGUSR1, os.getppid)
    loop.run_forever()
    if server is not None:
        server.close()
    loop.close()


if __name__ == "__main__":
    sys.exit(main())
