#!/usr/bin/env bash
# filters.sh — the latency each HTTP filter adds to `mesh envoy`, measured with bench-proxy.sh.
#
# Usage: benches/filters.sh [bench-proxy options, e.g. --duration 5 --repeat 3]
#
# Runs bench-proxy.sh once per variant of benches/mesh-envoy.sh (plain, fault off, local rate
# limit on, retries on), each run with its own nginx baseline, and prints per variant: rps and
# p99 at 32 connections, p50/p99 at 1 connection, and what the variant adds over `plain` (p99
# deltas; nginx's p99 in the same run shows how much the box drifted between runs).
# Needs nginx, haproxy and wrk (see bench-proxy.sh) and a release build (cargo build --release).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp -d); trap 'rm -rf "$out"' EXIT
variants=(plain fault ratelimit retries)
for v in "${variants[@]}"; do
  echo "filters.sh: $v" >&2
  MESH_BENCH_FILTERS=$v "$here/bench-proxy.sh" --name "$v" --out "$out/$v" "$@" -- "$here/mesh-envoy.sh" >"$out/$v.txt" 2>"$out/$v.err" \
    || { echo "filters.sh: $v failed:"; tail -5 "$out/$v.err"; exit 3; }
done
med() { sort -g | awk '{ a[NR] = $1 } END { print (NR == 0) ? "nan" : (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
stat() { awk -F'\t' -v t="$2" -v s="$3" -v k="$4" '$1 == t && $2 == s { print $k }' "$out/$1/results.tsv" | med; }
printf '%-10s %9s %8s %8s %8s %9s %9s %10s\n' filter rps p99_ms c1_p50 c1_p99 +p99_ms +c1_p99 nginx_p99
base99=$(stat plain candidate c32 6); base1=$(stat plain candidate c1 6)
for v in "${variants[@]}"; do
  rps=$(stat "$v" candidate c32 4); p99=$(stat "$v" candidate c32 6); l50=$(stat "$v" candidate c1 5); l99=$(stat "$v" candidate c1 6)
  n99=$(stat "$v" nginx c32 6)
  awk -v v="$v" -v rps="$rps" -v p99="$p99" -v l50="$l50" -v l99="$l99" -v b99="$base99" -v b1="$base1" -v n99="$n99" \
    'BEGIN { printf "%-10s %9.0f %8.3f %8.3f %8.3f %+9.3f %+9.3f %10.3f\n", v, rps, p99, l50, l99, p99 - b99, l99 - b1, n99 }'
done
