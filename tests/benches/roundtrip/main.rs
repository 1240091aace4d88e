//! Round-trip benchmark: each adapter's quickstart `health` against a hand-written server on
//! the same framework (axum, actix-web), in the same run, plus the memory cost of idle
//! connections.
//!
//! Run: `bash scripts/bench-roundtrip.sh` (raises the open-file limit, then runs
//! `cargo bench -p beeflow-tests --bench roundtrip`). Options after `--`:
//! `--instructions` (instructions per request under callgrind instead, see
//! `instructions.rs`; with `--keep DIR` its callgrind dumps are kept), `--msgpack`
//! (version 2 in JSON against MessagePack on the axum quickstart instead, see
//! `encodings.rs`), `--secs N` (per run, default 5), `--runs N` (interleaved runs per
//! server, best kept, default 3), `--idle N` (idle connections for the memory run, default
//! 10000).
//!
//! Each server runs in its own child process (this binary, re-executed) pinned to core 0
//! with `taskset` when available; the load generator runs here, pinned to core 1. Besides
//! throughput and latency it prints the server's CPU time per request, read from
//! `/proc/PID/stat` (hardware instruction counters are not available on every VM).

mod baseline_actix;
mod baseline_axum;
mod baseline_health;
mod encodings;
mod instructions;
mod load;
mod servers;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::Child;
use std::time::Duration;

use servers::{Server, cpu_seconds, rss_kib};

const CONNECTIONS: usize = 64;

pub(crate) struct Options {
    pub(crate) secs: u64,
    pub(crate) runs: usize,
    idle: usize,
    keep: Option<std::path::PathBuf>,
}

fn options() -> Options {
    let args: Vec<String> = std::env::args().collect();
    // The argument after `flag`, if given.
    let after = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
    };
    let value =
        |flag: &str, default: u64| after(flag).map_or(default, |v| v.parse().expect("a number"));
    Options {
        secs: value("--secs", 5),
        runs: value("--runs", 3) as usize,
        idle: value("--idle", 10_000) as usize,
        keep: after("--keep").map(Into::into),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("serve") {
        return servers::serve_child(&args[2]);
    }
    // `cargo test --benches` runs bench targets with no arguments besides these: stay quick.
    if args.iter().any(|a| a == "--list" || a == "--test") {
        return;
    }
    let options = options();
    if args.iter().any(|a| a == "--instructions") {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        return runtime.block_on(instructions::run(options.secs, options.keep));
    }
    servers::pin_self_to_core(1);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    if args.iter().any(|a| a == "--msgpack") {
        return runtime.block_on(encodings::run(&options));
    }
    runtime.block_on(bench(&options));
}

async fn bench(options: &Options) {
    let mut children: Vec<(Server, Child, SocketAddr)> = Server::ALL
        .iter()
        .map(|&server| {
            let (child, addr) = servers::spawn(server);
            (server, child, addr)
        })
        .collect();
    println!(
        "round trip: {CONNECTIONS} connections, closed loop, {} s per run, best of {} interleaved runs",
        options.secs, options.runs
    );
    for depth in [1, 16] {
        let mut best: HashMap<Server, (load::Measured, f64)> = HashMap::new();
        for _ in 0..options.runs {
            for (server, child, addr) in &children {
                let cpu_before = cpu_seconds(child.id());
                let measured =
                    load::run(*addr, CONNECTIONS, depth, Duration::from_secs(options.secs)).await;
                let cpu = cpu_seconds(child.id()) - cpu_before;
                let cpu_us_per_request = cpu * 1e6 / measured.requests as f64;
                if best
                    .get(server)
                    .is_none_or(|(b, _)| measured.throughput() > b.throughput())
                {
                    best.insert(*server, (measured, cpu_us_per_request));
                }
            }
        }
        println!("\npipeline depth {depth}:");
        for server in Server::ALL {
            let (m, cpu) = &best[&server];
            println!(
                "  {:<20} {:>9.0} req/s  p50 {:>6} us  p99 {:>6} us  server CPU {:.2} us/req",
                server.name(),
                m.throughput(),
                m.percentile_us(0.50),
                m.percentile_us(0.99),
                cpu
            );
        }
        for (ours, base) in Server::PAIRS {
            let ((o, o_cpu), (b, b_cpu)) = (&best[&ours], &best[&base]);
            println!(
                "  ratio {}/{}: throughput {:.2}x (target >= 0.85), p99 {:.2}x (target <= 1.2), \
                 server CPU {:.2}x (target <= 1.10)",
                ours.name(),
                base.name(),
                o.throughput() / b.throughput(),
                f64::from(o.percentile_us(0.99)) / f64::from(b.percentile_us(0.99)),
                o_cpu / b_cpu
            );
        }
    }
    for (_, child, _) in &mut children {
        let _ = child.kill();
        let _ = child.wait();
    }

    println!(
        "\nidle connections: {} per server, fresh server processes",
        options.idle
    );
    for server in Server::ALL {
        let (mut child, addr) = servers::spawn(server);
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
