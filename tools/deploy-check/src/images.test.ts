import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { dockerIgnore, healthcheckCommand, parseDockerfile, rootImage, stageByName, stageEnv, DockerfileError } from "./dockerfile.ts";
import { checkDockerfile, checkImagesInManifests, checkRunSyntax, serviceTargets } from "./images.ts";
import { defaultServicePorts } from "./services.ts";
import type { DeployBundle } from "./bundle.ts";
import { assertProblem, bundle, container, obj } from "./test/helpers.ts";

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
    assert.equal(rootImage(df, app), "node:20-slim");
    assert.deepEqual(stageEnv(df, app), { A: "1", B: "two words", C: "1-x", PATH: "/a b" });
    assert.deepEqual(healthcheckCommand(app.instructions.at(-1)!.args), ["node", "check.mjs"]);
    assert.throws(() => parseDockerfile("RUN x\nFROM y"), DockerfileError);
  });
});

describe("dockerIgnore", () => {
  it("matches like BuildKit: ** across folders, a matched folder hides its files, the last rule wins", () => {
    const ig = dockerIgnore("# comment\n**/node_modules\n/runs\n*.log\n**/*.test.ts\ndocs\n!docs/keep.md\n");
    assert.equal(ig.ignores("node_modules/x/index.js"), true);
    assert.equal(ig.ignores("libs/model/node_modules/y"), true);
    assert.equal(ig.ignores("runs/2026/log.jsonl"), true);
    assert.equal(ig.ignores("a.log"), true);
    assert.equal(ig.ignores("sub/a.log"), false, "*.log matches at the root only");
    assert.equal(ig.ignores("services/judge/src/main.test.ts"), true);
    assert.equal(ig.ignores("services/judge/src/main.ts"), false);
    assert.equal(ig.ignores("docs/model-format.md"), true);
    assert.equal(ig.ignores("docs/keep.md"), false);
  });
});

describe("checkDockerfile", () => {
  it("passes on the repository, with a target for every service", () => {
    const b = bundle();
    assert.deepEqual(checkDockerfile(b, ports), []);
    const targets = serviceTargets(parseDockerfile(b.dockerfile.text)).map((t) => `${t.stage.name}:${t.service}:${t.gpu ? "gpu" : "cpu"}`);
    assert.deepEqual(targets.sort(), [
      "judge-gpu:judge:gpu",
      "judge:judge:cpu",
      "orchestrator:orchestrator:cpu",
      "policy-cpu:policy:cpu",
      "policy:policy:gpu",
      "reference-cpu:reference:cpu",
      "reference:reference:gpu",
    ]);
  });

  it("an entry point that does not exist in the repository is caught", () => {
    const b = bundle();
    editDockerfile(b, '"services/reference/src/main.ts"]\nCMD []\n\n# ---- policy-cpu', '"services/reference/src/server.ts"]\nCMD []\n\n# ---- policy-cpu');
    assertProblem(checkDockerfile(b, ports), /line \d+ runs services\/reference\/src\/server\.ts, which does not exist in the repository/);
  });

  it("files the images need must stay in the build context", () => {
    const b = bundle();
    b.dockerignore.text += "\nservices/judge\n.npmrc\n";
    const problems = checkDockerfile(b, ports);
    assertProblem(problems, /runs services\/judge\/src\/main\.ts, but deploy\/images\/Dockerfile\.dockerignore leaves it out of the build context/);
    assertProblem(problems, /the install needs \.npmrc, but .* leaves it out/);
    assertProblem(problems, /the install needs workspace manifest services\/judge\/package\.json/);
  });

  it("service targets run as a non-root numeric user", () => {
    const b = bundle();
    editDockerfile(b, /(FROM runtime-cpu AS orchestrator\n)/, "$1USER root\n");
    editDockerfile(b, /(FROM cuda12-node AS judge-gpu\n(?:.*\n)*?)USER 1000:1000\n/, "$1USER node\n");
    const problems = checkDockerfile(b, ports);
    assertProblem(problems, /target orchestrator runs as root; expected a non-root USER/);
    assertProblem(problems, /target judge-gpu: USER node is a name; use a numeric uid/);
  });

  it("CPU images skip onnxruntime's CUDA download; the GPU judge installs it", () => {
    const b = bundle();
    editDockerfile(b, "FROM node AS deps\nENV ONNXRUNTIME_NODE_INSTALL=skip ", "FROM node AS deps\nENV ");
    editDockerfile(b, "ENV ONNXRUNTIME_NODE_INSTALL=cuda12 ", "ENV ");
    const problems = checkDockerfile(b, ports);
    assertProblem(problems, /stage deps installs dependencies for target judge with ONNXRUNTIME_NODE_INSTALL=\(unset\); expected skip/);
    assertProblem(problems, /stage deps-judge-gpu installs dependencies for target judge-gpu with ONNXRUNTIME_NODE_INSTALL=\(unset\); expected cuda12/);
  });

  it("tsx (a devDependency) must survive the install: no --omit=dev, no NODE_ENV=production while installing", () => {
    const b = bundle();
    editDockerfile(b, "FROM node AS deps\nENV ONNXRUNTIME_NODE_INSTALL=skip", "FROM node AS deps\nENV NODE_ENV=production ONNXRUNTIME_NODE_INSTALL=skip");
    editDockerfile(b, /(FROM cuda12-node AS deps-judge-gpu\n(?:.*\n)*?RUN npm ci)/, "$1 --omit=dev");
    const problems = checkDockerfile(b, ports);
    assertProblem(problems, /stage deps runs npm with NODE_ENV=production, which leaves out devDependencies, tsx among them/);
    assertProblem(problems, /stage deps-judge-gpu installs without devDependencies, but tsx .* is a devDependency/);
    // Once tsx is a dependency, --omit=dev is fine.
    b.packageJson.dependencies = { ...b.packageJson.dependencies, tsx: b.packageJson.devDependencies!.tsx! };
    assert.ok(!checkDockerfile(b, ports).some((p) => /tsx/.test(p)));
  });

  it("tfjs-node-gpu must match the lockfile's tfjs-core", () => {
    const b = bundle();
    editDockerfile(b, "ARG TFJS_NODE_GPU_VERSION=4.22.0", "ARG TFJS_NODE_GPU_VERSION=4.21.0");
    assertProblem(checkDockerfile(b, ports), /installs tfjs-node 4\.21\.0; the lockfile's @tensorflow\/tfjs-core is 4\.22\.0/);
  });

  it("EXPOSE and HEALTHCHECK use the service's own default ports", () => {
    const b = bundle();
    editDockerfile(b, "FROM runtime-cpu AS judge\nEXPOSE 50051 9464", "FROM runtime-cpu AS judge\nEXPOSE 50061 9464");
    editDockerfile(
      b,
      '"127.0.0.1:50072"]\nENTRYPOINT ["node", "--import", "tsx", "services/reference/src/main.ts"]\nCMD []\n\n# ---- policy-cpu',
      '"127.0.0.1:50071"]\nENTRYPOINT ["node", "--import", "tsx", "services/reference/src/main.ts"]\nCMD []\n\n# ---- policy-cpu',
    );
    const problems = checkDockerfile(b, ports);
    assertProblem(problems, /target judge: EXPOSE 50061 9464 lacks 50051, a default port of services\/judge/);
    assertProblem(problems, /target reference: HEALTHCHECK checks 127\.0\.0\.1:50071; services\/reference serves gRPC on 50072/);
  });

  it("COPY --from must name an earlier stage, and the Node image must satisfy engines", () => {
    const b = bundle();
    editDockerfile(b, "COPY --from=deps /app/ ./", "COPY --from=dependencies /app/ ./");
    editDockerfile(b, "ARG NODE_IMAGE=node:20.20.2-bookworm-slim", "ARG NODE_IMAGE=node:18-bookworm-slim");
    const problems = checkDockerfile(b, ports);
    assertProblem(problems, /COPY --from=dependencies names no stage/);
    assertProblem(problems, /NODE_IMAGE node:18-bookworm-slim is Node 18; package\.json needs node >=20/);
  });
});

describe("checkRunSyntax", () => {
  it("every RUN is valid sh, and a broken one is caught", () => {
    const b = bundle();
    assert.deepEqual(checkRunSyntax(b), []);
    editDockerfile(b, "exit 1; }; } \\\n", "exit 1; }; \\\n");
    assertProblem(checkRunSyntax(b), /Dockerfile:\d+: RUN is not valid sh/);
  });
});

describe("checkImagesInManifests", () => {
  it("passes on the repository", () => {
    assert.deepEqual(checkImagesInManifests(bundle()), []);
  });

  it("containers must use an image target of the Dockerfile", () => {
    const b = bundle();
    container(b, "Deployment", "judge").image = "grpomesh/jugde:0.1.0";
    assertProblem(checkImagesInManifests(b), /container judge: image grpomesh\/jugde:0\.1\.0 is not grpomesh\/<target>/);
  });

  it("GPU images need a GPU, a GPU node selector and the GPU toleration", () => {
    const b = bundle();
    delete container(b, "Deployment", "policy").resources!.limits!["nvidia.com/gpu"];
    delete container(b, "Deployment", "policy").resources!.requests!["nvidia.com/gpu"];
    obj(b, "Deployment", "reference").spec!.template!.spec!.tolerations = [];
    delete obj(b, "Deployment", "reference").spec!.template!.spec!.nodeSelector;
    const problems = checkImagesInManifests(b);
    assertProblem(problems, /container policy: image target policy is a CUDA image but the container requests no and limits no nvidia\.com\/gpu/);
    assertProblem(problems, /container reference: a GPU workload without a toleration for the nvidia\.com\/gpu taint/);
    assertProblem(problems, /container reference: a GPU workload without a nodeSelector/);
  });

  it("a CPU image asking for a GPU, or a uid other than the image's, is caught", () => {
    const b = bundle();
    container(b, "Deployment", "judge").resources!.limits!["nvidia.com/gpu"] = 1;
    obj(b, "Job", "orchestrator").spec!.template!.spec!.securityContext!.runAsUser = 1001;
    const problems = checkImagesInManifests(b);
    assertProblem(problems, /container judge: image target judge is a CPU image but the container asks for nvidia\.com\/gpu 1/);
    assertProblem(problems, /container orchestrator: runs as uid 1001, but image target orchestrator is built for USER 1000/);
  });
});
