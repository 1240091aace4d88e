// The client stays small: at most 6 KB minified and gzipped, as a browser downloads it.

import { test } from "node:test";
import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { build } from "esbuild";

const BUDGET = 6 * 1024;

test("the bundle is at most 6 KB minified and gzipped", async () => {
  const entry = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../dist/index.js");
  const result = await build({ entryPoints: [entry], bundle: true, minify: true, format: "esm", write: false });
  const minified = result.outputFiles[0].contents;
  const gzipped = gzipSync(minified, { level: 9 }).length;
  console.log(`@beeflow/client: ${minified.length} bytes minified, ${gzipped} gzipped`);
  assert.ok(gzipped <= BUDGET, `${gzipped} bytes gzipped, over the ${BUDGET} budget`);
});
