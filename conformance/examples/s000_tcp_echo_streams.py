# aioref-example: s000_tcp_echo_streams
# seed: 000_febe4d065c985002.txt, section "用asyncio写tcp的echo示例", no block (the section has no code: its reference 5, line 210, links the page below)
# source: https://asyncio.readthedocs.io/en/latest/tcp_echo.html, "TCP echo client and server" (streams): examples/tcp_echo_server.py and examples/tcp_echo_client.py as the page shows them
# shows: the streams echo on one loop, start_server and open_connection with loop=loop: the server prints the message and the peer, echoes it and closes; the client prints what came back (3.8/3.9: DeprecationWarning for loop=; 3.10+: TypeError, the loop argument was removed)
# changes: joined the page's server and client in one program: the server is started as written but on port 0 instead of 8888 (concurrent runs must not collide); added `port = server.sockets[0].getsockname()[1]` after the server's "Serving on" print; the server's `try: loop.run_forever() except KeyboardInterrupt: pass` (serve until Ctrl+C) is replaced by the client, defined as written but connecting to `port` instead of 8888, and run by the client's `message = 'Hello World!'` and `loop.run_until_complete(tcp_echo_client(message, loop))`; the client's `loop = asyncio.get_event_loop()` and `loop.close()` are dropped (the server's loop and its closing, as written, serve both); `loop=loop` is kept
# fails-by-design: 3.10+: TypeError: BaseEventLoop.create_server() got an unexpected keyword argument 'loop' (3.8/3.9: DeprecationWarning for open_connection's loop argument)

import asyncio

async def handle_echo(reader, writer):
    data = await reader.read(100)
    message = data.decode()
    addr = writer.get_extra_info('peername')
    print("Received %r from %r" % (message, addr))

    print("Send: %r" % message)
    writer.write(data)
    await writer.drain()

    print("Close the client socket")
    writer.close()

loop = asyncio.get_event_loop()
coro = asyncio.start_server(handle_echo, '127.0.0.1', 0, loop=loop)
server = loop.run_until_complete(coro)

# Serve requests until Ctrl+C is pressed
print('Serving on {}'.format(server.sockets[0].getsockname()))
port = server.sockets[0].getsockname()[1]


async def tcp_echo_client(message, loop):
    reader, writer = await asyncio.open_connection('127.0.0.1', port,
                                                   loop=loop)

    print('Send: %r' % message)
    writer.write(message.encode())

    data = await reader.read(100)
    print('Received: %r' % data.decode())

    print('Close the socket')
    writer.close()


message = 'Hello World!'
loop.run_until_complete(tcp_echo_client(message, loop))

# Close the server
server.close()
loop.run_until_complete(server.wait_closed())
loop.close()
