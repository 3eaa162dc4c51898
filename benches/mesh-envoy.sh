#!/usr/bin/env bash
# The candidate for bench-proxy.sh: `mesh envoy` as a plain HTTP/1.1 reverse proxy from
# 127.0.0.1:$LISTEN_PORT to 127.0.0.1:$UPSTREAM_PORT (one STATIC endpoint, keep-alive pool),
# logging only warnings, like the nginx and haproxy baselines it is compared with.
#   benches/bench-proxy.sh -- benches/mesh-envoy.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${MESH_BIN:-$here/../target/release/mesh}
: "${LISTEN_PORT:?set by bench-proxy.sh}" "${UPSTREAM_PORT:?set by bench-proxy.sh}"
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
          http_filters:
          - name: envoy.filters.http.router
            typed_config: {'@type': type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}
          route_config:
            virtual_hosts:
            - name: all
              domains: ['*']
              routes: [{match: {prefix: /}, route: {cluster: upstream}}]
  clusters:
  - name: upstream
    type: STATIC
    connect_timeout: 1s
    load_assignment:
      cluster_name: upstream
      endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: $UPSTREAM_PORT}}}}]}]
"
