#!/usr/bin/env bash
# Soak test of `wifi-sensing serve` (not run in CI: 30 minutes).
#
# 8 simulated ESP32 nodes at 100 Hz into udp:// on loopback, 20 WebSocket clients, events and
# vital signs on, for SECONDS (default 1800). Prints the server's RSS every minute, then the
# totals: datagrams sent, frames decoded, per-node sequence drops, client drops, latency
# percentiles and the final RSS. Pass: RSS after warm-up flat (growth under 1 MB between the
# 5-minute sample and the end), no loss in the counters.
#
# usage: benches/compare/serve_soak.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release -q -p wifi-sensing-cli --bin wifi-sensing --example serve_load
target/release/examples/serve_load --bin target/release/wifi-sensing --nodes 8 --rate 100 \
  --clients 20 --seconds "${1:-1800}" --rss-every 60 -- --events --vitals
