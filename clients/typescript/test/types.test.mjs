// The client is typed by the API it is given: tsc accepts right calls and refuses wrong
// ones (a wrong payload, an unknown action, a wrong event payload).

import { test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import path from "node:path";

import { typeCheck } from "./tsc.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const check = (file) => typeCheck(path.join(here, "types", file));

test("right calls type-check", () => {
  const { status, output } = check("right.ts");
  assert.equal(status, 0, output);
});

test("a wrong payload, an unknown action and a wrong event payload do not", () => {
  const { status, output } = check("wrong.ts");
  assert.notEqual(status, 0);
  const errors = output.split("\n").filter((line) => line.includes("error TS"));
  assert.equal(errors.length, 3, output);
  assert.match(errors[0], /wrong\.ts\(6,/, "the number given for `text`");
  assert.match(errors[1], /wrong\.ts\(8,.*"ehco"/, "the unknown action");
  assert.match(errors[2], /wrong\.ts\(10,.*'text'/, "the event payload has no `text`");
});
