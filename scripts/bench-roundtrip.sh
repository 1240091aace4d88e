#!/usr/bin/env bash
# Round-trip and idle-memory benchmark (not part of CI). Extra arguments go to the bench,
# e.g. `bash scripts/bench-roundtrip.sh --secs 10 --runs 5`.
set -euo pipefail
cd "$(dirname "$0")/.."
# 10,000 idle connections need more than the usual 1024 open files per process.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
cargo bench -p beeflow-tests --bench roundtrip -- "$@"
