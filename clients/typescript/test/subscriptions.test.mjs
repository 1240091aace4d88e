// Subscriptions against the real chat server: a client whose connection drops gets what
// was said meanwhile when it comes back (recovered), or is told it cannot (history too
// short); presence snapshots and notices.

import { test, after, before } from "node:test";
import assert from "node:assert/strict";

import { Client } from "../dist/index.js";
import { chat, gatedToken, recordingWebSocket, until } from "./servers.mjs";

let server;
before(async () => {
  server = await chat();
});
after(() => server.stop());

/**
 * `nick`'s client, whose connection `drop()` cuts and keeps down until `comeBack()`, and
 * bob's, who talks meanwhile.
 */
function awayAndBob(t, nick) {
  const { WebSocket, sockets } = recordingWebSocket();
  const gate = gatedToken(nick);
  const reconnect = { minDelayMs: 10, maxDelayMs: 50 };
  const client = new Client({ url: server.url, token: gate.token, WebSocket, reconnect });
  const bob = new Client({ url: server.url, token: "bob" });
  t.after(() => [client, bob].forEach((each) => each.close()));
  const drop = async () => {
    gate.close();
    sockets.at(-1).close();
    await until(`${nick} is away`, () => client.state === "reconnecting");
  };
  return { client, bob, drop, comeBack: () => gate.open() };
}

async function say(client, room, text) {
  await client.request("say", { room, text });
}

test("a subscription comes back after a dropped connection with what was said meanwhile", async (t) => {
  const room = "recovery-ok";
  const { client: ada, bob, drop, comeBack } = awayAndBob(t, "ada");
  const messages = [];
  const recoveries = [];
  await ada.subscribe(room, {
    onEvent: (frame) => messages.push([frame.payload.text, frame.offset]),
    onRecovery: (recovered) => recoveries.push(recovered),
  });
  await say(bob, room, "1");
  await until("ada heard 1", () => messages.length === 1);

  await drop();
  for (const text of ["2", "3", "4"]) await say(bob, room, text);
  comeBack();
  await until("ada recovered", () => recoveries.length === 1);
  assert.deepEqual(recoveries, [true]);
  await say(bob, room, "5");
  await until("ada heard 5", () => messages.length === 5);
  const first = messages[0][1];
  assert.deepEqual(messages, ["1", "2", "3", "4", "5"].map((text, i) => [text, first + i]), "each once, in order");
});

test("a client is told when what it missed cannot all be replayed", async (t) => {
  const room = "recovery-too-long";
  const { client: cyd, bob, drop, comeBack } = awayAndBob(t, "cyd");
  const recoveries = [];
  const anomalies = [];
  cyd.onAnomaly((anomaly) => anomalies.push(anomaly));
  let heard = 0;
  await cyd.subscribe(room, { onEvent: () => (heard += 1), onRecovery: (recovered) => recoveries.push(recovered) });
  await say(bob, room, "first");
  await until("cyd heard it", () => heard === 1);

  await drop();
  // More than the history keeps (100 by default).
  for (let n = 0; n < 101; n++) await say(bob, room, `missed ${n}`);
  comeBack();
  await until("cyd re-subscribed", () => recoveries.length === 1);
  assert.deepEqual(recoveries, [false]);
  assert.deepEqual(anomalies.filter((a) => a.kind === "recovery-failed"), [{ kind: "recovery-failed", topic: room }]);
  assert.equal(heard, 1, "nothing replayed");
  await say(bob, room, "live");
  await until("cyd hears live events again", () => heard === 2);
  const gaps = anomalies.filter((a) => a.kind === "stream-gap");
  assert.equal(gaps.length, 1, "the next event shows the gap");
  assert.equal(gaps[0].received - gaps[0].expected, 101);
});

test("presence: a snapshot, then who joins and leaves", async (t) => {
  const room = "presence";
  const dee = new Client({ url: server.url, token: "dee" });
  t.after(() => dee.close());
  const updates = [];
  await dee.subscribe(room, { presence: true, onPresence: (update) => updates.push(update) });
  assert.deepEqual(updates, [{ kind: "snapshot", members: [{ user: "dee", connections: 1 }], guests: 0 }]);
  const eve = new Client({ url: server.url, token: "eve" });
  t.after(() => eve.close());
  const subscription = await eve.subscribe(room);
  await until("dee saw eve join", () => updates.length === 2);
  await subscription.unsubscribe();
  await until("dee saw eve leave", () => updates.length === 3);
  assert.deepEqual(updates.slice(1), [
    { kind: "join", user: "eve" },
    { kind: "leave", user: "eve" },
  ]);
});
