#!/usr/bin/env bash
# tests/gpu/run.sh — everything a lent GPU should run, in one go (no network, no model needed):
# configure and build the CUDA test targets for the GPU present, run every [cuda] test
# (ctest -L cuda, one at a time: the arena test measures cudaMemGetInfo, which a test running
# beside it would disturb), then print a short table: test counts, the GPU, its memory, and the
# "gpu:" / "timing:" lines the tests print, then the benchmark's table (strata-bench-gpu: pp512 and
# tg128 all on the GPU and at three splits of the llama 3.2 1B shape, with the achieved read
# bandwidth beside the measured device-to-device copy bandwidth). The tests write their own
# synthetic models (STRATA_BIG_SYNTHETIC=1: the full 1B shape too). Sized to finish within 8 minutes
# on an H200 with 16 cores.
#
#   tests/gpu/run.sh                 # build dir build/gpu; BUILD_DIR=... JOBS=... to change
# Exit status: 0 when the build succeeded and every test passed.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD="${BUILD_DIR:-$ROOT/build/gpu}"
JOBS="${JOBS:-16}"
LOG="$BUILD/gpu-run.log"
T0=$(date +%s)
elapsed() { echo $(( $(date +%s) - T0 ))s; }

if ! command -v nvidia-smi >/dev/null 2>&1; then
  echo "run.sh: nvidia-smi not found: this script is for a machine with an NVIDIA GPU" >&2
  exit 2
fi
CAP="$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -n1 | tr -d ' .')"
GPU="$(nvidia-smi --query-gpu=name --format=csv,noheader | head -n1)"
MEM="$(nvidia-smi --query-gpu=memory.free,memory.total --format=csv,noheader | head -n1)"
if [[ ! "$CAP" =~ ^[0-9]+$ ]]; then
  echo "run.sh: could not read the compute capability (got '$CAP')" >&2
  exit 2
fi
echo "== $GPU, sm_$CAP, memory free/total: $MEM"

GEN=()
command -v ninja >/dev/null 2>&1 && GEN=(-G Ninja)
mkdir -p "$BUILD"

echo "== configure ($(elapsed))"
if ! timeout 120 cmake -S "$ROOT" -B "$BUILD" "${GEN[@]}" -DCMAKE_BUILD_TYPE=Release \
      -DSTRATA_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="$CAP" -DSTRATA_BUILD_EXAMPLES=OFF \
      -DSTRATA_BUILD_TESTS=ON >"$BUILD/configure.log" 2>&1; then
  tail -n 30 "$BUILD/configure.log"
  echo "run.sh: configure failed (log: $BUILD/configure.log)" >&2
  exit 1
fi

echo "== build strata-tests-cuda strata-bench-gpu ($(elapsed))"
if ! timeout 330 cmake --build "$BUILD" -j"$JOBS" --target strata-tests-cuda strata-bench-gpu >"$BUILD/build.log" 2>&1; then
  tail -n 40 "$BUILD/build.log"
  echo "run.sh: build failed or ran past 330 s (log: $BUILD/build.log)" >&2
  exit 1
fi

echo "== ctest -L cuda ($(elapsed))"
# ctest's own limit per test, and the whole run's: what is left of the 8 minutes, less a margin.
LEFT=$(( 390 - ( $(date +%s) - T0 ) ))
(( LEFT < 60 )) && LEFT=60
mkdir -p "$BUILD/models"
export STRATA_BIG_SYNTHETIC="$BUILD/models"  # the full 1B shape is written there once, for the tests and the bench
(cd "$BUILD" && timeout "$LEFT" ctest -L cuda -V --timeout 150) >"$LOG" 2>&1
RC=$?
grep -E '^[0-9]+/[0-9]+ Test +#' "$LOG" | grep -v ' Passed ' || true

SUMMARY="$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$LOG" | tail -n1)"
TOTAL="$(sed -nE 's/.*out of ([0-9]+).*/\1/p' <<<"$SUMMARY")"
FAILED="$(sed -nE 's/.* ([0-9]+) tests? failed.*/\1/p' <<<"$SUMMARY")"
TOTAL="${TOTAL:-0}"
FAILED="${FAILED:-$TOTAL}"
PASSED=$(( TOTAL - FAILED ))
(( RC == 124 )) && echo "run.sh: ctest ran past ${LEFT}s and was stopped" >&2
(( TOTAL == 0 )) && RC=1
# nvidia-smi sees a GPU, so a [cuda] test that WARNed "no CUDA device" and passed skipped its
# checks (a driver the runtime cannot use): that is a failure here.
SKIPPED="$(grep -c 'no CUDA device' "$LOG" 2>/dev/null || true)"; SKIPPED="${SKIPPED:-0}"
if (( SKIPPED > 0 )); then
  echo "run.sh: $SKIPPED [cuda] test messages say 'no CUDA device' although nvidia-smi sees $GPU" >&2
  RC=1
fi

echo "== strata-bench-gpu ($(elapsed))"
BENCH_LOG="$BUILD/bench-gpu.log"
BLEFT=$(( 470 - ( $(date +%s) - T0 ) ))
(( BLEFT < 30 )) && BLEFT=30
timeout "$BLEFT" "$BUILD/strata-bench-gpu" --dir "$BUILD/models" --reps 3 >"$BENCH_LOG" 2>&1
BRC=$?
(( BRC != 0 )) && { tail -n 5 "$BENCH_LOG"; echo "run.sh: strata-bench-gpu failed (status $BRC, log: $BENCH_LOG)" >&2; RC=1; }

echo
echo "================================ strata on the GPU ================================"
printf '%-22s %s\n' "GPU" "$GPU (sm_$CAP)"
printf '%-22s %s\n' "memory free / total" "$MEM"
printf '%-22s %s passed, %s failed (of %s)\n' "[cuda] tests" "$PASSED" "$FAILED" "$TOTAL"
(( SKIPPED > 0 )) && printf '%-22s %s\n' "skipped (no device)" "$SKIPPED messages: the runtime saw no GPU"
printf '%-22s %s\n' "wall time" "$(elapsed)"
grep -E '(gpu|timing): ' "$LOG" | sed -E 's/^[0-9]+: //' | grep -E '^(gpu|timing): ' | sort -u || true
echo "---- strata-bench-gpu (llama 3.2 1B shape, Q4_K_M mix) ----"
grep -vE '^(timing|wrote) ' "$BENCH_LOG" || true
echo "full logs: $LOG, $BENCH_LOG"
exit $(( RC == 0 ? 0 : 1 ))
