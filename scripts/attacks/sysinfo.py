"""What /proc says about a server process and its sockets."""

import os

TICK = os.sysconf("SC_CLK_TCK")


def rss_mib(pid):
    """Resident set size (VmRSS) in MiB, or None once the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None  # a zombie has no VmRSS line


def cpu_seconds(pid):
    """User + system CPU time the process has used, in seconds."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # after the command name: state is field 3, utime 14 and stime 15 (1-based, man 5 proc)
    return (int(fields[11]) + int(fields[12])) / TICK


def has_exited(pid):
    """True once the process is a zombie or gone (its parent may not have reaped it yet)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            state = stat.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")


def open_fds(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None


def tcp_queues(local_port, remote_port):
    """(tx_queue, rx_queue) of the IPv4 socket 127.0.0.1:local_port <-> :remote_port, or None."""
    want_local = f"0100007F:{local_port:04X}"
    want_remote = f"0100007F:{remote_port:04X}"
    with open("/proc/net/tcp") as table:
        next(table)
        for line in table:
            parts = line.split()
            if parts[1] == want_local and parts[2] == want_remote:
                tx, rx = parts[4].split(":")
                return int(tx, 16), int(rx, 16)
    return None


def mib(value):
    return "?" if value is None else f"{value:.0f} MiB"


def unread_bytes(port):
    """Bytes received on the server's connections (local port `port`) that it has not read
    yet: the sum of their rx_queue in /proc/net/tcp."""
    want = f"0100007F:{port:04X}"
    total = 0
    with open("/proc/net/tcp") as table:
        next(table)
        for line in table:
            parts = line.split()
            if parts[1] == want and parts[3] == "01":  # ESTABLISHED
                total += int(parts[4].split(":")[1], 16)
    return total


def accept_queue(port):
    """Connections waiting in the listening socket's accept queue (its rx_queue), or None."""
    want = f"0100007F:{port:04X}"
    with open("/proc/net/tcp") as table:
        next(table)
        for line in table:
            parts = line.split()
            if parts[1] == want and parts[3] == "0A":  # LISTEN
                return int(parts[4].split(":")[1], 16)
    return None
