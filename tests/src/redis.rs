//! A real `redis-server` on a free loopback port, owned by the test that started it.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::TIMEOUT;

/// A `redis-server` child process; killed (by its PID) when dropped.
#[derive(Debug)]
pub struct RedisServer {
    port: u16,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts a server with no persistence on a free port and waits until it answers.
    ///
    /// # Panics
    ///
    /// When `redis-server` is not installed or does not answer within [`TIMEOUT`].
    pub fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut server = Self { port, child: None };
        server.restart();
        server
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
        // PUBSUB NUMSUB answers an array: `*2`, `$len`, the channel name, then `:count`.
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("redis");
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        stream
            .write_all(format!("PUBSUB NUMSUB {channel}\r\n").as_bytes())
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
