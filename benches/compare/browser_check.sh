#!/usr/bin/env bash
# The dashboard of `wifi-sensing serve` in a real browser (headless Chromium from Debian).
#
# Starts `serve --events --vitals --introspect` on a simulated recording, opens the page in
# headless Chromium, lets it receive the stream and checks in the rendered DOM that the waterfall
# drew frames (some of them received live), that events, vital-sign rates and introspection regimes from the stream are shown
# (not the placeholders), then saves a screenshot (target/browser-check/dashboard.png; copy it to
# docs/img/dashboard.png to update the README's). Run from anywhere; needs the Debian registry
# the first time (installs chromium-headless-shell when neither it nor chromium is on PATH: as
# root with apt-get, or with `sudo -n`).
#
# usage: benches/compare/browser_check.sh        (WIFI_SENSING_BIN=path to use a built binary)
set -euo pipefail
cd "$(dirname "$0")/../.."
out=target/browser-check
mkdir -p "$out"

chrome=$(command -v chromium-headless-shell || command -v chromium || true)
if [ -z "$chrome" ]; then
  if [ "$(id -u)" = 0 ]; then apt=(apt-get); elif sudo -n true 2>/dev/null; then apt=(sudo -n apt-get);
  else echo "browser_check: no chromium, and no root or sudo to install it" >&2; exit 1; fi
  "${apt[@]}" update -qq
  DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y -qq --no-install-recommends chromium-headless-shell
  chrome=$(command -v chromium-headless-shell)
fi

bin=${WIFI_SENSING_BIN:-}
if [ -z "$bin" ]; then
  cargo build -q -p wifi-sensing-cli
  bin=target/debug/wifi-sensing
fi

# a breathing person: presence events, then breathing rates from about 20 s in
"$bin" -q simulate --scenario breathe --duration 70s --seed 22 -o "$out/breathe.csirec"
# the pose panel: the repository's toy test model (linear, untrained: its skeleton shows that the
# panel draws model output, not where anyone is), its manifest pointed at ESP32 frames
cp fixtures/models/linear_keypoints.onnx "$out/toy_pose.onnx"
sed 's/"device": "simulator"/"device": "esp32"/; s/"subcarrier_indices": null/"subcarrier_indices": [1, 2, 3, 4, 5, 6, 7, 8]/' \
  fixtures/models/linear_keypoints.json > "$out/toy_pose.json"

pid=
cleanup() { if [ -n "$pid" ]; then kill -INT "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi; }
trap cleanup EXIT

# The recording is replayed at capture pace (--realtime), as a live feed; the page is opened once
# the first vital-sign rates are out (about 20 s in), so every panel has real values, and it
# keeps receiving frames over its WebSocket while it is open.
serve() {
  "$bin" serve "$out/breathe.csirec" --listen 127.0.0.1:0 --realtime --events --vitals \
    --introspect fixtures/signatures --introspect-every 25 --pose "$out/toy_pose.onnx" 2> "$out/serve.log" &
  pid=$!
  for _ in $(seq 100); do
    addr=$(sed -n 's/^wifi-sensing: serving on http:\/\///p' "$out/serve.log")
    [ -n "$addr" ] && break
    sleep 0.1
  done
  if [ -z "$addr" ]; then echo "browser_check: serve did not start" >&2; cat "$out/serve.log" >&2; exit 1; fi
  for _ in $(seq 150); do
    if python3 -c 'import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' \
        "http://$addr/api/v1/latest" 2>/dev/null | grep "\"rate_per_min\":[0-9]" > /dev/null; then return 0; fi
    sleep 1
  done
  echo "browser_check: no vital-sign rate after 150 s" >&2; exit 1
}

chrome_args=(--no-sandbox --disable-gpu --hide-scrollbars --window-size=1400,1000 --virtual-time-budget=5000)

serve
"$chrome" "${chrome_args[@]}" --dump-dom "http://$addr/" > "$out/dom.html" 2> "$out/chrome.log"
"$chrome" "${chrome_args[@]}" --screenshot="$out/dashboard.png" "http://$addr/" 2>> "$out/chrome.log"
cleanup; pid=

fail=0
check() { # name, grep -E pattern, minimum count
  local n; n=$( (grep -oE "$2" "$out/dom.html" || true) | wc -l)
  if [ "$n" -ge "$3" ]; then echo "ok   $1 ($n)"; else echo "FAIL $1 ($n < $3)"; fail=1; fi
}
frames=$( (grep -oE 'data-frames="[0-9]+"' "$out/dom.html" || true) | grep -oE '[0-9]+' | sort -n | tail -1)
live=$( (grep -oE 'data-live-frames="[0-9]+"' "$out/dom.html" || true) | grep -oE '[0-9]+' | sort -n | tail -1)
if [ "${frames:-0}" -ge 240 ]; then echo "ok   waterfall drew $frames frames"; else echo "FAIL waterfall drew ${frames:-0} frames"; fail=1; fi
if [ "${live:-0}" -ge 1 ]; then echo "ok   $live of them arrived live over the WebSocket"; else echo "FAIL no frame arrived over the WebSocket"; fail=1; fi
check "rate from frame_summary" 'rate <b>[0-9]+\.[0-9] Hz' 1
check "events listed" '<li class="event( grey)?">[0-9.]+ s +(node [0-9]+|fused) +(presence_started|presence_ended|motion_started|motion_settled)' 1
check "presence/motion state" '<td class="(yes|no)">(present|absent|moving|still)</td>' 1
check "vital-sign rates" '<td class="vital">[0-9]+\.[0-9] /min, confidence [0-9.]+' 1
check "introspection regime" 'regime <b>(unknown|idle|periodic|transient|chaotic)</b>' 1
check "signature bars" 'class="bar( below)?"' 3
check "pose from the model" '[0-9]+ keypoints, confidence [0-9.]+, model test-linear-keypoints, no heading \(faces nowhere\)' 1
check "stream connected" '<span id="conn" class="pill on">live</span>' 1

if [ -s "$out/dashboard.png" ]; then echo "ok   screenshot $out/dashboard.png"; else echo "FAIL no screenshot"; fail=1; fi
exit $fail
