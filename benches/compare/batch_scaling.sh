#!/usr/bin/env bash
# Batch conversion into a Parquet dataset with 1 and 2 worker threads (`convert -j N`): wall
# time, CPU time (user + system) and peak RSS of the whole process (GNU time -v), each best of
# REPEATS runs into a fresh dataset folder. With `taskset` on PATH, `-j 1` runs pinned to CPU 0
# and `-j 2` to CPUs 0 and 1, so the two runs get one and two cores whatever else the machine
# has (other jobs still share those cores: the load average is printed before each setting).
#
# Usage: bash benches/compare/batch_scaling.sh [INPUT_DIR] [REPEATS] [BINARY]
#   INPUT_DIR  a folder of captures (default: target/compare-inputs, made by
#              `python3 benches/compare/compare.py --whole-only`: eight ~30 MB captures of six
#              formats)
#   BINARY     default target/release/wifi-sensing
set -euo pipefail
cd "$(dirname "$0")/../.."
dir="${1:-target/compare-inputs}"
repeats="${2:-3}"
bin="${3:-target/release/wifi-sensing}"
[ -x /usr/bin/time ] || { echo "needs GNU time (/usr/bin/time)" >&2; exit 1; }
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
# warm the page cache
cat "$dir"/* >/dev/null
echo "input: $dir ($(find "$dir" -type f | wc -l) files, $(du -sh "$dir" | cut -f1)); load average $(cut -d' ' -f1 /proc/loadavg)"
for jobs in 1 2; do
  best_wall=""; best_cpu=""; best_rss=""
  echo "-j $jobs: load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
  for _ in $(seq "$repeats"); do
    rm -rf "$out/ds"
    pin=()
    if command -v taskset >/dev/null; then pin=(taskset -c "$(seq -s, 0 $((jobs - 1)))"); fi
    "${pin[@]}" /usr/bin/time -v -o "$out/time.txt" "$bin" -q convert "$dir" -o "$out/ds/" -j "$jobs" >/dev/null 2>"$out/err.txt" \
      || { cat "$out/err.txt" >&2; exit 1; }
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$out/time.txt")
    cpu=$(awk -F': ' '/User time/ {u=$2} /System time/ {s=$2} END {print u+s}' "$out/time.txt")
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$out/time.txt")
    if [ -z "$best_wall" ] || awk "BEGIN{exit !($wall < $best_wall)}"; then best_wall=$wall; fi
    if [ -z "$best_cpu" ] || awk "BEGIN{exit !($cpu < $best_cpu)}"; then best_cpu=$cpu; fi
    if [ -z "$best_rss" ] || [ "$rss" -gt "$best_rss" ]; then best_rss=$rss; fi
  done
  echo "-j $jobs: wall ${best_wall} s, CPU ${best_cpu} s, peak RSS $(( best_rss / 1024 )) MB (largest of $repeats runs)"
  eval "wall_$jobs=$best_wall"
  eval "cpu_$jobs=$best_cpu"
done
echo "speed-up -j 2 over -j 1 (wall): $(awk "BEGIN{printf \"%.2f\", $wall_1 / $wall_2}")x; CPU time -j 2 / -j 1: $(awk "BEGIN{printf \"%.2f\", $cpu_2 / $cpu_1}"); load average $(cut -d' ' -f1 /proc/loadavg)"
