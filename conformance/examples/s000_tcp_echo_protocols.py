# aioref-example: s000_tcp_echo_protocols
# seed: 000_febe4d065c985002.txt, section "用asyncio写tcp的echo示例", no block (the section has no code: its reference 5, line 210, links the streams echo; this is the same echo with protocols)
# source: the Python 3.6 documentation, Doc/library/asyncio-protocol.rst, "Protocol examples": "TCP echo server protocol" (EchoServerClientProtocol, loop.create_server) and "TCP echo client protocol" (EchoClientProtocol, loop.create_connection), in the get_event_loop style of 3.6 (the text checked against the pre-3.7 asyncio-protocol.rst, AbstractEventLoop era)
# shows: the protocol echo on one loop: connection_made / data_received callbacks of both ends, the server writing back and closing at once, the client stopping run_forever from connection_lost
# changes: joined the documentation's server and client in one program: the server is started as written but on port 0 instead of 8888 (concurrent runs must not collide); added `port = server.sockets[0].getsockname()[1]` after the server's "Serving on" print; the server's `try: loop.run_forever() except KeyboardInterrupt: pass` (serve until Ctrl+C) is replaced by the client's lines after its `loop = asyncio.get_event_loop()` (`message = ...`, `coro = loop.create_connection(...)` connecting to `port` instead of 8888, `loop.run_until_complete(coro)`, `loop.run_forever()`), the client's `EchoClientProtocol` class placed after the server's class; the client's `loop.close()` is dropped (the server's closing, as written, closes the loop)

import asyncio

class EchoServerClientProtocol(asyncio.Protocol):
    def connection_made(self, transport):
        peername = transport.get_extra_info('peername')
        print('Connection from {}'.format(peername))
        self.transport = transport

    def data_received(self, data):
        message = data.decode()
        print('Data received: {!r}'.format(message))

        print('Send: {!r}'.format(message))
        self.transport.write(data)

        print('Close the client socket')
        self.transport.close()

class EchoClientProtocol(asyncio.Protocol):
    def __init__(self, message, loop):
        self.message = message
        self.loop = loop

    def connection_made(self, transport):
        transport.write(self.message.encode())
        print('Data sent: {!r}'.format(self.message))

    def data_received(self, data):
        print('Data received: {!r}'.format(data.decode()))

    def connection_lost(self, exc):
        print('The server closed the connection')
        print('Stop the event loop')
        self.loop.stop()

loop = asyncio.get_event_loop()
# Each client connection will create a new protocol instance
coro = loop.create_server(EchoServerClientProtocol, '127.0.0.1', 0)
server = loop.run_until_complete(coro)

# Serve requests until Ctrl+C is pressed
print('Serving on {}'.format(server.sockets[0].getsockname()))
port = server.sockets[0].getsockname()[1]

message = 'Hello World!'
coro = loop.create_connection(lambda: EchoClientProtocol(message, loop),
                              '127.0.0.1', port)
loop.run_until_complete(coro)
loop.run_forever()

# Close the server
server.close()
loop.run_until_complete(server.wait_closed())
loop.close()
