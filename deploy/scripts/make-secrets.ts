// Makes the Secrets the manifests mount (a TLS Secret per role, the admin token) and the operator's
// credentials for calling admin RPCs through a port-forward; nothing is sent anywhere.
//   node --import tsx deploy/scripts/make-secrets.ts --out_dir=DIR [--namespace=grpomesh] [--days=90]
// Then: kubectl apply -f DIR/secrets.yaml (deploy/README.md, "Secrets").
import { makeSecretsMain } from "../../tools/deploy-check/src/secrets.ts";

process.exitCode = await makeSecretsMain(process.argv.slice(2));
