"""A client written the way clients of the Python library `beeflow-websocket` 0.3.0 are:
Python's `json` module (default separators, ASCII escapes), `uuid.uuid4()`, the
`websockets` package. Run by tests/tests/python_client.rs against a real beeflow server;
exits non-zero with a message on the first difference from the wire contract.

Usage: python3 client_compat.py ws://127.0.0.1:PORT/ws/
"""

import json
import sys
import uuid

from websockets.sync.client import connect


def envelope(action, payload, req_id=None):
    return json.dumps(
        {
            "msg_id": str(uuid.uuid4()),
            "req_id": str(req_id or uuid.uuid4()),
            "action": action,
            "payload": payload,
        }
    )


def expect(condition, what, frame):
    if not condition:
        sys.exit(f"{what}: {frame}")


def main(url):
    with connect(url, open_timeout=10, close_timeout=5) as ws:
        req_id = uuid.uuid4()
        ws.send(envelope("health", {}, req_id))
        event = json.loads(ws.recv(timeout=10))
        expect(list(event) == ["msg_id", "req_id", "seq", "event", "recipient", "recipient_id", "payload"],
               "event members in protocol order", event)
        expect(event["req_id"] == str(req_id), "req_id echoed lower-case and hyphenated", event)
        expect(uuid.UUID(event["msg_id"]).version == 4, "server msg_id is a UUID v4", event)
        expect((event["seq"], event["event"], event["recipient"]) == (1, "health", "websocket"),
               "health reply", event)
        expect(event["payload"] == {"status": "ok"}, "health payload", event)

        # Non-ASCII text goes through json.dumps' \\u escapes and comes back as text.
        ws.send(envelope("echo", {"text": "zażółć gęślą jaźń ✓"}))
        echoed = json.loads(ws.recv(timeout=10))
        expect(echoed["payload"]["text"] == "zażółć gęślą jaźń ✓", "unicode round trip", echoed)
        expect(echoed["seq"] == 2, "seq counts events", echoed)

        ws.send(envelope("  MissingAction\t", {}, req_id))
        problem = json.loads(ws.recv(timeout=10))
        expect(list(problem) == ["msg_id", "req_id", "type", "title", "status", "detail", "code", "instance"],
               "problem members in protocol order", problem)
        expect(problem["detail"] == "No WebSocket action is registered under 'MissingAction'.",
               "unknown action detail", problem)
        expect(problem["instance"] == "/ws/" and "seq" not in problem, "problem shape", problem)

        ws.send("this is not json")
        invalid = json.loads(ws.recv(timeout=10))
        expect(invalid["code"] == "invalid_websocket_message" and "req_id" not in invalid,
               "garbage gets a problem without req_id", invalid)

        ws.send(json.dumps({"req_id": str(req_id), "action": 5}))
        invalid = json.loads(ws.recv(timeout=10))
        expect(invalid["req_id"] == str(req_id), "req_id extracted from an invalid message", invalid)

        ws.send(envelope("health", {}))
        expect(json.loads(ws.recv(timeout=10))["seq"] == 3, "problems consume no seq", {})
    print("python client: ok")


if __name__ == "__main__":
    main(sys.argv[1])
