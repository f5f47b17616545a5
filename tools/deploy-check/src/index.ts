// Offline validation of deploy/: the Kubernetes manifests, the Prometheus files and the
// Dockerfile, against each other and against the services' own config parsers. No cluster or
// Docker engine needed; the tests next to these files run every check on the repository.
export { loadBundle, cloneBundle, parseYamlDocuments, REPO_ROOT, PATHS, YamlError, type DeployBundle, type Manifest, type Kustomization } from "./bundle.ts";
export type * from "./k8s-types.ts";
export { checkSchemas, validateObject, modelOf, stableApiVersion } from "./schema.ts";
export {
  MANIFEST_CHECKS,
  checkObjects,
  checkKustomizations,
  checkWorkloads,
  checkServices,
  checkDisruptionAndScaling,
  checkPodSecurity,
  workloads,
  namespaceOf,
  findObject,
  selectorMatches,
  imageName,
} from "./k8s.ts";
export { parseDockerfile, dockerIgnore, DockerfileError, stageEnv, ancestry, type Dockerfile, type Stage } from "./dockerfile.ts";
export {
  checkDockerfile,
  checkRunSyntax,
  checkImagesInManifests,
  serviceTargets,
  IMAGE_PREFIX,
  SERVICES,
  type ServiceName,
  type ServicePorts,
} from "./images.ts";
export { checkServiceCommands, checkWiring, containerCommands, defaultServicePorts, expandK8sVars } from "./services.ts";
export { checkServiceMonitor, checkScrapeConfig, checkAutoscalerMetrics, relabel, adapterMetrics } from "./monitoring.ts";
export { CREDENTIAL_CHECKS, checkServiceAccounts, checkCredentials, checkExplicitAddresses, healthcheckProbe, flagValue } from "./credentials.ts";
export { checkNetworkPolicies, allowedFlows, namespacePeers, outsidePeers, flowName, INTENDED_FLOWS, PROMETHEUS, type Flow, type Peer } from "./network.ts";
export {
  makeClusterSecrets,
  makeSecretsMain,
  secretsYaml,
  writeClusterSecrets,
  checkSecretsAgainstManifests,
  serviceDnsNames,
  ROLE_TLS_SECRETS,
  ADMIN_TOKEN_SECRET,
  type ClusterSecrets,
} from "./secrets.ts";
export { checkAll } from "./check-all.ts";
