// The parts of Kubernetes objects the checks read. Every field is optional: the manifests are
// untrusted input, and a missing field is a problem to report, not a crash.

export type Labels = Record<string, string>;

export interface LabelSelector {
  matchLabels?: Labels;
  matchExpressions?: Array<{ key: string; operator: string; values?: string[] }>;
}

export interface ObjectMeta {
  name?: string;
  namespace?: string;
  labels?: Labels;
  annotations?: Record<string, string>;
}

export interface ContainerPort {
  name?: string;
  containerPort?: number;
  protocol?: string;
}

export interface Probe {
  exec?: { command?: string[] };
  grpc?: { port?: number; service?: string };
  httpGet?: { port?: number | string; path?: string };
  tcpSocket?: { port?: number | string };
  periodSeconds?: number;
  timeoutSeconds?: number;
  failureThreshold?: number;
}

export interface EnvVar {
  name?: string;
  value?: string;
  valueFrom?: {
    fieldRef?: { fieldPath?: string };
    configMapKeyRef?: { name?: string; key?: string; optional?: boolean };
    secretKeyRef?: { name?: string; key?: string; optional?: boolean };
  };
}

export interface VolumeMount {
  name?: string;
  mountPath?: string;
  readOnly?: boolean;
  subPath?: string;
}

export interface Container {
  name?: string;
  image?: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  envFrom?: Array<{ configMapRef?: { name?: string; optional?: boolean }; prefix?: string }>;
  ports?: ContainerPort[];
  startupProbe?: Probe;
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  resources?: { requests?: Record<string, string | number>; limits?: Record<string, string | number> };
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number; allowPrivilegeEscalation?: boolean; readOnlyRootFilesystem?: boolean };
  volumeMounts?: VolumeMount[];
}

export interface Volume {
  name?: string;
  persistentVolumeClaim?: { claimName?: string; readOnly?: boolean };
  configMap?: { name?: string; items?: Array<{ key?: string; path?: string }>; optional?: boolean };
  emptyDir?: Record<string, unknown>;
  secret?: { secretName?: string; items?: Array<{ key?: string; path?: string }>; defaultMode?: number; optional?: boolean };
}

export interface PodSpec {
  containers?: Container[];
  initContainers?: Container[];
  volumes?: Volume[];
  nodeSelector?: Labels;
  tolerations?: Array<{ key?: string; operator?: string; value?: string; effect?: string }>;
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number; runAsGroup?: number; fsGroup?: number };
  restartPolicy?: string;
  serviceAccountName?: string;
  automountServiceAccountToken?: boolean;
}

export interface PodTemplate {
  metadata?: ObjectMeta;
  spec?: PodSpec;
}

export interface ServicePort {
  name?: string;
  port?: number;
  targetPort?: number | string;
  protocol?: string;
}

export interface K8sObject {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
  // Deployments, Jobs, Services, PDBs, HPAs, PVCs, ServiceMonitors, Pods: their spec fields.
  spec?: {
    replicas?: number;
    /** A label map on Services, a LabelSelector elsewhere: read it with serviceSelector / labelSelector. */
    selector?: Record<string, unknown>;
    template?: PodTemplate;
    strategy?: { type?: string };
    // Service
    type?: string;
    clusterIP?: string;
    publishNotReadyAddresses?: boolean;
    ports?: ServicePort[];
    // PodDisruptionBudget
    minAvailable?: number | string;
    maxUnavailable?: number | string;
    // HorizontalPodAutoscaler
    scaleTargetRef?: { apiVersion?: string; kind?: string; name?: string };
    minReplicas?: number;
    maxReplicas?: number;
    metrics?: Array<{ type?: string; pods?: { metric?: { name?: string }; target?: { type?: string; averageValue?: string | number } } }>;
    // PersistentVolumeClaim
    accessModes?: string[];
    // ServiceMonitor
    endpoints?: Array<{ port?: string; path?: string; interval?: string }>;
    namespaceSelector?: { matchNames?: string[]; any?: boolean };
    // Job
    backoffLimit?: number;
    // NetworkPolicy
    podSelector?: LabelSelector;
    policyTypes?: string[];
    ingress?: NetworkPolicyRule[];
    egress?: NetworkPolicyRule[];
  } & PodSpec;
  data?: Record<string, string>;
  /** Secret */
  type?: string;
  /** ServiceAccount */
  automountServiceAccountToken?: boolean;
}

export interface NetworkPolicyPeer {
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  ipBlock?: { cidr?: string; except?: string[] };
}

export interface NetworkPolicyPort {
  protocol?: string;
  port?: number | string;
  endPort?: number;
}

/** An ingress rule (from) or an egress rule (to). */
export interface NetworkPolicyRule {
  from?: NetworkPolicyPeer[];
  to?: NetworkPolicyPeer[];
  ports?: NetworkPolicyPort[];
}
