// `npm run bench -- quant`: the int8 judge against its fp32 original, on what training scores —
// completions the generator samples (k per input) for held-out inputs. Agreement: Spearman over
// all sequences and within each group, and the share of groups whose best member is the same;
// speed: sequences/s of each judge over the same sequences, measured in one run.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { loadCorpus } from "@grpomesh/data";
import { PolicyEngine } from "@grpomesh/role-engines";
import { loadConfig } from "@grpomesh/model";
import { fuseGeluModel, quantizeModel } from "@grpomesh/onnx-export/quantize";
import { ROOT } from "@grpomesh/launcher";
import type { QuantBenchConfig } from "./settings.ts";
import { InProcessJudge, benchData, benchGrpoConfig } from "./step.ts";
import { formatTable } from "./stats.ts";
import { agreement } from "@grpomesh/onnx-export/agreement";
import * as ort from "onnxruntime-node";
import { GraphBuilder, TensorProto_DataType } from "@grpomesh/autodiff/graph";

/**
 * Whether onnxruntime's CPU provider runs a bfloat16 MatMul here (a bf16 judge would need it):
 * null when it does, else onnxruntime's reason.
 */
export async function bf16MatMulProblem(): Promise<string | null> {
  const g = new GraphBuilder();
  const n = 64;
  const cast = (x: string, to: TensorProto_DataType) => g.node("Cast", [x], { attrs: { to } });
  const a = cast(g.input("a", TensorProto_DataType.FLOAT, [n, n]), TensorProto_DataType.BFLOAT16);
  g.output(cast(g.node("MatMul", [a, a]), TensorProto_DataType.FLOAT), "y", TensorProto_DataType.FLOAT, [n, n]);
  try {
    const session = await ort.InferenceSession.create(g.toModel(), { logSeverityLevel: 3 });
    await session.run({ a: new ort.Tensor("float32", new Float32Array(n * n).fill(0.5), [n, n]) });
    await session.release();
    return null;
  } catch (err) {
    return (err as Error).message.split("\n")[0]!.slice(0, 200);
  }
}

export async function run(o: QuantBenchConfig): Promise<void> {
  const tmp = mkdtempSync(join(tmpdir(), "grpomesh-bench-quant-"));
  try {
    const corpus = loadCorpus();
    const generator = resolve(ROOT, o.generator);
    const fp32Path = resolve(ROOT, o.judge_model);
    const { bytes, report } = quantizeModel(readFileSync(fp32Path), { keep: o.keep ? o.keep.split(",").map((s) => s.trim()) : [] });
    const int8Path = join(tmp, "judge-int8.onnx");
    writeFileSync(int8Path, bytes);
    const T = loadConfig(generator).seq_len;
    const config = benchGrpoConfig(16, o.group_size);
    const k = o.group_size;
    console.log(
      `int8 judge of ${o.judge_model}: ${report.quantized.length} weight matrices int8${report.kept.length ? `, ${report.kept.join(", ")} fp32` : ""}, ${report.gelus} GELU as FastGelu, ` +
        `${(report.bytesBefore / 1e6).toFixed(2)} → ${(report.bytesAfter / 1e6).toFixed(2)} MB; ${cpus()[0]?.model ?? "unknown CPU"}, ${availableParallelism()} cores`,
    );
    // what training scores: k completions per held-out input, sampled by the generator
    const policy = await PolicyEngine.fromCheckpoint(generator, { threads: availableParallelism() });
    const batches = benchData(corpus, T, config, o.batches).evalBatches();
    const seqs: Int32Array[] = [];
    try {
      for (const [i, b] of batches.entries()) {
        const s = await policy.sample(
          b.inputs,
          { batch: b.batchSize, seqLen: T },
          { temperature: config.temperature, topP: config.top_p, groupSize: k, seed: String(i + 1) },
        );
        seqs.push(s.completions);
      }
    } finally {
      await policy.close();
    }
    const all = new Int32Array(seqs.reduce((n, s) => n + s.length, 0));
    seqs.reduce((o2, s) => (all.set(s, o2), o2 + s.length), 0);
    const count = all.length / T;
    console.log(`${count} sequences: ${batches.length} held-out batches × 16 inputs × ${k} completions, T = ${T}`);

    const threads = o.threads || availableParallelism();
    // the GELU fusion alone, on the fp32 weights: how much of the int8 judge's speed is the fusion's
    const fusedPath = join(tmp, "judge-fp32-fastgelu.onnx");
    writeFileSync(fusedPath, fuseGeluModel(readFileSync(fp32Path)).bytes);
    // The judges take turns, one pass each per round, so a change in the machine's load falls on
    // all of them alike; each one's best pass counts.
    const judges = [
      { name: "fp32", judge: await InProcessJudge.open(fp32Path, threads, o.run_tokens) },
      { name: "fused", judge: await InProcessJudge.open(fusedPath, threads, o.run_tokens) },
      { name: "int8", judge: await InProcessJudge.open(int8Path, threads, o.run_tokens) },
    ];
    const results: Record<string, { scores: Float32Array; seqPerS: number }> = {};
    try {
      const shape = { count, seqLen: T, groupSize: k };
      for (const { name, judge } of judges) results[name] = { scores: (await judge.score(all, shape)).scores, seqPerS: 0 };
      for (let r = 0; r < o.repeats; r++) {
        for (const { name, judge } of judges) {
          const t0 = performance.now();
          await judge.score(all, shape);
          results[name]!.seqPerS = Math.max(results[name]!.seqPerS, count / ((performance.now() - t0) / 1000));
        }
      }
    } finally {
      for (const { judge } of judges) await judge.release();
    }
    const agree = agreement(results.fp32!.scores, results.int8!.scores, k);
    const speed = (name: string) => `${results[name]!.seqPerS.toFixed(0)} seq/s (${(results[name]!.seqPerS / results.fp32!.seqPerS).toFixed(2)}×)`;
    console.log(
      formatTable(
        ["", "value", "goal"],
        [
          ["Spearman, all sequences", agree.spearman.toFixed(4), "≥ 0.99"],
          ["Spearman within groups (mean)", agree.spearmanWithinGroups.toFixed(4), ""],
          ["same best member of the group", `${(agree.sameBest * 100).toFixed(1)}% of ${agree.groups}`, "≥ 95%"],
          ["largest |score difference|", agree.maxAbsDiff.toFixed(4), ""],
          [`fp32 judge, ${threads} thread(s), runs of ${o.run_tokens || "all"} tokens`, `${results.fp32!.seqPerS.toFixed(0)} seq/s`, ""],
          [`fp32 judge, GELU as FastGelu only`, speed("fused"), ""],
          [`int8 judge (GELU as FastGelu)`, speed("int8"), ""],
        ],
      ),
    );
    const bf16 = await bf16MatMulProblem();
    console.log(
      bf16 === null
        ? "bf16: onnxruntime's CPU provider runs a bfloat16 MatMul here (a bf16 judge could be measured)"
        : `bf16: no bf16 judge — onnxruntime's CPU provider has no bfloat16 MatMul here ("${bf16}")`,
    );
    if (o.json) {
      writeFileSync(
        o.json,
        JSON.stringify(
          {
            time: new Date().toISOString(),
            cpu: cpus()[0]?.model,
            threads,
            report,
            agreement: agree,
            seq_per_s: { fp32: results.fp32!.seqPerS, fp32_fastgelu: results.fused!.seqPerS, int8: results.int8!.seqPerS },
          },
          null,
          2,
        ) + "\n",
      );
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
