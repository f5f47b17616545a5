#!/usr/bin/env bash
# Run THERE: on a lent GPU machine (no registry, maybe no Vulkan loader), from the repository root,
# after tools/bench/device/prepare.sh ran here and the device tool carried tmp/device:
#   bash tools/bench/device/gpu-check.sh [--quick] [--allow-software]
# Reports the GPU (nvidia-smi), the Vulkan adapters, then `npm run bench -- gpu` (webgpu, and cuda
# when installed, against the CPU provider) at the default and reference sizes; everything it
# prints is also written to $OUT (the device tool's output folder; tmp/device/out elsewhere).
# --quick: the default size only, one timed run and step (a check that the path works).
# --allow-software: go on with a software Vulkan adapter (lavapipe) when there is no GPU's one.
# It stops with the reason, never hangs: the bench has a time limit (BENCH_LIMIT_S, default 480).
# GPU_CHECK_CARRIED_LOADER=1 uses the carried Vulkan loader even where the machine has one (to test it).
set -uo pipefail
cd "$(dirname "$0")/../../.."
quick=false software=false
for arg in "$@"; do
  case "$arg" in
    --quick) quick=true ;;
    --allow-software) software=true ;;
    *) echo "gpu-check: unknown argument $arg (expected --quick, --allow-software)" >&2; exit 2 ;;
  esac
done
OUT=${OUT:-tmp/device/out}
mkdir -p "$OUT"
exec > >(tee "$OUT/gpu-check.log") 2>&1
say() { echo "gpu-check: $*"; }
fail() { say "STOPPED: $*"; exit 1; }

command -v node >/dev/null || fail "node is not on this machine"
say "node $(node --version), $(nproc) CPUs, $(uname -srm)"
if [ ! -d node_modules/onnxruntime-node ]; then
  [ -f tmp/device/node_modules.tar.gz ] || fail "no node_modules and no tmp/device/node_modules.tar.gz: run tools/bench/device/prepare.sh and carry tmp/device"
  tar -xzf tmp/device/node_modules.tar.gz || fail "cannot unpack tmp/device/node_modules.tar.gz"
fi

if command -v nvidia-smi >/dev/null; then
  timeout 30 nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | sed 's/^/gpu-check: GPU: /'
  [ "${PIPESTATUS[0]}" -ne 0 ] && say "nvidia-smi failed or took over 30 s (exit ${PIPESTATUS[0]})"
else
  say "nvidia-smi not found"
fi

# The Vulkan loader: the machine's own, else the carried Debian one.
if [ "${GPU_CHECK_CARRIED_LOADER:-}" = 1 ] || ! ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1 '; then
  carried=$PWD/tmp/device/vulkan/usr/lib/x86_64-linux-gnu
  [ -e "$carried/libvulkan.so.1" ] || fail "no Vulkan loader here and none carried (tmp/device/vulkan): run tools/bench/device/prepare.sh"
  export LD_LIBRARY_PATH="$carried${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  say "Vulkan loader: carried ($carried)"
else
  say "Vulkan loader: the machine's"
fi

# The NVIDIA driver's Vulkan driver (ICD): its json, else one written for its library.
icd=""
for dir in /etc/vulkan/icd.d /usr/share/vulkan/icd.d /usr/local/share/vulkan/icd.d; do
  [ -f "$dir/nvidia_icd.json" ] && icd="$dir/nvidia_icd.json" && break
done
if [ -n "$icd" ]; then
  say "NVIDIA Vulkan ICD: $icd"
else
  lib=$(ldconfig -p 2>/dev/null | awk '/libGLX_nvidia\.so\.0 /{print $NF; exit}')
  [ -z "$lib" ] && lib=$(find /usr/lib /usr/lib64 /usr/local/nvidia -name 'libGLX_nvidia.so.0' 2>/dev/null | head -1)
  if [ -n "$lib" ]; then
    icd=$PWD/tmp/device/nvidia_icd.json
    printf '{ "file_format_version": "1.0.0", "ICD": { "library_path": "%s", "api_version": "1.3.0" } }\n' "$lib" >"$icd"
    export VK_ICD_FILENAMES="$icd${VK_ICD_FILENAMES:+:$VK_ICD_FILENAMES}"
    say "NVIDIA Vulkan ICD: no json installed; wrote $icd for $lib"
  elif $software; then
    say "no NVIDIA Vulkan ICD (libGLX_nvidia.so.0 absent); going on with whatever adapter Vulkan has (--allow-software)"
  else
    fail "the NVIDIA driver's Vulkan ICD (libGLX_nvidia.so.0, nvidia_icd.json) is not on this machine: its driver was installed without the graphics libraries (a compute-only install), so WebGPU cannot reach this GPU; the NVIDIA container toolkit mounts them with NVIDIA_DRIVER_CAPABILITIES including graphics"
  fi
fi

# Listing the adapters loads the Vulkan drivers: a broken one can hang, hence the time limit.
timeout --kill-after=5 60 node --import tsx -e '
  const { surveyAdapters, describeAdapter, preferredAdapter } = await import("@grpomesh/onnx-export/gpu-adapter");
  const s = surveyAdapters();
  for (const a of s.adapters) console.log(`gpu-check: Vulkan adapter: ${describeAdapter(a)}`);
  const best = preferredAdapter(s.adapters);
  if (!best) { console.log(`gpu-check: STOPPED: no Vulkan adapter: ${s.why}`); process.exit(1); }
  if (!best.hardware && !process.argv.includes("--allow-software")) { console.log("gpu-check: STOPPED: only a software adapter; pass --allow-software to measure it anyway"); process.exit(1); }
' -- $($software && echo --allow-software)
rc=$?
[ $rc -eq 124 ] && fail "listing the Vulkan adapters took over 60 s (a Vulkan driver hangs while loading)"
[ $rc -ne 0 ] && exit 1

providers=cpu,webgpu
node -e 'process.exit(require("fs").existsSync("node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime_providers_cuda.so") ? 0 : 1)' && providers=cpu,webgpu,cuda
args=(--providers=$providers --json="$OUT/gpu.json" --markdown="$OUT/gpu.md")
if $quick; then args+=(--sizes=default --runs=1 --steps=1 --warmup=1); fi
say "npm run bench -- gpu ${args[*]}"
timeout --kill-after=10 "${BENCH_LIMIT_S:-480}" node --import tsx tools/bench/src/main.ts gpu "${args[@]}"
rc=$?
[ $rc -eq 124 ] && fail "the bench ran past ${BENCH_LIMIT_S:-480} s (BENCH_LIMIT_S); what it printed is above, and $OUT/gpu.json and gpu.md hold the sizes it finished"
[ $rc -ne 0 ] && fail "the bench exited with $rc"
say "done; results in $OUT/gpu.json, $OUT/gpu.md and $OUT/gpu-check.log"
