// Starts the example servers the tests talk to, from the workspace's debug build
// (`cargo build -p example-quickstart -p example-chat`, which scripts/test.sh runs first),
// each on a free loopback port, and stops them by their PID.

import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import path from "node:path";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const bin = (name) => path.join(process.env.CARGO_TARGET_DIR ?? path.join(root, "target"), "debug", name);

/** How long a server may take to say where it listens. */
const START_TIMEOUT_MS = 10_000;

/**
 * Starts `name` with `env`, and resolves with the process and the first match of `pattern`
 * in its output (the address it listens on).
 */
function start(name, env, pattern) {
  const child = spawn(bin(name), [], {
    env: { ...process.env, RUST_LOG: "off", ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`${name} did not start within ${START_TIMEOUT_MS} ms`));
    }, START_TIMEOUT_MS);
    child.once("error", reject);
    const lines = createInterface({ input: child.stdout });
    lines.on("line", (line) => {
      const found = line.match(pattern);
      if (found) {
        clearTimeout(timer);
        resolve({ child, address: found[1] });
      }
    });
  });
}

/** A running server: `url` to connect to, `stop()` to end it (and wait until it has). */
class Server {
  constructor(child, address, url) {
    this.child = child;
    this.address = address;
    this.url = url;
  }

  stop() {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      this.child.once("exit", () => resolve());
      this.child.kill("SIGKILL");
    });
  }
}

/** The quickstart, on `port` (0: any free port). */
export async function quickstart(port = 0) {
  const { child, address } = await start("example-quickstart", { PORT: String(port) }, /listening on ws:\/\/(\S+)\/ws\//);
  return new Server(child, address, `ws://${address}/ws/`);
}

/** The chat example, on `port` (0: any free port). */
export async function chat(port = 0) {
  const { child, address } = await start("example-chat", { PORT: String(port), CHAT_CLOCK_SECS: "3600" }, /beeflow chat on http:\/\/(\S+)\//);
  return new Server(child, address, `ws://${address}/ws/`);
}

/** A WebSocket class that remembers its sockets, so a test can drop one. */
export function recordingWebSocket() {
  const sockets = [];
  class Recording extends WebSocket {
    constructor(url, protocols) {
      super(url, protocols);
      sockets.push(this);
    }
  }
  return { WebSocket: Recording, sockets };
}

/** A token function that waits, after the first connect, until `open()` is called. */
export function gatedToken(nick) {
  let connects = 0;
  let open;
  let gate = Promise.resolve();
  return {
    token: async () => {
      connects += 1;
      if (connects > 1) await gate;
      return nick;
    },
    close() {
      gate = new Promise((resolve) => (open = resolve));
    },
    open: () => open(),
  };
}

/** Resolves when `condition()` holds, polling; rejects after `ms`. */
export async function until(what, condition, ms = 10_000) {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A server that speaks only protocol version 1 (a Python stand-in for the Python library). */
export function versionOneServer() {
  return python("v1_server.py", []);
}

/** A version-2 server that answers every request with `frames`, then its completion. */
export function scriptedServer(frames) {
  return python("scripted_server.py", frames);
}

async function python(name, frames) {
  const script = path.join(path.dirname(fileURLToPath(import.meta.url)), name);
  const child = spawn("python3", [script], { stdio: ["pipe", "pipe", "inherit"] });
  child.stdin.end(frames.map((frame) => `${JSON.stringify(frame)}\n`).join(""));
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start`)), START_TIMEOUT_MS);
    child.once("error", reject);
    createInterface({ input: child.stdout }).once("line", (line) => {
      clearTimeout(timer);
      resolve(line.trim());
    });
  });
  return new Server(child, `127.0.0.1:${port}`, `ws://127.0.0.1:${port}/ws/`);
}
