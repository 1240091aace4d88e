//! The servers under test, each run in a child process (this binary, re-executed with
//! `serve NAME`) pinned to core 0 with `taskset` when available.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

use crate::{baseline_actix, baseline_axum};

/// One server of the comparison.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub(crate) enum Server {
    /// The axum quickstart (`example_quickstart::app`).
    BeeflowAxum,
    /// The axum quickstart as its binary runs it: with a Prometheus recorder taking
    /// beeflow's metrics and a tracing subscriber taking its warnings.
    BeeflowAxumMetrics,
    /// The hand-written axum server.
    BaselineAxum,
    /// The actix quickstart (`example_actix_quickstart::app`).
    BeeflowActix,
    /// The hand-written actix-ws server.
    BaselineActix,
}

impl Server {
    pub(crate) const ALL: [Server; 5] = [
        Server::BeeflowAxum,
        Server::BeeflowAxumMetrics,
        Server::BaselineAxum,
        Server::BeeflowActix,
        Server::BaselineActix,
    ];

    /// Each beeflow server with the hand-written server it is measured against.
    pub(crate) const PAIRS: [(Server, Server); 3] = [
        (Server::BeeflowAxum, Server::BaselineAxum),
        (Server::BeeflowAxumMetrics, Server::BaselineAxum),
        (Server::BeeflowActix, Server::BaselineActix),
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Server::BeeflowAxum => "beeflow-axum",
            Server::BeeflowAxumMetrics => "beeflow-axum+metrics",
            Server::BaselineAxum => "hand-written-axum",
            Server::BeeflowActix => "beeflow-actix",
            Server::BaselineActix => "hand-written-actix",
        }
    }

    fn from_name(name: &str) -> Self {
        Self::ALL
            .into_iter()
            .find(|server| server.name() == name)
            .unwrap_or_else(|| panic!("unknown server {name:?}"))
    }
}

/// Child mode: serve one app on an ephemeral port, print the address, serve until killed.
/// Every server as its quickstart binary runs it (`beeflow_axum::serve` for the axum
/// quickstart), on one worker thread with `TCP_NODELAY`; the quickstarts with
/// `BEEFLOW_RATE_LIMIT=off` unless spawned with [`Defaults::Production`].
pub(crate) fn serve_child(name: &str) {
    match Server::from_name(name) {
        Server::BeeflowAxum => serve_beeflow_axum(false),
        Server::BeeflowAxumMetrics => serve_beeflow_axum(true),
        Server::BaselineAxum => serve_axum(baseline_axum::app()),
        Server::BeeflowActix => {
            let dispatcher = example_demo_actions::dispatcher(None).expect("registry");
            serve_actix(example_actix_quickstart::app(&dispatcher, 0));
        }
        Server::BaselineActix => serve_actix(baseline_actix::configure),
    }
}

fn serve_beeflow_axum(with_metrics: bool) {
    on_one_worker(|listener| async move {
        if with_metrics {
            example_demo_actions::install_logging();
            // The handle would serve `/metrics`; recording is what costs.
            let _ = example_demo_actions::install_metrics();
        }
        let dispatcher = example_demo_actions::dispatcher(None).expect("registry");
        let app = example_quickstart::app(&dispatcher, 0);
        beeflow_axum::serve(listener, app, dispatcher, std::future::pending())
            .await
            .expect("serve");
    });
}

fn serve_axum(app: axum::Router) {
    on_one_worker(|listener| async move {
        // Small replies must not wait behind Nagle's algorithm.
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            let _ = tcp.set_nodelay(true);
        });
        axum::serve(listener, app).await.expect("serve");
    });
}

/// Runs `serve` on a tokio runtime with one worker thread, with a listener on an ephemeral
/// port whose address is printed first (the parent reads it).
fn on_one_worker<F, Fut>(serve: F)
where
    F: FnOnce(tokio::net::TcpListener) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        println!("{}", listener.local_addr().expect("addr"));
        serve(listener).await;
    });
}

fn serve_actix<F>(configure: F)
where
    F: Fn(&mut actix_web::web::ServiceConfig) + Clone + Send + 'static,
{
    actix_web::rt::System::new().block_on(async move {
        let server =
            actix_web::HttpServer::new(move || actix_web::App::new().configure(configure.clone()))
                .workers(1)
                .tcp_nodelay(true)
                .bind(("127.0.0.1", 0))
                .expect("bind");
        println!("{}", server.addrs()[0]);
        server.run().await.expect("serve");
    });
}

/// What a quickstart server runs with.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Defaults {
    /// `BEEFLOW_RATE_LIMIT=off`, as every load test runs, and nothing else changed.
    LoadTest,
    /// Production defaults, rate limits included: the load must stay under them.
    Production,
}

/// Starts `server` in a child process and returns it with the address it listens on.
pub(crate) fn spawn(server: Server) -> (Child, SocketAddr) {
    let prefix: Vec<String> = if has_taskset() {
        vec!["taskset".into(), "-c".into(), "0".into()]
    } else {
        Vec::new()
    };
    spawn_under(server, &prefix, Defaults::LoadTest)
}

/// Starts `server` in a child process run by the command `prefix` (e.g. `taskset -c 0`,
/// or valgrind), with `defaults`, and returns it with the address it listens on.
pub(crate) fn spawn_under(
    server: Server,
    prefix: &[String],
    defaults: Defaults,
) -> (Child, SocketAddr) {
    let exe = std::env::current_exe().expect("own path");
    let mut command = match prefix.split_first() {
        Some((program, args)) => {
            let mut c = Command::new(program);
            c.args(args).arg(exe);
            c
        }
        None => Command::new(exe),
    };
    command.arg("serve").arg(server.name());
    match defaults {
        // Load tests switch the rate limits off, and nothing else.
        Defaults::LoadTest => command.env("BEEFLOW_RATE_LIMIT", "off"),
        Defaults::Production => command.env_remove("BEEFLOW_RATE_LIMIT"),
    };
    let mut child = command
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

pub(crate) fn pin_self_to_core(core: usize) {
    if has_taskset() {
        let _ = Command::new("taskset")
            .args(["-cp", &core.to_string(), &std::process::id().to_string()])
            .stdout(Stdio::null())
            .status();
    }
}

/// User plus system CPU time of a process, in seconds.
pub(crate) fn cpu_seconds(pid: u32) -> f64 {
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

pub(crate) fn rss_kib(pid: u32) -> i64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}
