#!/usr/bin/env bash
# Runs the whole test suite. Installs what the tests need when it is missing, so it works
# on a fresh machine; safe to run again.
#
# `cargo test --workspace` alone needs nothing but Rust; it leaves out the suites that need
# other programs. This script installs those programs and runs everything, those suites
# included (the `beeflow-tests/external-tools` feature, part of `--all-features`).
set -euo pipefail
cd "$(dirname "$0")/.."

# The multi-node tests (tests/tests/redis_nodes) start their own redis-server on a free loopback
# port, and the browser test (tests/tests/browser_chat.rs) drives Debian's chromium headless.
missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
command -v chromium >/dev/null || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# The Python client test (tests/tests/python_client.rs) runs a client written with the
# `websockets` package, as clients of the Python library are; the MessagePack test
# (tests/tests/msgpack_clients.rs) decodes with the `msgpack` package.
if ! python3 -c "import websockets.sync.client" 2>/dev/null; then
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
    "websockets==15.0.1"
fi
if ! python3 -c "import msgpack" 2>/dev/null; then
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
    "msgpack==1.1.2"
fi

# The schema tests (tests/tests/schema_tools) run Node.js tools: @asyncapi/parser, Ajv,
# json-schema-to-typescript and tsc, pinned in tests/schema-tools/package-lock.json. They are
# installed when node_modules is missing or older than the lockfile; install scripts are not
# run (none of the tools needs one).
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "scripts/test.sh: the schema tests need Node.js 20 or later and npm" >&2
  exit 1
fi
schema_tools=tests/schema-tools
if [ ! -f "$schema_tools/node_modules/.package-lock.json" ] ||
  [ "$schema_tools/package-lock.json" -nt "$schema_tools/node_modules/.package-lock.json" ]; then
  npm ci --prefix "$schema_tools" --ignore-scripts --no-audit --no-fund
fi

# The browser test drives chromium with playwright-core, pinned in tests/browser/package-lock.json.
browser=tests/browser
if [ ! -f "$browser/node_modules/.package-lock.json" ] ||
  [ "$browser/package-lock.json" -nt "$browser/node_modules/.package-lock.json" ]; then
  npm ci --prefix "$browser" --ignore-scripts --no-audit --no-fund
fi

# The TypeScript client (clients/typescript): its dev tools (tsc, esbuild) pinned in its
# package-lock.json, installed like the others.
client=clients/typescript
if [ ! -f "$client/node_modules/.package-lock.json" ] ||
  [ "$client/package-lock.json" -nt "$client/node_modules/.package-lock.json" ]; then
  npm ci --prefix "$client" --ignore-scripts --no-audit --no-fund
fi

cargo test --workspace --all-features --features beeflow-tests/external-tools

# The client's node --test suites start the quickstart and chat servers from the debug build.
cargo build -p example-quickstart -p example-chat
npm test --prefix "$client"
