// The Kubernetes objects the checks read, typed by kubernetes-models (so `tsc --strict` refuses a
// misspelled field in the checks themselves). Every field is made optional: the manifests are
// untrusted input, and a missing field is a problem to report (checkSchemas does), not a crash.
import type { IServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor";
import type { IDeploymentSpec } from "kubernetes-models/apps/v1/DeploymentSpec";
import type { IHorizontalPodAutoscalerSpec } from "kubernetes-models/autoscaling/v2/HorizontalPodAutoscalerSpec";
import type { IJobSpec } from "kubernetes-models/batch/v1/JobSpec";
import type { INetworkPolicyPeer } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicyPeer";
import type { INetworkPolicyPort } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicyPort";
import type { INetworkPolicySpec } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicySpec";
import type { IPodDisruptionBudgetSpec } from "kubernetes-models/policy/v1/PodDisruptionBudgetSpec";
import type { IContainer } from "kubernetes-models/v1/Container";
import type { IContainerPort } from "kubernetes-models/v1/ContainerPort";
import type { IEnvVar } from "kubernetes-models/v1/EnvVar";
import type { IPersistentVolumeClaimSpec } from "kubernetes-models/v1/PersistentVolumeClaimSpec";
import type { IPodSpec } from "kubernetes-models/v1/PodSpec";
import type { IPodTemplateSpec } from "kubernetes-models/v1/PodTemplateSpec";
import type { IProbe } from "kubernetes-models/v1/Probe";
import type { IServicePort } from "kubernetes-models/v1/ServicePort";
import type { IServiceSpec } from "kubernetes-models/v1/ServiceSpec";
import type { IVolume } from "kubernetes-models/v1/Volume";
import type { IVolumeMount } from "kubernetes-models/v1/VolumeMount";

/** T with every field optional, all the way down. */
type Loose<T> =
  T extends ReadonlyArray<infer U>
    ? Array<Loose<U>>
    : T extends object
      ? string extends keyof T
        ? { [K in keyof T]: Loose<T[K]> } // a map (labels, data, quantities): its values stay as they are
        : { [K in keyof T]?: Loose<T[K]> }
      : T;

export type Labels = Record<string, string>;
export type LabelSelector = Loose<NonNullable<IDeploymentSpec["selector"]>>;
type ObjectMeta = Loose<NonNullable<IPodTemplateSpec["metadata"]>>;
export type ContainerPort = Loose<IContainerPort>;
export type Probe = Loose<IProbe>;
type EnvVar = Loose<IEnvVar>;
export type VolumeMount = Loose<IVolumeMount>;
export type Container = Loose<IContainer>;
export type Volume = Loose<IVolume>;
type PodSpec = Loose<IPodSpec>;
export type PodTemplate = Loose<IPodTemplateSpec>;
type ServicePort = Loose<IServicePort>;
export type NetworkPolicyPeer = Loose<INetworkPolicyPeer>;
export type NetworkPolicyPort = Loose<INetworkPolicyPort>;
/** An ingress rule (from) or an egress rule (to). */
interface NetworkPolicyRule {
  from?: NetworkPolicyPeer[];
  to?: NetworkPolicyPeer[];
  ports?: NetworkPolicyPort[];
}

/** The spec fields of every kind the manifests hold, merged (a check reads those of its kind). */
type Spec = Loose<
  Omit<IDeploymentSpec, "selector"> &
    Omit<IJobSpec, "selector" | "template"> &
    Omit<IServiceSpec, "selector" | "ports"> &
    Omit<IPodDisruptionBudgetSpec, "selector"> &
    IHorizontalPodAutoscalerSpec &
    Omit<IPersistentVolumeClaimSpec, "selector" | "resources"> &
    Omit<INetworkPolicySpec, "ingress" | "egress"> &
    Omit<IServiceMonitor["spec"], "selector"> &
    Omit<IPodSpec, "resources">
> & {
  /** A label map on Services, a LabelSelector elsewhere: read it with serviceSelector / labelSelector. */
  selector?: Record<string, unknown>;
  ports?: ServicePort[];
  ingress?: NetworkPolicyRule[];
  egress?: NetworkPolicyRule[];
};

export interface K8sObject {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
  spec?: Spec;
  /** ConfigMap, Secret */
  data?: Record<string, string>;
  /** Secret */
  type?: string;
  /** ServiceAccount */
  automountServiceAccountToken?: boolean;
}
