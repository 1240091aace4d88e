//! The instructions mode (`--instructions`): each server runs under
//! `valgrind --tool=callgrind`, counting switched on only while a load runs, so the figure
//! is the server's own user-space instructions per request. Unlike CPU time it does not
//! move with the machine's speed or the load on its other core.
//!
//! Two loads, each on fresh server processes:
//! - closed loop, the quickstarts with `BEEFLOW_RATE_LIMIT=off` (as every load test);
//! - paced to [`PACED_RATE`] requests per second per connection, the quickstarts with
//!   their production defaults, rate limits included, which that pace stays under.
//!
//! `--keep DIR` keeps the callgrind dumps in `DIR` (`LOAD-SERVER.out.N`, one per depth, in
//! the order measured) for `callgrind_annotate`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::load::{self, Pace, Wire};
use crate::servers::{self, Defaults, Server};

/// Connections of the instructions load.
const CONNECTIONS: usize = 8;

/// Requests per second per connection of the paced load: under the default limit of 100.
const PACED_RATE: u32 = 80;

const DEPTHS: [usize; 2] = [1, 16];

/// One of the two loads.
#[derive(Clone, Copy)]
struct Load {
    name: &'static str,
    title: &'static str,
    pace: Pace,
    defaults: Defaults,
}

const LOADS: [Load; 2] = [
    Load {
        name: "closed-loop",
        title: "closed loop, BEEFLOW_RATE_LIMIT=off",
        pace: Pace::ClosedLoop,
        defaults: Defaults::LoadTest,
    },
    Load {
        name: "paced",
        title: "paced (80 requests/s per connection), production defaults with rate limits on",
        pace: Pace::PerSecond(PACED_RATE),
        defaults: Defaults::Production,
    },
];

/// Runs every server under callgrind under both loads and prints instructions per request
/// at depth 1 and 16, with the ratio of each beeflow server to its hand-written twin.
pub(crate) async fn run(secs: u64, keep: Option<PathBuf>) {
    let dir = keep.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("beeflow-callgrind-{}", std::process::id()))
    });
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    println!(
        "instructions per request: {CONNECTIONS} connections, {secs} s per depth, server under callgrind"
    );
    for load in LOADS {
        let mut results = Vec::new();
        for server in Server::ALL {
            results.push((server, measure(server, load, secs, &dir).await));
        }
        println!("\n{}:", load.title);
        for (server, per_depth) in &results {
            println!(
                "  {:<22} depth 1: {:>8.0}   depth 16: {:>8.0}",
                server.name(),
                per_depth[0],
                per_depth[1]
            );
        }
        let of = |wanted: Server| {
            &results
                .iter()
                .find(|(s, _)| *s == wanted)
                .expect("measured")
                .1
        };
        for (ours, base) in Server::PAIRS {
            let (o, b) = (of(ours), of(base));
            println!(
                "  ratio {}/{}: depth 1 {:.2}x, depth 16 {:.2}x (target <= 1.25)",
                ours.name(),
                base.name(),
                o[0] / b[0],
                o[1] / b[1]
            );
        }
    }
    match keep {
        Some(dir) => println!(
            "\ncallgrind dumps kept in {}: callgrind_annotate --inclusive=no FILE",
            dir.display()
        ),
        None => {
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}

/// Instructions per request of `server` under `load`, one figure per depth of [`DEPTHS`].
async fn measure(server: Server, load: Load, secs: u64, dir: &Path) -> Vec<f64> {
    let dumps = format!("{}-{}", load.name, server.name());
    remove_dumps(dir, &dumps);
    let (mut child, addr) = servers::spawn_under(server, &valgrind(dir, &dumps), load.defaults);
    // The same connections throughout: production defaults limit upgrades per address.
    let sockets = load::connect(addr, CONNECTIONS).await;
    // Warm up: first requests fault pages in and fill caches.
    let warm = Duration::from_millis(500);
    let (_, mut sockets) = load::drive(sockets, 1, warm, &Wire::v1(), load.pace).await;
    let mut per_depth = Vec::new();
    for depth in DEPTHS {
        control(&child, "-i on");
        let duration = Duration::from_secs(secs);
        let (measured, open) = load::drive(sockets, depth, duration, &Wire::v1(), load.pace).await;
        control(&child, "-i off");
        control(&child, "-d");
        sockets = open;
        let instructions = newest_totals(dir, &dumps);
        per_depth.push(instructions as f64 / measured.requests as f64);
    }
    load::close(sockets).await;
    let _ = child.kill();
    let _ = child.wait();
    per_depth
}

fn valgrind(dir: &Path, dumps: &str) -> Vec<String> {
    vec![
        "valgrind".into(),
        "--tool=callgrind".into(),
        "--instr-atstart=no".into(),
        format!(
            "--callgrind-out-file={}",
            dir.join(format!("{dumps}.out")).display()
        ),
    ]
}

/// Sends `callgrind_control` a command for the server (valgrind is the child itself).
fn control(child: &Child, command: &str) {
    let mut args: Vec<&str> = command.split(' ').collect();
    let pid = child.id().to_string();
    args.push(&pid);
    let status = Command::new("callgrind_control")
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("callgrind_control runs");
    assert!(status.success(), "callgrind_control {command} failed");
}

/// Removes what an earlier run left under the name `dumps`.
fn remove_dumps(dir: &Path, dumps: &str) {
    let prefix = format!("{dumps}.out");
    for entry in std::fs::read_dir(dir)
        .expect("the scratch directory")
        .flatten()
    {
        if entry.file_name().to_string_lossy().starts_with(&prefix) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// The `totals:` of the newest dump named `dumps` (each dump holds what was counted since
/// the one before).
fn newest_totals(dir: &Path, dumps: &str) -> u64 {
    let prefix = format!("{dumps}.out.");
    let newest = std::fs::read_dir(dir)
        .expect("the scratch directory")
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter_map(|name| Some((name.strip_prefix(&prefix)?.parse::<u32>().ok()?, name)))
        .max()
        .expect("a dump");
    let text = std::fs::read_to_string(dir.join(newest.1)).expect("the dump");
    text.lines()
        .find_map(|line| line.strip_prefix("totals: "))
        .and_then(|total| total.trim().parse().ok())
        .expect("a totals line")
}
