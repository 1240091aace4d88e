"""A version-2 WebSocket server that answers any request with the frames given as JSON
lines on stdin (then the request's completion): a stand-in for server behaviour the real
examples never show, such as an event sent twice after a recovery. Prints its port."""

import json
import sys
import uuid

from websockets.sync.server import serve

SCRIPT = [json.loads(line) for line in sys.stdin if line.strip()]


def handler(connection):
    for message in connection:
        req_id = json.loads(message)["req_id"]
        for frame in SCRIPT:
            connection.send(json.dumps(frame))
        connection.send(json.dumps({"msg_id": str(uuid.uuid4()), "req_id": req_id, "done": {"events": 0}}))


with serve(handler, "127.0.0.1", 0, select_subprotocol=lambda c, offered: "beeflow.v2") as server:
    print(server.socket.getsockname()[1], flush=True)
    server.serve_forever()
