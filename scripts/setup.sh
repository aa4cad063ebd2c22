#!/usr/bin/env bash
# Idempotent set-up run before `npm start` and `npm test`; fast when nothing is missing.
#  1. node dependencies (npm ci) when node_modules is absent or stale, then the TypeScript build;
#  2. a WebGPU adapter: if Dawn finds none and this is Debian/Ubuntu with root — on a machine with
#     NVIDIA's driver, first the Vulkan loader and GLVND its Vulkan driver loads through; else (or
#     if that does not help) Mesa's lavapipe (CPU Vulkan) from <codename>-backports, derived from
#     the machine's own apt source;
#  3. with --dataset: the Debian package dataset-fashion-mnist.
set -euo pipefail
cd "$(dirname "$0")/.."

want_dataset=0
for arg in "$@"; do
  case "$arg" in
    --dataset) want_dataset=1 ;;
    *) echo "setup.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp/effconv-xdg-$(id -u)}"
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
export DEBIAN_FRONTEND=noninteractive

say() { echo "[setup] $*" >&2; }

# --- 1. node dependencies and build -------------------------------------------------------
if [ ! -d node_modules/webgpu ] || [ ! -d node_modules/vitest ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing node dependencies (npm ci)"
  npm ci --no-audit --no-fund >&2
fi
stamp=dist/.build-stamp
if [ ! -f "$stamp" ] || [ -n "$(find src bench tsconfig.json package.json -newer "$stamp" -print -quit)" ]; then
  say "building (tsc)"
  npx tsc -p tsconfig.json
  touch "$stamp"
fi

# --- 2. WebGPU adapter ----------------------------------------------------------------------
is_root() { [ "$(id -u)" = 0 ]; }
apt_updated=0
apt_update() { [ "$apt_updated" = 1 ] || { apt-get update -qq >&2; apt_updated=1; }; }

# Writes an apt source for <codename>-backports copied from the machine's Debian entry.
add_backports_source() {
  local codename=$1 target=/etc/apt/sources.list.d/effconv-backports
  if grep -rqs -- "$codename-backports" /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null; then
    return 0
  fi
  if [ -f /etc/apt/sources.list.d/debian.sources ] || [ -f /etc/apt/sources.list.d/ubuntu.sources ]; then
    local src; src=$(ls /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list.d/ubuntu.sources 2>/dev/null | head -1)
    # deb822: take the first stanza whose Suites names the release itself, swap in backports.
    awk -v code="$codename" '
      BEGIN { RS=""; ORS="\n\n" }
      $0 ~ ("Suites:[^\n]*[ \t]" code "([ \t]|\n|$)") && !done {
        n = split($0, lines, "\n"); out = ""
        for (i = 1; i <= n; i++) {
          if (lines[i] ~ /^Suites:/) lines[i] = "Suites: " code "-backports"
          out = out lines[i] "\n"
        }
        printf "%s\n", out; done = 1
      }' "$src" > "$target.sources"
    [ -s "$target.sources" ] || { rm -f "$target.sources"; return 1; }
  elif [ -f /etc/apt/sources.list ]; then
    grep -E "^deb[[:space:]].*[[:space:]]$codename[[:space:]]" /etc/apt/sources.list | head -1 |
      sed -E "s/[[:space:]]$codename[[:space:]]/ $codename-backports /" > "$target.list"
    [ -s "$target.list" ] || { rm -f "$target.list"; return 1; }
  else
    return 1
  fi
  say "added apt source for $codename-backports"
}

install_lavapipe() {
  [ -f /etc/os-release ] || return 1
  # shellcheck disable=SC1091
  . /etc/os-release
  case "${ID:-}${ID_LIKE:-}" in *debian*|*ubuntu*) ;; *) return 1 ;; esac
  is_root || return 1
  command -v apt-get >/dev/null || return 1
  local codename=${VERSION_CODENAME:-}
  [ -n "$codename" ] || return 1
  say "no WebGPU adapter: installing Mesa lavapipe (libvulkan1, mesa-vulkan-drivers) from $codename-backports"
  add_backports_source "$codename" || say "could not derive a backports source; trying the release's Mesa"
  apt_updated=0; apt_update
  apt-get install -y -qq -t "$codename-backports" libvulkan1 mesa-vulkan-drivers >&2 ||
    apt-get install -y -qq libvulkan1 mesa-vulkan-drivers >&2
}

# NVIDIA's driver is here (its tools or its Vulkan ICD manifest) but Dawn found no adapter: its
# Vulkan driver, libGLX_nvidia.so.0, loads only beside GLVND's libGLdispatch.so.0 ("Found no
# drivers!" on an H200 machine without it), so install the loader and GLVND before lavapipe
has_nvidia() {
  command -v nvidia-smi > /dev/null 2>&1 || ls /usr/share/vulkan/icd.d/nvidia_icd*.json /etc/vulkan/icd.d/nvidia_icd*.json > /dev/null 2>&1
}
install_gpu_loader() {
  has_nvidia && is_root && command -v apt-get > /dev/null || return 1
  say "NVIDIA's driver is here but Dawn found no adapter: installing the Vulkan loader and GLVND (libvulkan1, libglvnd0)"
  apt_update
  apt-get install -y -qq libvulkan1 libglvnd0 >&2
}

if ! node scripts/check-adapter.mjs >&2; then
  if install_gpu_loader && node scripts/check-adapter.mjs >&2; then
    say "the GPU's Vulkan driver loads now"
  elif install_lavapipe && node scripts/check-adapter.mjs >&2; then
    say "lavapipe installed; WebGPU runs on the CPU"
  else
    cat >&2 <<'MSG'
[setup] effconv needs a WebGPU adapter and Dawn found none.
  - With a GPU: install its Vulkan driver and the loader (libvulkan1); NVIDIA's also needs GLVND
    (libglvnd0), and a driver whose ICD manifest lies elsewhere than /usr/share/vulkan/icd.d
    (e.g. /usr/local/nvidia/share/vulkan/icd.d) needs VK_DRIVER_FILES set to that file.
  - Without a GPU on Debian 12: as root, add the bookworm-backports suite to apt, then
      apt-get install -t bookworm-backports libvulkan1 mesa-vulkan-drivers
    (the Mesa 22 lavapipe of bookworm main lacks a Vulkan feature Dawn requires).
  - On other systems: install Mesa's lavapipe (a Vulkan driver on the CPU), version 24 or newer.
MSG
    exit 1
  fi
fi

# --- 3. dataset -------------------------------------------------------------------------------
if [ "$want_dataset" = 1 ] && [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] \
   && [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte ]; then
  if is_root && command -v apt-get >/dev/null; then
    say "installing dataset-fashion-mnist"
    apt_update
    apt-get install -y -qq dataset-fashion-mnist >&2
  else
    say "Fashion-MNIST is missing: install it with  sudo apt-get install dataset-fashion-mnist"
    exit 1
  fi
fi
