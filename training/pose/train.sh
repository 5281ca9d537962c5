#!/usr/bin/env bash
# Trains, exports and evaluates the reference pose model (see training/pose/README.md):
#
#   bash training/pose/train.sh                 # the shipped variant (writes fixtures/models/)
#   bash training/pose/train.sh --device esp32 --nodes 1   # one variant (no card)
#
# Makes (or reuses) the pinned virtual environment training/pose/.venv (numpy, onnx; no deep
# learning framework), builds the release CLI, then trains the three variants
# and writes the card (or, with arguments, runs train.py with them: one variant).
# Needs python3 with venv and pip, and PyPI. Nothing here is needed at run time or by cargo test.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="$here/.venv"
NUMPY_VERSION="2.3.5"
ONNX_VERSION="1.23.2"
if [ ! -x "$venv/bin/python" ]; then
  echo "train: creating $venv" >&2
  python3 -m venv "$venv" >&2
fi
py="$venv/bin/python"
if ! "$py" -c "import numpy, onnx, sys; sys.exit(0 if (numpy.__version__, onnx.__version__) == ('$NUMPY_VERSION', '$ONNX_VERSION') else 1)" 2>/dev/null; then
  echo "train: installing numpy==$NUMPY_VERSION onnx==$ONNX_VERSION" >&2
  "$py" -m pip install -q --disable-pip-version-check "numpy==$NUMPY_VERSION" "onnx==$ONNX_VERSION" >&2
fi
(cd "$root" && cargo build --release -q -p wifi-sensing-cli >&2 \
  && cargo build --release -q -p wifi-sensing --example random_scenario >&2)
bin="$root/target/release/wifi-sensing"
scen="$root/target/release/examples/random_scenario"
if [ "$#" -gt 0 ]; then
  exec "$py" "$here/train.py" --bin "$bin" --scenario-bin "$scen" "$@"
fi
dirs=()
for v in "iwl5300 3" "esp32 3" "esp32 1"; do
  set -- $v
  "$py" "$here/train.py" --bin "$bin" --scenario-bin "$scen" --device "$1" --nodes "$2"
  dirs+=("$root/target/pose-train/${1}x${2}-w25-p0")
done
"$py" "$here/card.py" "${dirs[@]}"
