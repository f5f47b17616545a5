import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  checkDockerfile,
  checkImagesInManifests,
  DockerfileError,
  healthcheckCommand,
  parseDockerfile,
  serviceTargets,
  stageByName,
  stageEnv,
} from "./images.ts";
import { defaultServicePorts } from "./services.ts";
import type { DeployBundle } from "./bundle.ts";
import { assertProblem, bundle, container, RENDER_SKIP } from "./test/helpers.ts";

const ports = defaultServicePorts();

/** Replaces text in the bundle's Dockerfile, failing when the text is not there (so a test cannot silently test nothing). */
function editDockerfile(b: DeployBundle, from: string | RegExp, to: string): void {
  const before = b.dockerfile.text;
  b.dockerfile.text = before.replace(from, to);
  assert.notEqual(b.dockerfile.text, before, `${String(from)} is not in the Dockerfile`);
}

describe("parseDockerfile", () => {
  it("joins continuations, drops comments, splits stages and sees ENV through base stages", () => {
    const df = parseDockerfile(
      [
        "# syntax=docker/dockerfile:1",
        "ARG BASE=node:20-slim",
        "FROM ${BASE} AS base",
        'ENV A=1 B="two words"',
        "RUN echo one \\",
        "  # a comment inside a continuation",
        "  && echo two",
        "FROM base AS app",
        "ENV C $A-x",
        "ENV PATH /a b",
        "USER 1000:1000",
        'HEALTHCHECK --interval=5s CMD ["node", "check.mjs"]',
      ].join("\n"),
    );
    assert.deepEqual(df.globalArgs, { BASE: "node:20-slim" });
    assert.deepEqual(
      df.stages.map((s) => [s.name, s.base]),
      [
        ["base", "node:20-slim"],
        ["app", "base"],
      ],
    );
    assert.equal(df.stages[0]!.instructions[1]!.args, "echo one && echo two");
    const app = stageByName(df, "app")!;
    assert.deepEqual(stageEnv(df, app), { A: "1", B: "two words", C: "1-x", PATH: "/a b" });
    assert.deepEqual(healthcheckCommand(app.instructions.at(-1)!.args), ["node", "check.mjs"]);
    assert.throws(() => parseDockerfile("RUN x\nFROM y"), DockerfileError);
  });
});

describe("checkDockerfile", () => {
  it("installs skip onnxruntime's download (or ask for CUDA), put tfjs-node on the lockfile's tfjs-core, and runtimes get production dependencies only", () => {
    const b = bundle();
    editDockerfile(b, "ARG TFJS_NODE_GPU_VERSION=4.22.0", "ARG TFJS_NODE_GPU_VERSION=4.21.0");
    assertProblem(checkDockerfile(b, ports), /Dockerfile:\d+: installs tfjs-node 4\.21\.0; the lockfile's @tensorflow\/tfjs-core is 4\.22\.0/);
    const c = bundle();
    editDockerfile(c, "RUN npm ci --omit=dev --no-audit --no-fund \\\n && find", "RUN npm ci --no-audit --no-fund \\\n && find");
    assertProblem(checkDockerfile(c, ports), /target judge: copies \/app from stage prod-deps, whose npm ci \(line \d+\) keeps the devDependencies/);
    const d = bundle();
    editDockerfile(d, /ONNXRUNTIME_NODE_INSTALL=skip/g, "ONNXRUNTIME_NODE_INSTALL=yes");
    assertProblem(checkDockerfile(d, ports), /npm ci with ONNXRUNTIME_NODE_INSTALL=yes; expected skip, or cuda12 for the CUDA judge/);
    const f = bundle();
    f.dockerfile.text = "# syntax=docker/dockerfile:1\n" + f.dockerfile.text;
    assertProblem(checkDockerfile(f, ports), /Dockerfile:1: # syntax=docker\/dockerfile:1 makes BuildKit pull a frontend image/);
    const e = bundle();
    editDockerfile(
      e,
      'ENTRYPOINT ["node", "services/policy/src/main.js"]\nCMD []\n\n# ---- reference',
      'ENTRYPOINT ["node", "--import", "tsx", "services/policy/src/main.js"]\nCMD []\n\n# ---- reference',
    );
    assertProblem(checkDockerfile(e, ports), /target policy: ENTRYPOINT node --import tsx services\/policy\/src\/main\.js loads a TypeScript loader/);
  });
  it("passes on the repository, with a target for every service", () => {
    const b = bundle();
    assert.deepEqual(checkDockerfile(b, ports), []);
    const targets = serviceTargets(parseDockerfile(b.dockerfile.text)).map((t) => `${t.stage.name}:${t.service}`);
    assert.deepEqual(targets.sort(), [
      "judge-cuda:judge",
      "judge:judge",
      "orchestrator:orchestrator",
      "policy-tfjs-gpu:policy",
      "policy:policy",
      "reference-tfjs-gpu:reference",
      "reference:reference",
    ]);
  });

  it("the GPU-capable targets use WebGPU from npm: no CUDA base, Debian's Vulkan loader, the graphics capability", () => {
    const cuda = bundle();
    editDockerfile(cuda, "FROM ${BASE_IMAGE} AS runtime", "FROM ${CUDA12_IMAGE} AS runtime");
    const problems = checkDockerfile(cuda, ports);
    for (const t of ["judge", "policy", "reference"]) assertProblem(problems, new RegExp(`target ${t} starts FROM nvidia/cuda:12[^,]*, a CUDA image`));
    const noLoader = bundle();
    editDockerfile(noLoader, "apt-get install -y --no-install-recommends libvulkan1", "apt-get install -y --no-install-recommends ca-certificates");
    assertProblem(checkDockerfile(noLoader, ports), /target policy does not install Debian's Vulkan loader/);
    const noGraphics = bundle();
    editDockerfile(noGraphics, "NVIDIA_DRIVER_CAPABILITIES=compute,utility,graphics", "NVIDIA_DRIVER_CAPABILITIES=compute,utility");
    assertProblem(checkDockerfile(noGraphics, ports), /target judge: NVIDIA_DRIVER_CAPABILITIES is compute,utility; expected graphics/);
  });

  it("an entry point that does not exist in the repository is caught", () => {
    const b = bundle();
    editDockerfile(b, '"services/reference/src/main.js"]\nCMD []\n\n# ---- orchestrator', '"services/reference/src/server.js"]\nCMD []\n\n# ---- orchestrator');
    assertProblem(
      checkDockerfile(b, ports),
      /Dockerfile:\d+: runs services\/reference\/src\/server\.js, which neither exists in the repository nor is compiled from a \.ts file there/,
    );
  });

  it("EXPOSE and HEALTHCHECK use the service's own default ports", () => {
    const b = bundle();
    editDockerfile(b, "FROM runtime AS judge\nEXPOSE 50051 9464", "FROM runtime AS judge\nEXPOSE 50061 9464");
    editDockerfile(
      b,
      '"127.0.0.1:50072"]\nENTRYPOINT ["node", "services/reference/src/main.js"]\nCMD []\n\n# ---- orchestrator',
      '"127.0.0.1:50071"]\nENTRYPOINT ["node", "services/reference/src/main.js"]\nCMD []\n\n# ---- orchestrator',
    );
    const problems = checkDockerfile(b, ports);
    assertProblem(problems, /target judge: EXPOSE 50061 9464 lacks 50051, a default port of services\/judge/);
    assertProblem(problems, /target reference: HEALTHCHECK checks 127\.0\.0\.1:50071; services\/reference serves gRPC on 50072/);
  });
});

describe("checkImagesInManifests", { skip: RENDER_SKIP }, () => {
  it("passes on the repository", () => {
    assert.deepEqual(checkImagesInManifests(bundle()), []);
  });

  it("containers must use an image target of the Dockerfile", () => {
    const b = bundle();
    container(b, "Deployment", "judge").image = "grpomesh/jugde:0.1.0";
    assertProblem(checkImagesInManifests(b), /container judge: image grpomesh\/jugde:0\.1\.0 is not grpomesh\/<target>/);
  });
});
