// Every synchronous check at once, by name: what `main.ts` prints and what CI can call.
import type { DeployBundle } from "./bundle.ts";
import { checkDockerfile, checkImagesInManifests, checkRunSyntax, type ServicePorts } from "./images.ts";
import { MANIFEST_CHECKS } from "./k8s.ts";
import { checkScrapeConfig, checkServiceMonitor } from "./monitoring.ts";
import { checkServiceCommands, checkWiring, defaultServicePorts } from "./services.ts";
import { CREDENTIAL_CHECKS } from "./credentials.ts";
import { checkNetworkPolicies } from "./network.ts";

export function checkAll(bundle: DeployBundle, ports: ServicePorts = defaultServicePorts()): Record<string, string[]> {
  return {
    ...Object.fromEntries(Object.entries(MANIFEST_CHECKS).map(([name, check]) => [name, check(bundle)])),
    checkDockerfile: checkDockerfile(bundle, ports),
    checkRunSyntax: checkRunSyntax(bundle),
    checkImagesInManifests: checkImagesInManifests(bundle),
    checkServiceCommands: checkServiceCommands(bundle),
    checkWiring: checkWiring(bundle),
    checkServiceMonitor: checkServiceMonitor(bundle),
    checkScrapeConfig: checkScrapeConfig(bundle),
    ...Object.fromEntries(Object.entries(CREDENTIAL_CHECKS).map(([name, check]) => [name, check(bundle)])),
    checkNetworkPolicies: checkNetworkPolicies(bundle),
  };
}
