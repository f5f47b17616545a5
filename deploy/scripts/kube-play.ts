// The CPU variant of the manifests run in containers with `podman kube play`: models loaded by the
// load-models Job, a short training run, a judge swap by the swap-judge Job and judges scaled
// 1 → 3 → 1 while it trains, then everything removed. Needs the images (npm run images), podman, root.
//   npm run kube-play [-- --max_iters=150] [--keep] [--cleanup] [--json]
// deploy/README.md, "Containers on one machine".
import { kubePlayMain } from "../../tools/deploy-check/src/podman-play.ts";

process.exitCode = await kubePlayMain(process.argv.slice(2));
