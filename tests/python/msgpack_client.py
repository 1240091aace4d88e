"""A MessagePack client (subprotocol `beeflow.v2.msgpack`) written with the `msgpack` and
`websockets` packages: an encoder and decoder that owe nothing to beeflow's. Run by
tests/tests/msgpack_clients.rs against real beeflow servers; exits non-zero with a message
on the first difference.

Usage:
  python3 msgpack_client.py roundtrip ws://127.0.0.1:PORT/ws/ TOKEN
  python3 msgpack_client.py fanout ws://127.0.0.1:PORT/ws/
"""

import json
import sys
import uuid

import msgpack
from websockets.sync.client import connect


def envelope(action, payload, req_id=None):
    return {
        "msg_id": str(uuid.uuid4()),
        "req_id": str(req_id or uuid.uuid4()),
        "action": action,
        "payload": payload,
    }


def expect(condition, what, frame):
    if not condition:
        sys.exit(f"{what}: {frame!r}")


def recv_packed(ws):
    frame = ws.recv(timeout=10)
    expect(isinstance(frame, bytes), "a binary message", frame)
    # strict: one value, nothing after it; raw=False: str values are UTF-8 text.
    return msgpack.unpackb(frame, raw=False, strict_map_key=True)


def packed_client(url, token):
    protocols = ["beeflow.v2.msgpack", "access-token", token]
    ws = connect(url, subprotocols=protocols, open_timeout=10, close_timeout=5)
    expect(ws.subprotocol == "beeflow.v2.msgpack", "the server selects beeflow.v2.msgpack", ws.subprotocol)
    return ws


def roundtrip(url, token):
    with packed_client(url, token) as ws:
        req_id = uuid.uuid4()
        payload = {"text": "héllo ✓ \u0000 \"quoted\"", "n": -(2**40), "f": 0.25, "list": [True, None, {}]}
        ws.send(msgpack.packb(envelope("echo", {"text": payload["text"]}, req_id)))
        event = recv_packed(ws)
        expect(event["event"] == "echo" and event["req_id"] == str(req_id), "the echo", event)
        expect(event["payload"] == {"text": payload["text"]}, "the text survives both ways", event)
        expect(event["seq"] == 1 and isinstance(event["seq"], int), "seq is an integer", event)
        expect(uuid.UUID(event["msg_id"]).version == 4, "msg_id is a UUID v4", event)
        done = recv_packed(ws)
        expect(done.get("done") == {"events": 1} and done["req_id"] == str(req_id), "the completion", done)

        ws.send(msgpack.packb(envelope("echo", {"text": 5})))
        problem = recv_packed(ws)
        expect(problem["code"] == "invalid_action_payload" and problem["status"] == 422, "a Problem map", problem)

        ws.send(b"\xc1")
        problem = recv_packed(ws)
        expect(problem["code"] == "invalid_websocket_message", "a broken frame's Problem", problem)

        # A text frame on this connection is still JSON, answered in MessagePack.
        ws.send(json.dumps(envelope("health", {})))
        expect(recv_packed(ws)["event"] == "health", "text read as JSON", None)
    print("roundtrip ok")


def fanout(url):
    room = "mixed-" + uuid.uuid4().hex[:8]
    with packed_client(url, "mia") as packed, connect(
        url, subprotocols=["beeflow.v2", "access-token", "jon"], open_timeout=10, close_timeout=5
    ) as text:
        expect(text.subprotocol == "beeflow.v2", "the server selects beeflow.v2", text.subprotocol)
        packed.send(msgpack.packb(envelope("beeflow.subscribe", {"topic": room})))
        expect("done" in recv_packed(packed), "mia subscribed", None)
        text.send(json.dumps(envelope("beeflow.subscribe", {"topic": room})))
        expect("done" in json.loads(text.recv(timeout=10)), "jon subscribed", None)

        said = "ünïcode, \"quotes\" and 12345678901234"
        packed.send(msgpack.packb(envelope("say", {"room": room, "text": said})))
        from_packed = recv_packed(packed)
        from_text = json.loads(text.recv(timeout=10))
        expect(from_packed["event"] == "message", "mia hears herself", from_packed)
        expect(from_packed == from_text, "one event, the same in both encodings", (from_packed, from_text))
        expect(from_packed["payload"] == {"room": room, "from": "mia", "text": said}, "the message", from_packed)
        expect(isinstance(from_packed["offset"], int), "the stream position", from_packed)
    print("fanout ok")


if __name__ == "__main__":
    mode, url, *rest = sys.argv[1:]
    if mode == "roundtrip":
        roundtrip(url, rest[0])
    elif mode == "fanout":
        fanout(url)
    else:
        sys.exit(f"unknown mode {mode}")
