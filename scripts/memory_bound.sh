#!/usr/bin/env bash
# Peak memory (max RSS) of `gradscope train` at 10,000 and 1,000,000
# steps, recorded into a store and with --no-record, and the ratio: the
# in-memory record is bounded (docs/RELIABILITY.md, "Bounded memory").
# Usage: scripts/memory_bound.sh [path to gradscope]   (needs GNU time)
set -euo pipefail
bin=${1:-target/release/gradscope}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
peak() { # steps, extra flags...
    local steps=$1; shift
    /usr/bin/time -f %M "$bin" --db "$dir/runs-$steps.db" train --data xor --depth 1 \
        --width 8 --batch 8 --steps "$steps" --quiet "$@" 2>&1 >/dev/null | tail -1
}
for mode in recorded --no-record; do
    flags=(); [ "$mode" = --no-record ] && flags=(--no-record)
    short=$(peak 10000 "${flags[@]}")
    long=$(peak 1000000 "${flags[@]}")
    awk -v m="$mode" -v s="$short" -v l="$long" 'BEGIN {
        printf "%-12s 10,000 steps: %6.1f MB   1,000,000 steps: %6.1f MB   ratio %.3f\n",
            m, s / 1024, l / 1024, l / s }'
done
