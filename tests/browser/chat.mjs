// Drives the chat page (examples/chat) in headless Chromium: two users log in, see each
// other in the lobby's member list (presence), talk; one loses her connection, the other
// talks meanwhile, and she gets what she missed when she is back; one leaves.
// Usage: node chat.mjs http://127.0.0.1:PORT/ [SCREENSHOT.png]  — exits 0 when every step
// was seen.
import { chromium } from "playwright-core";

const url = process.argv[2];
const screenshot = process.argv[3];
const STEP_MS = 10_000;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
  ],
});

/**
 * Lets the test cut the page's connection: `window.__sockets` are the page's WebSockets,
 * and while `window.__offline` is true new ones go to a closed port and fail.
 */
function cuttable() {
  const Native = window.WebSocket;
  window.__sockets = [];
  window.__offline = false;
  window.WebSocket = class extends Native {
    constructor(url, protocols) {
      super(window.__offline ? "ws://127.0.0.1:9/" : url, protocols);
      window.__sockets.push(this);
    }
  };
}

/** Opens the page in a context of its own and logs in as `nick`. */
async function login(nick) {
  const context = await browser.newContext();
  await context.addInitScript(cuttable);
  const page = await context.newPage();
  page.on("pageerror", (error) => { throw error; });
  await page.goto(url);
  await page.fill("#login input[name=nick]", nick);
  await page.click("#login button");
  await seen(page, "#log", `connected as ${nick}`);
  return { context, page };
}

/** Waits until the text of `selector` includes `text` (or, with `absent`, no longer does). */
async function seen(page, selector, text, absent = false) {
  await page.waitForFunction(
    ([selector, text, absent]) =>
      document.querySelector(selector).textContent.includes(text) !== absent,
    [selector, text, absent],
    { timeout: STEP_MS },
  );
}

async function say(page, text) {
  await page.fill("#send input[name=text]", text);
  await page.click("#send button");
}

try {
  const ada = await login("ada");
  await seen(ada.page, "#log", "entered lobby");
  await seen(ada.page, "#rooms", "ada");

  const bob = await login("bob");
  await seen(bob.page, "#rooms", "ada");
  await seen(ada.page, "#log", "bob entered lobby");
  await seen(ada.page, "#rooms", "bob");

  await say(bob.page, "hello from bob");
  await seen(ada.page, "#log", "[lobby] bob: hello from bob");

  await say(ada.page, "/join room.1");
  await seen(ada.page, "#log", "entered room.1");
  await seen(ada.page, "#rooms", "room.1");

  // ada loses her connection; bob talks meanwhile; she comes back with what she missed.
  await ada.page.evaluate(() => {
    window.__offline = true;
    window.__sockets.at(-1).close();
  });
  await seen(ada.page, "#log", "disconnected; reconnecting");
  await say(bob.page, "said while ada was away");
  await seen(bob.page, "#log", "[lobby] bob: said while ada was away");
  await ada.page.evaluate(() => {
    window.__offline = false;
  });
  await seen(ada.page, "#log", "back in lobby, caught up");
  await seen(ada.page, "#log", "[lobby] bob: said while ada was away");
  if (screenshot) await ada.page.screenshot({ path: screenshot });

  await bob.context.close();
  await seen(ada.page, "#log", "bob left lobby");
  await seen(ada.page, "#rooms", "bob", true);
  console.log("ok");
} catch (error) {
  console.error(error);
  process.exitCode = 1;
} finally {
  await browser.close();
}
