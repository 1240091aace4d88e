// beeflow-codegen: types generated from the real quickstart's schema URL type the client, so
// a wrong call is a compile error; bad input is a clear error.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import path from "node:path";

import { quickstart } from "./servers.mjs";
import { typeCheck } from "./tsc.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const codegen = path.resolve(here, "../bin/codegen.mjs");
const client = path.resolve(here, "../src/index.js");

let server;
let dir;
before(async () => {
  server = await quickstart();
  dir = mkdtempSync(path.join(tmpdir(), "beeflow-codegen-"));
});
after(async () => {
  rmSync(dir, { recursive: true, force: true });
  await server.stop();
});

function run(...args) {
  return spawnSync(process.execPath, [codegen, ...args], { encoding: "utf8" });
}

test("types from the server's schema URL make a wrong call a compile error", () => {
  const api = path.join(dir, "api.ts");
  const generated = run(`http://${server.address}/schema/schema.json`, "--out", api);
  assert.equal(generated.status, 0, generated.stderr);
  const use = (body) => `import { Client } from ${JSON.stringify(client)};
import type { Api } from "./api.js";
export async function use(client: Client<Api>) {
${body}
}
`;
  writeFileSync(path.join(dir, "right.ts"), use(`  await client.request("echo", { text: "hi" });
  await client.request("countdown", { from: 3 });
  client.on("countdown", (payload) => payload.remaining);`));
  writeFileSync(path.join(dir, "wrong.ts"), use(`  await client.request("echo", { text: 1 });`));
  const right = typeCheck(path.join(dir, "right.ts"));
  assert.equal(right.status, 0, right.output);
  const wrong = typeCheck(path.join(dir, "wrong.ts"));
  assert.notEqual(wrong.status, 0);
  assert.match(wrong.output, /wrong\.ts\(4,.*error TS2322: Type 'number' is not assignable to type 'string'/, wrong.output);
});

test("bad input is a clear error", () => {
  const missing = run(path.join(dir, "missing.json"));
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /could not read .*missing\.json/);
  writeFileSync(path.join(dir, "other.json"), "{}");
  const other = run(path.join(dir, "other.json"));
  assert.equal(other.status, 2);
  assert.match(other.stderr, /is not a beeflow JSON Schema bundle/);
  const usage = run();
  assert.equal(usage.status, 2);
  assert.match(usage.stderr, /usage: beeflow-codegen/);
  const notFound = run(`http://${server.address}/schema/nothing.json`);
  assert.equal(notFound.status, 2);
  assert.match(notFound.stderr, /answered 404/);
});
