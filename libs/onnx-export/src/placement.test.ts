// Reading onnxruntime's node assignment: the parser on its verbose log's format, and the child
// process on a real session (the CPU provider, which every machine has).
import { test } from "node:test";
import assert from "node:assert/strict";
import { defaultGeneratorConfig } from "@grpomesh/model/format";
import { buildForwardGraph } from "./export.ts";
import { describePlacement, graphPlacement, parsePlacement } from "./placement.ts";

const PREFIX = "2026-12-05 04:22:52.723655307 [V:onnxruntime:, session_state.cc:1383 VerifyEachNodeIsAssignedToAnEp]";
const LOG = [
  "2026-12-05 04:22:52.72 [V:onnxruntime:, session_state.cc:1377 VerifyEachNodeIsAssignedToAnEp] Node placements",
  `${PREFIX}  Node(s) placed on [WebGpuExecutionProvider]. Number of nodes: 506`,
  `${PREFIX}   MatMul (node_MatMul)`,
  `${PREFIX}   Reshape (node_Reshape_1)`,
  `${PREFIX}  Node(s) placed on [CPUExecutionProvider]. Number of nodes: 3`,
  `${PREFIX}   Reshape (node_Reshape)`,
  `${PREFIX}   OneHot (node_OneHot)`,
  `${PREFIX}   LogSoftmax (node_LogSoftmax)`,
  "\u001b[0;93m2026-12-05 04:22:52.72 [W:onnxruntime:, session_state.cc:1397 VerifyEachNodeIsAssignedToAnEp] Some nodes were not assigned to the preferred execution providers",
  "2026-12-05 04:22:52.91 [V:onnxruntime:, session_state.cc:186 CreateGraphInfo] SaveMLValueNameIndexMapping",
].join("\n");

test("parsePlacement reads the counts per provider and the CPU's nodes", () => {
  const p = parsePlacement(LOG);
  assert.deepEqual(p.byProvider, { webgpu: 506, cpu: 3 });
  assert.equal(p.total, 509);
  assert.deepEqual(
    p.cpuNodes.map((n) => n.op),
    ["Reshape", "OneHot", "LogSoftmax"],
  );
  assert.equal(describePlacement(p, "webgpu"), "3 of 509 nodes fell back to the CPU provider (LogSoftmax, OneHot, Reshape)");
  assert.equal(
    describePlacement(parsePlacement(`${PREFIX}  All nodes placed on [WebGpuExecutionProvider]. Number of nodes: 140`), "webgpu"),
    "all 140 nodes on webgpu",
  );
  assert.throws(() => parsePlacement("nothing useful"), /no node placements/);
});

test("graphPlacement reads a real session's assignment in a child process", { timeout: 60_000 }, async () => {
  const config = defaultGeneratorConfig(["[PAD]", "[MASK]", "a", "b"], { seq_len: 8, n_layer: 1, n_head: 2, d_model: 8, d_ff: 16 });
  const p = await graphPlacement(buildForwardGraph(config, { batch: 1 }), ["cpu"]);
  assert.ok(p.total > 10, `only ${p.total} nodes`);
  assert.deepEqual(Object.keys(p.byProvider), ["cpu"]);
  assert.equal(describePlacement(p, "cpu"), `all ${p.total} nodes on cpu`);
  await assert.rejects(graphPlacement(new Uint8Array([1, 2, 3]), ["cpu"]), /the placement check's onnxruntime session failed/);
});
