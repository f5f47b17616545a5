// Writes a kustomization folder for one training run (its policy, reference, orchestrator, config
// and run directory, named and labelled by the run), to apply beside the namespace's shared objects:
//   node --import tsx deploy/scripts/new-run.ts NAME [--variant=cpu|gpu|gpu-judges] [--own_judges]
//     [--nvidia_runtime] [--set key=value …] [--namespace=grpomesh] [--out=DIR]
// Then: kubectl apply -k deploy/runs/NAME (deploy/README.md, "Runs").
import { newRunMain } from "../../tools/deploy-check/src/runs.ts";

process.exitCode = newRunMain(process.argv.slice(2));
