import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../src/index.ts";
await initBackend("wasm", { log: false });
const N = 128, M = 128, K = 128, P = 32;
const a = tf.randomNormal([N, M, K]) as tf.Tensor3D, b = tf.randomNormal([N, K, P]) as tf.Tensor3D;
async function time(name: string, f: () => tf.Tensor) {
  for (let r = 0; r < 3; r++) { const t0 = performance.now(); const y = f(); await y.data(); const ms = performance.now() - t0; y.dispose(); if (r == 2) console.log(name, ms.toFixed(1), "ms", (2 * N * M * K * P / ms / 1e6).toFixed(2), "GFLOP/s"); }
}
await time("batched", () => tf.matMul(a, b));
await time("loop2d", () => tf.tidy(() => { const as = tf.unstack(a), bs = tf.unstack(b); return tf.stack(as.map((x, i) => tf.matMul(x as tf.Tensor2D, bs[i] as tf.Tensor2D))); }));
await time("loop2d-slice", () => tf.tidy(() => { const out = []; for (let i = 0; i < N; i++) out.push(tf.matMul(tf.reshape(tf.slice(a, [i, 0, 0], [1, M, K]), [M, K]) as tf.Tensor2D, tf.reshape(tf.slice(b, [i, 0, 0], [1, K, P]), [K, P]) as tf.Tensor2D)); return tf.concat(out); }));
// batched with batch of 1 (3D) each
await time("loop3d-b1", () => tf.tidy(() => { const out = []; for (let i = 0; i < N; i++) out.push(tf.matMul(tf.slice(a, [i, 0, 0], [1, M, K]) as tf.Tensor3D, tf.slice(b, [i, 0, 0], [1, K, P]) as tf.Tensor3D)); return tf.concat(out); }));
// other shape: scores [N,M,dh]x[N,dh,M]
const q = tf.randomNormal([N, M, P]) as tf.Tensor3D, kT = tf.randomNormal([N, P, M]) as tf.Tensor3D;
for (let r = 0; r < 3; r++) { const t0 = performance.now(); const y = tf.matMul(q, kT); await y.data(); if (r == 2) console.log("qkT batched", (performance.now() - t0).toFixed(1)); y.dispose(); }
for (let r = 0; r < 3; r++) { const t0 = performance.now(); const y = tf.tidy(() => { const qs = tf.unstack(q), ks = tf.unstack(kT); return tf.stack(qs.map((x, i) => tf.matMul(x as tf.Tensor2D, ks[i] as tf.Tensor2D))); }); await y.data(); if (r == 2) console.log("qkT loop2d", (performance.now() - t0).toFixed(1)); y.dispose(); }
