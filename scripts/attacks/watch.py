"""Watching many client connections at once: what the server sends them and when it closes them."""

import select
import statistics
import time
from collections import Counter

from wire import CLOSE, PING, TEXT, FrameReader, abort, close_code


class Peer:
    """One client connection and what it has seen. Times are time.monotonic() values."""

    def __init__(self, sock, opened, leftover=b"", raw=False):
        self.sock, self.opened, self.raw = sock, opened, raw
        self.reader = FrameReader()
        self.pings = 0
        self.first_ping = None
        self.texts = 0
        self.close = None  # (code, reason) of the first close frame
        self.close_at = None
        self.eof_at = None  # FIN or RST seen
        self.first_bytes = b""  # raw mode: the start of whatever the server sent
        if leftover:
            self.take(leftover, opened)

    @property
    def closed(self):
        return self.close is not None or self.eof_at is not None

    def closed_at(self):
        return self.close_at if self.close_at is not None else self.eof_at

    def take(self, data, now):
        if self.raw:
            self.first_bytes = (self.first_bytes + data)[:200]
            return
        for opcode, _, payload in self.reader.feed(data):
            if opcode == PING:
                self.pings += 1
                if self.first_ping is None:
                    self.first_ping = now
            elif opcode == CLOSE and self.close is None:
                self.close, self.close_at = close_code(payload), now
            elif opcode == TEXT:
                self.texts += 1


def watch(peers, seconds, until_all_closed=True, tick=None):
    """Reads every open peer for `seconds` (never answering anything). Stops early once all
    have seen EOF, if `until_all_closed`. `tick(now)` runs between polls; True stops."""
    poller = select.epoll()
    by_fd = {}
    for peer in peers:
        if peer.eof_at is None:
            peer.sock.setblocking(False)
            poller.register(peer.sock.fileno(), select.EPOLLIN | select.EPOLLRDHUP)
            by_fd[peer.sock.fileno()] = peer
    deadline = time.monotonic() + seconds
    try:
        while True:
            now = time.monotonic()
            if now >= deadline or (until_all_closed and not by_fd):
                return
            for fd, _ in poller.poll(min(0.2, deadline - now)):
                peer, now = by_fd[fd], time.monotonic()
                while True:
                    try:
                        data = peer.sock.recv(1 << 16)
                    except BlockingIOError:
                        break
                    except OSError:
                        data = b""
                    if not data:
                        peer.eof_at = now
                        poller.unregister(fd)
                        del by_fd[fd]
                        break
                    peer.take(data, now)
            if tick is not None and tick(time.monotonic()):
                return
    finally:
        poller.close()


def release(peers):
    for peer in peers:
        abort(peer.sock)


def spread(values, unit="s", digits=1):
    """'a' or 'a–b (median m)' of a list of numbers."""
    if not values:
        return "-"
    lo, hi, mid = min(values), max(values), statistics.median(values)
    if hi - lo < 10 ** -digits:
        return f"{lo:.{digits}f} {unit}"
    return f"{lo:.{digits}f}–{hi:.{digits}f} {unit} (median {mid:.{digits}f})"


def codes(peers):
    """'1009 ×200' style summary of the close codes peers received, or 'none'."""
    seen = Counter(peer.close[0] for peer in peers if peer.close is not None)
    if not seen:
        return "none"
    return ", ".join(f"{code} ×{count}" for code, count in seen.most_common())


def reasons(peers):
    seen = {peer.close[1] for peer in peers if peer.close is not None and peer.close[1]}
    return "; ".join(repr(r[:60]) for r in sorted(seen)[:2])
