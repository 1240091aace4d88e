// The chat's Server-Sent Events route in headless Chromium, through the browser's own
// EventSource: the page follows `everyone`; the stream is cut (a relay between the page and
// the server drops the connection and refuses new ones for a while); announcements are made
// meanwhile; EventSource reconnects by itself with Last-Event-ID and gets them, in order.
// Usage: node sse.mjs http://127.0.0.1:PORT/ — exits 0 when every step was seen.
import net from "node:net";
import { chromium } from "playwright-core";

const server = new URL(process.argv[2]);
const STEP_MS = 10_000;

// The relay: the page talks to it; `cut()` drops every connection, and while `offline`
// new ones are dropped at once. It notes each request's Last-Event-ID.
const sockets = new Set();
const lastEventIds = [];
let offline = false;
const relay = net.createServer((client) => {
  if (offline) {
    client.destroy();
    return;
  }
  const upstream = net.connect(Number(server.port), server.hostname);
  sockets.add(client);
  sockets.add(upstream);
  client.once("data", (head) => {
    const match = /^last-event-id: *(.*)$/im.exec(head.toString("latin1"));
    if (match) lastEventIds.push(match[1].trim());
  });
  client.pipe(upstream).pipe(client);
  const close = () => {
    client.destroy();
    upstream.destroy();
    sockets.delete(client);
    sockets.delete(upstream);
  };
  client.on("error", close).on("close", close);
  upstream.on("error", close).on("close", close);
});
await new Promise((resolve) => relay.listen(0, "127.0.0.1", resolve));
const origin = `http://127.0.0.1:${relay.address().port}`;

function cut() {
  offline = true;
  for (const socket of sockets) socket.destroy();
}

async function announce(text) {
  const response = await fetch(new URL("/announce", server), {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ text }),
  });
  if (!response.ok) throw new Error(`announce: ${response.status}`);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
  ],
});

try {
  const page = await browser.newPage();
  page.on("pageerror", (error) => { throw error; });
  await page.goto(`${origin}/`);
  await page.evaluate(() => {
    window.__announced = [];
    window.__opened = 0;
    window.__errors = 0;
    // EventSource sends no headers of its own choosing: the chat takes the token from the
    // query (its policy opts in).
    const source = new EventSource("/sse/?topic=everyone&access_token=ann");
    source.addEventListener("beeflow.session", () => (window.__opened += 1));
    source.onerror = () => (window.__errors += 1);
    source.onmessage = (message) => {
      const frame = JSON.parse(message.data);
      if (frame.event === "announcement") window.__announced.push(frame.payload.text);
    };
  });
  const wait = (what, predicate, arg) =>
    page.waitForFunction(predicate, arg, { timeout: STEP_MS }).catch((error) => {
      throw new Error(`waiting for ${what}: ${error.message}`);
    });
  await wait("the stream", () => window.__opened === 1);
  await announce("one");
  await wait("the first announcement", () => window.__announced.join() === "one");

  cut();
  await wait("the drop", () => window.__errors >= 1);
  await announce("two");
  await announce("three");
  offline = false;
  await wait("the stream back", () => window.__opened === 2);
  await wait("what was missed", () => window.__announced.join() === "one,two,three");
  if (lastEventIds.length !== 1 || !lastEventIds[0].includes("group%3Aeveryone=")) {
    throw new Error(`expected one reconnect with a Last-Event-ID, saw ${JSON.stringify(lastEventIds)}`);
  }
  console.log("ok");
} catch (error) {
  console.error(error);
  process.exitCode = 1;
} finally {
  await browser.close();
  for (const socket of sockets) socket.destroy();
  relay.close();
}
