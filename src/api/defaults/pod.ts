/**
 * What kube-apiserver fills into a v1 Pod: the scheme defaults (pkg/apis/core/v1/defaults.go and
 * the generated declarative ones), the Priority and DefaultTolerationSeconds admission plugins,
 * and the pod strategy's PrepareForCreate (status.phase Pending, status.qosClass).
 */
import { type Obj, VOLUME_SOURCES, arr, canonicalQuantity, compareQuantity, isObj, obj, parseQuantity, str } from '../validation/index.js';

export type Operation = 'create' | 'update';

/** Pull policy kube derives from the image reference: `latest` (or no tag and no digest) -> Always. */
export function defaultPullPolicy(image: string): 'Always' | 'IfNotPresent' {
  const at = image.indexOf('@');
  const name = at >= 0 ? image.slice(0, at) : image;
  const hasDigest = at >= 0;
  const colon = name.lastIndexOf(':');
  const tag = colon > name.lastIndexOf('/') ? name.slice(colon + 1) : hasDigest ? '' : 'latest';
  return tag === 'latest' ? 'Always' : 'IfNotPresent';
}

function defaultFieldRef(ref: unknown): void {
  if (isObj(ref) && !ref.apiVersion) ref.apiVersion = 'v1';
}

function defaultHTTPGet(h: unknown): void {
  if (!isObj(h)) return;
  if (!h.path) h.path = '/';
  if (!h.scheme) h.scheme = 'HTTP';
}

function defaultProbe(p: unknown): void {
  if (!isObj(p)) return;
  if (!p.timeoutSeconds) p.timeoutSeconds = 1;
  if (!p.periodSeconds) p.periodSeconds = 10;
  if (!p.successThreshold) p.successThreshold = 1;
  if (!p.failureThreshold) p.failureThreshold = 3;
  defaultHTTPGet(p.httpGet);
  if (isObj(p.grpc) && p.grpc.service == null) p.grpc.service = '';
}

/** SetDefaults_ResourceList: round to milli units; kube also returns quantities canonically. */
function canonicalizeResourceList(list: unknown): void {
  if (!isObj(list)) return;
  for (const k of Object.keys(list)) list[k] = canonicalQuantity(list[k]);
}

/** SetDefaults_Container (+ generated defaults for its ports, env, probes, lifecycle). */
export function defaultContainer(c: Obj): void {
  if (!c.imagePullPolicy) c.imagePullPolicy = defaultPullPolicy(str(c.image));
  if (!c.terminationMessagePath) c.terminationMessagePath = '/dev/termination-log';
  if (!c.terminationMessagePolicy) c.terminationMessagePolicy = 'File';
  if (!isObj(c.resources)) c.resources = {};
  canonicalizeResourceList(c.resources.limits);
  canonicalizeResourceList(c.resources.requests);
  for (const p of arr(c.ports)) if (isObj(p) && !p.protocol) p.protocol = 'TCP';
  for (const e of arr(c.env)) defaultFieldRef(obj(obj(e).valueFrom).fieldRef);
  defaultProbe(c.livenessProbe);
  defaultProbe(c.readinessProbe);
  defaultProbe(c.startupProbe);
  if (isObj(c.lifecycle)) {
    defaultHTTPGet(obj(c.lifecycle.postStart).httpGet);
    defaultHTTPGet(obj(c.lifecycle.preStop).httpGet);
  }
}

function defaultDownwardAPIItems(items: unknown): void {
  for (const it of arr(items)) defaultFieldRef(obj(it).fieldRef);
}

/** SetDefaults_Volume and the per-source defaults. */
export function defaultVolume(v: Obj): void {
  if (!VOLUME_SOURCES.some(([member]) => v[member] !== undefined && v[member] !== null)) v.emptyDir = {};
  const mode = (src: unknown) => {
    if (isObj(src) && src.defaultMode == null) src.defaultMode = 0o644;
  };
  mode(v.secret);
  mode(v.configMap);
  mode(v.downwardAPI);
  mode(v.projected);
  if (isObj(v.downwardAPI)) defaultDownwardAPIItems(v.downwardAPI.items);
  if (isObj(v.projected)) {
    for (const s of arr(v.projected.sources)) {
      const sat = obj(s).serviceAccountToken;
      if (isObj(sat) && sat.expirationSeconds == null) sat.expirationSeconds = 3600;
      if (isObj(obj(s).downwardAPI)) defaultDownwardAPIItems(obj(s).downwardAPI.items);
    }
  }
  if (isObj(v.hostPath) && v.hostPath.type == null) v.hostPath.type = '';
  if (isObj(v.emptyDir) && v.emptyDir.sizeLimit != null) v.emptyDir.sizeLimit = canonicalQuantity(v.emptyDir.sizeLimit);
  if (isObj(v.iscsi) && !v.iscsi.iscsiInterface) v.iscsi.iscsiInterface = 'default';
  if (isObj(v.rbd)) {
    v.rbd.pool ||= 'rbd';
    v.rbd.user ||= 'admin';
    v.rbd.keyring ||= '/etc/ceph/keyring';
  }
  if (isObj(v.azureDisk)) {
    v.azureDisk.cachingMode ??= 'ReadWrite';
    v.azureDisk.fsType ??= 'ext4';
    v.azureDisk.readOnly ??= false;
    v.azureDisk.kind ??= 'Shared';
  }
  if (isObj(v.scaleIO)) {
    v.scaleIO.storageMode ||= 'ThinProvisioned';
    v.scaleIO.fsType ||= 'xfs';
  }
  const tmplSpec = obj(obj(obj(v.ephemeral).volumeClaimTemplate).spec);
  if (isObj(obj(v.ephemeral).volumeClaimTemplate) && isObj(v.ephemeral.volumeClaimTemplate.spec) && !tmplSpec.volumeMode) {
    tmplSpec.volumeMode = 'Filesystem';
  }
}

const QOS_RESOURCES = ['cpu', 'memory'];

/** qos.GetPodQOS: BestEffort / Burstable / Guaranteed from container cpu+memory requests and limits. */
export function computeQOSClass(pod: Obj): 'BestEffort' | 'Burstable' | 'Guaranteed' {
  const spec = obj(pod.spec);
  const requests = new Map<string, ReturnType<typeof parseQuantity>>();
  const limits = new Map<string, ReturnType<typeof parseQuantity>>();
  let guaranteed = true;
  const add = (m: Map<string, any>, name: string, q: NonNullable<ReturnType<typeof parseQuantity>>) => {
    const prev = m.get(name);
    m.set(name, prev ? { num: prev.num * q.den + q.num * prev.den, den: prev.den * q.den, format: q.format } : q);
  };
  for (const c of [...arr(spec.containers), ...arr(spec.initContainers)]) {
    const res = obj(obj(c).resources);
    for (const [name, raw] of Object.entries(obj(res.requests))) {
      const q = parseQuantity(raw);
      if (QOS_RESOURCES.includes(name) && q && q.num > 0n) add(requests, name, q);
    }
    const found = new Set<string>();
    for (const [name, raw] of Object.entries(obj(res.limits))) {
      const q = parseQuantity(raw);
      if (QOS_RESOURCES.includes(name) && q && q.num > 0n) {
        found.add(name);
        add(limits, name, q);
      }
    }
    if (!QOS_RESOURCES.every((r) => found.has(r))) guaranteed = false;
  }
  if (requests.size === 0 && limits.size === 0) return 'BestEffort';
  if (guaranteed) {
    for (const [name, req] of requests) {
      const lim = limits.get(name);
      if (!lim || compareQuantity(lim, req!) !== 0) guaranteed = false;
    }
  }
  return guaranteed && requests.size === limits.size ? 'Guaranteed' : 'Burstable';
}

const NOT_READY_TAINT = 'node.kubernetes.io/not-ready';
const UNREACHABLE_TAINT = 'node.kubernetes.io/unreachable';

/** The DefaultTolerationSeconds admission plugin: tolerate not-ready/unreachable for 300s. */
function addDefaultTolerations(spec: Obj): void {
  const tolerations = arr(spec.tolerations).map(obj);
  const tolerates = (taint: string) =>
    tolerations.some((t) => (t.key === taint || !t.key) && (t.effect === 'NoExecute' || !t.effect));
  const add = [NOT_READY_TAINT, UNREACHABLE_TAINT]
    .filter((taint) => !tolerates(taint))
    .map((taint) => ({ key: taint, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 }));
  if (add.length) spec.tolerations = [...tolerations, ...add];
}

/**
 * The defaults of a PodSpec wherever it appears: in a Pod and in the pod templates of
 * workloads (SetDefaults_PodSpec and the defaults of the types inside it). What only a Pod
 * gets (SetDefaults_Pod: requests from limits, enableServiceLinks, hostNetwork hostPorts;
 * admission; status) is in defaultPod.
 */
export function defaultPodSpec(spec: Obj): Obj {
  for (const v of arr(spec.volumes)) if (isObj(v)) defaultVolume(v);
  for (const list of ['containers', 'initContainers', 'ephemeralContainers']) {
    for (const c of arr(spec[list])) if (isObj(c)) defaultContainer(c);
  }
  if (isObj(spec.overhead)) canonicalizeResourceList(spec.overhead);
  if (!spec.dnsPolicy) spec.dnsPolicy = 'ClusterFirst';
  if (!spec.restartPolicy) spec.restartPolicy = 'Always';
  if (!isObj(spec.securityContext)) spec.securityContext = {};
  if (spec.terminationGracePeriodSeconds == null) spec.terminationGracePeriodSeconds = 30;
  if (!spec.schedulerName) spec.schedulerName = 'default-scheduler';
  return spec;
}

/**
 * Defaults a Pod in place. `op` 'create' also applies what only happens on create: the Priority
 * and DefaultTolerationSeconds admission plugins and the fresh status (phase Pending, qosClass).
 */
export function defaultPod(pod: Obj, op: Operation = 'create'): Obj {
  if (!isObj(pod.metadata)) pod.metadata = {};
  if (!isObj(pod.spec)) pod.spec = {};
  const spec = pod.spec;
  defaultPodSpec(spec);

  // SetDefaults_Pod: requests default to limits (not for ephemeral containers, which have none)
  for (const c of [...arr(spec.containers), ...arr(spec.initContainers)]) {
    const res = obj(obj(c).resources);
    if (!isObj(res.limits)) continue;
    if (!isObj(res.requests)) res.requests = {};
    for (const [k, v] of Object.entries(res.limits)) if (!(k in res.requests)) res.requests[k] = v;
  }
  if (spec.enableServiceLinks == null) spec.enableServiceLinks = true;
  if (spec.hostNetwork === true) {
    for (const c of [...arr(spec.containers), ...arr(spec.initContainers)]) {
      for (const p of arr(obj(c).ports)) if (isObj(p) && !p.hostPort) p.hostPort = p.containerPort;
    }
  }

  if (op === 'create') {
    // Priority admission, no PriorityClass objects: priority 0, PreemptLowerPriority.
    if (!str(spec.priorityClassName)) {
      if (spec.priority == null) spec.priority = 0;
      if (spec.preemptionPolicy == null) spec.preemptionPolicy = 'PreemptLowerPriority';
    }
    addDefaultTolerations(spec);
    // podStrategy.PrepareForCreate: status starts over.
    pod.status = { phase: 'Pending', qosClass: computeQOSClass(pod) };
    if (arr(spec.schedulingGates).length > 0) {
      pod.status.conditions = [
        {
          type: 'PodScheduled',
          status: 'False',
          reason: 'SchedulingGated',
          message: 'Scheduling is blocked due to non-empty scheduling gates',
          lastProbeTime: null,
          lastTransitionTime: null,
        },
      ];
    }
  }
  return pod;
}
