#!/usr/bin/env bash
# Runs every code cell of the example notebooks (examples/notebooks/*.ipynb, or the notebooks
# named as arguments) with evcxr_repl, the REPL of the evcxr Jupyter kernel, and fails if a cell
# errors (a compile error, a `?` error or a panic) or if fewer cells ran than the notebook has.
#
# evcxr_repl is installed by this script with `cargo install --locked` into target/evcxr (kept,
# so only the first run pays for it: about 15 CPU-minutes, as it builds rust-analyzer's crates),
# and the crates a notebook's `:dep` compiles are kept in target/evcxr/work (EVCXR_TMPDIR) between
# runs (the workspace excludes `target`, so cargo does not take that crate for a member). Cells
# run at evcxr's --opt 1 (its default, 2, takes longer to compile the dependencies).
# Usage: bash benches/compare/notebook_check.sh [NOTEBOOK.ipynb...]
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$PWD"

evcxr_version="0.22.0"
# the evcxr_repl package installs a binary named `evcxr`
bin="$root/target/evcxr/bin/evcxr"
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
if [ "$#" -eq 0 ]; then set -- examples/notebooks/*.ipynb; fi
for nb in "$@"; do
  start=$(date +%s)
  script="$(mktemp)"
  # One input line per code cell, its lines joined by U+2028 (evcxr_repl's --disable-readline
  # reads one line per input and turns U+2028 back into newlines). evcxr reports a compile error
  # as a failed input but a `?` error or a panic as a completed one; it does forget the variables
  # that such a cell defined, though. So each cell (except `:` commands) first defines a marker
  # variable, and the next input reads it: a cell that stopped early makes that read a compile
  # error.
  python3 - "$nb" >"$script" <<'EOF'
import json, sys
nb = json.load(open(sys.argv[1], encoding="utf-8"))
k = 0
for cell in nb["cells"]:
    if cell["cell_type"] == "code":
        src = "".join(cell["source"]).strip("\n")
        if not src:
            continue
        k += 1
        if src.startswith(":"):
            print(src.replace("\n", "\u2028"))
            continue
        marker = f"notebook_check_cell_{k}_completed"
        print(f"let {marker}: u32 = {k};\u2028" + src.replace("\n", "\u2028"))
        print(marker)
EOF
  inputs=$(wc -l <"$script")
  cells=$(python3 -c 'import json,sys; print(sum(1 for c in json.load(open(sys.argv[1]))["cells"] if c["cell_type"]=="code" and "".join(c["source"]).strip()))' "$nb")
  log="$(mktemp)"
  # --ide-mode prints U+0091 after an input that succeeded and U+0092 after one that failed
  (cd "$(dirname "$nb")" && "$bin" --disable-readline --ide-mode --opt 1 <"$script") >"$log" 2>&1 || true
  # (grep finds nothing when evcxr itself failed: count without failing the pipeline)
  ok=$( (grep -o $'\u0091' "$log" || true) | wc -l)
  failed=$( (grep -o $'\u0092' "$log" || true) | wc -l)
  secs=$(( $(date +%s) - start ))
  if [ "$failed" -ne 0 ] || [ "$ok" -ne "$inputs" ]; then
    cat "$log" >&2
    echo >&2
    echo "$nb: FAILED ($ok of $inputs inputs ($cells code cells and their markers) ran, $failed failed; a missing notebook_check_cell_N_completed marks a cell N that stopped at a \`?\` error or a panic; ${secs} s)" >&2
    status=1
  else
    echo "$nb: $cells code cells ran without error in ${secs} s"
  fi
  rm -f "$script" "$log"
done
exit "$status"
