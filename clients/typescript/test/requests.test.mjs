// Requests against the real quickstart server: completion, streams, Problems, timeouts,
// tokens, refusal, reconnecting after the server was killed and started again.

import { test, after, before } from "node:test";
import assert from "node:assert/strict";

import { WebSocket as NodeWebSocket } from "ws";

import { Client, ProblemError, RequestError } from "../dist/index.js";
import { quickstart, recordingWebSocket, scriptedServer, until, versionOneServer } from "./servers.mjs";

let server;
before(async () => {
  server = await quickstart();
});
after(() => server.stop());

test("a request resolves at its completion with its events", async (t) => {
  const client = new Client({ url: server.url });
  t.after(() => client.close());
  await client.connected();
  const frames = await client.request("echo", { text: "hi" });
  assert.equal(frames.length, 1);
  assert.equal(frames[0].event, "echo");
  assert.deepEqual(frames[0].payload, { text: "hi" });
  assert.equal(frames[0].seq, 1);
  const health = await client.request("health", {});
  assert.deepEqual(health.map((f) => [f.event, f.seq]), [["health", 2]]);
});

test("a stream yields each event as it comes, then ends", async (t) => {
  const client = new Client({ url: server.url });
  t.after(() => client.close());
  const remaining = [];
  for await (const frame of client.stream("countdown", { from: 3 })) {
    remaining.push(frame.payload.remaining);
  }
  assert.deepEqual(remaining, [3, 2, 1, 0]);
});

test("a Problem rejects the request with its code, status, title and detail", async (t) => {
  const client = new Client({ url: server.url });
  t.after(() => client.close());
  await assert.rejects(client.request("echo", { text: "" }), (error) => {
    assert.ok(error instanceof ProblemError);
    assert.equal(error.code, "invalid_echo_text");
    assert.equal(error.status, 422);
    assert.equal(error.title, "Invalid echo text");
    assert.equal(error.detail, "'text' must not be empty.");
    return true;
  });
  await assert.rejects(client.request("fail", {}), { name: "ProblemError", code: "demo_unavailable", status: 503 });
  await assert.rejects(client.request("no-such-action", {}), { code: "unknown_websocket_action" });
});

test("a stream that fails throws its Problem", async (t) => {
  const client = new Client({ url: server.url });
  t.after(() => client.close());
  const seen = [];
  await assert.rejects(
    (async () => {
      for await (const frame of client.stream("countdown", { from: 99 })) seen.push(frame);
    })(),
    { code: "invalid_countdown", status: 422 },
  );
  assert.deepEqual(seen, []);
});

test("a request without a completion in time is rejected", async (t) => {
  const client = new Client({ url: server.url, requestTimeoutMs: 150 });
  t.after(() => client.close());
  await client.connected();
  await assert.rejects(client.request("countdown", { from: 5 }), (error) => {
    assert.ok(error instanceof RequestError);
    assert.match(error.message, /no completion within 150 ms/);
    return true;
  });
});

test("the token function is called before every connect, and refusal rejects connected()", async (t) => {
  let calls = 0;
  const client = new Client({
    url: server.url,
    token: async () => {
      calls += 1;
      return "demo-token";
    },
  });
  const [whoami] = await client.request("whoami", {});
  assert.deepEqual(whoami.payload, { name: "demo" });
  assert.equal(calls, 1);
  client.close();

  const refused = new Client({ url: server.url, token: "wrong", reconnect: false });
  await assert.rejects(refused.connected(), /refused the WebSocket handshake/);
  assert.equal(refused.state, "closed");
});

test("where the WebSocket tells the HTTP response (the ws package), a refusal rejects with its Problem", async () => {
  const refused = new Client({ url: server.url, token: "wrong", reconnect: false, WebSocket: NodeWebSocket });
  const error = await refused.connected().then(
    () => assert.fail("a wrong token was admitted"),
    (error) => error,
  );
  assert.ok(error instanceof ProblemError, `expected a ProblemError, got ${error}`);
  assert.equal(error.status, 401);
  assert.equal(error.code, "unauthenticated");

  const admitted = new Client({ url: server.url, token: "demo-token", WebSocket: NodeWebSocket });
  const [whoami] = await admitted.request("whoami", {});
  assert.deepEqual(whoami.payload, { name: "demo" });
  admitted.close();
});

test("the client reconnects with backoff after the server was killed and started again", async (t) => {
  const own = await quickstart();
  const port = Number(own.address.split(":").pop());
  let tokens = 0;
  const client = new Client({
    url: own.url,
    token: () => {
      tokens += 1;
      return "demo-token";
    },
    reconnect: { minDelayMs: 20, maxDelayMs: 200 },
    requestTimeoutMs: 300,
  });
  const states = [];
  client.onState((state) => states.push(state));
  await client.request("health", {});
  await own.stop();
  await until("the client noticed", () => client.state === "reconnecting");
  await assert.rejects(client.request("health", {}), RequestError, "no server: the request fails");
  const again = await quickstart(port);
  try {
    await until("reconnected", () => client.state === "open", 10_000);
    const [frame] = await client.request("health", {});
    assert.equal(frame.seq, 1, "a new connection counts from 1 again");
    assert.ok(tokens >= 2, "a token was asked for again");
    assert.equal(states.at(-1), "open");
    assert.ok(states.includes("reconnecting"));
  } finally {
    client.close();
    await again.stop();
  }
});

test("a server that speaks only version 1 is refused with a clear error", async (t) => {
  const v1 = await versionOneServer();
  t.after(() => v1.stop());
  const client = new Client({ url: v1.url, token: "demo-token" });
  await assert.rejects(client.connected(), /speaks protocol version 1 only/);
  assert.equal(client.state, "closed");
});

test("a Problem without req_id is surfaced as an anomaly, not swallowed", async (t) => {
  const { WebSocket, sockets } = recordingWebSocket();
  const client = new Client({ url: server.url, WebSocket });
  t.after(() => client.close());
  const anomalies = [];
  client.onAnomaly((anomaly) => anomalies.push(anomaly));
  await client.connected();
  sockets.at(-1).send("not a frame");
  await until("the Problem arrived", () => anomalies.length === 1);
  assert.equal(anomalies[0].kind, "problem");
  assert.equal(anomalies[0].problem.code, "invalid_websocket_message");
  assert.equal(anomalies[0].problem.reqId, undefined);
  const [frame] = await client.request("health", {});
  assert.equal(frame.seq, 1, "a Problem takes no seq");
});

test("an event sent again (same msg_id) is delivered once; seq and stream gaps are told", async (t) => {
  const event = (seq, msg_id, recipient_id, offset) => ({
    msg_id, seq, event: "note", recipient: "group", recipient_id, offset, epoch: "e1", payload: { seq },
  });
  const server = await scriptedServer([
    event(1, "11111111-1111-4111-8111-111111111111", "a", 1),
    event(2, "22222222-2222-4222-8222-222222222222", "a", 2),
    // The same event again through another stream it was emitted to.
    event(3, "22222222-2222-4222-8222-222222222222", "b", 7),
    event(5, "33333333-3333-4333-8333-333333333333", "a", 4),
  ]);
  t.after(() => server.stop());
  const client = new Client({ url: server.url });
  t.after(() => client.close());
  const anomalies = [];
  client.onAnomaly((anomaly) => anomalies.push(anomaly));
  const notes = [];
  client.on("note", (payload) => notes.push(payload.seq));
  await client.request("anything", {});
  assert.deepEqual(notes, [1, 2, 5]);
  assert.deepEqual(anomalies, [
    { kind: "seq-gap", expected: 4, received: 5 },
    { kind: "stream-gap", stream: "group:a", expected: 3, received: 4 },
  ]);
});
