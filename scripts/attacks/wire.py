"""Hand-made WebSocket client pieces: frames, the upgrade request, and a frame reader.

Only what the attacks need. Client frames are masked as RFC 6455 requires; bulk payloads
use the all-zero masking key (a valid key that leaves the bytes unchanged) so that the
attack can stream hundreds of MiB without XOR-ing them in Python.
"""

import base64
import json
import os
import socket
import struct
import time
import uuid

TEXT, BINARY, CONT, CLOSE, PING, PONG = 0x1, 0x2, 0x0, 0x8, 0x9, 0xA
ZERO_MASK = b"\0\0\0\0"


def header(opcode, length, fin=True, mask=ZERO_MASK):
    """The header of a client frame declaring `length` payload bytes (mask key included)."""
    first = (0x80 if fin else 0) | opcode
    if length < 126:
        head = struct.pack("!BB", first, 0x80 | length)
    elif length < 1 << 16:
        head = struct.pack("!BBH", first, 0x80 | 126, length)
    else:
        head = struct.pack("!BBQ", first, 0x80 | 127, length)
    return head + mask


def masked(payload, key):
    """`payload` XOR-ed with the 4-byte `key`."""
    if key == ZERO_MASK or not payload:
        return bytes(payload)
    repeated = (key * (len(payload) // 4 + 1))[: len(payload)]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")).to_bytes(
        len(payload), "big"
    )


def frame(opcode, payload, fin=True, random_mask=True):
    """One complete client frame."""
    if isinstance(payload, str):
        payload = payload.encode()
    key = os.urandom(4) if random_mask else ZERO_MASK
    return header(opcode, len(payload), fin, key) + masked(payload, key)


def envelope(action="health", payload=None):
    """An action envelope as JSON text."""
    return json.dumps(
        {
            "msg_id": str(uuid.uuid4()),
            "req_id": str(uuid.uuid4()),
            "action": action,
            "payload": payload or {},
        },
        separators=(",", ":"),
    )


def health_frame():
    return frame(TEXT, envelope("health"))


def close_code(payload):
    """(code, reason) of a close frame's payload; code None when it carries none."""
    if len(payload) < 2:
        return None, ""
    return struct.unpack("!H", payload[:2])[0], bytes(payload[2:]).decode("utf-8", "replace")


class FrameReader:
    """Splits received bytes into server frames: feed() returns [(opcode, fin, payload)]."""

    def __init__(self):
        self.buf = bytearray()

    def feed(self, data):
        self.buf += data
        frames, pos, buf = [], 0, self.buf
        while len(buf) - pos >= 2:
            b0, b1 = buf[pos], buf[pos + 1]
            length, off = b1 & 0x7F, 2
            if length == 126:
                if len(buf) - pos < 4:
                    break
                length, off = struct.unpack_from("!H", buf, pos + 2)[0], 4
            elif length == 127:
                if len(buf) - pos < 10:
                    break
                length, off = struct.unpack_from("!Q", buf, pos + 2)[0], 10
            if b1 & 0x80:  # a server must not mask, but skip the key if it does
                off += 4
            if len(buf) - pos < off + length:
                break
            frames.append((b0 & 0x0F, bool(b0 & 0x80), bytes(buf[pos + off : pos + off + length])))
            pos += off + length
        del buf[:pos]
        return frames


def upgrade_request(port, path="/ws/", extra=(), key=None, version="HTTP/1.1"):
    """The bytes of an upgrade request; `extra` is a list of raw header lines (bytes or str)."""
    key = key if key is not None else base64.b64encode(os.urandom(16)).decode()
    lines = [
        f"GET {path} {version}",
        f"Host: 127.0.0.1:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
    ]
    raw = "\r\n".join(lines).encode() + b"\r\n"
    for line in extra:
        raw += (line.encode() if isinstance(line, str) else line) + b"\r\n"
    return raw + b"\r\n"


def read_http_head(sock, deadline):
    """Reads up to the end of the HTTP response head: (status line, headers dict, rest)."""
    data = b""
    while b"\r\n\r\n" not in data:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(
                f"connection closed before a complete HTTP response ({len(data)} bytes)"
            )
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return lines[0], headers, rest


def connect(port, timeout=10.0, extra=(), path="/ws/", source="127.0.0.1"):
    """An upgraded WebSocket connection (blocking socket, `timeout` set) and leftover bytes.
    `source` is the loopback address it connects from: all of 127.0.0.0/8 reaches the server,
    so one machine can play many clients."""
    deadline = time.monotonic() + timeout
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout, source_address=(source, 0))
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(upgrade_request(port, path, extra))
        try:
            status, _, rest = read_http_head(sock, deadline)
        except socket.timeout:
            raise TimeoutError(f"connected, but no HTTP response to the upgrade within {timeout:g} s") from None
        if " 101 " not in status + " ":
            raise ConnectionError(f"upgrade refused: {status}")
        sock.settimeout(timeout)
        return sock, rest
    except BaseException:
        sock.close()
        raise


def abort(sock):
    """Closes with an RST (SO_LINGER 0): leaves no TIME_WAIT behind."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


def health_roundtrip(port, timeout=10.0):
    """Connects, sends `health`, waits for the `health` event. Returns seconds taken."""
    start = time.monotonic()
    deadline = start + timeout
    sock, rest = connect(port, timeout)
    try:
        sock.sendall(health_frame())
        reader = FrameReader()
        pending = reader.feed(rest)
        while True:
            for opcode, _, payload in pending:
                if opcode == TEXT and b'"event":"health"' in payload:
                    return time.monotonic() - start
                if opcode == CLOSE:
                    raise ConnectionError(f"closed with {close_code(payload)[0]}")
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            data = sock.recv(65536)
            if not data:
                raise ConnectionError("closed without a reply")
            pending = reader.feed(data)
    finally:
        abort(sock)
