#!/usr/bin/env bash
# The one set-up path: the README's first command and CI (.ci/run) both call this script, so what CI installs
# is what a new user installs.
#
#   bash scripts/setup.sh [EXTRAS]      # EXTRAS: comma-separated extras of setup.cfg
#                                       # (default: $CLINQA_SYNTH_EXTRAS, else local)
#
# What it does, and why:
# - creates ./.venv (or $CLINQA_SYNTH_VENV) when missing and installs this checkout into it (editable);
# - installs the CPU build of torch first when the extras need torch, so pip does not pull a multi-GB CUDA build;
# - builds llama-cpp-python (llama.cpp) *portably*: a native build (-march=native) can use CPU instructions that a
#   VM traps (AVX-512/AMX advertised but not usable -> SIGILL on the first request). The wheel is kept in a folder
#   named after the version and the CMake flags, because pip's own wheel cache does not key on CMAKE_ARGS: a
#   native wheel cached by another command would otherwise be reused silently. Compiling takes ~12 min on 2 cores,
#   once per machine; the next set-up reuses the wheel.
# - reinstalls llama-cpp-python in this venv when it was built with other flags (e.g. by a plain `pip install`).
#
# Environment: CMAKE_ARGS overrides the llama.cpp flags (e.g. -DGGML_CUDA=ON for a GPU build; the wheel folder is
# keyed by them); CLINQA_SYNTH_WHEELS moves the wheel folder; PYTHON picks the interpreter for a new venv.
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS=${1:-${CLINQA_SYNTH_EXTRAS:-local}}
PY=${PYTHON:-python3}
VENV=${CLINQA_SYNTH_VENV:-.venv}
started=$(date +%s)

[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
# shellcheck disable=SC1091
. "$VENV/bin/activate"
python -m pip install -q --upgrade pip

case ",$EXTRAS," in
  *,train,*) python -m pip install -q "torch==2.13.0" ;;
esac

case ",$EXTRAS," in
  *,local,* | *,local-small,*)
    # The pinned requirement is declared once, in setup.cfg's `local` extra.
    LLAMA_REQ=$(python - <<'EOF'
import configparser
cfg = configparser.ConfigParser()
cfg.read("setup.cfg")
line = next(l for l in cfg["options.extras_require"]["local"].split("\n") if l.startswith("llama-cpp-python"))
print(line.replace("[server]", "").strip())
EOF
)
    if [ -z "${CMAKE_ARGS:-}" ]; then
      if [ "$(uname -m)" = "x86_64" ] && grep -qw avx2 /proc/cpuinfo 2>/dev/null; then
        # x86-64-v3 (AVX2/FMA/F16C): runs on every x86 CPU of the last decade, never AVX-512/AMX.
        CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"
      elif [ "$(uname -m)" = "x86_64" ]; then
        CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX2=OFF -DGGML_FMA=OFF -DGGML_F16C=OFF"
      else
        CMAKE_ARGS="-DGGML_NATIVE=OFF"
      fi
    fi
    export CMAKE_ARGS
    build_id="$LLAMA_REQ $CMAKE_ARGS"
    key=$(printf '%s' "$build_id" | sha256sum | cut -c1-16)
    wheels="${CLINQA_SYNTH_WHEELS:-${XDG_CACHE_HOME:-$HOME/.cache}/clinqa-synth/wheels}/llama-cpp-python-$key"
    marker="$VENV/.clinqa-synth-llama-build"
    if [ "$(cat "$marker" 2>/dev/null)" != "$build_id" ]; then
      if ! ls "$wheels"/llama_cpp_python-*.whl >/dev/null 2>&1; then
        echo "building $LLAMA_REQ with CMAKE_ARGS='$CMAKE_ARGS' (once per machine; ~12 min on 2 cores)"
        tmp="$wheels.partial.$$"
        rm -rf "$tmp" && mkdir -p "$tmp"
        python -m pip wheel -q --no-deps --no-cache-dir --no-binary llama-cpp-python -w "$tmp" "$LLAMA_REQ"
        rm -rf "$wheels" && mv "$tmp" "$wheels"
      fi
      python -m pip install -q --force-reinstall --no-deps "$wheels"/llama_cpp_python-*.whl
      printf '%s' "$build_id" >"$marker"
    fi
    ;;
esac

python -m pip install -q -e ".[$EXTRAS]"
echo "clinqa-synth set up in $VENV (extras: $EXTRAS) in $(($(date +%s) - started)) s"
