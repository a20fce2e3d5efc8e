#!/usr/bin/python3
"""bench/echo/echo_server.py — the Python peers of the echo benchmark.

Usage: /usr/bin/python3 echo_server.py asyncio|uvloop streams|protocol [PORT]
Prints "READY port" when listening (PORT 0 = any free port).
"""
import asyncio
import sys


async def echo_stream(reader, writer):
    while True:
        data = await reader.read(4096)
        if not data:
            break
        writer.write(data)
        await writer.drain()
    writer.close()


class EchoProtocol(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)


async def main(api, port):
    if api == "streams":
        server = await asyncio.start_server(echo_stream, "127.0.0.1", port, backlog=1024)
    else:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(EchoProtocol, "127.0.0.1", port, backlog=1024)
    print("READY", server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    impl, api = sys.argv[1], sys.argv[2]
    port = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    if impl == "uvloop":
        import uvloop
        uvloop.install()
    asyncio.run(main(api, port))
