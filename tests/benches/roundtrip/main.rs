//! Round-trip benchmark: the quickstart's `health` against a hand-written axum server, in
//! the same run, plus the memory cost of idle connections.
//!
//! Run: `bash scripts/bench-roundtrip.sh` (raises the open-file limit, then runs
//! `cargo bench -p beeflow-tests --bench roundtrip`). Options after `--`:
//! `--secs N` (per run, default 5), `--runs N` (interleaved runs per server, best kept,
//! default 3), `--idle N` (idle connections for the memory run, default 10000).
//!
//! Each server runs in its own child process (this binary, re-executed) pinned to core 0
//! with `taskset` when available; the load generator runs here, pinned to core 1. Besides
//! throughput and latency it prints the server's CPU time per request, read from
//! `/proc/PID/stat` (hardware instruction counters are not available on every VM).

mod baseline;
mod load;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const CONNECTIONS: usize = 64;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Server {
    Beeflow,
    Baseline,
}

impl Server {
    fn name(self) -> &'static str {
        match self {
            Server::Beeflow => "beeflow-quickstart",
            Server::Baseline => "hand-written-axum",
        }
    }
}

struct Options {
    secs: u64,
    runs: usize,
    idle: usize,
}

fn options() -> Options {
    let args: Vec<String> = std::env::args().collect();
    let value = |flag: &str, default: u64| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .map_or(default, |v| v.parse().expect("a number"))
    };
    Options {
        secs: value("--secs", 5),
        runs: value("--runs", 3) as usize,
        idle: value("--idle", 10_000) as usize,
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("serve") {
        return serve_child(&args[2]);
    }
    // `cargo test --benches` runs bench targets with no arguments besides these: stay quick.
    if args.iter().any(|a| a == "--list" || a == "--test") {
        return;
    }
    let options = options();
    pin_self_to_core(1);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(bench(&options));
}

async fn bench(options: &Options) {
    let servers = [Server::Beeflow, Server::Baseline];
    let mut children: Vec<(Server, Child, SocketAddr)> = servers
        .iter()
        .map(|&server| {
            let (child, addr) = spawn_server(server);
            (server, child, addr)
        })
        .collect();
    println!(
        "round trip: {CONNECTIONS} connections, closed loop, {} s per run, best of {} interleaved runs",
        options.secs, options.runs
    );
    for depth in [1, 16] {
        let mut best: Vec<Option<(load::Measured, f64)>> = vec![None, None];
        for _ in 0..options.runs {
            for (i, (_, child, addr)) in children.iter().enumerate() {
                let cpu_before = cpu_seconds(child.id());
                let measured =
                    load::run(*addr, CONNECTIONS, depth, Duration::from_secs(options.secs)).await;
                let cpu = cpu_seconds(child.id()) - cpu_before;
                let cpu_us_per_request = cpu * 1e6 / measured.requests as f64;
                if best[i]
                    .as_ref()
                    .is_none_or(|(b, _)| measured.throughput() > b.throughput())
                {
                    best[i] = Some((measured, cpu_us_per_request));
                }
            }
        }
        println!("\npipeline depth {depth}:");
        for (i, server) in servers.iter().enumerate() {
            let (m, cpu) = best[i].as_ref().expect("at least one run");
            println!(
                "  {:<20} {:>9.0} req/s  p50 {:>6} us  p99 {:>6} us  server CPU {:.2} us/req",
                server.name(),
                m.throughput(),
                m.percentile_us(0.50),
                m.percentile_us(0.99),
                cpu
            );
        }
        let (ours, _) = best[0].as_ref().expect("beeflow ran");
        let (base, _) = best[1].as_ref().expect("baseline ran");
        println!(
            "  ratio beeflow/baseline: throughput {:.2}x (target >= 0.85), p99 {:.2}x (target <= 1.2)",
            ours.throughput() / base.throughput(),
            f64::from(ours.percentile_us(0.99)) / f64::from(base.percentile_us(0.99))
        );
    }
    for (_, child, _) in &mut children {
        let _ = child.kill();
        let _ = child.wait();
    }

    println!(
        "\nidle connections: {} per server, fresh server processes",
        options.idle
    );
    for server in servers {
        let (mut child, addr) = spawn_server(server);
        tokio::time::sleep(Duration::from_millis(300)).await;
        let before = rss_kib(child.id());
        let held = load::hold_idle(addr, options.idle).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let after = rss_kib(child.id());
        println!(
            "  {:<20} RSS {before} KiB -> {after} KiB: {:.2} KiB per idle connection (target <= 8)",
            server.name(),
            (after - before) as f64 / options.idle as f64
        );
        drop(held);
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// Child mode: serve one app on an ephemeral port and print the port.
fn serve_child(which: &str) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let app = match which {
            "beeflow-quickstart" => example_quickstart::app(None).expect("registry"),
            _ => baseline::app(),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        println!("{}", listener.local_addr().expect("addr"));
        // Both servers as the quickstart binary runs them: small replies must not wait
        // behind Nagle's algorithm.
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            let _ = tcp.set_nodelay(true);
        });
        axum::serve(listener, app).await.expect("serve");
    });
}

fn spawn_server(server: Server) -> (Child, SocketAddr) {
    let exe = std::env::current_exe().expect("own path");
    let mut command = if has_taskset() {
        let mut c = Command::new("taskset");
        c.arg("-c").arg("0").arg(exe);
        c
    } else {
        Command::new(exe)
    };
    let mut child = command
        .arg("serve")
        .arg(server.name())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn server");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("server address");
    (child, line.trim().parse().expect("an address"))
}

fn has_taskset() -> bool {
    Command::new("taskset")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn pin_self_to_core(core: usize) {
    if has_taskset() {
        let _ = Command::new("taskset")
            .args(["-cp", &core.to_string(), &std::process::id().to_string()])
            .stdout(Stdio::null())
            .status();
    }
}

/// User plus system CPU time of a process, in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may contain spaces) start after the last ')'.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or(vec![], |(_, rest)| rest.split_whitespace().collect());
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the full line: 11 and 12 after the name.
    (ticks(11) + ticks(12)) / 100.0
}

fn rss_kib(pid: u32) -> i64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}
