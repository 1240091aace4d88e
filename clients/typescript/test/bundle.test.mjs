// The chat example serves the client as one ES module (examples/chat/src/client.js, made by
// `npm run bundle`): that copy must be what the source builds to now.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { build } from "esbuild";

const here = path.dirname(fileURLToPath(import.meta.url));

test("the chat example's copy of the bundle is up to date (else: npm run bundle)", async () => {
  const result = await build({
    entryPoints: [path.resolve(here, "../dist/index.js")],
    bundle: true,
    minify: true,
    format: "esm",
    legalComments: "none",
    write: false,
  });
  const committed = readFileSync(path.resolve(here, "../../../examples/chat/src/client.js"), "utf8");
  // Not assert.equal: a diff of two minified files says nothing.
  assert.ok(committed === result.outputFiles[0].text, "examples/chat/src/client.js is stale: run `npm run bundle`");
});
