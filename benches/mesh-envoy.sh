#!/usr/bin/env bash
# The candidate for bench-proxy.sh: `mesh envoy` as a plain HTTP/1.1 reverse proxy from
# 127.0.0.1:$LISTEN_PORT to 127.0.0.1:$UPSTREAM_PORT (one STATIC endpoint, keep-alive pool),
# logging only warnings, like the nginx and haproxy baselines it is compared with.
#   benches/bench-proxy.sh -- benches/mesh-envoy.sh
# MESH_BENCH_FILTERS picks what runs in front of the router (benches/filters.sh compares them):
#   plain      the router alone (default)
#   fault      the fault filter configured with no fault to inject ("fault off")
#   ratelimit  a local rate limit whose bucket never runs dry (every request takes a token)
#   retries    a retry policy on the route (5xx, 3 retries: the request body is buffered)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${MESH_BIN:-$here/../target/release/mesh}
: "${LISTEN_PORT:?set by bench-proxy.sh}" "${UPSTREAM_PORT:?set by bench-proxy.sh}"
filters="" route_extra=""
case ${MESH_BENCH_FILTERS:-plain} in
  plain) ;;
  fault) filters="
          - name: envoy.filters.http.fault
            typed_config: {'@type': type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault}" ;;
  ratelimit) filters="
          - name: envoy.filters.http.local_ratelimit
            typed_config:
              '@type': type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
              stat_prefix: bench
              token_bucket: {max_tokens: 1000000000, tokens_per_fill: 1000000000, fill_interval: 1s}
              filter_enabled: {default_value: {numerator: 100, denominator: HUNDRED}, runtime_key: rl_enabled}
              filter_enforced: {default_value: {numerator: 100, denominator: HUNDRED}, runtime_key: rl_enforced}" ;;
  retries) route_extra=", retry_policy: {retry_on: 5xx, num_retries: 3}" ;;
  *) echo "mesh-envoy.sh: unknown MESH_BENCH_FILTERS=${MESH_BENCH_FILTERS}" >&2; exit 2 ;;
esac
exec "$bin" envoy --log-level warning --config-yaml "
static_resources:
  listeners:
  - name: bench
    address: {socket_address: {address: 127.0.0.1, port_value: $LISTEN_PORT}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          '@type': type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: bench
          http_filters:$filters
          - name: envoy.filters.http.router
            typed_config: {'@type': type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}
          route_config:
            virtual_hosts:
            - name: all
              domains: ['*']
              routes: [{match: {prefix: /}, route: {cluster: upstream$route_extra}}]
  clusters:
  - name: upstream
    type: STATIC
    connect_timeout: 1s
    load_assignment:
      cluster_name: upstream
      endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: $UPSTREAM_PORT}}}}]}]
"
