// Which GPU adapters this machine has, as onnxruntime's WebGPU provider (Dawn, on Vulkan under
// Linux) sees them. onnxruntime does not report the adapter it picked, so we ask the Vulkan loader
// for the same list through koffi (a C FFI whose binary ships inside its npm package) and rank it
// as Dawn ranks adapters for a high-performance request: discrete, integrated, virtual, then CPU
// (software) devices, the loader's order within a kind.
import { createRequire } from "node:module";

/** Vulkan's VkPhysicalDeviceType, named. */
export type AdapterKind = "other" | "integrated" | "discrete" | "virtual" | "cpu";
const KINDS: readonly AdapterKind[] = ["other", "integrated", "discrete", "virtual", "cpu"];
/** Dawn's preference for a high-performance adapter (what onnxruntime asks for). */
const PREFERENCE: readonly AdapterKind[] = ["discrete", "integrated", "virtual", "cpu", "other"];

export interface GpuAdapter {
  name: string;
  vendor: string;
  vendorId: number;
  deviceId: number;
  kind: AdapterKind;
  /** Hardware = not a software rasterizer (lavapipe, SwiftShader): Vulkan device type other than CPU. */
  hardware: boolean;
  backend: "Vulkan";
  /** Vulkan API version the driver offers, "1.4.305". */
  apiVersion: string;
}

export interface AdapterSurvey {
  adapters: GpuAdapter[];
  /** Why the list is empty (no loader, no driver), for start lines and errors; "" when not empty. */
  why: string;
}

const VENDORS: Record<number, string> = {
  0x10de: "NVIDIA",
  0x1002: "AMD",
  0x1022: "AMD",
  0x8086: "Intel",
  0x13b5: "ARM",
  0x5143: "Qualcomm",
  0x1010: "Imagination",
  0x106b: "Apple",
  0x1ae0: "Google",
  0x10005: "Mesa",
  0x14e4: "Broadcom",
};

function vulkanVersion(v: number): string {
  return `${v >>> 22}.${(v >>> 12) & 0x3ff}.${v & 0xfff}`;
}

/** One line for start lines: `llvmpipe (LLVM 15.0.6, 256 bits)` (Mesa, cpu, Vulkan 1.4.305). */
export function describeAdapter(a: GpuAdapter): string {
  return `${a.name} (vendor ${a.vendor}, ${a.kind === "cpu" ? "software" : a.kind} adapter, backend ${a.backend} ${a.apiVersion})`;
}

/** The adapter Dawn takes for a high-performance request, or undefined when there is none. */
export function preferredAdapter(adapters: readonly GpuAdapter[]): GpuAdapter | undefined {
  for (const kind of PREFERENCE) {
    const found = adapters.find((a) => a.kind === kind);
    if (found) return found;
  }
  return undefined;
}

// VkPhysicalDeviceProperties begins: apiVersion, driverVersion, vendorID, deviceID (uint32 each),
// deviceType (enum, 4 bytes), deviceName[256]; the whole struct is 824 bytes on x86-64.
const PROPS_BYTES = 1024;
const NAME_OFFSET = 20;
const NAME_BYTES = 256;
const VK_SUCCESS = 0;
const VK_ERROR_INCOMPATIBLE_DRIVER = -9;
const VK_STRUCTURE_TYPE_APPLICATION_INFO = 0;
const VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO = 1;
const VK_API_VERSION_1_1 = (1 << 22) | (1 << 12);

let cached: AdapterSurvey | undefined;

/** The Vulkan adapters of this machine (asked once per process; `fresh` asks again). */
export function surveyAdapters(fresh = false): AdapterSurvey {
  if (cached && !fresh) return cached;
  cached = querySurvey();
  return cached;
}

function querySurvey(): AdapterSurvey {
  if (process.platform !== "linux")
    return { adapters: [], why: `adapter discovery reads Vulkan, which this build does on Linux only (this is ${process.platform})` };
  let koffi: typeof import("koffi");
  try {
    koffi = createRequire(import.meta.url)("koffi") as typeof import("koffi");
  } catch (err) {
    return { adapters: [], why: `the koffi package cannot be loaded (${(err as Error).message.split("\n")[0]}); run npm ci` };
  }
  let lib: ReturnType<typeof koffi.load>;
  try {
    lib = koffi.load("libvulkan.so.1");
  } catch {
    return { adapters: [], why: "the Vulkan loader (libvulkan.so.1) is not installed; on Debian: apt-get install libvulkan1" };
  }
  try {
    // Struct names are registered once per koffi instance; a second survey reuses them.
    registerTypes(koffi);
    const create = lib.func("int vkCreateInstance(GrpoVkInstanceCreateInfo* info, void* allocator, _Out_ void** instance)");
    const enumerate = lib.func("int vkEnumeratePhysicalDevices(void* instance, _Inout_ uint32_t* count, _Out_ void** devices)");
    const properties = lib.func("void vkGetPhysicalDeviceProperties(void* device, _Out_ uint8_t* properties)");
    const destroy = lib.func("void vkDestroyInstance(void* instance, void* allocator)");
    const instance: unknown[] = [null];
    const app = {
      sType: VK_STRUCTURE_TYPE_APPLICATION_INFO,
      pNext: null,
      pApplicationName: "grpomesh",
      applicationVersion: 0,
      pEngineName: null,
      engineVersion: 0,
      apiVersion: VK_API_VERSION_1_1,
    };
    const info = {
      sType: VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
      pNext: null,
      flags: 0,
      pApplicationInfo: app,
      enabledLayerCount: 0,
      ppEnabledLayerNames: null,
      enabledExtensionCount: 0,
      ppEnabledExtensionNames: null,
    };
    const rc = create(info, null, instance) as number;
    if (rc === VK_ERROR_INCOMPATIBLE_DRIVER) {
      return {
        adapters: [],
        why: "the Vulkan loader found no driver (ICD): install the GPU driver's Vulkan support, or Mesa's lavapipe for a software adapter",
      };
    }
    if (rc !== VK_SUCCESS) return { adapters: [], why: `vkCreateInstance failed with VkResult ${rc}` };
    try {
      const count = [0];
      let r = enumerate(instance[0], count, null) as number;
      if (r !== VK_SUCCESS) return { adapters: [], why: `vkEnumeratePhysicalDevices failed with VkResult ${r}` };
      const devices: unknown[] = new Array(count[0]).fill(null);
      r = enumerate(instance[0], count, devices) as number;
      if (r !== VK_SUCCESS && r !== 5 /* VK_INCOMPLETE */) return { adapters: [], why: `vkEnumeratePhysicalDevices failed with VkResult ${r}` };
      const adapters = devices.slice(0, count[0]).map((device) => {
        const buf = Buffer.alloc(PROPS_BYTES);
        properties(device, buf);
        const vendorId = buf.readUInt32LE(8);
        const kind = KINDS[buf.readUInt32LE(16)] ?? "other";
        const raw = buf.subarray(NAME_OFFSET, NAME_OFFSET + NAME_BYTES);
        const end = raw.indexOf(0);
        return {
          name: raw.subarray(0, end < 0 ? NAME_BYTES : end).toString("utf8"),
          vendor: VENDORS[vendorId] ?? `0x${vendorId.toString(16)}`,
          vendorId,
          deviceId: buf.readUInt32LE(12),
          kind,
          hardware: kind !== "cpu",
          backend: "Vulkan" as const,
          apiVersion: vulkanVersion(buf.readUInt32LE(0)),
        };
      });
      return { adapters, why: adapters.length ? "" : "the Vulkan driver reports no devices" };
    } finally {
      destroy(instance[0], null);
    }
  } catch (err) {
    return { adapters: [], why: `the Vulkan query failed: ${(err as Error).message}` };
  }
}

let registered: unknown;
function registerTypes(koffi: typeof import("koffi")): void {
  registered ??= koffi.struct("GrpoVkInstanceCreateInfo", {
    sType: "int",
    pNext: "void*",
    flags: "uint32_t",
    pApplicationInfo: koffi.pointer(
      koffi.struct("GrpoVkApplicationInfo", {
        sType: "int",
        pNext: "void*",
        pApplicationName: "const char*",
        applicationVersion: "uint32_t",
        pEngineName: "const char*",
        engineVersion: "uint32_t",
        apiVersion: "uint32_t",
      }),
    ),
    enabledLayerCount: "uint32_t",
    ppEnabledLayerNames: "void*",
    enabledExtensionCount: "uint32_t",
    ppEnabledExtensionNames: "void*",
  });
}
