"""Starting and stopping the processes under test. Every process is started here, remembered
by PID, and ended by that PID only."""

import os
import signal
import socket
import subprocess
import time

STARTED = {}  # pid -> Popen of every process still to be ended


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_listening(proc, port, timeout, log):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"exited with {proc.returncode} before listening; see {log}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"not listening on {port} after {timeout} s; see {log}")


class Process:
    """A started server (or redis-server) on 127.0.0.1:port, its output in a log file."""

    def __init__(self, name, argv, env, port, logdir):
        self.name, self.port = name, port
        self.log = os.path.join(logdir, f"{name}-{port}.log")
        with open(self.log, "wb") as out:  # closed here: row processes must not inherit it
            self.proc = subprocess.Popen(
                argv,
                env={**os.environ, **env},
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                close_fds=True,
            )
        self.pid = self.proc.pid
        STARTED[self.pid] = self.proc
        try:
            wait_listening(self.proc, port, 20, self.log)
        except BaseException:
            self.stop()
            raise

    def stop(self):
        """SIGKILL (it may be SIGSTOPped) and reap; harmless if it has already exited."""
        if self.proc.poll() is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        STARTED.pop(self.pid, None)


def start_server(name, binary, logdir, env=None):
    port = free_port()
    return Process(name, [binary], {"PORT": str(port), **(env or {})}, port, logdir)


def start_redis(binary, logdir):
    port = free_port()
    argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--daemonize", "no", "--protected-mode", "yes"]
    return Process("redis", argv, {}, port, logdir)


def stop_all():
    """Ends every process started here that is still around (used on errors and Ctrl-C)."""
    for pid, proc in list(STARTED.items()):
        if proc.poll() is None:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        STARTED.pop(pid, None)
