#!/usr/bin/env bash
# Run HERE (a machine with npm ci done and Debian's apt), before a GPU check on a lent device
# machine, which reaches no registry: packs what it needs but lacks into tmp/device/ (ignored by
# git), for the device tool's `carry: ["tmp/device"]` (64 MiB at most):
#   - tmp/device/node_modules.tar.gz: node_modules without the build-only tools (buf, nx,
#     typescript, prettier, the Kubernetes schemas) and without other platforms' onnxruntime binaries;
#   - tmp/device/vulkan/: Debian's Vulkan loader (libvulkan1) as extracted files, used there only
#     when the machine has no loader of its own.
#   bash tools/bench/device/prepare.sh
set -euo pipefail
cd "$(dirname "$0")/../../.."
out=tmp/device
rm -rf "$out" && mkdir -p "$out/vulkan"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 777 "$work" # apt downloads as its own user
(cd "$work" && apt-get download -q libvulkan1 >/dev/null)
dpkg-deb -x "$work"/libvulkan1_*.deb "$out/vulkan"
echo "prepare: Vulkan loader $(dpkg-deb -f "$work"/libvulkan1_*.deb Version) in $out/vulkan"

arch="linux/$(node -p process.arch)"
tar -czf "$out/node_modules.tar.gz" \
  --exclude='node_modules/@bufbuild/buf*' \
  --exclude='node_modules/@bufbuild/protoc-gen-es' \
  --exclude='node_modules/@nx' --exclude='node_modules/nx' \
  --exclude='node_modules/@typescript' --exclude='node_modules/typescript' \
  --exclude='node_modules/prettier' \
  --exclude='node_modules/kubernetes-models' --exclude='node_modules/@kubernetes-models' \
  $(find node_modules/onnxruntime-node/bin/napi-v6 -mindepth 2 -maxdepth 2 -type d ! -path "*/$arch" -printf "--exclude=%p ") \
  node_modules
size=$(du -sm "$out" | cut -f1)
echo "prepare: $out is ${size} MiB (the device tool carries 64 MiB at most)"
if [ "$size" -gt 64 ]; then
  echo "prepare: too large for the device tool's carry" >&2
  exit 1
fi
