#!/usr/bin/env bash
# (The team's benchmark harness, kept here so the repository is self-contained: see README "Benchmark".)
# bench-proxy.sh — benchmark a candidate HTTP/1.1 reverse proxy against nginx and haproxy on this box.
#
# Usage: tools/bench-proxy.sh [options] -- CMD [ARGS...]
#
#   CMD starts the candidate proxy IN THE FOREGROUND (no daemonizing). It must listen on
#   127.0.0.1:$LISTEN_PORT (18003) and forward every request to 127.0.0.1:$UPSTREAM_PORT (18000).
#   It is started with env UPSTREAM_PORT=18000 LISTEN_PORT=18003, pinned with taskset to the
#   proxy CPU, in its own session. Pass the built binary (not `cargo run`): RSS and CPU are summed
#   over the candidate's whole process tree.
#   Without `-- CMD` only the baselines (direct, nginx, haproxy) are measured.
#
# Options:
#   --duration S       seconds per measured wrk run (default 10)
#   --conns N          connections for the throughput runs (default 32; wrk -t1)
#   --repeat R         measured runs per target and per load shape; median reported (default 3)
#   --lat-conns N      connections for the added-latency runs (default 1; 0 = skip them)
#   --warmup S         unmeasured warm-up run per target before measuring (default 2; 0 = none)
#   --start-timeout S  how long to wait for the candidate to listen and answer (default 30)
#   --name NAME        label for the candidate row (default "candidate")
#   --proxy-cpu C      CPU for every proxy under test (default 0)
#   --load-cpu C       CPU for wrk and the upstream (default 1)
#   --out DIR          keep configs, logs, raw wrk output and results.tsv in DIR (default: temp, removed)
#   -h, --help
#
# Ports (fixed, loopback only): upstream 18000 (nginx `return 200`, ~200 B JSON, 1 worker),
#   nginx proxy 18001 (1 worker, keepalive upstream pool), haproxy 18002 (nbthread 1), candidate 18003.
#   The script refuses to start if any of them is already listening.
#
# Pinning (2-core box): proxies under test on --proxy-cpu; wrk (1 thread) and the upstream share
#   --load-cpu. The "direct" row is wrk -> upstream with both on the load CPU.
#
# Output: a table (proxy, rps, p50, p99, RSS MB, ratios vs nginx, proxy CPU%, -c1 latency) and, as
#   the LAST line:  candidate/nginx rps ratio: X.XX p99 ratio: Y.YY   ("n/a" when not measured).
#   rps ratio >= 1.00 and p99 ratio <= 1.00 mean "at least as good as nginx".
# Exit: 0 benchmark completed; 2 usage/environment error; 3 candidate failed to start/answer or a
#   baseline failed. Every process the script started is stopped (by pid / its own process group).
set -uo pipefail

UPSTREAM_PORT=18000 NGINX_PORT=18001 HAPROXY_PORT=18002 CAND_PORT=18003
DURATION=10 CONNS=32 REPEAT=3 LAT_CONNS=1 WARMUP=2 START_TIMEOUT=30 CAND_NAME=candidate
PROXY_CPU=0 LOAD_CPU=1 OUT="" KEEP=0
CMD=()

die() { echo "bench-proxy: $*" >&2; echo "candidate/nginx rps ratio: n/a p99 ratio: n/a"; exit 2; }
usage() { sed -n '2,/^set -uo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
  case $1 in
    --duration) DURATION=${2:?}; shift 2 ;;
    --conns) CONNS=${2:?}; shift 2 ;;
    --repeat) REPEAT=${2:?}; shift 2 ;;
    --lat-conns) LAT_CONNS=${2:?}; shift 2 ;;
    --warmup) WARMUP=${2:?}; shift 2 ;;
    --start-timeout) START_TIMEOUT=${2:?}; shift 2 ;;
    --name) CAND_NAME=${2:?}; shift 2 ;;
    --proxy-cpu) PROXY_CPU=${2:?}; shift 2 ;;
    --load-cpu) LOAD_CPU=${2:?}; shift 2 ;;
    --out) OUT=${2:?}; KEEP=1; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    --) shift; CMD=("$@"); break ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done
for v in DURATION CONNS REPEAT LAT_CONNS WARMUP START_TIMEOUT PROXY_CPU LOAD_CPU; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "--${v,,} must be a non-negative integer (got '${!v}')"
done
(( DURATION >= 1 && CONNS >= 1 && REPEAT >= 1 )) || die "duration, conns and repeat must be >= 1"
for t in nginx haproxy wrk taskset setsid timeout curl ss ps awk; do
  command -v "$t" >/dev/null || die "missing tool: $t (apt-get install nginx-light haproxy wrk curl iproute2 procps)"
done
NCPU=$(nproc)
(( PROXY_CPU < NCPU && LOAD_CPU < NCPU )) || die "cpu index out of range (nproc=$NCPU)"
[ "$PROXY_CPU" = "$LOAD_CPU" ] && echo "bench-proxy: warning: proxy and load share CPU $PROXY_CPU" >&2

for p in $UPSTREAM_PORT $NGINX_PORT $HAPROXY_PORT $CAND_PORT; do
  [ -z "$(ss -Hltn "sport = :$p" 2>/dev/null)" ] || die "port $p already has a listener; stop it first"
done

if [ -n "$OUT" ]; then mkdir -p "$OUT" || die "cannot create $OUT"; W=$(cd "$OUT" && pwd)
else W=$(mktemp -d -t bench-proxy.XXXXXX) || die "mktemp failed"; fi
mkdir -p "$W/upstream" "$W/nginx" "$W/haproxy" "$W/candidate" "$W/wrk"

# ---------------------------------------------------------------- process management (by pid)
declare -A PID_OF=()
STARTED=()
SAMPLER="" WRK=""
start() { # name cpu logfile cmd... : own session (setsid execs in place: $! is the real pid)
  local name=$1 cpu=$2 log=$3; shift 3
  setsid taskset -c "$cpu" "$@" >"$log" 2>&1 </dev/null 3>&- &
  PID_OF[$name]=$!
  STARTED+=("$!")
}
tree_pids() { # root pid and all descendants
  ps -e -o pid=,ppid= | awk -v r="$1" '
    { kids[$2] = kids[$2] " " $1; alive[$1] = 1 }
    END { if (!(r in alive)) exit; q[0] = r; n = 1
          for (i = 0; i < n; i++) { print q[i]; m = split(kids[q[i]], k, " "); for (j = 1; j <= m; j++) q[n++] = k[j] } }'
}
stop_tree() { # TERM the process group the script created (or the tree), then KILL what is left
  local root=$1 p pg left=() i
  kill -0 "$root" 2>/dev/null || return 0
  mapfile -t left < <(tree_pids "$root")
  pg=$(ps -o pgid= -p "$root" 2>/dev/null | tr -d ' ')
  if [ "$pg" = "$root" ]; then kill -TERM -- "-$root" 2>/dev/null; fi
  for p in "${left[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for ((i = 0; i < 50; i++)); do
    local any=0; for p in "${left[@]}"; do kill -0 "$p" 2>/dev/null && any=1; done
    (( any )) || break; sleep 0.1
  done
  [ "$pg" = "$root" ] && kill -KILL -- "-$root" 2>/dev/null
  for p in "${left[@]}"; do kill -KILL "$p" 2>/dev/null; done
  wait "$root" 2>/dev/null
  return 0
}
LAST_PRINTED=0
exec 3>&1
cleanup() {
  local rc=$? p
  trap - EXIT INT TERM HUP
  (( LAST_PRINTED )) || echo "candidate/nginx rps ratio: n/a p99 ratio: n/a" >&3   # fd 3 = the real stdout
  [ -n "$WRK" ] && stop_tree "$WRK"
  [ -n "$SAMPLER" ] && stop_tree "$SAMPLER"
  for ((i = ${#STARTED[@]} - 1; i >= 0; i--)); do stop_tree "${STARTED[i]}"; done
  if (( KEEP )); then echo "bench-proxy: kept $W" >&2; else rm -rf "$W"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

wait_port() { # port pid timeout_s -> 0 listening, 1 timeout, 2 process died
  local port=$1 pid=$2 t=$3 i
  for ((i = 0; i < t * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || return 2
    [ -n "$(ss -Hltn "sport = :$port" 2>/dev/null)" ] && return 0
    sleep 0.1
  done
  return 1
}
rss_kb() { # VmRSS summed over the process tree
  local p s=0 v
  for p in $(tree_pids "$1"); do
    v=$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null); s=$((s + ${v:-0}))
  done
  echo "$s"
}
cpu_ticks() { # utime+stime+cutime+cstime summed over the process tree
  local p s=0 v
  for p in $(tree_pids "$1"); do
    v=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 + $14 + $15 }' "/proc/$p/stat" 2>/dev/null); s=$((s + ${v:-0}))
  done
  echo "$s"
}
cpu_busy() { # "busy total" jiffies for one cpu from /proc/stat
  awk -v c="cpu$1" '$1 == c { t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t }' /proc/stat
}

# ---------------------------------------------------------------- configs
BODY='{"service":"upstream","status":"ok","version":"1.0.0","region":"local","items":[{"id":1,"name":"alpha"},{"id":2,"name":"beta"},{"id":3,"name":"gamma"}],"note":"static benchmark payload, about two hundred bytes"}'
KA=$(( CONNS > 64 ? CONNS : 64 ))
HMAX=$(( CONNS * 2 + 1024 ))   # haproxy needs ~2 fds per conn; stays under a 20000 fd limit for <= ~4000 conns
cat >"$W/upstream/nginx.conf" <<EOF
worker_processes 1;
daemon off;
master_process on;
pid $W/upstream/nginx.pid;
error_log $W/upstream/error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  keepalive_requests 100000000;
  keepalive_timeout 300s;
  server {
    listen 127.0.0.1:$UPSTREAM_PORT backlog=4096;
    location / { default_type application/json; return 200 '$BODY'; }
  }
}
EOF
cat >"$W/nginx/nginx.conf" <<EOF
worker_processes 1;
daemon off;
master_process on;
pid $W/nginx/nginx.pid;
error_log $W/nginx/error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  keepalive_requests 100000000;
  keepalive_timeout 300s;
  upstream backend {
    server 127.0.0.1:$UPSTREAM_PORT;
    keepalive $KA;
    keepalive_requests 100000000;
    keepalive_timeout 300s;
  }
  server {
    listen 127.0.0.1:$NGINX_PORT backlog=4096;
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
EOF
cat >"$W/haproxy/haproxy.cfg" <<EOF
global
  nbthread 1
  maxconn $HMAX
defaults
  mode http
  option http-keep-alive
  timeout connect 5s
  timeout client 300s
  timeout server 300s
  timeout http-keep-alive 300s
frontend fe
  bind 127.0.0.1:$HAPROXY_PORT
  default_backend be
backend be
  server up 127.0.0.1:$UPSTREAM_PORT maxconn $HMAX
EOF

# ---------------------------------------------------------------- start everything
FAIL=0
start upstream "$LOAD_CPU" "$W/upstream/stdout.log" nginx -e "$W/upstream/error.log" -p "$W/upstream/" -c "$W/upstream/nginx.conf"
start nginx "$PROXY_CPU" "$W/nginx/stdout.log" nginx -e "$W/nginx/error.log" -p "$W/nginx/" -c "$W/nginx/nginx.conf"
start haproxy "$PROXY_CPU" "$W/haproxy/stdout.log" haproxy -db -f "$W/haproxy/haproxy.cfg"
for n in upstream nginx haproxy; do
  case $n in upstream) port=$UPSTREAM_PORT ;; nginx) port=$NGINX_PORT ;; haproxy) port=$HAPROXY_PORT ;; esac
  wait_port "$port" "${PID_OF[$n]}" 10 || { cat "$W/$n"/*.log >&2; echo "bench-proxy: $n did not listen on $port" >&2; exit 3; }
done
TARGETS=(direct nginx haproxy)
declare -A PORT_OF=([direct]=$UPSTREAM_PORT [nginx]=$NGINX_PORT [haproxy]=$HAPROXY_PORT [candidate]=$CAND_PORT)
declare -A ROOT_OF=([direct]=${PID_OF[upstream]} [nginx]=${PID_OF[nginx]} [haproxy]=${PID_OF[haproxy]})
declare -A LABEL_OF=([direct]=direct [nginx]="nginx" [haproxy]="haproxy" [candidate]=$CAND_NAME)

if [ ${#CMD[@]} -gt 0 ]; then
  export UPSTREAM_PORT LISTEN_PORT=$CAND_PORT
  if ! command -v "${CMD[0]}" >/dev/null; then
    echo "bench-proxy: candidate command not found: ${CMD[0]}" >&2; FAIL=3
  else
    start candidate "$PROXY_CPU" "$W/candidate/output.log" "${CMD[@]}"
    wait_port "$CAND_PORT" "${PID_OF[candidate]}" "$START_TIMEOUT"; r=$?
  fi
  if (( FAIL )); then :
  elif (( r != 0 )); then
    echo "bench-proxy: candidate $( ((r == 2)) && echo 'exited before listening' || echo 'did not listen') on 127.0.0.1:$CAND_PORT (timeout ${START_TIMEOUT}s); its output:" >&2
    tail -n 30 "$W/candidate/output.log" >&2
    FAIL=3
  else
    TARGETS+=(candidate); ROOT_OF[candidate]=${PID_OF[candidate]}
  fi
fi

# sanity: every target answers 200 with the upstream body
for t in "${TARGETS[@]}"; do
  ok=0
  for ((i = 0; i < 50; i++)); do
    code=$(curl -s -o "$W/$t.body" -w '%{http_code}' --max-time 2 "http://127.0.0.1:${PORT_OF[$t]}/bench" 2>/dev/null)
    [ "$code" = 200 ] && { ok=1; break; }
    sleep 0.2
  done
  if (( ! ok )); then
    echo "bench-proxy: $t on port ${PORT_OF[$t]} did not answer 200 (last code: ${code:-none})" >&2
    [ "$t" = candidate ] && { FAIL=3; unset 'TARGETS[-1]'; continue; }
    exit 3
  fi
  [ "$(cat "$W/$t.body")" = "$BODY" ] || echo "bench-proxy: warning: $t returned a body different from the upstream's" >&2
done

# ---------------------------------------------------------------- load runs
# one wrk run: target conns duration tag -> prints "rps p50_ms p99_ms errors rss_kb cpu_pct cpuP cpuL"
run_one() {
  local t=$1 c=$2 d=$3 tag=$4 f="$W/wrk/$1.c$2.$4.txt" root=${ROOT_OF[$1]} t0 t1 b0 b1 l0 l1 rssf="$W/wrk/rss.$$"
  echo 0 >"$rssf"
  t0=$(cpu_ticks "$root"); b0=$(cpu_busy "$PROXY_CPU"); l0=$(cpu_busy "$LOAD_CPU")
  ( sleep 1; m=0; for ((k = 0; k < (d - 1) * 2; k++)); do v=$(rss_kb "$root"); ((v > m)) && m=$v; echo "$m" >"$rssf"; sleep 0.5; done ) &
  SAMPLER=$!
  timeout -k 5 $((d + 30)) taskset -c "$LOAD_CPU" wrk -t1 -c"$c" -d"${d}s" --timeout 5s --latency \
    "http://127.0.0.1:${PORT_OF[$t]}/bench" >"$f" 2>&1 &
  WRK=$!
  wait "$WRK"; local wrc=$?; WRK=""          # background + wait: a signal interrupts at once
  wait "$SAMPLER" 2>/dev/null; SAMPLER=""   # the sampler ends by itself (~d s); no orphaned sleeps
  t1=$(cpu_ticks "$root"); b1=$(cpu_busy "$PROXY_CPU"); l1=$(cpu_busy "$LOAD_CPU")
  (( wrc == 0 )) || echo "bench-proxy: warning: wrk exited $wrc for $t (-c$c)" >&2
  awk -v rss="$(cat "$rssf")" -v ct=$((t1 - t0)) -v d="$d" -v b0="$b0" -v b1="$b1" -v l0="$l0" -v l1="$l1" '
    function ms(x) { if (x ~ /us$/) return x / 1000; if (x ~ /ms$/) return x + 0; if (x ~ /m$/) return x * 60000; if (x ~ /s$/) return x * 1000; return x }
    /Requests\/sec:/ { rps = $2 }
    $1 == "50%" { p50 = ms($2) }
    $1 == "99%" { p99 = ms($2) }
    /Non-2xx or 3xx responses:/ { err += $NF }
    /Socket errors:/ { for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) err += $i + 0 }
    END {
      split(b0, B0, " "); split(b1, B1, " "); split(l0, L0, " "); split(l1, L1, " ")
      pb = (B1[2] - B0[2]) ? 100 * (B1[1] - B0[1]) / (B1[2] - B0[2]) : 0
      lb = (L1[2] - L0[2]) ? 100 * (L1[1] - L0[1]) / (L1[2] - L0[2]) : 0
      printf "%s %s %s %d %d %.0f %.0f %.0f\n", (rps == "" ? "nan" : rps), (p50 == "" ? "nan" : p50), (p99 == "" ? "nan" : p99), err + 0, rss, ct / d, pb, lb }' "$f"
  rm -f "$rssf"
}
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) { print "nan"; exit } print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

RES="$W/results.tsv"
printf 'target\tshape\trep\trps\tp50_ms\tp99_ms\terrors\trss_kb\tproxy_cpu_pct\tcpu%s_busy\tcpu%s_busy\n' "$PROXY_CPU" "$LOAD_CPU" >"$RES"
shapes=("$CONNS"); (( LAT_CONNS > 0 )) && shapes+=("$LAT_CONNS")
runs=$(( ${#TARGETS[@]} * (${#shapes[@]} * REPEAT + (WARMUP > 0)) ))
echo "bench-proxy: targets: ${TARGETS[*]}; wrk -t1 -c$CONNS$( ((LAT_CONNS > 0)) && echo " and -c$LAT_CONNS") x$REPEAT x ${DURATION}s; proxies on CPU $PROXY_CPU, wrk+upstream on CPU $LOAD_CPU; ~$(( runs * (DURATION + 1) ))s" >&2
if (( WARMUP > 0 )); then for t in "${TARGETS[@]}"; do run_one "$t" "$CONNS" "$WARMUP" warmup >/dev/null; done; fi
# (run_one is called in this shell, not in $(...), so TERM/INT interrupt its `wait` and trigger cleanup at once)
for ((r = 1; r <= REPEAT; r++)); do
  for c in "${shapes[@]}"; do
    for t in "${TARGETS[@]}"; do   # round-robin so drift hits every target alike
      run_one "$t" "$c" "$DURATION" "r$r" >"$W/line"; line=$(<"$W/line")
      printf '%s\tc%s\t%s\t%s\n' "$t" "$c" "$r" "$(tr ' ' '\t' <<<"$line")" >>"$RES"
      echo "  $t -c$c run $r: $line" >&2
    done
  done
done

# ---------------------------------------------------------------- report
col() { # target shape column-number -> median
  median $(awk -F'\t' -v t="$1" -v s="c$2" -v k="$3" '$1 == t && $2 == s { print $k }' "$RES"); }
declare -A RPS P50 P99 RSS CPU ERR L50 L99 LOAD
for t in "${TARGETS[@]}"; do
  RPS[$t]=$(col "$t" "$CONNS" 4); P50[$t]=$(col "$t" "$CONNS" 5); P99[$t]=$(col "$t" "$CONNS" 6)
  ERR[$t]=$(awk -F'\t' -v t="$t" '$1 == t { s += $7 } END { print s + 0 }' "$RES")
  RSS[$t]=$(col "$t" "$CONNS" 8); CPU[$t]=$(col "$t" "$CONNS" 9); LOAD[$t]=$(col "$t" "$CONNS" 11)
  if (( LAT_CONNS > 0 )); then L50[$t]=$(col "$t" "$LAT_CONNS" 5); L99[$t]=$(col "$t" "$LAT_CONNS" 6); else L50[$t]=nan; L99[$t]=nan; fi
done
echo
printf '%-12s %9s %7s %7s %6s %7s %7s %5s %8s %6s %8s %8s %8s %6s\n' proxy rps p50_ms p99_ms rss_MB rps/ngx p99/ngx cpu% krps/cpu load% "c${LAT_CONNS}_p50" "c${LAT_CONNS}_p99" "+p50_ms" errors
for t in "${TARGETS[@]}"; do
  awk -v n="${LABEL_OF[$t]}" -v rps="${RPS[$t]}" -v p50="${P50[$t]}" -v p99="${P99[$t]}" -v rss="${RSS[$t]}" \
      -v nr="${RPS[nginx]}" -v n99="${P99[nginx]}" -v cpu="${CPU[$t]}" -v l50="${L50[$t]}" -v l99="${L99[$t]}" \
      -v d50="${L50[direct]}" -v err="${ERR[$t]}" -v load="${LOAD[$t]}" -v direct="$([ "$t" = direct ] && echo 1 || echo 0)" 'BEGIN {
    add = (l50 == "nan" || d50 == "nan") ? "-" : sprintf("%.3f", l50 - d50)
    eff = (direct || cpu <= 0) ? "-" : sprintf("%.1f", rps / (cpu / 100) / 1000)
    printf "%-12s %9.0f %7.3f %7.3f %6.1f %7.2f %7.2f %5s %8s %6.0f %8s %8s %8s %6d\n", n, rps, p50, p99, rss / 1024,
      rps / nr, p99 / n99, direct ? "-" : cpu, eff, load, (l50 == "nan" ? "-" : sprintf("%.3f", l50)),
      (l99 == "nan" ? "-" : sprintf("%.3f", l99)), (direct ? "-" : add), err }'
done
echo "(medians of $REPEAT x ${DURATION}s wrk -t1 -c$CONNS runs; rss = peak VmRSS of the process tree under load; cpu% = proxy"
echo " tree CPU during the run (100 = one core); krps/cpu = rps per proxy core; load% = busy% of CPU $LOAD_CPU (wrk+upstream);"
echo " $( ((LAT_CONNS > 0)) && echo "c${LAT_CONNS}_* and +p50_ms (added p50 vs direct) from -c$LAT_CONNS runs; ")results: $RES$( ((KEEP)) || echo ' (removed)'))"
for t in "${TARGETS[@]}"; do
  [ "$t" = direct ] && continue
  awk -v l="${LOAD[$t]}" -v c="${CPU[$t]}" 'BEGIN { exit !(l >= 95 && c < 95) }' &&
    echo "NOTE: $t: load CPU saturated (${LOAD[$t]}%) while the proxy used ${CPU[$t]}% — rps is capped by the load side; compare krps/cpu"
done
for t in "${TARGETS[@]}"; do (( ${ERR[$t]} > 0 )) && echo "WARNING: $t had ${ERR[$t]} errors/non-2xx responses"; done
# noise gauge: the direct (no proxy) runs should be flat; a wide spread means the box was noisy — rerun / --repeat 5
awk -F'\t' -v s="c$CONNS" '$1 == "direct" && $2 == s { v = $4 + 0; if (mn == "" || v < mn) mn = v; if (v > mx) mx = v }
  END { if (mn > 0) { sp = 100 * (mx - mn) / mn
        printf "noise: direct rps across rounds %.0f..%.0f (spread %.0f%%)%s\n", mn, mx, sp, (sp > 10 ? " — NOISY box, treat ratios with care; rerun or use --repeat 5" : "") } }' "$RES"
if [[ " ${TARGETS[*]} " == *" candidate "* ]]; then
  # paired view: candidate vs the nginx run right before it in the same round (shares the box's noise state)
  awk -F'\t' -v s="c$CONNS" '$2 == s && ($1 == "nginx" || $1 == "candidate") { v[$1, $3, "r"] = $4; v[$1, $3, "p"] = $6; n = ($3 > n) ? $3 : n }
    END { printf "per-round candidate/nginx (c%s):", substr(s, 2)
          for (r = 1; r <= n; r++) printf " rps %.2f p99 %.2f;", v["candidate", r, "r"] / v["nginx", r, "r"], v["candidate", r, "p"] / v["nginx", r, "p"]
          printf "\n" }' "$RES"
  awk -v cr="${RPS[candidate]}" -v nr="${RPS[nginx]}" -v c99="${P99[candidate]}" -v n99="${P99[nginx]}" \
    'BEGIN { printf "candidate/nginx rps ratio: %.2f p99 ratio: %.2f\n", cr / nr, c99 / n99 }'
  LAST_PRINTED=1
fi
exit "$FAIL"
