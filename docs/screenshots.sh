#!/usr/bin/env bash
# Regenerates the window's pictures in docs/images from the bundled default scene: trains it
# in the window for a while, then saves one screenshot per view mode (`--all-modes`). Needs a
# release build, and Xvfb where there is no display (`.ci/setup` installs it); on a machine
# without a GPU, Mesa's lavapipe draws them (a few minutes on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
steps="${1:-1500}"
cargo build --release --locked
out=docs/images/window.png
run() { "${CARGO_TARGET_DIR:-target}/release/weave" scenes/object --train "$steps" --all-modes --screenshot "$out"; }
if [ -n "${DISPLAY:-}" ]; then
  run
else
  Xvfb :91 -screen 0 1400x900x24 >/dev/null 2>&1 &
  xvfb=$!
  trap 'kill $xvfb' EXIT
  sleep 1
  DISPLAY=:91 run
fi
ls -l docs/images/window-*.png
