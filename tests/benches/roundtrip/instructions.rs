//! The instructions mode (`--instructions`): each server runs under
//! `valgrind --tool=callgrind`, counting switched on only while a load runs, so the figure
//! is the server's own user-space instructions per request. Unlike CPU time it does not
//! move with the machine's speed or the load on its other core.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::load;
use crate::servers::{self, Server};

/// Connections of the instructions load.
const CONNECTIONS: usize = 8;

/// Runs every server under callgrind and prints instructions per request at depth 1 and 16,
/// with the ratio of each beeflow server to its hand-written twin.
pub(crate) async fn run(secs: u64) {
    let dir = std::env::temp_dir().join(format!("beeflow-callgrind-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    println!(
        "instructions per request: {CONNECTIONS} connections, {secs} s per depth, server under callgrind"
    );
    let mut results = Vec::new();
    for server in Server::ALL {
        let (mut child, addr) = servers::spawn_under(server, &valgrind(&dir, server));
        // Warm up: first requests fault pages in and fill caches.
        let warm = load::connect(addr, CONNECTIONS).await;
        load::drive(warm, 1, Duration::from_millis(500)).await;
        let mut per_depth = Vec::new();
        for depth in [1, 16] {
            let sockets = load::connect(addr, CONNECTIONS).await;
            control(&child, "-i on");
            let measured = load::drive(sockets, depth, Duration::from_secs(secs)).await;
            control(&child, "-i off");
            control(&child, "-d");
            let instructions = newest_totals(&dir, server);
            per_depth.push(instructions as f64 / measured.requests as f64);
        }
        let _ = child.kill();
        let _ = child.wait();
        results.push((server, per_depth));
    }
    let _ = std::fs::remove_dir_all(&dir);
    for (server, per_depth) in &results {
        println!(
            "  {:<20} depth 1: {:>8.0}   depth 16: {:>8.0}",
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
            "  ratio {}/{}: depth 1 {:.2}x, depth 16 {:.2}x",
            ours.name(),
            base.name(),
            o[0] / b[0],
            o[1] / b[1]
        );
    }
}

fn valgrind(dir: &Path, server: Server) -> Vec<String> {
    vec![
        "valgrind".into(),
        "--tool=callgrind".into(),
        "--instr-atstart=no".into(),
        format!("--callgrind-out-file={}", out_file(dir, server).display()),
    ]
}

fn out_file(dir: &Path, server: Server) -> PathBuf {
    dir.join(format!("{}.out", server.name()))
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

/// The `totals:` of the newest dump of `server` (each dump holds what was counted since the
/// one before).
fn newest_totals(dir: &Path, server: Server) -> u64 {
    let prefix = format!("{}.out.", server.name());
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
