//! A real `redis-server` on a free loopback port, owned by the test that started it.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::TIMEOUT;

/// A `redis-server` child process; killed (by its PID) when dropped.
#[derive(Debug)]
pub struct RedisServer {
    port: u16,
    child: Option<Child>,
    /// Arguments beside the port and the no-persistence ones (a cluster node's).
    extra: Vec<String>,
}

impl RedisServer {
    /// Starts a server with no persistence on a free port and waits until it answers.
    ///
    /// # Panics
    ///
    /// When `redis-server` is not installed or does not answer within [`TIMEOUT`].
    pub fn start() -> Self {
        Self::start_with(free_port(), Vec::new())
    }

    fn start_with(port: u16, extra: Vec<String>) -> Self {
        let mut server = Self {
            port,
            child: None,
            extra,
        };
        server.restart();
        server
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL to connect to it.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Kills the server (its data is gone; nothing was persisted).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Freezes the server (SIGSTOP, to the process this value started): connections stay
    /// open and nothing is answered, as when Redis stalls.
    ///
    /// # Panics
    ///
    /// When the server is not running.
    pub fn freeze(&self) {
        self.signal("-STOP");
    }

    /// Lets a frozen server go on (SIGCONT).
    ///
    /// # Panics
    ///
    /// When the server is not running.
    pub fn thaw(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().expect("the server runs").id();
        let status = Command::new("kill")
            .args([signal, &pid.to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill {signal} {pid} failed");
    }

    /// Starts the server again on the same port.
    ///
    /// # Panics
    ///
    /// Like [`RedisServer::start`].
    pub fn restart(&mut self) {
        self.kill();
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--protected-mode", "no"])
            .args(&self.extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed (scripts/test.sh installs it)");
        self.child = Some(child);
        let deadline = Instant::now() + TIMEOUT;
        while self.command("PING").as_deref() != Some("+PONG") {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends one inline command and returns the first line of the reply.
    pub fn command(&self, command: &str) -> Option<String> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        stream.set_read_timeout(Some(TIMEOUT)).ok()?;
        stream.write_all(format!("{command}\r\n").as_bytes()).ok()?;
        let mut reply = Vec::new();
        let mut byte = [0u8; 1];
        while !reply.ends_with(b"\r\n") {
            if stream.read(&mut byte).ok()? == 0 {
                return None;
            }
            reply.push(byte[0]);
        }
        Some(String::from_utf8_lossy(&reply[..reply.len() - 2]).into_owned())
    }

    /// How many clients subscribe to `channel`.
    ///
    /// # Panics
    ///
    /// When the server does not answer.
    pub fn subscribers(&self, channel: &str) -> usize {
        self.count("NUMSUB", channel)
    }

    /// How many clients subscribe to sharded `channel` (`SSUBSCRIBE`, a cluster node's).
    ///
    /// # Panics
    ///
    /// When the server does not answer.
    pub fn shard_subscribers(&self, channel: &str) -> usize {
        self.count("SHARDNUMSUB", channel)
    }

    fn count(&self, subcommand: &str, channel: &str) -> usize {
        // PUBSUB NUMSUB answers an array: `*2`, `$len`, the channel name, then `:count`.
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("redis");
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        stream
            .write_all(format!("PUBSUB {subcommand} {channel}\r\n").as_bytes())
            .unwrap();
        let mut reply = String::new();
        let mut buf = [0u8; 256];
        while reply.matches("\r\n").count() < 4 {
            let n = stream.read(&mut buf).unwrap();
            assert!(n > 0, "redis closed the connection");
            reply.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
        let count = reply.split("\r\n").nth(3).expect("the count line");
        count.trim_start_matches(':').parse().expect("a count")
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A Redis Cluster of three masters (no replicas): three `redis-server` processes in
/// cluster mode on free loopback ports, joined by `redis-cli --cluster create`. Killed when
/// dropped, and their working directory removed.
#[derive(Debug)]
pub struct RedisCluster {
    nodes: Vec<RedisServer>,
    dir: PathBuf,
}

impl RedisCluster {
    /// Starts the three nodes, creates the cluster and waits until every node serves all
    /// slots.
    ///
    /// # Panics
    ///
    /// When `redis-server` or `redis-cli` is missing, or the cluster is not up within
    /// [`TIMEOUT`].
    pub fn start() -> Self {
        let dir = std::env::temp_dir().join(format!(
            "beeflow-cluster-{}-{}",
            std::process::id(),
            free_port()
        ));
        std::fs::create_dir_all(&dir).expect("a working directory");
        let nodes: Vec<RedisServer> = (0..3)
            .map(|_| {
                let port = cluster_port();
                let extra = vec![
                    "--cluster-enabled".to_owned(),
                    "yes".to_owned(),
                    "--cluster-config-file".to_owned(),
                    format!("nodes-{port}.conf"),
                    "--cluster-node-timeout".to_owned(),
                    "2000".to_owned(),
                    "--dir".to_owned(),
                    dir.display().to_string(),
                ];
                RedisServer::start_with(port, extra)
            })
            .collect();
        let addresses: Vec<String> = nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        let created = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addresses)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("redis-cli is installed (with redis-server)");
        assert!(created.success(), "redis-cli --cluster create failed");
        let cluster = Self { nodes, dir };
        cluster.wait_until_up();
        cluster
    }

    /// Its nodes.
    pub fn nodes(&self) -> &[RedisServer] {
        &self.nodes
    }

    /// The nodes' URLs.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(RedisServer::url).collect()
    }

    /// The node on `port`.
    ///
    /// # Panics
    ///
    /// When none is.
    pub fn node_on(&mut self, port: u16) -> &mut RedisServer {
        self.nodes
            .iter_mut()
            .find(|n| n.port == port)
            .expect("a node of the cluster")
    }

    /// The port of the master serving `key`'s slot.
    ///
    /// # Panics
    ///
    /// When the cluster does not answer.
    pub fn port_of(&self, key: &str) -> u16 {
        let slot = self.nodes[0]
            .command(&format!("CLUSTER KEYSLOT {key}"))
            .and_then(|reply| reply.trim_start_matches(':').parse::<u16>().ok())
            .expect("a slot");
        let serves = |node: &RedisServer| {
            let nodes = Command::new("redis-cli")
                .args(["-p", &node.port.to_string(), "cluster", "nodes"])
                .output()
                .expect("redis-cli runs");
            // `<id> <address> myself,master - 0 0 <epoch> connected <ranges…>`
            let text = String::from_utf8_lossy(&nodes.stdout).into_owned();
            let own = text
                .lines()
                .find(|l| l.contains("myself"))
                .map(str::to_owned);
            own.is_some_and(|line| {
                line.split_whitespace().skip(8).any(|range| {
                    let (start, end) = range.split_once('-').unwrap_or((range, range));
                    matches!((start.parse::<u16>(), end.parse::<u16>()),
                        (Ok(start), Ok(end)) if (start..=end).contains(&slot))
                })
            })
        };
        self.nodes
            .iter()
            .find(|node| serves(node))
            .map(|node| node.port)
            .unwrap_or_else(|| panic!("no master serves slot {slot}"))
    }

    /// Waits until every node says the cluster is ok (after a start or a node's restart).
    ///
    /// # Panics
    ///
    /// When that takes longer than [`TIMEOUT`].
    pub fn wait_until_up(&self) {
        let deadline = Instant::now() + TIMEOUT;
        for node in &self.nodes {
            loop {
                let info = Command::new("redis-cli")
                    .args(["-p", &node.port.to_string(), "cluster", "info"])
                    .output()
                    .expect("redis-cli runs");
                let info = String::from_utf8_lossy(&info.stdout);
                if info.contains("cluster_state:ok") && info.contains("cluster_slots_ok:16384") {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "the cluster did not come up: {info}"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            node.kill();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A free port whose cluster bus port (10,000 above) is free too.
fn cluster_port() -> u16 {
    loop {
        let port = free_port();
        if port <= 55_535 && TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok() {
            return port;
        }
    }
}
