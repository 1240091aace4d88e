// Runs the package's tsc on one file, with the package's compiler settings and no tsconfig.

import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import path from "node:path";

const tsc = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../node_modules/.bin/tsc");
const OPTIONS = ["--ignoreConfig", "--noEmit", "--strict", "--skipLibCheck", "--target", "ES2022"];
OPTIONS.push("--module", "ES2022", "--moduleResolution", "bundler", "--lib", "ES2022,DOM");

/** Type-checks `file`: its exit status and what tsc printed. */
export function typeCheck(file) {
  const result = spawnSync(tsc, [...OPTIONS, file], { encoding: "utf8" });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}
