# aioref-example: s000_tcp_echo_errors
# seed: 000_febe4d065c985002.txt, section "用asyncio写tcp的echo示例", no block (the section has no code: its reference 5, line 210, links the streams echo whose failure modes this program shows)
# source: not a tutorial block: written for issue 5, which asks that the echo's failure modes raise as CPython raises them; it uses the streams API of https://asyncio.readthedocs.io/en/latest/tcp_echo.html
# shows: the echo's failure modes as CPython reports them, one line per case (exception type and message): connection refused, address already in use, connection reset by the peer, readexactly past EOF (IncompleteReadError), write after close() (dropped without an error) and drain after the connection is lost (ConnectionResetError), the same from 3.6 to 3.13 on the selector loop
# changes: none (not from a tutorial); asyncio.run where it exists, else get_event_loop().run_until_complete, so that 3.6 runs it too
# fails-by-design: every case but the write after close raises by design: ConnectionRefusedError, OSError [Errno 98] (address in use), ConnectionResetError [Errno 104], IncompleteReadError, ConnectionResetError: Connection lost (drain); caught and printed, exit 0

import asyncio
import socket
import struct


def report(case, exc):
    print('%s: %s: %s' % (case, type(exc).__name__, exc))


async def connection_refused():
    # A loopback port whose listener was just closed: nothing listens there any more.
    server = await asyncio.start_server(lambda reader, writer: None, '127.0.0.1', 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    try:
        await asyncio.open_connection('127.0.0.1', port)
        print('connection refused: no error')
    except OSError as exc:
        report('connection refused', exc)


async def address_in_use():
    # A listening socket already holds the port.
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.bind(('127.0.0.1', 0))
    holder.listen(1)
    port = holder.getsockname()[1]
    try:
        server = await asyncio.start_server(lambda reader, writer: None, '127.0.0.1', port)
        print('address in use: no error')
        server.close()
        await server.wait_closed()
    except OSError as exc:
        report('address in use', exc)
    finally:
        holder.close()


async def reset_by_peer():
    # The server closes with SO_LINGER 0: the kernel sends RST instead of FIN.
    async def handler(reader, writer):
        sock = writer.get_extra_info('socket')
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
        writer.close()

    server = await asyncio.start_server(handler, '127.0.0.1', 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection('127.0.0.1', port)
    try:
        data = await reader.read(100)
        print('reset by peer: no error, read %r' % data)
    except OSError as exc:
        report('reset by peer', exc)
    writer.close()
    server.close()
    await server.wait_closed()


async def read_after_eof():
    # The server sends 5 bytes and closes; the client wants 10.
    async def handler(reader, writer):
        writer.write(b'Hello')
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handler, '127.0.0.1', 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection('127.0.0.1', port)
    try:
        data = await reader.readexactly(10)
        print('read after EOF: no error, read %r' % data)
    except asyncio.IncompleteReadError as exc:
        report('read after EOF', exc)
        print('read after EOF: partial %r, expected %r' % (exc.partial, exc.expected))
    data = await reader.read(100)
    print('read after EOF: then read() returns %r, at_eof() %r' % (data, reader.at_eof()))
    writer.close()
    server.close()
    await server.wait_closed()


async def write_after_close():
    # Write after writer.close(), then drain once the connection is lost.
    async def handler(reader, writer):
        await reader.read()
        writer.close()

    server = await asyncio.start_server(handler, '127.0.0.1', 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection('127.0.0.1', port)
    writer.close()
    try:
        writer.write(b'too late')
        print('write after close: no error, is_closing() %r' % writer.transport.is_closing())
    except Exception as exc:
        report('write after close', exc)
    await asyncio.sleep(0)  # the transport's connection_lost runs (it was scheduled first)
    try:
        await writer.drain()
        print('drain after connection lost: no error')
    except Exception as exc:
        report('drain after connection lost', exc)
    server.close()
    await server.wait_closed()


async def main():
    await connection_refused()
    await address_in_use()
    await reset_by_peer()
    await read_after_eof()
    await write_after_close()


if hasattr(asyncio, 'run'):
    asyncio.run(main())
else:
    asyncio.get_event_loop().run_until_complete(main())
