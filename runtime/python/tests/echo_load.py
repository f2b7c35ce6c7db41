"""Echo under load through the bridge: CLIENTS concurrent connections on loopback to a streams
echo server on the same aioref loop, each sending TOTAL bytes in varied chunk sizes (1 B to
64 KiB, a fixed pseudo-random sequence per client) and checking that every byte comes back in
order. Exits non-zero on any loss, reordering, error or when DEADLINE seconds pass.

    echo_load.py [--mode loop|full|cpython] [--clients 1000] [--bytes 1048576] [--deadline 120]
"""

import argparse
import asyncio
import random
import resource
import sys
import time

import aioref


def payload(client, total):
    """The bytes client `client` sends, and its chunk boundaries."""
    rng = random.Random(client)
    data = rng.getrandbits(8 * total).to_bytes(total, "little") if total else b""
    cuts, pos = [], 0
    while pos < total:
        size = min(total - pos, rng.choice((1, 7, 100, 1500, 4096, 16384, 65536, rng.randint(1, 65536))))
        cuts.append((pos, pos + size))
        pos += size
    return data, cuts


async def handle_echo(reader, writer):
    while True:
        data = await reader.read(65536)
        if not data:
            break
        writer.write(data)
        await writer.drain()
    writer.close()


async def client(port, index, total, errors):
    data, cuts = payload(index, total)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)

    async def send():
        for start, end in cuts:
            writer.write(data[start:end])
            await writer.drain()
        writer.write_eof()

    sender = asyncio.ensure_future(send())
    received = bytearray()
    while True:
        chunk = await reader.read(65536)
        if not chunk:
            break
        received += chunk
    await sender
    writer.close()
    if bytes(received) != data:
        first = next((i for i, (a, b) in enumerate(zip(received, data)) if a != b),
                     min(len(received), len(data)))
        errors.append("client %d: %d of %d bytes back, first difference at %d"
                      % (index, len(received), total, first))


async def main(args):
    server = await asyncio.start_server(handle_echo, "127.0.0.1", 0, backlog=args.clients)
    port = server.sockets[0].getsockname()[1]
    errors = []
    results = await asyncio.gather(*(client(port, i, args.bytes, errors)
                                     for i in range(args.clients)), return_exceptions=True)
    errors += ["client %d: %r" % (i, r) for i, r in enumerate(results) if isinstance(r, BaseException)]
    server.close()
    await server.wait_closed()
    return errors


def run():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=("loop", "full", "cpython"), default="loop")
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--bytes", type=int, default=1 << 20)
    parser.add_argument("--deadline", type=float, default=120.0)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    factory = {"loop": aioref.new_event_loop, "full": aioref.new_full_event_loop,
               "cpython": asyncio.SelectorEventLoop}[args.mode]
    loop = factory()
    start = time.monotonic()
    try:
        errors = loop.run_until_complete(asyncio.wait_for(main(args), args.deadline))
    except asyncio.TimeoutError:
        print("echo_load: FAIL: not done after %.0f s" % args.deadline)
        return 1
    finally:
        loop.close()
    elapsed = time.monotonic() - start
    moved = 2 * args.clients * args.bytes / (1 << 20)
    print("echo_load: mode %s, %d clients x %d bytes, %.1f s, %.0f MiB/s through the loop"
          % (args.mode, args.clients, args.bytes, elapsed, moved / elapsed))
    for e in errors[:20]:
        print("echo_load: FAIL:", e)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(run())
