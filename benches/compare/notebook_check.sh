#!/usr/bin/env bash
# Runs every code cell of the example notebooks (examples/notebooks/*.ipynb) with evcxr_repl, the
# REPL of the evcxr Jupyter kernel, and fails if a cell errors (a compile error, a `?` error or a
# panic) or if fewer cells ran than the notebook has.
#
# evcxr_repl is installed by this script with `cargo install --locked` into target/evcxr (kept,
# so only the first run pays for it), and the crates a notebook's `:dep` compiles are kept in
# target/evcxr/work (EVCXR_TMPDIR) between runs. Cells run at evcxr's --opt 1 (its default, 2,
# takes longer to compile the dependencies). Usage: bash benches/compare/notebook_check.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$PWD"

evcxr_version="0.22.0"
bin="$root/target/evcxr/bin/evcxr_repl"
if ! "$bin" --version 2>/dev/null | grep -qF "$evcxr_version"; then
  start=$(date +%s)
  cargo install --quiet --locked --root "$root/target/evcxr" --version "$evcxr_version" evcxr_repl
  echo "evcxr_repl $evcxr_version installed in $(( $(date +%s) - start )) s"
fi

export EVCXR_TMPDIR="$root/target/evcxr/work"
mkdir -p "$EVCXR_TMPDIR"
# evcxr keeps its history and config under the user's config folder: keep them out of $HOME
XDG_CONFIG_HOME="$(mktemp -d)"
export XDG_CONFIG_HOME
trap 'rm -rf "$XDG_CONFIG_HOME"' EXIT

status=0
for nb in examples/notebooks/*.ipynb; do
  start=$(date +%s)
  script="$(mktemp)"
  # one input line per code cell, its lines joined by U+2028 (evcxr_repl's --disable-readline
  # reads one line per input and turns U+2028 back into newlines)
  python3 - "$nb" >"$script" <<'EOF'
import json, sys
nb = json.load(open(sys.argv[1], encoding="utf-8"))
for cell in nb["cells"]:
    if cell["cell_type"] == "code":
        src = "".join(cell["source"]).strip("\n")
        if src:
            print(src.replace("\n", "\u2028"))
EOF
  cells=$(wc -l <"$script")
  log="$(mktemp)"
  # --ide-mode prints U+0091 after an input that succeeded and U+0092 after one that failed
  (cd "$(dirname "$nb")" && "$bin" --disable-readline --ide-mode --opt 1 <"$script") >"$log" 2>&1 || true
  ok=$(grep -o $'\u0091' "$log" | wc -l)
  failed=$(grep -o $'\u0092' "$log" | wc -l)
  secs=$(( $(date +%s) - start ))
  if [ "$failed" -ne 0 ] || [ "$ok" -ne "$cells" ]; then
    cat "$log" >&2
    echo "$nb: FAILED ($ok of $cells cells ran, $failed errors; ${secs} s)" >&2
    status=1
  else
    echo "$nb: $cells code cells ran without error in ${secs} s"
  fi
  rm -f "$script" "$log"
done
exit "$status"
