#!/usr/bin/env bash
# Trains, exports and evaluates the reference pose model (see training/pose/README.md):
#
#   bash training/pose/train.sh                 # all variants, ships the best (writes fixtures/models/)
#   bash training/pose/train.sh --device esp32 --nodes 1   # one variant (no card)
#
# Makes (or reuses) the pinned virtual environment training/pose/.venv (numpy, onnx; no deep
# learning framework), builds the release CLI (or uses WIFI_SENSING_BIN, a `wifi-sensing` binary
# built from this same source), then trains the variants and writes the card (or, with
# arguments, runs train.py with them: one variant). VARIANTS="iwl5300:3" limits the variants.
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
# One BLAS thread: on shared cores several spinning BLAS threads make training many times slower.
export OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-1}" OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
if [ -n "${WIFI_SENSING_BIN:-}" ]; then
  bin="$WIFI_SENSING_BIN"
else
  (cd "$root" && cargo build --release -q -p wifi-sensing-cli >&2)
  bin="$root/target/release/wifi-sensing"
fi
if [ "$#" -gt 0 ]; then
  exec "$py" "$here/train.py" --bin "$bin" "$@"
fi
dirs=()
for v in ${VARIANTS:-iwl5300:3 esp32:3 esp32:1}; do
  dev="${v%%:*}" nodes="${v##*:}"
  "$py" "$here/train.py" --bin "$bin" --device "$dev" --nodes "$nodes"
  dirs+=("$root/target/pose-train/${dev}x${nodes}")
done
"$py" "$here/card.py" "${dirs[@]}"
