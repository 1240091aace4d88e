"""The attacks, one function per table row. Each gets the server it attacks (`.port`, `.pid`)
and returns the text of its table cell. Each runs in a process of its own (see run.py), so
a row that hangs is killed at its cap and its sockets go with it."""

import errno
import fcntl
import json
import os
import select
import signal
import socket
import termios
import time
from collections import Counter

import sysinfo
from sysinfo import cpu_seconds, mib, rss_mib
from watch import Peer, codes, reasons, release, spread, watch
from wire import (CLOSE, CONT, TEXT, FrameReader, abort, close_code, connect, envelope,
                  header, health_frame, health_roundtrip, read_http_head,
                  upgrade_request)

MiB = 1 << 20


def n(value):
    return f"{value:,}"


# Connections per loopback source address in `upgraded`; 0 puts them all on 127.0.0.1.
# run.py's --spread sets it, so that the per-address upgrade limit does not cap a row
# that measures something else.
PER_ADDRESS = 0


def source_address(index):
    if not PER_ADDRESS:
        return "127.0.0.1"
    host = 2 + index // PER_ADDRESS
    return f"127.0.{host // 250}.{host % 250 + 2}"


def upgraded(port, count, give_up_after=3):
    """Opens up to `count` idle upgraded connections: (peers, note). A refused or unanswered
    upgrade is counted in the note, not raised; after `give_up_after` failures in a row the
    rest are not attempted."""
    peers, refused, streak = [], Counter(), 0
    try:
        for index in range(count):
            try:
                sock, rest = connect(port, timeout=5, source=source_address(index))
            except OSError as error:
                refused[str(error)[:70]] += 1
                streak += 1
                if streak >= give_up_after:
                    break
                continue
            streak = 0
            peers.append(Peer(sock, time.monotonic(), rest))
    except BaseException:
        release(peers)
        raise
    note = ""
    if refused:
        note = f"upgraded only {len(peers)}/{count} (" + ", ".join(f"{k} ×{v}" for k, v in refused.items()) + ")"
    return peers, note


def incoming(sock, reader):
    """Frames already waiting on a blocking socket, without waiting; EOF as opcode None."""
    frames, timeout = [], sock.gettimeout()
    sock.setblocking(False)  # with a timeout set, Python would wait despite MSG_DONTWAIT
    try:
        while True:
            try:
                data = sock.recv(1 << 16)
            except (BlockingIOError, InterruptedError):
                return frames
            except OSError as error:
                return frames + [(None, True, errno.errorcode.get(error.errno, str(error)))]
            if not data:
                return frames + [(None, True, "EOF")]
            frames += reader.feed(data)
    finally:
        sock.settimeout(timeout)


def wait_close(sock, reader, seconds):
    """Waits up to `seconds` for a close frame or EOF: (close frame or None, EOF seen)."""
    deadline = time.monotonic() + seconds
    close, eof = None, False
    while time.monotonic() < deadline and not eof:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            data = sock.recv(1 << 16)
        except socket.timeout:
            break
        except OSError:
            data = b""
        if not data:
            eof = True
        for opcode, _, payload in reader.feed(data):
            if opcode == CLOSE and close is None:
                close = close_code(payload)
    return close, eof


def drain(port, seconds):
    """Waits until the server has read everything sent to it (up to `seconds`); returns the
    wait, or None if unread bytes remained."""
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        if sysinfo.unread_bytes(port) == 0:
            return time.monotonic() - start
        time.sleep(0.05)
    return None


def describe_close(close, eof, after=None):
    when = f" after {after:.2f} s" if after is not None else ""
    if close is not None:
        return f"close frame {close[0]} {close[1][:50]!r}{when}"
    if eof:
        return f"TCP closed without a close frame{when}"
    return "not closed"


# a. silent TCP connections ---------------------------------------------------------------

def open_silent(port, count, seconds, batch=50):
    """Opens up to `count` plain TCP connections within `seconds`, `batch` at a time. After
    each batch it waits (up to 1 s) for the server to accept them: a client-side connect
    completes even when the server's accept queue is full, and the server then drops the
    handshake's last ACK and does not hold that connection. After 3 batches in a row that
    the server did not accept within 1 s, it stops waiting. Returns (peers, connects that
    failed or timed out, note)."""
    peers, failed, note, slow = [], 0, "", 0
    deadline = time.monotonic() + seconds
    poller = select.epoll()
    try:
        while len(peers) + failed < count and time.monotonic() < deadline:
            connecting = {}
            for _ in range(min(batch, count - len(peers) - failed)):
                try:
                    sock = socket.socket()
                except OSError as error:  # our own descriptor limit
                    note = f"client stopped at {n(len(peers) + len(connecting))}: {error.strerror}"
                    count = len(peers) + len(connecting) + failed
                    break
                sock.setblocking(False)
                began = time.monotonic()  # a connection's age counts from its connect()
                if sock.connect_ex(("127.0.0.1", port)) not in (0, errno.EINPROGRESS):
                    failed += 1
                    sock.close()
                    continue
                poller.register(sock.fileno(), select.EPOLLOUT)
                connecting[sock.fileno()] = (sock, began)
            batch_end = min(deadline, time.monotonic() + 5)
            while connecting and time.monotonic() < batch_end:
                for fd, _ in poller.poll(0.05):
                    sock, began = connecting.pop(fd)
                    poller.unregister(fd)
                    if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                        peers.append(Peer(sock, began, raw=True))
                    else:
                        failed += 1
                        sock.close()
            for sock, _ in connecting.values():
                poller.unregister(sock.fileno())
                abort(sock)
                failed += 1
            if slow < 3:
                accepted_by = time.monotonic() + 1
                while (sysinfo.accept_queue(port) or 0) > 0 and time.monotonic() < accepted_by:
                    time.sleep(0.01)
                slow = slow + 1 if (sysinfo.accept_queue(port) or 0) > 0 else 0
                if slow == 3:
                    note = note or f"the server stopped accepting after about {n(len(peers))} of one holder's"
    finally:
        poller.close()
    return peers, failed, note


def hold_silent(port, count, hold, out):
    """A holder process: opens `count` silent connections and reports ("opened", ...), then
    watches them for `hold` s (or until all are closed) and reports ("done", ...)."""
    peers, failed, note = open_silent(port, count, 30.0)
    try:
        out.send(("opened", len(peers), failed, note))
        watch(peers, hold)
        closes = [(p.opened, p.closed_at()) for p in peers if p.closed]
        wrote = {p.first_bytes.split(b"\r\n")[0].decode("latin-1")[:40] for p in peers if p.first_bytes}
        out.send(("done", closes, sorted(wrote)))
    finally:
        release(peers)


def row_a(srv, count=19_990, hold=40.0, holders=2):
    """The connections are held by `holders` processes, so that this one has descriptors
    left for the health probe."""
    import multiprocessing
    ctx = multiprocessing.get_context("fork")
    rss0 = rss_mib(srv.pid)
    start = time.monotonic()
    jobs = []
    for i in range(holders):
        share = count // holders + (1 if i < count % holders else 0)
        reader, writer = ctx.Pipe(duplex=False)
        jobs.append((ctx.Process(target=hold_silent, args=(srv.port, share, hold, writer)), reader))
    for process, _ in jobs:
        process.start()
    try:
        opened = failed = 0
        notes = []
        for _, reader in jobs:
            if not reader.poll(45):
                raise TimeoutError("a holder did not finish opening its connections")
            _, got, lost, note = reader.recv()
            opened, failed = opened + got, failed + lost
            notes += [note] if note else []
        took = time.monotonic() - start
        fds, queued = sysinfo.open_fds(srv.pid), sysinfo.accept_queue(srv.port)
        probe_start = time.monotonic()
        try:
            probe = f"ok in {health_roundtrip(srv.port, timeout=30.0):.3f} s"
        except Exception as error:  # reported in the cell
            probe = f"failed after {time.monotonic() - probe_start:.1f} s ({type(error).__name__}: {error})"
        probe_end = time.monotonic()
        closes, wrote = [], set()
        for _, reader in jobs:
            if not reader.poll(hold + 15):
                raise TimeoutError("a holder did not report")
            _, their_closes, their_wrote = reader.recv()
            closes += their_closes
            wrote.update(their_wrote)
        rss1 = rss_mib(srv.pid)
    finally:
        for process, _ in jobs:
            process.join(5)
            if process.is_alive():
                os.kill(process.pid, signal.SIGKILL)
                process.join(2)
    parts = [
        f"opened {n(opened)}/{n(count)} in {took:.1f} s"
        + (f" ({n(failed)} connects failed or timed out)" if failed else "")
        + "".join(f"; {note}" for note in notes),
        f"server then: {n(fds) if fds else '?'} fds, {queued} in its accept queue; RSS {mib(rss0)} → {mib(rss1)}",
        f"closed by server within {hold:.0f} s: {n(len(closes))}"
        + (f", {spread([end - began for began, end in closes])} after connecting" if closes else ""),
    ]
    if wrote:
        parts.append("server wrote " + ", ".join(repr(w) for w in sorted(wrote)[:2]))
    still = opened - sum(1 for _, end in closes if end <= probe_end)
    parts.append(f"health while held: {probe} ({n(still)} silent connections open when it ended)")
    return "; ".join(parts)


# b. idle upgraded connections that never answer pings ------------------------------------

def row_b(srv, count=100, hold=75.0):
    peers, note = upgraded(srv.port, count)
    count = len(peers)
    try:
        watch(peers, hold)
        pinged = [p for p in peers if p.pings]
        closed = [p for p in peers if p.close is not None]
        ended = [p for p in peers if p.eof_at is not None]
        parts = [f"pings: {n(sum(p.pings for p in peers))} to {len(pinged)}/{count} conns"
                 + (f", first after {spread([p.first_ping - p.opened for p in pinged])}" if pinged else "")]
        parts.append(f"close frames: {codes(peers)}"
                     + (f" after {spread([p.close_at - p.opened for p in closed])}" if closed else ""))
        parts.append(f"TCP closed: {len(ended)}/{count}"
                     + (f" after {spread([p.eof_at - p.opened for p in ended])}" if ended else ""))
        parts.append(f"open at {hold:.0f} s: {sum(1 for p in peers if not p.closed)}")
        return "; ".join(([note] if note else []) + parts)
    finally:
        release(peers)


# c. many unfinished 2 MiB frames -----------------------------------------------------------

def row_c(srv, count=200, length=2 * MiB - 1024, held_back=4):
    body = memoryview(b"a" * (length - held_back))
    rss0, cpu0 = rss_mib(srv.pid), cpu_seconds(srv.pid)
    peers, note = upgraded(srv.port, count)
    send_problems = Counter()
    try:
        send_deadline = time.monotonic() + 60
        for peer in peers:
            left = send_deadline - time.monotonic()
            if left <= 0:
                send_problems["not sent: 60 s send phase over"] += 1
                continue
            peer.sock.settimeout(min(5, left))
            try:
                peer.sock.sendall(header(TEXT, length))
                peer.sock.sendall(body)
                peer.opened = time.monotonic()  # from here on, ages count from the frame
            except socket.timeout:
                send_problems["stalled (server stopped reading)"] += 1
            except OSError as error:
                send_problems[errno.errorcode.get(error.errno) or str(error)] += 1
        sent_at = time.monotonic()
        drained = drain(srv.port, 10)
        watch(peers, 1, until_all_closed=False)
        rss1 = rss_mib(srv.pid)
        watch(peers, sent_at + 30 - time.monotonic(), until_all_closed=False)
        open30 = sum(1 for p in peers if not p.closed)
        watch(peers, sent_at + 60 - time.monotonic(), until_all_closed=False)
        open60 = sum(1 for p in peers if not p.closed)
        rss2, cpu1 = rss_mib(srv.pid), cpu_seconds(srv.pid)
        closed = [p for p in peers if p.closed]
        parts = ([note] if note else []) + [f"frames of {n(length)} B, {held_back} B held back",
                 ("server read all that was sent" if drained is not None else "server left bytes unread"),
                 f"RSS {mib(rss0)} → {mib(rss1)} after sending → {mib(rss2)} at 60 s",
                 f"open after 30 s: {open30}/{len(peers)}, after 60 s: {open60}/{len(peers)}",
                 f"close codes: {codes(peers)}"]
        if closed:
            parts.append(f"closed {spread([p.closed_at() - p.opened for p in closed])} after the frame was sent")
        if send_problems:
            parts.append("frames not fully sent: " + ", ".join(f"{k} ×{v}" for k, v in send_problems.items()))
        parts.append(f"server CPU {cpu1 - cpu0:.1f} s")
        return "; ".join(parts)
    finally:
        release(peers)


# d. one frame declaring 8 GiB, streamed -----------------------------------------------------

def outq(sock):
    """Bytes in our send queue not yet acknowledged by the peer."""
    return int.from_bytes(fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0"), "little")


def row_d(srv, declared=8 << 30, limit=1 << 30, seconds=60.0):
    sock, rest = connect(srv.port)
    try:
        reader = FrameReader()
        local = sock.getsockname()[1]
        rss0, cpu0 = rss_mib(srv.pid), cpu_seconds(srv.pid)
        peak, accepted, written, stop = rss0, 0, 0, None
        chunk = b"a" * MiB
        sock.settimeout(5)
        start = last = time.monotonic()
        sock.sendall(header(TEXT, declared))

        def sample():
            nonlocal peak, accepted
            rss = rss_mib(srv.pid)
            peak = max(peak, rss or 0)
            queues = sysinfo.tcp_queues(srv.port, local)
            if queues is not None:
                accepted = max(accepted, written - outq(sock) - queues[1])

        close, eof, closed_at = None, False, None
        while written < limit and time.monotonic() - start < seconds:
            view = memoryview(chunk)
            try:
                while view:
                    sent = sock.send(view)
                    written += sent
                    view = view[sent:]
            except socket.timeout:
                stop = "server stopped reading (5 s send timeout)"
                break
            except OSError as error:
                stop = f"write failed: {errno.errorcode.get(error.errno, error)}"
                break
            if time.monotonic() - last >= 0.05:
                last = time.monotonic()
                sample()
                for opcode, _, payload in incoming(sock, reader):
                    if opcode == CLOSE and close is None:
                        close, closed_at = close_code(payload), time.monotonic() - start
                    if opcode is None:
                        eof = True
                if eof:
                    stop = "server closed the connection"
                    break
        stop = stop or f"client stopped at {written / MiB:,.0f} MiB"
        sample()
        rss_open = rss_mib(srv.pid)
        if close is None and not eof:
            close, eof = wait_close(sock, reader, 5)
            if close is not None or eof:
                closed_at = time.monotonic() - start
        elapsed = time.monotonic() - start
        cpu1 = cpu_seconds(srv.pid)
    finally:
        abort(sock)
    time.sleep(1)
    rss_after = rss_mib(srv.pid)
    return "; ".join([
        f"{stop} after {elapsed:.1f} s",
        f"client wrote {written / MiB:,.1f} MiB, server had read ≈{accepted / MiB:,.1f} MiB of it",
        f"RSS {mib(rss0)} → peak {mib(peak)} (+{(peak - rss0):,.0f} MiB) while open, {mib(rss_open)} at the end, {mib(rss_after)} 1 s after the client left",
        describe_close(close, eof, closed_at),
        f"server CPU {cpu1 - cpu0:.1f} s",
    ])


# e. two million one-byte continuation frames ------------------------------------------------

def row_e(srv, frames=2_000_000, batch=50_000):
    sock, rest = connect(srv.port)
    try:
        reader = FrameReader()
        rss0, cpu0 = rss_mib(srv.pid), cpu_seconds(srv.pid)
        peak, sent, stop, close, eof, closed_after = rss0, 0, None, None, False, None
        one = header(CONT, 1, fin=False) + b"a"
        block = one * batch
        sock.settimeout(10)
        start = time.monotonic()
        try:
            sock.sendall(header(TEXT, 1, fin=False) + b"a")
            sent = 1
            deadline = start + 60
            while sent < frames:
                if time.monotonic() > deadline:
                    stop = "60 s sending budget used up"
                    break
                k = min(batch, frames - sent)
                sock.sendall(block if k == batch else one * k)
                sent += k
                peak = max(peak, rss_mib(srv.pid) or 0)
                for opcode, _, payload in incoming(sock, reader):
                    if opcode == CLOSE and close is None:
                        close, closed_after = close_code(payload), sent
                    eof = eof or opcode is None
                if close or eof:
                    break
        except socket.timeout:
            stop = "server stopped reading (10 s send timeout)"
        except OSError as error:
            stop = f"write failed: {errno.errorcode.get(error.errno, error)}"
        took = time.monotonic() - start
        drained = drain(srv.port, 10)
        peak = max(peak, rss_mib(srv.pid) or 0)
        if close is None and not eof:
            close, eof = wait_close(sock, reader, 3)
        rss1, cpu1 = rss_mib(srv.pid), cpu_seconds(srv.pid)
    finally:
        abort(sock)
    return "; ".join(filter(None, [
        f"sent {n(sent)}/{n(frames)} frames ({sent * len(one) / 1e6:.0f} MB) in {took:.1f} s, "
        + (f"server read all {took + drained:.1f} s after the start" if drained is not None else "server left bytes unread"),
        stop,
        f"RSS {mib(rss0)} → peak {mib(peak)} (+{peak - rss0:,.0f} MiB), {mib(rss1)} at the end",
        describe_close(close, eof) + (f" (around frame {n(closed_after)})" if closed_after else ""),
        f"server CPU {cpu1 - cpu0:.1f} s",
    ]))


# f. a burst of pipelined requests in one write ----------------------------------------------

def row_f(srv, count=1025):
    sock, rest = connect(srv.port)
    try:
        reader = FrameReader()
        burst = b"".join(health_frame() for _ in range(count))
        start = time.monotonic()
        sock.sendall(burst)
        replies, problems, close, eof = 0, 0, None, False
        pending = reader.feed(rest)
        while True:
            for opcode, _, payload in pending:
                if opcode == TEXT:
                    if b'"event":"health"' in payload:
                        replies += 1
                    else:
                        problems += 1
                elif opcode == CLOSE and close is None:
                    close = close_code(payload)
            if replies + problems >= count or close is not None or eof:
                break
            sock.settimeout(5)
            try:
                data = sock.recv(1 << 16)
            except socket.timeout:
                break
            except OSError:
                data = b""
            eof = not data
            pending = reader.feed(data)
        took = time.monotonic() - start
        if close is None and not eof:
            close, eof = wait_close(sock, reader, 0.5)
    finally:
        abort(sock)
    result = f"{n(replies)}/{n(count)} health replies in {took:.2f} s"
    if problems:
        result += f", {problems} other replies (Problems)"
    return result + "; " + describe_close(close, eof)


# g. one flooder next to 50 closed-loop clients -----------------------------------------------

def closed_loop(port, clients, start_at, end_at, out):
    """`clients` connections each sending a health request, waiting for the reply, again;
    counts replies between start_at and end_at. Sends its result to the pipe `out`."""
    result = {"replies": 0, "latencies": [], "closed": 0, "refused": "", "error": None}
    try:
        frames = [health_frame() for _ in range(512)]
        peers, result["refused"] = upgraded(port, clients)
        if not peers:
            raise ConnectionError(result["refused"])
        socks = [peer.sock for peer in peers]
        poller = select.epoll()
        state = {}
        for sock in socks:
            sock.setblocking(False)
            poller.register(sock.fileno(), select.EPOLLIN)
            state[sock.fileno()] = [sock, FrameReader(), 0.0]
        time.sleep(max(0, start_at - time.monotonic()))
        k = 0
        for entry in state.values():
            entry[2] = time.monotonic()
            entry[0].send(frames[k % 512])
            k += 1
        while time.monotonic() < end_at and state:
            for fd, _ in poller.poll(0.1):
                sock, reader, sent_at = state[fd]
                try:
                    data = sock.recv(1 << 16)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                now = time.monotonic()
                got = 0
                for opcode, _, _ in reader.feed(data):
                    got += opcode == TEXT
                if not data:
                    result["closed"] += 1
                    poller.unregister(fd)
                    del state[fd]
                    continue
                if got and now < end_at:
                    result["replies"] += got
                    result["latencies"].append(now - sent_at)
                    state[fd][2] = now
                    sock.send(frames[k % 512])
                    k += 1
        for sock in socks:
            abort(sock)
    except Exception as error:
        result["error"] = f"{type(error).__name__}: {error}"
    out.send(result)


def flood(port, start_at, count_from, end_at, out, window=256, batch=64):
    """One connection pipelining health requests as fast as the server answers them: it
    writes a batch of `batch` whenever fewer than `window` are unanswered (an unbounded
    burst only gets itself closed as a slow consumer, see row f) and reads every reply.
    Counts replies between count_from and end_at."""
    result = {"replies": 0, "all_replies": 0, "written": 0, "close": None, "ended": None, "error": None}
    try:
        try:
            sock, rest = connect(port)
        except OSError as error:
            result["ended"] = f"its upgrade failed: {error}"
            out.send(result)
            return
        sock.setblocking(False)
        reader = FrameReader()
        blob = b"".join(health_frame() for _ in range(batch))
        pending = memoryview(b"")
        poller = select.epoll()
        poller.register(sock.fileno(), select.EPOLLIN)
        time.sleep(max(0, start_at - time.monotonic()))
        while time.monotonic() < end_at and result["ended"] is None:
            if not pending and result["written"] - result["all_replies"] + batch <= window:
                pending = memoryview(blob)
                result["written"] += batch
            if pending:
                try:
                    pending = pending[sock.send(pending):]
                except BlockingIOError:
                    pass
                except OSError as error:
                    result["ended"] = f"write failed: {errno.errorcode.get(error.errno, error)}"
            wanted = select.EPOLLIN | (select.EPOLLOUT if pending else 0)
            poller.modify(sock.fileno(), wanted)
            for _, events in poller.poll(0.1):
                if not events & (select.EPOLLIN | select.EPOLLHUP | select.EPOLLERR):
                    continue
                try:
                    data = sock.recv(1 << 20)
                except BlockingIOError:
                    continue
                except OSError as error:
                    data, result["ended"] = b"", errno.errorcode.get(error.errno, str(error))
                now = time.monotonic()
                for opcode, _, payload in reader.feed(data):
                    if opcode == TEXT:
                        result["all_replies"] += 1
                        if count_from <= now < end_at:
                            result["replies"] += 1
                    elif opcode == CLOSE and result["close"] is None:
                        result["close"] = close_code(payload)
                if not data and result["ended"] is None:
                    result["ended"] = "EOF"
        abort(sock)
    except Exception as error:
        result["error"] = f"{type(error).__name__}: {error}"
    out.send(result)


def run_clients(srv, seconds, clients, with_flooder):
    import multiprocessing
    ctx = multiprocessing.get_context("fork")
    start = time.monotonic() + 3  # time to connect
    end = start + seconds
    jobs = []
    normal_in, normal_out = ctx.Pipe(duplex=False)
    jobs.append((ctx.Process(target=closed_loop, args=(srv.port, clients, start, end, normal_out)), normal_in))
    if with_flooder:
        flood_in, flood_out = ctx.Pipe(duplex=False)
        jobs.append((ctx.Process(target=flood, args=(srv.port, start - 1, start, end, flood_out)), flood_in))
    cpu0 = cpu_seconds(srv.pid)
    for process, _ in jobs:
        process.start()
    results = []
    try:
        for process, pipe in jobs:
            if not pipe.poll(max(1, end + 10 - time.monotonic())):
                raise TimeoutError("a client process did not report")
            results.append(pipe.recv())
    finally:
        for process, _ in jobs:
            process.join(2)
            if process.is_alive():
                os.kill(process.pid, signal.SIGKILL)
                process.join(2)
    for result in results:
        if result["error"]:
            raise RuntimeError(result["error"])
    return results, cpu_seconds(srv.pid) - cpu0


def pct(values, q):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] * 1000


def row_g(srv, clients=50, seconds=10.0):
    """The 50 alone, then beside the flooder, then alone again: the two runs without the
    flooder show how much the figures drift by themselves on this machine."""
    (alone,), cpu_alone = run_clients(srv, seconds, clients, with_flooder=False)
    (normal, flooder), cpu_flood = run_clients(srv, seconds, clients, with_flooder=True)
    (again,), cpu_again = run_clients(srv, seconds, clients, with_flooder=False)
    change = (normal["replies"] - alone["replies"]) / max(1, alone["replies"]) * 100
    drift = (again["replies"] - alone["replies"]) / max(1, alone["replies"]) * 100
    share = flooder["replies"] / max(1, flooder["replies"] + normal["replies"]) * 100
    parts = [
        f"{clients} clients alone: {n(alone['replies'])} replies/{seconds:.0f} s "
        f"(p50 {pct(alone['latencies'], .5):.1f} ms, p99 {pct(alone['latencies'], .99):.1f} ms, server CPU {cpu_alone:.1f} s)",
        f"beside the flooder: {n(normal['replies'])} ({change:+.0f}%; p50 {pct(normal['latencies'], .5):.1f} ms, "
        f"p99 {pct(normal['latencies'], .99):.1f} ms, server CPU {cpu_flood:.1f} s)",
        f"alone again afterwards: {n(again['replies'])} ({drift:+.0f}%, server CPU {cpu_again:.1f} s)",
        f"flooder (≤256 in flight): {n(flooder['replies'])} replies = {share:.0f}% of all replies in those 10 s",
        "flooder " + (f"got close frame {flooder['close'][0]} {flooder['close'][1][:40]!r}" if flooder["close"] else "got no close frame")
        + (f", connection ended ({flooder['ended']})" if flooder["ended"] else ", connection still open at the end"),
    ]
    for label, run in (("alone", alone), ("beside the flooder", normal), ("alone again", again)):
        if run["refused"]:
            parts.append(f"normal clients {label}: {run['refused']}")
    if normal["closed"] or alone["closed"] or again["closed"]:
        parts.append(f"normal connections closed by server: {alone['closed']} alone, {normal['closed']} beside the flooder, {again['closed']} alone again")
    return "; ".join(parts)


# h. SIGTERM with open connections ------------------------------------------------------------

def exit_status(pid):
    """How a zombie ended ('exit 0', 'signal 15'), from field 52 of /proc/PID/stat."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            status = int(stat.read().rsplit(")", 1)[1].split()[49])
    except (OSError, IndexError, ValueError):
        return "status unknown"
    return f"signal {status & 0x7F}" if status & 0x7F else f"exit {status >> 8}"


def row_h(srv, count=101, cap=40.0):
    peers, note = upgraded(srv.port, count)
    count = len(peers)
    try:
        time.sleep(0.5)
        start = time.monotonic()
        os.kill(srv.pid, signal.SIGTERM)
        exited = {}

        def check(now):
            if "at" not in exited and sysinfo.has_exited(srv.pid):
                exited["at"] = now - start
            return "at" in exited and all(p.eof_at is not None for p in peers)

        watch(peers, cap, until_all_closed=False, tick=check)
        if "at" in exited:
            how = f"exited after {exited['at']:.2f} s ({exit_status(srv.pid)})"
            watch(peers, 1, tick=None)  # EOFs still in flight
        else:
            os.kill(srv.pid, signal.SIGKILL)
            how = f"still running after {cap:.0f} s: SIGKILLed"
        closed = [p for p in peers if p.close is not None]
        bare = [p for p in peers if p.close is None and p.eof_at is not None]
        frames = f"close frames: {len(closed)}/{count}"
        if closed:
            why = reasons(peers)
            frames += (f" ({codes(peers)}" + (f", {why}" if why else "")
                       + f", {spread([p.close_at - start for p in closed], digits=2)} after SIGTERM)")
        parts = [how, frames, f"EOF without close frame: {len(bare)}"]
        still = count - len(closed) - len(bare)
        if still:
            parts.append(f"no close seen: {still}")
        return "; ".join(([note] if note else []) + parts)
    finally:
        release(peers)


# j, k. bad upgrade requests ----------------------------------------------------------------

def http_exchange(port, raw, timeout=5.0):
    """Sends raw request bytes; returns (status line, headers, body bytes, send error)."""
    deadline = time.monotonic() + timeout
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        send_error = None
        try:
            sock.sendall(raw)
        except OSError as error:
            send_error = errno.errorcode.get(error.errno, str(error))
        try:
            status, headers, body = read_http_head(sock, deadline)
        except (OSError, ConnectionError) as error:
            return None, {}, b"", send_error or f"{type(error).__name__}: {error}"
        if " 101 " in status + " ":
            return status, headers, b"", send_error
        length = headers.get("content-length")
        while time.monotonic() < deadline:
            if length is not None and len(body) >= int(length):
                break
            if headers.get("transfer-encoding", "").lower() == "chunked" and body.endswith(b"0\r\n\r\n"):
                break
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = sock.recv(65536)
            except (socket.timeout, OSError):
                break
            if not data:
                break
            body += data
        return status, headers, body, send_error
    finally:
        abort(sock)


def describe_response(response):
    status, headers, body, send_error = response
    if status is None:
        return f"no HTTP response ({send_error})"
    text = f"`{status}`"
    if " 101 " not in status + " ":
        text += f", Content-Type {headers.get('content-type', '(none)')}, body {n(len(body))} B"
    if send_error:
        text += f" (request write failed: {send_error})"
    return text


def row_j(srv):
    evil = upgrade_request(srv.port, extra=[b"Origin: https://evil.example\x80"])
    plain = upgrade_request(srv.port, extra=["Origin: https://evil.example"])
    return (f"with 0x80: {describe_response(http_exchange(srv.port, evil))}; "
            f"same Origin without 0x80: {describe_response(http_exchange(srv.port, plain))}")


def row_k(srv):
    cases = [
        ("Sec-WebSocket-Key `abc`", upgrade_request(srv.port, key="abc")),
        ("HTTP/1.0", upgrade_request(srv.port, version="HTTP/1.0")),
        ("512 KB Cookie", upgrade_request(srv.port, extra=["Cookie: c=" + "x" * (512 * 1024)])),
    ]
    return "; ".join(f"{name}: {describe_response(http_exchange(srv.port, raw))}" for name, raw in cases)


# l. a 2 MiB unknown action name -------------------------------------------------------------

def row_l(srv, frame_size=2 * MiB - 1024):
    overhead = len(envelope(""))
    name = "x" * (frame_size - overhead)
    text = envelope(name).encode()
    sock, rest = connect(srv.port)
    try:
        reader = FrameReader()
        sock.sendall(header(TEXT, len(text)) + text)
        deadline = time.monotonic() + 10
        pending = reader.feed(rest)
        while True:
            for opcode, _, payload in pending:
                if opcode == TEXT:
                    reply = json.loads(payload)
                    detail = reply.get("detail", "")
                    return (f"action name {n(len(name))} B (frame {n(len(text))} B): reply {n(len(payload))} B, "
                            f"code {reply.get('code')}, status {reply.get('status')}, detail {n(len(detail))} chars")
                if opcode == CLOSE:
                    code = close_code(payload)
                    return f"action name {n(len(name))} B: no reply, close frame {code[0]} {code[1][:50]!r}"
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = sock.recv(1 << 20)
            except socket.timeout:
                return f"action name {n(len(name))} B: no reply within 10 s"
            if not data:
                return f"action name {n(len(name))} B: TCP closed without a reply"
            pending = reader.feed(data)
    finally:
        abort(sock)


ROWS = {
    "a": ("19,990 silent TCP connections", row_a, 130),
    "b": ("100 idle upgraded connections, pings unanswered", row_b, 110),
    "c": ("200 unfinished 2 MiB frames", row_c, 200),
    "d": ("one frame declaring 8 GiB, streamed up to 1 GiB", row_d, 120),
    "e": ("2,000,000 one-byte continuation frames", row_e, 120),
    "f": ("1,025 pipelined health requests in one write", row_f, 40),
    "g": ("a flooder beside 50 closed-loop clients", row_g, 100),
    "h": ("SIGTERM with 101 idle connections", row_h, 70),
    "j": ("Origin with a raw 0x80 byte", row_j, 30),
    "k": ("bad upgrades: key, HTTP/1.0, 512 KB cookie", row_k, 40),
    "l": ("a 2 MiB unknown action name", row_l, 40),
}
