#!/usr/bin/env python3
"""An echo server on one asyncio event loop, for the echo benchmark (as uvloop's
examples/bench/echoserver.py): streams (`asyncio.start_server`, read then write and drain) or a
protocol (`data_received` writes back what it got). Listens on 127.0.0.1, prints the port on
stdout, and serves until SIGTERM or SIGINT.

    echo_server.py --loop cpython|uvloop|aioref|aioref-full --kind streams|protocols [--port 0]
"""

import argparse
import asyncio
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


class EchoProtocol(asyncio.Protocol):
    def connection_made(self, transport):
        transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)

    def connection_lost(self, exc):
        self.transport = None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--loop", required=True)
    parser.add_argument("--kind", choices=("streams", "protocols"), required=True)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    loop = new_loop(args.loop)
    asyncio.set_event_loop(loop)
    if args.kind == "streams":
        server = loop.run_until_complete(
            asyncio.start_server(echo_streams, "127.0.0.1", args.port, backlog=1024))
    else:
        server = loop.run_until_complete(
            loop.create_server(EchoProtocol, "127.0.0.1", args.port, backlog=1024))
    print(server.sockets[0].getsockname()[1], flush=True)
    # Signals end the loop from a C-level handler; the loop itself needs no signal support.
    signal.signal(signal.SIGTERM, lambda *_: loop.call_soon_threadsafe(loop.stop))
    signal.signal(signal.SIGINT, lambda *_: loop.call_soon_threadsafe(loop.stop))
    loop.run_forever()
    server.close()
    loop.close()


if __name__ == "__main__":
    sys.exit(main())
