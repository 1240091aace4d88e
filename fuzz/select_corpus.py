#!/usr/bin/env python3
"""Cuts a fuzz target's corpus down to a size worth committing.

    python3 select_corpus.py <target> [--files 300] [--bytes 1000000]

Run it from fuzz/ after `cargo +nightly fuzz cmin <target>`; it uses the binary that
cmin built (target/<triple>/release/<target>). `cargo fuzz cmin` keeps every input that
adds a libFuzzer feature, hit-count buckets included, which for `envelope` still leaves
thousands of files. This keeps at most --files inputs and --bytes bytes:

1. every hand-written seed (files named seed_*), whatever they cover;
2. then, greedily, the input that covers the most edges not yet covered (ties: the
   smaller one), until every edge the corpus reaches is covered;
3. then, the same way, the inputs adding the most features not yet covered (edges with
   hit counts), until none adds any or the budget is spent.

Per-input coverage comes from two libFuzzer set-cover merges run with
-merge_control_file: one with -use_counters=0 (features are then plain edges) and one
with -use_counters=1. The corpus directory is replaced by the selection; the inputs that
were dropped are moved to corpus-dropped/<target>/ (ignored by git) in case they are
wanted back.
"""

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def coverage(binary, corpus, use_counters, scratch):
    """Runs a set-cover merge and returns {input path: set of features}."""
    control = os.path.join(scratch, f"control-{use_counters}")
    out = os.path.join(scratch, f"out-{use_counters}")
    os.mkdir(out)
    subprocess.run(
        [binary, "-set_cover_merge=1", f"-use_counters={use_counters}",
         f"-merge_control_file={control}", out, corpus],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    with open(control) as f:
        lines = f.read().split("\n")
    count = int(lines[0])
    files = lines[2:2 + count]
    features = {path: set() for path in files}
    for line in lines[2 + count:]:
        parts = line.split()
        if parts and parts[0] == "FT":
            features[files[int(parts[1])]] = set(map(int, parts[2:]))
    return features


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("target")
    parser.add_argument("--files", type=int, default=300)
    parser.add_argument("--bytes", type=int, default=1_000_000)
    args = parser.parse_args()

    triple = f"{platform.machine()}-unknown-linux-gnu"
    binary = os.path.join(HERE, "target", triple, "release", args.target)
    corpus = os.path.join(HERE, "corpus", args.target)
    if not os.access(binary, os.X_OK):
        sys.exit(f"{binary} is missing: run `cargo +nightly fuzz build {args.target}` first")

    with tempfile.TemporaryDirectory() as scratch:
        edges = coverage(binary, corpus, 0, scratch)
        features = coverage(binary, corpus, 1, scratch)

    paths = sorted(os.path.join(corpus, name) for name in os.listdir(corpus))
    size = {path: os.path.getsize(path) for path in paths}
    chosen = [path for path in paths if os.path.basename(path).startswith("seed_")]
    got_edges = set().union(*(edges.get(p, set()) for p in chosen))
    got_features = set().union(*(features.get(p, set()) for p in chosen))
    total = sum(size[p] for p in chosen)
    for table, got in ((edges, got_edges), (features, got_features)):
        while len(chosen) < args.files:
            fits = [p for p in table if p not in chosen and total + size[p] <= args.bytes]
            best = max(fits, key=lambda p: (len(table[p] - got), -size[p]), default=None)
            if best is None or not table[best] - got:
                break
            chosen.append(best)
            total += size[best]
            got_edges |= edges.get(best, set())
            got_features |= features.get(best, set())

    all_edges = set().union(*edges.values())
    all_features = set().union(*features.values())
    dropped = os.path.join(HERE, "corpus-dropped", args.target)
    os.makedirs(dropped, exist_ok=True)
    for path in paths:
        if path not in chosen:
            shutil.move(path, os.path.join(dropped, os.path.basename(path)))
    print(
        f"{args.target}: kept {len(chosen)} of {len(paths)} inputs, {total} bytes; "
        f"edges {len(got_edges)}/{len(all_edges)}, "
        f"features {len(got_features)}/{len(all_features)}"
    )


if __name__ == "__main__":
    main()
