#!/usr/bin/env bash
# Regenerates the expected outputs from a real kubectl talking to fake_apiserver.py:
# for each line `NAME WORLD ARGS...` of cases.txt, runs `kubectl ARGS` against WORLD.json
# and writes NAME.out (stdout) and, if kubectl wrote any, NAME.err (stderr).
# Needs python3 and kubectl (1.32). Run from anywhere.
set -euo pipefail
dir=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$tmp"' EXIT
port=18080
declare -A started
while read -r name world args; do
  [[ -z "$name" || "$name" == \#* ]] && continue
  if [[ -z "${started[$world]:-}" ]]; then
    port=$((port + 1))
    python3 "$dir/fake_apiserver.py" "$dir/$world.json" "$port" &
    started[$world]=$port
    cat >"$tmp/$world.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters: [{name: fake, cluster: {server: "http://127.0.0.1:$port"}}]
contexts: [{name: fake, context: {cluster: fake, user: fake, namespace: default}}]
current-context: fake
users: [{name: fake, user: {}}]
EOF
    sleep 1
  fi
  # shellcheck disable=SC2086
  kubectl --kubeconfig "$tmp/$world.kubeconfig" --cache-dir "$tmp/cache-$world" $args \
    >"$dir/$name.out" 2>"$tmp/err" || true
  if [[ -s "$tmp/err" ]]; then cp "$tmp/err" "$dir/$name.err"; else rm -f "$dir/$name.err"; fi
done <"$dir/cases.txt"
