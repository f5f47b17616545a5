import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { allowedFlows, checkNetworkPolicies, cidrContains, flowName, INTENDED_FLOWS } from "./network.ts";
import type { K8sObject } from "./k8s.ts";
import { assertProblem, bundle, obj, RENDER_SKIP } from "./test/helpers.ts";

const flows = (b: ReturnType<typeof bundle>) => allowedFlows(b).map(flowName).sort();

describe("NetworkPolicies", { skip: RENDER_SKIP }, () => {
  it("allow exactly what the roles need, computed from the policies", () => {
    const b = bundle();
    assert.deepEqual(flows(b), [...INTENDED_FLOWS].sort());
    assert.deepEqual(checkNetworkPolicies(b), []);
  });

  it("without the default deny, everything is open and the check says so", () => {
    const b = bundle();
    b.manifests = b.manifests.filter((m) => !(m.obj.kind === "NetworkPolicy" && m.obj.metadata?.name === "default-deny"));
    const problems = checkNetworkPolicies(b);
    assertProblem(problems, /namespace grpomesh has no default-deny NetworkPolicy/);
    assertProblem(problems, /allow judge → internet:443\/TCP, which no role needs/);
    assertProblem(problems, /allow model-loader → stranger-in-grpomesh:9999\/TCP/);
    assertProblem(problems, /allow policy → kube-dns:53\/UDP/);
  });

  it("a default deny that leaves out egress is not one", () => {
    const b = bundle();
    obj(b, "NetworkPolicy", "default-deny").spec!.policyTypes = ["Ingress"];
    const problems = checkNetworkPolicies(b);
    assertProblem(problems, /has no default-deny NetworkPolicy/);
    assertProblem(problems, /allow policy → internet:443\/TCP/);
  });

  it("an ingress rule open to every source lets in pods of other namespaces", () => {
    const b = bundle();
    delete obj(b, "NetworkPolicy", "judge-from-orchestrator").spec!.ingress![0]!.from;
    assertProblem(checkNetworkPolicies(b), /allow prometheus → judge:50051\/TCP, which no role needs/);
  });

  it("a rule without ports opens every port of its peers", () => {
    const b = bundle();
    const egress = obj(b, "NetworkPolicy", "orchestrator-egress").spec!.egress!;
    delete egress.find((r) => r.ports?.some((p) => p.port === 53))!.ports;
    assertProblem(checkNetworkPolicies(b), /allow orchestrator → kube-dns:9153\/TCP, which no role needs/);
    delete obj(b, "NetworkPolicy", "policy-from-orchestrator").spec!.ingress![0]!.ports;
    delete egress.find((r) => r.ports?.some((p) => p.port === 50071))!.ports;
    assertProblem(checkNetworkPolicies(b), /allow orchestrator → policy:9999\/TCP/);
  });

  it("Prometheus must be selected by namespace and pod together", () => {
    const b = bundle();
    const from = obj(b, "NetworkPolicy", "allow-prometheus-scrape").spec!.ingress![0]!.from![0]!;
    const podSelector = from.podSelector;
    delete from.podSelector;
    assertProblem(checkNetworkPolicies(b), /allow grafana → judge:9464\/TCP, which no role needs/);
    from.podSelector = podSelector;
    from.namespaceSelector = {};
    assertProblem(checkNetworkPolicies(b), /allow prometheus-elsewhere → policy:9465\/TCP, which no role needs/);
  });

  it("a scrape rule on one numbered port instead of the named metrics port leaves the other roles unscraped", () => {
    const b = bundle();
    obj(b, "NetworkPolicy", "allow-prometheus-scrape").spec!.ingress![0]!.ports = [{ protocol: "TCP", port: 9464 }];
    const problems = checkNetworkPolicies(b);
    assertProblem(problems, /do not allow prometheus → policy:9465\/TCP, which the roles need/);
  });

  it("a missing allow rule is caught", () => {
    const b = bundle();
    b.manifests = b.manifests.filter((m) => m.obj.metadata?.name !== "reference-from-orchestrator");
    assertProblem(checkNetworkPolicies(b), /do not allow orchestrator → reference:50072\/TCP, which the roles need/);
  });

  it("an egress rule to the whole internet is caught", () => {
    const b = bundle();
    const open: K8sObject = {
      apiVersion: "networking.k8s.io/v1",
      kind: "NetworkPolicy",
      metadata: { name: "judge-egress", namespace: "grpomesh" },
      spec: {
        podSelector: { matchLabels: { "app.kubernetes.io/name": "judge" } },
        policyTypes: ["Egress"],
        egress: [{ to: [{ ipBlock: { cidr: "0.0.0.0/0", except: ["10.0.0.0/8"] } }] }],
      },
    };
    b.manifests.push({ file: "deploy/k8s/base/network-policies.yaml", index: 99, obj: open });
    const problems = checkNetworkPolicies(b);
    assertProblem(problems, /allow judge → internet:443\/TCP/);
    assert.ok(!problems.some((p) => /judge → policy/.test(p)), "the except range keeps pods out");
  });
});

describe("cidrContains", () => {
  it("matches IPv4 prefixes", () => {
    assert.equal(cidrContains("10.0.0.0/8", "10.244.0.1"), true);
    assert.equal(cidrContains("10.0.0.0/8", "203.0.113.7"), false);
    assert.equal(cidrContains("0.0.0.0/0", "203.0.113.7"), true);
    assert.equal(cidrContains("203.0.113.7/32", "203.0.113.7"), true);
    assert.equal(cidrContains("203.0.113.0/25", "203.0.113.200"), false);
  });
});
