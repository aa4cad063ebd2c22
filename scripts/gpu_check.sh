#!/usr/bin/env bash
# The one-shot check on a GPU machine (the device tool's: no package registry, maybe no node),
# run from the repository root of the copy there, with .gpukit/ (scripts/gpu_kit.sh) and dist/
# carried. Unpacks node and node_modules, adds the Vulkan loader where the machine lacks it, then
# writes to OUTDIR (default $OUT):
#   machine.txt            the machine, the GPU, the adapter Dawn picks (`effconv info`: features,
#                          subgroup size, limits), the commit;
#   tests.log, tests.json  the whole test suite (vitest), within TEST_TIMEOUT s (default 240);
#                          TEST_ARGS go to vitest (default, with 4 or more CPUs: the files side by
#                          side on half of them, "--fileParallelism --maxWorkers=N" — the config runs
#                          them one after another, as a CPU adapter needs; 59 s against over 150 s
#                          on the H200's 16);
#   bench.log, bench.md, bench.json   `node dist/bench/main.js $BENCH_ARGS` (default --profile
#                          --conv-kernels fastest: the conv rows on the family timed fastest each, the
#                          whole bench with each step's time per kernel), within BENCH_TIMEOUT s
#                          (default 240);
#   kernels.log            `effconv kernels --reps 5` for fmnist-6 and cifar-8 (each kernel
#                          family's search and final steps), within KERNELS_TIMEOUT s (default 60);
#   conv_tuning.json       the choices of their 'fastest' rows (--conv-kernels fastest
#                          --tuning-file takes them on that GPU);
#   sweep.md, sweep.json   `node dist/bench/tiled_sweep.js $SWEEP_ARGS` (the tiled kernels'
#                          configurations raced), within SWEEP_TIMEOUT s (default 240).
# STEPS (default "tests bench kernels"; "sweep" on request) picks the steps and their order.
# Usage: bash scripts/gpu_check.sh [OUTDIR]
set -uo pipefail
out=${1:-${OUT:-}}
[ -n "$out" ] || { echo "gpu_check.sh: give an output folder (or set OUT)" >&2; exit 2; }
mkdir -p "$out"
out=$(realpath "$out")
cd "$(dirname "$0")/.."
say() { echo "[gpu_check] $*" | tee -a "$out/machine.txt" >&2; }
if [ ! -f .gpukit/modules.tar.xz ] || [ ! -f dist/bench/main.js ]; then
  echo "gpu_check.sh: .gpukit/ or dist/ is missing: run scripts/gpu_kit.sh and carry both" >&2
  exit 2
fi
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp/effconv-xdg-$(id -u)}"
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"

# the Vulkan loader and GLVND (from the kit) and the NVIDIA driver's ICD where they are not found:
# NVIDIA's ICD, libGLX_nvidia.so.0, does not load without libGLdispatch.so.0 ("Found no drivers!")
if ! ldconfig -p | grep -q 'libvulkan\.so\.1' || ! ldconfig -p | grep -q 'libGLdispatch\.so\.0'; then
  for f in .gpukit/debs/*.deb; do dpkg -x "$f" /; done
  ldconfig
  say "installed the Vulkan loader and GLVND from .gpukit/debs"
fi
nvidia_icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [ -z "${VK_DRIVER_FILES:-}" ] && [ -f "$nvidia_icd" ]; then export VK_DRIVER_FILES=$nvidia_icd; fi

# node and node_modules
xz_cat() {  # FILE.xz to stdout: xz, or python3's lzma where the machine has no xz
  if command -v xz > /dev/null; then xz -dc "$1"
  else python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), sys.stdout.buffer)' "$1"
  fi
}
mkdir -p .gpukit/bin
[ -x .gpukit/bin/node ] || { xz_cat .gpukit/node.xz > .gpukit/bin/node && chmod +x .gpukit/bin/node; }
[ -d node_modules/vitest ] || xz_cat .gpukit/modules.tar.xz | tar -x
node=$(realpath .gpukit/bin/node)
export PATH="$(dirname "$node"):$PATH"
export EFFCONV_COMMIT; EFFCONV_COMMIT=$(cat .gpukit/stamp 2>/dev/null || echo unknown)

{
  echo "commit (kit and dist): $EFFCONV_COMMIT; node $("$node" --version); $(uname -srm)"
  nvidia-smi -L 2>/dev/null || echo "nvidia-smi: not found"
  echo "VK_DRIVER_FILES=${VK_DRIVER_FILES:-}"
} >> "$out/machine.txt"
if ! "$node" scripts/check-adapter.mjs 2>&1 | tee -a "$out/machine.txt"; then
  # no adapter: what the Vulkan loader saw, then stop (the tests and the bench would only fail)
  { echo "--- Vulkan ICD manifests:"; ls -l /usr/share/vulkan/icd.d /etc/vulkan/icd.d /usr/local/nvidia/share/vulkan/icd.d 2>&1
    echo "--- the loader's log:"; VK_LOADER_DEBUG=error,warn,info "$node" scripts/check-adapter.mjs 2>&1 | tail -n 60; } >> "$out/machine.txt"
  say "no WebGPU adapter: see machine.txt"
  exit 3
fi
"$node" dist/src/cli/main.js info >> "$out/machine.txt" 2>&1

cpus=$(nproc 2>/dev/null || echo 2)
[ "$cpus" -ge 4 ] && : "${TEST_ARGS=--fileParallelism --maxWorkers=$((cpus / 2))}"

run_tests() {
  say "tests (vitest ${TEST_ARGS:-}, at most ${TEST_TIMEOUT:-240} s)"
  # shellcheck disable=SC2086
  timeout "${TEST_TIMEOUT:-240}" "$node" node_modules/vitest/vitest.mjs run --config test/vitest.config.ts \
    --reporter=default --reporter=json --outputFile.json="$out/tests.json" ${TEST_ARGS:-} > "$out/tests.log" 2>&1
  say "tests: exit $? (tail of tests.log below)"
  tail -n 25 "$out/tests.log" >&2
}

run_bench() {
  say "bench (at most ${BENCH_TIMEOUT:-240} s): node dist/bench/main.js ${BENCH_ARGS---profile --conv-kernels fastest}"
  # shellcheck disable=SC2086
  timeout "${BENCH_TIMEOUT:-240}" "$node" dist/bench/main.js ${BENCH_ARGS---profile --conv-kernels fastest} --out "$out/bench.json" > "$out/bench.log" 2>&1
  say "bench: exit $?"
  tail -n 40 "$out/bench.log" >&2
}

run_kernels() {
  say "kernels (at most ${KERNELS_TIMEOUT:-60} s): effconv kernels --reps 5, fmnist-6 and cifar-8"
  timeout "${KERNELS_TIMEOUT:-60}" bash -c '"$0" dist/src/cli/main.js kernels --reps 5 --tuning-file "$1" && "$0" dist/src/cli/main.js kernels --preset cifar-8 --reps 5 --tuning-file "$1"' "$node" "$out/conv_tuning.json" > "$out/kernels.log" 2>&1
  say "kernels: exit $?"
  tail -n 20 "$out/kernels.log" >&2
}

run_sweep() {
  say "sweep (at most ${SWEEP_TIMEOUT:-240} s): node dist/bench/tiled_sweep.js ${SWEEP_ARGS:-}"
  # shellcheck disable=SC2086
  timeout "${SWEEP_TIMEOUT:-240}" "$node" dist/bench/tiled_sweep.js ${SWEEP_ARGS:-} --out "$out/sweep.json" > "$out/sweep.md" 2>&1
  say "sweep: exit $?"
  tail -n 12 "$out/sweep.md" >&2
}

# STEPS: which steps, in order (default "tests bench kernels"); the GPU's state before each
# (clocks, load, processes on it) goes to machine.txt, as a timing step may follow another's load
for step in ${STEPS:-tests bench kernels}; do
  { echo "--- before $step:"; nvidia-smi --query-gpu=clocks.sm,clocks.mem,utilization.gpu,temperature.gpu,power.draw --format=csv 2>&1; nvidia-smi --query-compute-apps=pid,process_name,used_memory --format=csv 2>&1; } >> "$out/machine.txt"
  case "$step" in
    tests) run_tests ;;
    bench) run_bench ;;
    kernels) run_kernels ;;
    sweep) run_sweep ;;
    *) say "unknown step $step (tests, bench, kernels, sweep)" ;;
  esac
done
