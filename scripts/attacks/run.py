#!/usr/bin/env python3
"""Runs the attack rows against the quickstart servers and prints one table.

    python3 scripts/attacks/run.py --axum BIN --actix BIN [--multi-node BIN] [--only a,f,k]

Each row gets a fresh server on a free 127.0.0.1 port; see README.md for what each row
does and measures. Progress goes to stderr, the table (Markdown) to stdout.
"""

import argparse
import datetime
import multiprocessing
import os
import resource
import signal
import sys
import tempfile
import time
import types

sys.dont_write_bytecode = True  # leave no __pycache__ next to the scripts
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import servers  # noqa: E402
from multinode import row_i  # noqa: E402
import rows  # noqa: E402
from rows import ROWS  # noqa: E402

ORDER = "abcdefghijkl"
MULTI_NODE_ROW = ("Redis frozen 5 s under two chat nodes (multi-node)", row_i, 90)


def interrupt(signum, frame):
    raise KeyboardInterrupt


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        target = hard if hard != resource.RLIM_INFINITY else 1 << 20
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            pass
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def row_child(function, args, out):
    try:
        text = function(*args)
    except BaseException as error:  # noqa: BLE001 - every failure becomes the cell
        text = f"error: {type(error).__name__}: {error}"
    out.send(text)


def capped(function, args, cap):
    """Runs function(*args) in a child process; its result, or an error once `cap` s pass."""
    ctx = multiprocessing.get_context("fork")
    reader, writer = ctx.Pipe(duplex=False)
    child = ctx.Process(target=row_child, args=(function, args, writer))
    child.start()
    writer.close()
    try:
        if reader.poll(cap):
            try:
                return reader.recv()
            except EOFError:
                child.join(1)
                return f"error: the row's process died (exit code {child.exitcode})"
        return f"error: no result within the row's {cap} s cap (stopped)"
    finally:
        if child.is_alive():
            os.kill(child.pid, signal.SIGKILL)
        child.join(5)
        reader.close()


def run_row(key, adapter, binary, args, logdir):
    title, function, cap = ROWS[key]
    env = {}
    if key == "g" and not args.keep_rate_limit:
        env["BEEFLOW_RATE_LIMIT"] = "off"
    try:
        server = servers.start_server(f"{adapter}-{key}", binary, logdir, env)
    except Exception as error:
        return f"error: server did not start: {error}"
    try:
        return capped(function, (server,), cap)
    finally:
        server.stop()


def run_multi_node(binary, args, logdir):
    title, function, cap = MULTI_NODE_ROW
    started = []
    try:
        redis = servers.start_redis(args.redis_server, logdir)
        started.append(redis)
        env = {"REDIS_URL": f"redis://127.0.0.1:{redis.port}/", "CHAT_CLOCK_SECS": "3600"}
        node_a = servers.start_server("node-a", binary, logdir, env)
        started.append(node_a)
        node_b = servers.start_server("node-b", binary, logdir, env)
        started.append(node_b)
        nodes = types.SimpleNamespace(a=node_a, b=node_b, redis=redis)
        return capped(function, (nodes,), cap)
    except Exception as error:
        return f"error: {type(error).__name__}: {error}"
    finally:
        for process in reversed(started):
            process.stop()


def loadavg():
    with open("/proc/loadavg") as load:
        return " ".join(load.read().split()[:3])


def cell(text):
    return text.replace("|", "\\|").replace("\n", " ")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--axum", help="the axum quickstart binary (example-quickstart)")
    parser.add_argument("--actix", help="the actix quickstart binary (example-actix-quickstart)")
    parser.add_argument("--multi-node", help="the multi-node chat binary (example-multi-node): enables row i")
    parser.add_argument("--redis-server", default="redis-server", help="redis-server to start for row i")
    parser.add_argument("--only", help="rows to run, e.g. 'a' or 'f,j,k' (default: all)")
    parser.add_argument("--keep-rate-limit", action="store_true",
                        help="do not set BEEFLOW_RATE_LIMIT=off for row g")
    parser.add_argument("--spread", type=int, default=0, metavar="N",
                        help="open upgraded connections from many loopback addresses, N per "
                             "address (default: all from 127.0.0.1)")
    args = parser.parse_args()

    adapters = [(name, path) for name, path in (("axum", args.axum), ("actix", args.actix)) if path]
    if not adapters and not args.multi_node:
        parser.error("give --axum, --actix and/or --multi-node")
    for _, path in adapters + ([("multi-node", args.multi_node)] if args.multi_node else []):
        if not os.access(path, os.X_OK):
            parser.error(f"not an executable: {path}")
    keys = [k.strip() for k in args.only.split(",")] if args.only else list(ORDER)
    unknown = [k for k in keys if k not in ROWS and k != "i"]
    if unknown:
        parser.error(f"unknown rows {unknown}; rows are {', '.join(ORDER)}")
    if "i" in keys and not args.multi_node and args.only:
        parser.error("row i needs --multi-node")

    # Ctrl-C and SIGTERM raise KeyboardInterrupt, so that `finally` ends the servers. Set
    # explicitly: a shell starts background jobs with SIGINT ignored.
    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)
    rows.PER_ADDRESS = args.spread
    soft, hard = raise_fd_limit()
    logdir = tempfile.mkdtemp(prefix="beeflow-attacks-")
    began, stamp = time.monotonic(), datetime.datetime.now(datetime.timezone.utc)
    load_before = loadavg()
    print(f"server logs in {logdir}; open-file limit {soft}/{hard}", file=sys.stderr)

    results, interrupted = {}, False
    try:
        for key in sorted(keys, key=ORDER.index):
            if key == "i":
                if not args.multi_node:
                    continue
                t0 = time.monotonic()
                results[key] = {"multi-node": run_multi_node(args.multi_node, args, logdir)}
                print(f"[i multi-node] {time.monotonic() - t0:.0f} s: {results[key]['multi-node']}", file=sys.stderr)
                continue
            results[key] = {}
            for adapter, binary in adapters:
                t0 = time.monotonic()
                results[key][adapter] = run_row(key, adapter, binary, args, logdir)
                print(f"[{key} {adapter}] {time.monotonic() - t0:.0f} s: {results[key][adapter]}", file=sys.stderr)
    except KeyboardInterrupt:
        interrupted = True
        print("interrupted: stopping the servers started here", file=sys.stderr)
    finally:
        servers.stop_all()

    columns = [name for name, _ in adapters] or ["multi-node"]
    total = time.monotonic() - began
    print(f"Run {stamp:%Y-%m-%d %H:%M} UTC, nproc {os.cpu_count()}, open-file limit {soft}, "
          f"took {total / 60:.1f} min; load average at start {load_before}, at the end {loadavg()}."
          + (" INTERRUPTED: cells marked 'not run' did not finish." if interrupted else ""))
    if "g" in results and not args.keep_rate_limit:
        print("Row g ran with BEEFLOW_RATE_LIMIT=off in the server's environment.")
    if args.spread:
        print(f"Upgraded connections came from many loopback addresses, {args.spread} per address.")
    print()
    print("| row | " + " | ".join(columns) + " |")
    print("|---|" + "---|" * len(columns))
    for key in sorted(results, key=ORDER.index):
        if key == "i":
            title = MULTI_NODE_ROW[0]
            cells = [results[key]["multi-node"]] + ["n/a: the multi-node example is an axum app"] * (len(columns) - 1)
        else:
            title = ROWS[key][0]
            cells = [results[key].get(c, "not run") for c in columns]
        print(f"| {key}. {title} | " + " | ".join(cell(c) for c in cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
