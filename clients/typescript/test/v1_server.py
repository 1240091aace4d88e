"""A WebSocket server that speaks only protocol version 1, as the Python library does: it
selects no subprotocol (or `access-token`), never `beeflow.v2`. Prints its port, then
serves until killed."""

import sys

from websockets.sync.server import serve


def select(connection, offered):
    return "access-token" if "access-token" in offered else None


def handler(connection):
    for _ in connection:
        pass


with serve(handler, "127.0.0.1", 0, select_subprotocol=select) as server:
    print(server.socket.getsockname()[1], flush=True)
    server.serve_forever()
