// Synced state against the real chat server: a room's notes edited a thousand times end
// byte-identical on two clients, one of which loses its connection midway; the patch
// applier on its own.

import { test, after, before } from "node:test";
import assert from "node:assert/strict";

import { Client, applyPatch } from "../dist/index.js";
import { chat, gatedToken, recordingWebSocket, until } from "./servers.mjs";

let server;
before(async () => {
  server = await chat();
});
after(() => server.stop());

/** JSON with every object's keys sorted: how the server serializes a `BTreeMap`. */
function canonical(value) {
  return JSON.stringify(value, (_, v) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

/** Runs `request`, again after the wait the server asks for while it says 429. */
async function politely(request) {
  for (;;) {
    try {
      return await request();
    } catch (error) {
      if (error.code !== "rate_limited") throw error;
      const ms = Number(/retry in (\d+) ms/.exec(error.detail ?? "")?.[1] ?? 10);
      await new Promise((resolve) => setTimeout(resolve, ms));
    }
  }
}

/** A deterministic stream of numbers in [0, 1), so a failure can be replayed. */
function random(seed) {
  return () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed / 2 ** 31;
  };
}

test("notes edited 1,000 times end byte-identical on two clients, one reconnecting midway", async (t) => {
  const room = "sync-1000";
  const { WebSocket, sockets } = recordingWebSocket();
  const gate = gatedToken("bea");
  const ann = new Client({ url: server.url, token: "ann" });
  const bea = new Client({ url: server.url, token: gate.token, WebSocket, reconnect: { minDelayMs: 10, maxDelayMs: 50 } });
  const wes = new Client({ url: server.url, token: "wes" });
  t.after(() => [ann, bea, wes].forEach((client) => client.close()));

  await wes.request("note", { room, name: "n0", text: "the first note" });
  const recoveries = [];
  await ann.subscribe(room);
  await bea.subscribe(room, { onRecovery: (recovered) => recoveries.push(recovered) });
  const annNotes = ann.sync(`notes.${room}`);
  const beaNotes = bea.sync(`notes.${room}`);
  await Promise.all([annNotes.ready, beaNotes.ready]);
  // Version 1 is the empty map; the first note follows as a patch within the window.
  await until("the first note arrives", () => beaNotes.value?.n0 === "the first note");
  let patches = 0;
  bea.on("beeflow.state.patch", () => (patches += 1));

  const next = random(16);
  for (let i = 0; i < 1000; i += 1) {
    if (i === 400) {
      gate.close();
      sockets.at(-1).close();
      await until("bea is away", () => bea.state === "reconnecting");
    }
    if (i === 700) gate.open();
    const name = `n${Math.floor(next() * 40)}`;
    const text = next() < 0.2 ? "" : "x".repeat(1 + Math.floor(next() * 30)) + i;
    await politely(() => wes.request("note", { room, name, text }));
  }
  const [notes] = await wes.request("read_notes", { room });
  const truth = notes.payload.json;
  await until("both clients hold the server's notes", () =>
    canonical(annNotes.value) === truth && canonical(beaNotes.value) === truth,
  );
  assert.equal(canonical(annNotes.value), truth);
  assert.equal(canonical(beaNotes.value), truth);
  assert.equal(annNotes.version, beaNotes.version);
  assert.ok(patches > 0, "bea applied no patch");
  // What bea missed came back by recovery, as patches.
  assert.deepEqual(recoveries, [true]);
});

test("a patch whose base is not the version held fetches a snapshot instead", async (t) => {
  const room = "sync-gap";
  const ann = new Client({ url: server.url, token: "ann" });
  const obs = new Client({ url: server.url, token: "obs" });
  const wes = new Client({ url: server.url, token: "wes" });
  t.after(() => [ann, obs, wes].forEach((client) => client.close()));
  // A long first note, so that adding a short one is sent as a patch, not a snapshot.
  const long = "x".repeat(300);
  await wes.request("note", { room, name: "a", text: long });
  await ann.subscribe(room);
  await obs.subscribe(room);
  const notes = ann.sync(`notes.${room}`);
  const watched = obs.sync(`notes.${room}`);
  await Promise.all([notes.ready, watched.ready]);
  const snapshots = [];
  const patches = [];
  ann.on("beeflow.state.snapshot", (snapshot) => snapshots.push(snapshot.version));
  ann.on("beeflow.state.patch", (patch) => patches.push([patch.base, patch.version]));
  // Unsubscribed, ann misses a change; subscribed again without `since`, the next patch's
  // base is one she never saw.
  await ann.request("beeflow.unsubscribe", { topic: room });
  await wes.request("note", { room, name: "b", text: "two" });
  await until("the change ann misses is published", () => watched.value?.b === "two");
  await ann.request("beeflow.subscribe", { topic: room });
  await wes.request("note", { room, name: "c", text: "three" });
  await until("ann caught up", () => canonical(notes.value) === canonical({ a: long, b: "two", c: "three" }));
  assert.equal(notes.version, watched.version);
  // The patch for "c" did not start from ann's version: she fetched a snapshot instead.
  assert.equal(patches.length, 1, JSON.stringify(patches));
  assert.deepEqual(snapshots, [patches[0][1]]);
});

test("the applier follows RFC 6902", () => {
  const document = { a: [1, 2], b: { c: "d" } };
  const result = applyPatch(document, [
    { op: "add", path: "/a/1", value: 9 },
    { op: "add", path: "/a/-", value: 3 },
    { op: "replace", path: "/b/c", value: "e" },
    { op: "move", from: "/b/c", path: "/moved" },
    { op: "copy", from: "/a", path: "/copied" },
    { op: "remove", path: "/a/0" },
    { op: "test", path: "/moved", value: "e" },
    { op: "add", path: "/__proto__", value: { polluted: true } },
    { op: "add", path: "/x~1y", value: 1 },
  ]);
  assert.equal(
    JSON.stringify(result),
    JSON.stringify({ a: [9, 2, 3], b: {}, moved: "e", copied: [1, 9, 2, 3], ["__proto__"]: { polluted: true }, "x/y": 1 }),
  );
  assert.equal({}.polluted, undefined);
  assert.throws(() => applyPatch({ a: 1 }, [{ op: "replace", path: "/b", value: 2 }]), /no \/b/);
  assert.throws(() => applyPatch({ a: 1 }, [{ op: "test", path: "/a", value: 2 }]), /test failed/);
});
