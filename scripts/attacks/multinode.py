"""Row i: two chat nodes on one redis-server; Redis is frozen (SIGSTOP) for a while as a
client on node A talks to a room whose member is on node B."""

import json
import os
import select
import signal
import statistics
import sys
import time

from wire import TEXT, FrameReader, abort, connect, envelope, frame

ROOM = "attack-room"


class ChatClient:
    def __init__(self, port, nick):
        self.sock, rest = connect(port, extra=[f"Sec-WebSocket-Protocol: access-token, {nick}"])
        self.sock.setblocking(False)
        self.reader = FrameReader()
        self.backlog = [json.loads(p) for op, _, p in self.reader.feed(rest) if op == TEXT]

    def send(self, *frames):
        self.sock.settimeout(5)
        try:
            self.sock.sendall(b"".join(frames))
        finally:
            self.sock.setblocking(False)

    def read(self):
        """Messages that have arrived (non-blocking); raises once the server closed."""
        messages, self.backlog = self.backlog, []
        while True:
            try:
                data = self.sock.recv(1 << 16)
            except BlockingIOError:
                return messages
            if not data:
                raise ConnectionError("the chat node closed the connection")
            messages += [json.loads(p) for op, _, p in self.reader.feed(data) if op == TEXT]

    def wait_for(self, predicate, seconds):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for message in self.read():
                if predicate(message):
                    return message
            select.select([self.sock], [], [], 0.05)
        return None


def request(action, payload):
    text = envelope(action, payload)
    return frame(TEXT, text), json.loads(text)["req_id"]


def row_i(nodes, period=0.25, sends=40, freeze_at=2.0, freeze_for=5.0):
    """`nodes` has .a, .b (chat nodes) and .redis, each with .port, .pid and .log."""
    ada, bob = ChatClient(nodes.a.port, "ada"), ChatClient(nodes.b.port, "bob")
    frozen = False
    try:
        join, join_id = request("join_room", {"room": ROOM})
        bob.send(join)
        if not bob.wait_for(lambda m: m.get("req_id") == join_id, 5):
            raise RuntimeError("bob could not join the room")
        # Node B subscribes to the room's channel asynchronously: wait until a message crosses.
        for attempt in range(20):
            ada.send(request("say", {"room": ROOM, "text": f"probe {attempt}"})[0])
            if bob.wait_for(lambda m: m.get("event") == "message", 0.5):
                break
        else:
            raise RuntimeError("no message crossed from node A to node B before the freeze")
        ada.read()
        bob.wait_for(lambda m: False, 0.5)  # late probes

        sent_at, done_at, problems, arrived = {}, {}, {}, {}
        health_of, say_of = {}, {}
        start = time.monotonic()
        freeze, thaw = start + freeze_at, start + freeze_at + freeze_for
        frozen_at, thawed_at = freeze, thaw  # replaced by the actual times
        k = 0
        deadline = start + sends * period + freeze_for + 15
        while time.monotonic() < deadline:
            now = time.monotonic()
            if not frozen and freeze <= now < thaw:
                os.kill(nodes.redis.pid, signal.SIGSTOP)
                frozen, frozen_at = True, now
            if frozen and now >= thaw:
                os.kill(nodes.redis.pid, signal.SIGCONT)
                frozen, thawed_at = False, now
            if k < sends and now >= start + k * period:
                say, say_id = request("say", {"room": ROOM, "text": f"m{k}"})
                health, health_id = request("health", {})
                say_of[say_id], health_of[health_id] = k, k
                sent_at[k] = time.monotonic()
                ada.send(say, health)  # one write: the health reply marks the say as done
                k += 1
            for message in ada.read():
                rid = message.get("req_id")
                if rid in health_of:
                    done_at[health_of[rid]] = time.monotonic()
                elif rid in say_of and "code" in message:
                    problems[say_of[rid]] = message["code"]
            for message in bob.read():
                if message.get("event") == "message":
                    text = message.get("payload", {}).get("text", "")
                    if text.startswith("m") and text[1:].isdigit():
                        arrived.setdefault(int(text[1:]), time.monotonic())
            if k == sends and now > thaw and len(done_at) == sends and len(arrived) == sends:
                break
            select.select([ada.sock, bob.sock], [], [], 0.01)
    finally:
        if frozen:
            os.kill(nodes.redis.pid, signal.SIGCONT)
        abort(ada.sock)
        abort(bob.sock)

    def phase(i):
        t = sent_at[i]
        return "before" if t < frozen_at else "during" if t < thawed_at else "after"

    def times(ids):
        values = [done_at[i] - sent_at[i] for i in ids if i in done_at]
        if not values:
            return "none answered"
        return (f"median {statistics.median(values) * 1000:.0f} ms, max {max(values) * 1000:.0f} ms"
                + (f", {len(ids) - len(values)} unanswered" if len(values) < len(ids) else ""))

    groups = {p: [i for i in sent_at if phase(i) == p] for p in ("before", "during", "after")}
    if os.environ.get("ATTACK_DEBUG"):
        for i in sorted(sent_at):
            print(f"m{i} {phase(i)} sent {sent_at[i] - start:.2f} done {done_at.get(i, 0) - start:.2f} "
                  f"at bob {arrived.get(i, 0) - start:.2f}", file=sys.stderr)
    during = groups["during"]
    late = [arrived[i] - thawed_at for i in during if i in arrived]
    missing = sorted(set(sent_at) - set(arrived))
    finished = sorted(done_at[i] for i in sent_at if i in done_at and frozen_at < done_at[i] < thawed_at - 0.01)
    steps = [b - a for a, b in zip(finished, finished[1:])]
    parts = [
        f"{len(sent_at)} sends every {period * 1000:.0f} ms, Redis stopped for {thawed_at - frozen_at:.1f} s",
        "say+health reply: " + "; ".join(f"{p} {len(ids)}: {times(ids)}" for p, ids in groups.items()),
        f"while frozen, {len(finished)} of the sender's say requests finished"
        + (f", one every {statistics.median(steps) * 1000:.0f} ms" if steps else "")
        + f"; {sum(1 for t in done_at.values() if thawed_at - 0.01 <= t < thawed_at + 0.1)} finished within 0.1 s after the thaw",
        f"bob got {len(arrived)}/{len(sent_at)}; of the {len(during)} sent while frozen {len(late)} arrived"
        + (f", {min(late):.2f}–{max(late):.2f} s after the thaw" if late else ""),
        f"never arrived: {len(missing)}" + (f" (m{missing[0]}…m{missing[-1]})" if missing else ""),
    ]
    if problems:
        parts.append(f"Problems to the sender: {len(problems)} ({', '.join(sorted(set(problems.values())))})")
    with open(nodes.a.log, errors="replace") as log:
        lost = sum(1 for line in log if "lost" in line.lower())
    parts.append(f"node A log lines mentioning 'lost': {lost}")
    return "; ".join(parts)
