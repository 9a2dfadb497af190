#!/usr/bin/env bash
# The GPU check of the CUDA backend, for a machine with an NVIDIA GPU and no Rust toolchain.
#
#   tests/gpu-check.sh --build     here (any machine with Rust): release builds of `weave` and of
#                                  the GPU tests (tests/cuda.rs), gathered into gpu-bin/, and
#                                  Debian's Vulkan loader packages in .gl/ (both ignored by git;
#                                  carry both)
#   tests/gpu-check.sh [OUT_DIR]   there, from the repository root with gpu-bin/ beside it
#
# There it runs, each phase under its own time limit, and skips the phases that would not end
# within GPU_CHECK_SECONDS (default 540: the device tool allows 600 a command; about 5 minutes
# in all on an H200):
# `weave doctor` (driver, devices, NVRTC, every kernel compiled, kernel parity with the CPU
# backend), the GPU tests with --ignored (parity, and a reduced training run that must
# reconstruct the procedural object), `weave bench train --backend cuda`, the procedural object
# trained with the default preset on CUDA (outputs kept in OUT_DIR for evaluation elsewhere:
# the scene is deterministic, `weave scene object` regenerates its ground truth),
# `weave bench view` through the GPU's Vulkan driver when the machine has one, the 16k-ray bench
# again with other register budgets for the per-sample kernels (WEAVE_NVRTC_FLAGS; the
# defaults are in kernels/trace.cu), and per-kernel profiles when Nsight Compute is there.
set -uo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--build" ]; then
  set -e
  cargo build --release --locked
  bin=$(cargo test --release --locked --test cuda --no-run --message-format=json 2>/dev/null |
    sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -1)
  mkdir -p gpu-bin
  cp target/release/weave gpu-bin/weave
  cp "$bin" gpu-bin/cuda-tests
  strip gpu-bin/weave gpu-bin/cuda-tests 2>/dev/null || true
  ls -la gpu-bin
  # The Vulkan loader the GPU machine lacks, for `bench view` there (carry .gl with gpu-bin).
  if [ ! -d .gl ] && command -v apt-get >/dev/null; then
    mkdir -p .gl /tmp/amd64/partial
    o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
    (apt-get $o update -qq && cd .gl && apt-get $o download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2) ||
      echo "could not download the Vulkan loader into .gl/: bench view will find no adapter there" >&2
  fi
  exit 0
fi

out="${1:-${OUT:-/tmp/weave-gpu-check}}"
mkdir -p "$out"
bin="$PWD/gpu-bin"
[ -x "$bin/weave" ] || { echo "no $bin/weave: run tests/gpu-check.sh --build first" >&2; exit 1; }
work=$(mktemp -d)
summary=()
budget=${GPU_CHECK_SECONDS:-540}
phase() { # name, seconds, command...
  local name=$1 limit=$2; shift 2
  if [ $((SECONDS + limit)) -gt "$budget" ]; then
    echo "=== $name skipped: ${limit}s would pass the ${budget}s budget"
    summary+=("$(printf '%-14s skipped (budget)' "$name")")
    return
  fi
  echo "=== $name (limit ${limit}s)"
  local t0=$SECONDS
  timeout "$limit" "$@" 2>&1 | tee "$work/$name.log"
  local rc=${PIPESTATUS[0]}
  { echo "=== $name rc=$rc"; cat "$work/$name.log"; } >>"$out/check.log"
  summary+=("$(printf '%-14s rc=%-3s %4ss' "$name" "$rc" $((SECONDS - t0)))")
}

# NVRTC: wherever CUDA or a Python wheel put it on this machine.
if [ -z "${WEAVE_NVRTC_DIR:-}" ]; then
  lib=$(find /usr /opt /root /home -name 'libnvrtc.so.13' 2>/dev/null | head -1)
  [ -n "$lib" ] && export WEAVE_NVRTC_DIR=$(dirname "$lib")
fi
echo "WEAVE_NVRTC_DIR=${WEAVE_NVRTC_DIR:-unset}"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader

phase doctor 60 "$bin/weave" doctor --compile-kernels --parity
phase bench-1k 40 "$bin/weave" bench train --backend cuda --rays 1024 --warmup 50 --steps 50
phase bench-16k 40 "$bin/weave" bench train --backend cuda --rays 16384 --warmup 30 --steps 10
"$bin/weave" scene object --out "$work/object" >/dev/null
phase train-object 120 "$bin/weave" train "$work/object" --out "$work/object-cuda" --backend cuda
mkdir -p "$out/object-cuda"
cp "$work/object-cuda/metrics.json" "$work/object-cuda/mesh.ply" "$out/object-cuda/" 2>/dev/null
# The procedural room (the layout whose surface the CPU's short runs leave a fog).
"$bin/weave" scene room --out "$work/room" >/dev/null
phase train-room 90 "$bin/weave" train "$work/room" --out "$work/room-cuda" --backend cuda
mkdir -p "$out/room-cuda"
cp "$work/room-cuda/metrics.json" "$work/room-cuda/mesh.ply" "$out/room-cuda/" 2>/dev/null

# The viewer's shaders on the GPU: Vulkan loader from .gl/ when carried (see the device notes).
if [ -d .gl ] && ! ldconfig -p | grep -q libvulkan.so.1; then
  for f in .gl/*.deb; do dpkg -x "$f" /; done
  ldconfig
fi
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -f "$icd" ] && export VK_DRIVER_FILES=$icd
if [ -f "$work/object-cuda/checkpoint.weave" ]; then
  phase bench-view 30 "$bin/weave" bench view --checkpoint "$work/object-cuda" --frames 5
fi
phase gpu-tests 40 "$bin/cuda-tests" --ignored --nocapture --test-threads=1

# Register budgets: blocks per SM each kernel is compiled to fit (0: the compiler's choice).
for v in BLOCKS_EVAL_SAMPLES=10 BLOCKS_BACKWARD_SAMPLES=8 BLOCKS_BACKWARD_COLORS=0; do
  WEAVE_NVRTC_FLAGS="-D$v" phase "tune-$v" 45 "$bin/weave" bench train --backend cuda --rays 16384 --warmup 30 --steps 10
done

# Per-kernel times of training steps once the occupancy grid has settled (a 16k-ray step is
# about 70 launches: 8 chunks of backward passes and weight gradients): where its time goes.
ncu=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu /usr/local/cuda/bin/ncu 2>/dev/null | head -1)
if [ -n "$ncu" ]; then
  phase ncu 90 "$ncu" --clock-control none --launch-skip 1500 --launch-count 90 --print-summary per-kernel \
    --section SpeedOfLight --section LaunchStats --section Occupancy --section WarpStateStats \
    "$bin/weave" bench train --backend cuda --rays 16384 --warmup 45 --steps 2
  cp "$work/ncu.log" "$out/ncu.log"
  # What the per-sample kernels' warps wait on (cycles per issued instruction, by reason).
  for k in eval_samples backward_colors backward_samples; do
    phase "stalls-$k" 40 "$ncu" --clock-control none -k "regex:^$k\$" --launch-skip 10 --launch-count 1 \
      --metrics 'regex:smsp__average_warps_issue_stalled_.*_per_issue_active\.ratio' \
      "$bin/weave" bench train --backend cuda --rays 16384 --warmup 12 --steps 2
    cp "$work/stalls-$k.log" "$out/"
  done
fi

echo "=== summary"
printf '%s\n' "${summary[@]}" | tee "$out/summary.txt"
grep -H -E 'CUDA \(|ms/frame|trained|PSNR|samples/s' "$work"/*.log | sed "s|^$work/||" | tee -a "$out/summary.txt"
