// Offline validation of deploy/: the Kubernetes manifests, the Prometheus files and the
// Dockerfile, against each other and against the services' own config parsers. No cluster or
// Docker engine needed; the tests next to these files run every check on the repository.
import type { DeployBundle } from "./bundle.ts";
import { checkDockerfile, checkImagesInManifests, type ServicePorts } from "./images.ts";
import { MANIFEST_CHECKS } from "./k8s.ts";
import { checkServiceMonitor } from "./monitoring.ts";
import { checkServiceCommands, checkWiring, defaultServicePorts } from "./services.ts";
import { checkCredentials } from "./credentials.ts";
import { checkNetworkPolicies } from "./network.ts";
export { loadBundle, type DeployBundle } from "./bundle.ts";
export { makeClusterSecrets, makeSecretsMain, writeClusterSecrets, type ClusterSecrets } from "./secrets.ts";

/** Every synchronous check at once, by name: what CI can call. */
export function checkAll(bundle: DeployBundle, ports: ServicePorts = defaultServicePorts()): Record<string, string[]> {
  return {
    ...Object.fromEntries(Object.entries(MANIFEST_CHECKS).map(([name, check]) => [name, check(bundle)])),
    checkDockerfile: checkDockerfile(bundle, ports),
    checkImagesInManifests: checkImagesInManifests(bundle),
    checkServiceCommands: checkServiceCommands(bundle),
    checkWiring: checkWiring(bundle),
    checkServiceMonitor: checkServiceMonitor(bundle),
    checkCredentials: checkCredentials(bundle),
    checkNetworkPolicies: checkNetworkPolicies(bundle),
  };
}
