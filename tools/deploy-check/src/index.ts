// Offline validation of deploy/: the Kubernetes manifests, the Prometheus files and the
// Dockerfile, against each other and against the services' own config parsers. No cluster or
// Docker engine needed; the tests next to these files run every check on the repository.
export { loadBundle, type DeployBundle } from "./bundle.ts";
export { checkAll } from "./check-all.ts";
export { makeClusterSecrets, makeSecretsMain, writeClusterSecrets, type ClusterSecrets } from "./secrets.ts";
