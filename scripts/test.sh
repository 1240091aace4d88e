#!/usr/bin/env bash
# Runs the whole test suite. Installs what the tests need when it is missing, so it works
# on a fresh machine; safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

# Nothing outside cargo is needed yet; system packages (redis-server, chromium, ...) get
# installed here, idempotently, when tests start to need them.

cargo test --workspace --all-features
