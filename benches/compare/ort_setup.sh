#!/usr/bin/env bash
# Makes (or reuses) the pinned Python environment benches/compare/.venv with ONNX Runtime and the
# `onnx` package, then prints the absolute path of ONNX Runtime's shared library on stdout (and
# nothing else), for ORT_DYLIB_PATH:
#
#   export ORT_DYLIB_PATH="$(bash benches/compare/ort_setup.sh)"
#   cargo test -p wifi-sensing-pose --features ort
#
# Needs python3 with venv and pip, and PyPI. Progress goes to stderr.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="$here/.venv"
ORT_VERSION="1.31.1"
ONNX_VERSION="1.23.2"
NUMPY_VERSION="2.3.5"

if [ ! -x "$venv/bin/python" ]; then
  echo "ort_setup: creating $venv" >&2
  python3 -m venv "$venv" >&2
fi
py="$venv/bin/python"
if ! "$py" -c "import onnxruntime, onnx, sys; sys.exit(0 if (onnxruntime.__version__, onnx.__version__) == ('$ORT_VERSION', '$ONNX_VERSION') else 1)" 2>/dev/null; then
  echo "ort_setup: installing onnxruntime==$ORT_VERSION onnx==$ONNX_VERSION numpy==$NUMPY_VERSION" >&2
  "$py" -m pip install -q --disable-pip-version-check \
    "onnxruntime==$ORT_VERSION" "onnx==$ONNX_VERSION" "numpy==$NUMPY_VERSION" >&2
fi
lib="$("$py" - <<'PY'
import glob, os, onnxruntime
capi = os.path.join(os.path.dirname(onnxruntime.__file__), "capi")
libs = sorted(glob.glob(os.path.join(capi, "libonnxruntime.so*")) + glob.glob(os.path.join(capi, "libonnxruntime*.dylib")))
# Prefer the fully versioned file name (libonnxruntime.so.1.31.1).
libs.sort(key=len, reverse=True)
print(libs[0] if libs else "")
PY
)"
if [ -z "$lib" ] || [ ! -f "$lib" ]; then
  echo "ort_setup: no libonnxruntime shared library found in the onnxruntime wheel" >&2
  exit 1
fi
echo "$lib"
