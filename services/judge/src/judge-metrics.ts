// The judge's own Prometheus metrics, beside the per-RPC counters of libs/metrics
// (judge_request_success_total, judge_request_failure_total, judge_request_duration_seconds).
// Names follow Triton's: inference/execution counts, queue and compute durations, per model version.
import { Counter, Gauge, Histogram, type Registry } from "@grpomesh/metrics";

const DURATION_BUCKETS_SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096];

export interface ModelLabels {
  model: string;
  version: string;
}

export class JudgeMetrics {
  readonly requestBatchSize: Histogram<string>;
  readonly executionBatchSize: Histogram<string>;
  readonly queueDuration: Histogram<"model" | "version">;
  readonly computeDuration: Histogram<"model" | "version">;
  readonly inferenceCount: Counter<"model" | "version">;
  readonly executionCount: Counter<"model" | "version">;
  readonly inflightRequests: Gauge<string>;
  readonly pendingSequences: Gauge<string>;
  readonly modelInfo: Gauge<"model" | "version" | "path" | "execution_provider">;
  readonly modelLoads: Counter<"result">;
  readonly modelLoadDuration: Histogram<string>;
  readonly vocabularyRefusals: Counter<string>;
  private infoLabels: Record<"model" | "version" | "path" | "execution_provider", string> | null = null;

  constructor(registry: Registry, pendingRows: () => number) {
    const registers = [registry];
    this.requestBatchSize = new Histogram({ name: "judge_request_batch_size", help: "Sequences per Score request.", buckets: BATCH_BUCKETS, registers });
    this.executionBatchSize = new Histogram({
      name: "judge_execution_batch_size",
      help: "Sequences per onnxruntime run (above the request batch size when the micro-batcher merges requests).",
      buckets: BATCH_BUCKETS,
      registers,
    });
    this.queueDuration = new Histogram({
      name: "judge_queue_duration_seconds",
      help: "Time a Score request waited between arrival and the start of the onnxruntime run that scored it.",
      labelNames: ["model", "version"],
      buckets: DURATION_BUCKETS_SECONDS,
      registers,
    });
    this.computeDuration = new Histogram({
      name: "judge_compute_duration_seconds",
      help: "Duration of one onnxruntime run.",
      labelNames: ["model", "version"],
      buckets: DURATION_BUCKETS_SECONDS,
      registers,
    });
    this.inferenceCount = new Counter({ name: "judge_inference_count_total", help: "Sequences scored.", labelNames: ["model", "version"], registers });
    this.executionCount = new Counter({ name: "judge_execution_count_total", help: "onnxruntime runs.", labelNames: ["model", "version"], registers });
    this.inflightRequests = new Gauge({ name: "judge_inflight_requests", help: "Score requests being validated, queued or computed now.", registers });
    this.pendingSequences = new Gauge({
      name: "judge_pending_sequences",
      help: "Sequences waiting in the micro-batcher queue (a scaling signal).",
      registers,
      collect() {
        this.set(pendingRows());
      },
    });
    this.modelInfo = new Gauge({
      name: "judge_model_info",
      help: "1 for the model this judge serves now (labels say which).",
      labelNames: ["model", "version", "path", "execution_provider"],
      registers,
    });
    this.modelLoads = new Counter({ name: "judge_model_load_total", help: "Model loads by result (success or failure).", labelNames: ["result"], registers });
    this.modelLoadDuration = new Histogram({
      name: "judge_model_load_duration_seconds",
      help: "Read, contract check, session creation and warm-up of a model.",
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.vocabularyRefusals = new Counter({
      name: "judge_model_vocabulary_refusals_total",
      help: "Repository versions refused because their vocabulary differs from the served model's (ids would change meaning).",
      registers,
    });
  }

  /** Points judge_model_info at the model now served (one series at a time). */
  setModel(labels: ModelLabels & { path: string; executionProvider: string }): void {
    if (this.infoLabels) this.modelInfo.remove(this.infoLabels);
    this.infoLabels = { model: labels.model, version: labels.version, path: labels.path, execution_provider: labels.executionProvider };
    this.modelInfo.set(this.infoLabels, 1);
  }
}
