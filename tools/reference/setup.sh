#!/usr/bin/env bash
# Builds the numerics/speed reference (llama.cpp, through PyPI's llama-cpp-python, which
# compiles it from source) into a cache outside the repository, once. Slow (~15 min on 2 cores),
# so it is not part of the default test path; scripts that need it call this first.
#
#   tools/reference/setup.sh        # prints the venv's python on the last line
#
# Cache: $STRATA_CACHE (default ~/.cache/strata)/reference-venv
set -euo pipefail
cache="${STRATA_CACHE:-$HOME/.cache/strata}"
venv="$cache/reference-venv"
# Pinned so goldens stay reproducible.
llama_cpp_python="llama-cpp-python==0.3.16"
gguf_py="gguf==0.17.1"
stamp="$venv/.strata-ready-$llama_cpp_python-$gguf_py"
if [ ! -f "$stamp" ]; then
  mkdir -p "$cache"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip wheel >&2
  "$venv/bin/pip" install -q numpy "$gguf_py" >&2
  # Shared libraries are needed so ggml's C reference functions can be reached through ctypes.
  CMAKE_ARGS="-DBUILD_SHARED_LIBS=ON -DGGML_NATIVE=ON -DLLAMA_CURL=OFF" \
    "$venv/bin/pip" install -v --no-cache-dir "$llama_cpp_python" >&2
  touch "$stamp"
fi
echo "$venv/bin/python"
