#!/usr/bin/env bash
# Trains, exports and evaluates the reference pose model (see training/pose/README.md):
#
#   bash training/pose/train.sh                 # the shipped variant (writes fixtures/models/)
#   bash training/pose/train.sh --device esp32 --nodes 1 --out target/pose-train/esp32x1/model
#
# Makes (or reuses) the pinned virtual environment training/pose/.venv (numpy, onnx; no deep
# learning framework), builds the release CLI, then runs train.py with the arguments given.
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
bin="${WIFI_SENSING_BIN:-}"
if [ -z "$bin" ]; then
  (cd "$root" && cargo build --release -q -p wifi-sensing-cli >&2)
  bin="$root/target/release/wifi-sensing"
fi
exec "$py" "$here/train.py" --bin "$bin" "$@"
