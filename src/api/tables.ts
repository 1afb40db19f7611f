/**
 * Server-side printing: the `meta.k8s.io/v1 Table` that `kubectl get` asks for
 * (Accept: application/json;as=Table;v=v1;g=meta.k8s.io). Columns and cell rules follow
 * kubectl's printers (kubernetes pkg/printers/internalversion/printers.go); priority-1 columns
 * are the ones `-o wide` adds.
 */

type Obj = Record<string, any>;

export interface ColumnDefinition {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  format: string;
  description: string;
  priority: number;
}

interface Printer {
  columns: ColumnDefinition[];
  cells(obj: Obj, now: number): unknown[];
}

const col = (name: string, type: ColumnDefinition['type'], description: string, priority = 0, format = ''): ColumnDefinition => ({
  name,
  type,
  format,
  description,
  priority,
});

const NAME = col('Name', 'string', 'Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names', 0, 'name');
const AGE = col('Age', 'string', 'CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata');

/** apimachinery's duration.HumanDuration: "42s", "3m5s", "5h2m", "3d4h", "2y30d". */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) {
    const s = seconds % 60;
    return s === 0 ? `${minutes}m` : `${minutes}m${s}s`;
  }
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) {
    const m = minutes % 60;
    return m === 0 ? `${hours}h` : `${hours}h${m}m`;
  }
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) {
    const h = hours % 24;
    return h === 0 ? `${Math.floor(hours / 24)}d` : `${Math.floor(hours / 24)}d${h}h`;
  }
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24)}d`;
  if (hours < 24 * 365 * 8) {
    const dy = Math.floor(hours / 24) % 365;
    const y = Math.floor(hours / 24 / 365);
    return dy === 0 ? `${y}y` : `${y}y${dy}d`;
  }
  return `${Math.floor(hours / 24 / 365)}y`;
}

function age(ts: string | undefined, now: number): string {
  if (!ts) return '<unknown>';
  return humanDuration(now - Date.parse(ts));
}

/** The STATUS, READY and RESTARTS cells of a pod, as kubectl's printPod computes them. */
export function podSummary(pod: Obj, now = Date.now()): { ready: string; status: string; restarts: string } {
  const spec = pod.spec ?? {};
  const st = pod.status ?? {};
  // native sidecars (init containers with restartPolicy Always) count as containers, as kubectl's printPod
  const isSidecar = (name: string) => ((spec.initContainers ?? []) as Obj[]).find((c) => c.name === name)?.restartPolicy === 'Always';
  const total = (spec.containers ?? []).length + ((spec.initContainers ?? []) as Obj[]).filter((c) => isSidecar(c.name)).length;
  let reason: string = st.reason || st.phase || '';
  let readyCount = 0;
  let restarts = 0;
  let lastRestart = 0;
  const noteRestart = (cs: Obj) => {
    restarts += cs.restartCount ?? 0;
    const fin = cs.lastState?.terminated?.finishedAt;
    if (fin) lastRestart = Math.max(lastRestart, Date.parse(fin));
  };

  let initializing = false;
  let sidecarRestarts = 0;
  let sidecarLastRestart = 0;
  const initSpecs: Obj[] = spec.initContainers ?? [];
  const initStatuses: Obj[] = st.initContainerStatuses ?? [];
  for (let i = 0; i < initStatuses.length; i++) {
    const cs = initStatuses[i]!;
    noteRestart(cs);
    const sidecar = isSidecar(cs.name);
    if (sidecar) {
      sidecarRestarts += cs.restartCount ?? 0;
      const fin = cs.lastState?.terminated?.finishedAt;
      if (fin) sidecarLastRestart = Math.max(sidecarLastRestart, Date.parse(fin));
    }
    if (sidecar && cs.started) {
      if (cs.ready) readyCount++;
      continue;
    }
    if (cs.state?.terminated && cs.state.terminated.exitCode === 0) continue;
    if (cs.state?.terminated) {
      const t = cs.state.terminated;
      reason = t.reason ? `Init:${t.reason}` : t.signal ? `Init:Signal:${t.signal}` : `Init:ExitCode:${t.exitCode}`;
    } else if (cs.state?.waiting?.reason && cs.state.waiting.reason !== 'PodInitializing') {
      reason = `Init:${cs.state.waiting.reason}`;
    } else {
      reason = `Init:${i}/${initSpecs.length}`;
    }
    initializing = true;
    break; // the first init container that is not done decides, as kubectl's printPod
  }

  // a pod once initialized counts its app containers even while an init container (a crash-looping
  // sidecar) decides the status, as printPod's isPodInitializedConditionTrue
  const initialized = (st.conditions ?? []).some((c: Obj) => c.type === 'Initialized' && c.status === 'True');
  if (!initializing || initialized) {
    restarts = sidecarRestarts;
    lastRestart = sidecarLastRestart;
    let hasRunning = false;
    const statuses: Obj[] = [...(st.containerStatuses ?? [])].reverse();
    for (const cs of statuses) {
      noteRestart(cs);
      if (cs.state?.waiting?.reason) reason = cs.state.waiting.reason;
      else if (cs.state?.terminated?.reason) reason = cs.state.terminated.reason;
      else if (cs.state?.terminated) reason = cs.state.terminated.signal ? `Signal:${cs.state.terminated.signal}` : `ExitCode:${cs.state.terminated.exitCode}`;
      else if (cs.ready && cs.state?.running) {
        hasRunning = true;
        readyCount++;
      }
    }
    if (reason === 'Completed' && hasRunning) {
      const readyCond = (st.conditions ?? []).find((c: Obj) => c.type === 'Ready');
      reason = readyCond?.status === 'True' ? 'Running' : 'NotReady';
    }
  }

  if (pod.metadata?.deletionTimestamp) reason = st.reason === 'NodeLost' ? 'Unknown' : 'Terminating';
  let restartText = String(restarts);
  if (lastRestart > 0) restartText += ` (${humanDuration(now - lastRestart)} ago)`;
  return { ready: `${readyCount}/${total}`, status: reason, restarts: restartText };
}

const printers: Record<string, Printer> = {
  Pod: {
    columns: [
      NAME,
      col('Ready', 'string', 'The aggregate readiness state of this pod for accepting traffic.'),
      col('Status', 'string', 'The aggregate status of the containers in this pod.'),
      col('Restarts', 'string', 'The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.'),
      AGE,
      col('IP', 'string', 'IP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.', 1),
      col('Node', 'string', "NodeName is a request to schedule this pod onto a specific node.", 1),
      col('Nominated Node', 'string', 'nominatedNodeName is set only when this pod preempts other pods on the node.', 1),
      col('Readiness Gates', 'string', 'If specified, all readiness gates will be evaluated for pod readiness.', 1),
    ],
    cells(pod, now) {
      const s = podSummary(pod, now);
      const gates: Obj[] = pod.spec?.readinessGates ?? [];
      let gateText = '<none>';
      if (gates.length) {
        const conds: Obj[] = pod.status?.conditions ?? [];
        const ok = gates.filter((g) => conds.some((c) => c.type === g.conditionType && c.status === 'True')).length;
        gateText = `${ok}/${gates.length}`;
      }
      return [
        pod.metadata.name,
        s.ready,
        s.status,
        s.restarts,
        age(pod.metadata.creationTimestamp, now),
        pod.status?.podIP || '<none>',
        pod.spec?.nodeName || '<none>',
        pod.status?.nominatedNodeName || '<none>',
        gateText,
      ];
    },
  },
  ConfigMap: {
    columns: [NAME, col('Data', 'integer', 'Data contains the configuration data.'), AGE],
    cells: (o, now) => [
      o.metadata.name,
      Object.keys(o.data ?? {}).length + Object.keys(o.binaryData ?? {}).length,
      age(o.metadata.creationTimestamp, now),
    ],
  },
  Secret: {
    columns: [NAME, col('Type', 'string', 'Used to facilitate programmatic handling of secret data.'), col('Data', 'integer', 'Data contains the secret data.'), AGE],
    cells: (o, now) => [
      o.metadata.name,
      o.type ?? 'Opaque',
      Object.keys(o.data ?? {}).length + Object.keys(o.stringData ?? {}).length,
      age(o.metadata.creationTimestamp, now),
    ],
  },
  Namespace: {
    columns: [NAME, col('Status', 'string', 'The status of the namespace'), AGE],
    cells: (o, now) => [o.metadata.name, o.status?.phase ?? 'Active', age(o.metadata.creationTimestamp, now)],
  },
  Node: {
    columns: [
      NAME,
      col('Status', 'string', 'The status of the node'),
      col('Roles', 'string', 'The roles of the node'),
      AGE,
      col('Version', 'string', 'Kubelet Version reported by the node.'),
      col('Internal-IP', 'string', 'List of addresses reachable to the node.', 1),
      col('External-IP', 'string', 'List of addresses reachable to the node.', 1),
      col('OS-Image', 'string', 'OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).', 1),
      col('Kernel-Version', 'string', "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).", 1),
      col('Container-Runtime', 'string', 'Container Runtime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).', 1),
    ],
    cells(o, now) {
      const conds: Obj[] = o.status?.conditions ?? [];
      const ready = conds.find((c) => c.type === 'Ready');
      const statuses = [ready?.status === 'True' ? 'Ready' : ready ? 'NotReady' : 'Unknown'];
      if (o.spec?.unschedulable) statuses.push('SchedulingDisabled');
      const roles = Object.keys(o.metadata.labels ?? {})
        .filter((k) => k.startsWith('node-role.kubernetes.io/'))
        .map((k) => k.slice('node-role.kubernetes.io/'.length))
        .filter(Boolean);
      const addr = (t: string) => (o.status?.addresses ?? []).find((a: Obj) => a.type === t)?.address ?? '<none>';
      const info = o.status?.nodeInfo ?? {};
      return [
        o.metadata.name,
        statuses.join(','),
        roles.length ? roles.sort().join(',') : '<none>',
        age(o.metadata.creationTimestamp, now),
        info.kubeletVersion ?? '',
        addr('InternalIP'),
        addr('ExternalIP'),
        info.osImage ?? '<unknown>',
        info.kernelVersion ?? '<unknown>',
        info.containerRuntimeVersion ?? '<unknown>',
      ];
    },
  },
  Event: {
    columns: [
      col('Last Seen', 'string', 'Time when last this event was observed.'),
      col('Type', 'string', 'Type of this event (Normal, Warning), new types could be added in the future.'),
      col('Reason', 'string', 'This should be a short, machine understandable string that gives the reason for this event being generated.'),
      col('Object', 'string', 'The object this Event is about.'),
      col('Subobject', 'string', 'The subobject (fieldPath) this Event is about.', 1),
      col('Source', 'string', 'The component reporting this event.', 1),
      col('Message', 'string', 'A human-readable description of the status of this operation.'),
      col('First Seen', 'string', 'The time at which the event was first recorded.', 1),
      col('Count', 'string', 'The number of times this event has occurred.', 1),
      { ...NAME, priority: 1 },
    ],
    cells(o, now) {
      const last = o.series?.lastObservedTime ?? o.lastTimestamp ?? o.eventTime ?? o.metadata.creationTimestamp;
      const first = o.firstTimestamp ?? o.eventTime ?? o.metadata.creationTimestamp;
      const inv = o.involvedObject ?? {};
      const src = o.source?.component ? [o.source.component, o.source.host].filter(Boolean).join(', ') : o.reportingComponent ?? '';
      return [
        age(last, now),
        o.type ?? '',
        o.reason ?? '',
        `${String(inv.kind ?? '').toLowerCase()}/${inv.name ?? ''}`,
        inv.fieldPath ?? '',
        src,
        String(o.message ?? '').trim(),
        age(first, now),
        String(o.series?.count ?? o.count ?? 1),
        o.metadata.name,
      ];
    },
  },
};

// ---------------------------------------------------------------------------------------------
// Workloads and the kinds served beside them (printers.go: printDeployment, printReplicaSet ...)

const CONTAINERS = col('Containers', 'string', 'Names of each container in the template.', 1);
const IMAGES = col('Images', 'string', 'Images referenced by each container in the template.', 1);
const SELECTOR = col('Selector', 'string', 'Label selector', 1);

/** the CONTAINERS and IMAGES cells of a pod template */
function templateCells(template: Obj | undefined): [string, string] {
  const cs: Obj[] = template?.spec?.containers ?? [];
  return [cs.map((c) => c.name ?? '').join(','), cs.map((c) => c.image ?? '').join(',')];
}

/** metav1.FormatLabelSelector: "app=web,tier in (a,b)", or <none> */
export function formatLabelSelector(sel: Obj | undefined | null): string {
  if (sel == null) return '<none>';
  const parts: string[] = [];
  for (const [k, v] of Object.entries(sel.matchLabels ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) parts.push(`${k}=${v}`);
  for (const e of (sel.matchExpressions ?? []) as Obj[]) {
    const values: string[] = [...(e.values ?? [])].sort();
    switch (e.operator) {
      case 'In':
        parts.push(`${e.key} in (${values.join(',')})`);
        break;
      case 'NotIn':
        parts.push(`${e.key} notin (${values.join(',')})`);
        break;
      case 'Exists':
        parts.push(e.key);
        break;
      case 'DoesNotExist':
        parts.push(`!${e.key}`);
        break;
      default:
        parts.push(`${e.key} ${e.operator} (${values.join(',')})`);
    }
  }
  const text = parts.join(',');
  return text === '' ? '<none>' : text;
}

/** labels.FormatLabels: "a=b,c=d" sorted, or <none> */
function formatLabels(m: Obj | undefined): string {
  const entries = Object.entries(m ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return entries.length ? entries.map(([k, v]) => `${k}=${v}`).join(',') : '<none>';
}

/** kubectl's formatHosts: the first three hosts, "+ N more...", "*" when no rule names one */
function ingressHosts(rules: Obj[]): string {
  const max = 3;
  const list: string[] = [];
  let more = false;
  for (const r of rules) {
    if (list.length === max) more = true;
    if (!more && r.host) list.push(r.host);
  }
  if (list.length === 0) return '*';
  return more ? `${list.join(',')} + ${rules.length - max} more...` : list.join(',');
}

/** ingressLoadBalancerStatusStringer (not wide): IPs and hostnames, cut at 16 characters */
function ingressAddress(ingress: Obj[]): string {
  const text = ingress.flatMap((i) => [i.ip, i.hostname].filter((v): v is string => !!v)).join(',');
  return text.length > 16 ? `${text.slice(0, 16)}...` : text;
}

const num = (v: unknown): number => (typeof v === 'number' ? v : 0);

function replicaSetLike(selectorOf: (o: Obj) => string): Printer {
  return {
    columns: [
      NAME,
      col('Desired', 'integer', 'Replicas is the number of desired replicas.'),
      col('Current', 'integer', 'Replicas is the most recently observed number of replicas.'),
      col('Ready', 'integer', 'The number of ready replicas for this replica set.'),
      AGE,
      CONTAINERS,
      IMAGES,
      SELECTOR,
    ],
    cells: (o, now) => [o.metadata.name, num(o.spec?.replicas), num(o.status?.replicas), num(o.status?.readyReplicas), age(o.metadata.creationTimestamp, now), ...templateCells(o.spec?.template), selectorOf(o)],
  };
}

const ACCESS_MODE_SHORT: Record<string, string> = { ReadWriteOnce: 'RWO', ReadOnlyMany: 'ROX', ReadWriteMany: 'RWX', ReadWriteOncePod: 'RWOP' };
function accessModes(modes: unknown): string {
  return ((Array.isArray(modes) ? modes : []) as string[]).map((m) => ACCESS_MODE_SHORT[m] ?? m).join(',');
}

/** printers.go getServiceExternalIP */
function serviceExternalIP(o: Obj): string {
  const s = o.spec ?? {};
  const external: string[] = s.externalIPs ?? [];
  switch (s.type ?? 'ClusterIP') {
    case 'ClusterIP':
    case 'NodePort':
      return external.length ? external.join(',') : '<none>';
    case 'ExternalName':
      return s.externalName ?? '';
    case 'LoadBalancer': {
      const ingress = ((o.status?.loadBalancer?.ingress ?? []) as Obj[]).map((i) => i.ip || i.hostname).filter(Boolean);
      const all = [...ingress, ...external];
      return all.length ? all.join(',') : '<pending>';
    }
    default:
      return '<unknown>';
  }
}

function jobStatus(o: Obj): string {
  const has = (t: string) => ((o.status?.conditions ?? []) as Obj[]).some((c) => c.type === t && c.status === 'True');
  if (has('Complete')) return 'Complete';
  if (has('Failed')) return 'Failed';
  if (o.metadata.deletionTimestamp) return 'Terminating';
  if (has('Suspended')) return 'Suspended';
  if (has('FailureTarget')) return 'FailureTarget';
  if (has('SuccessCriteriaMet')) return 'SuccessCriteriaMet';
  return 'Running';
}

function jobCompletions(o: Obj): string {
  const succeeded = num(o.status?.succeeded);
  if (o.spec?.completions != null) return `${succeeded}/${o.spec.completions}`;
  const parallelism = num(o.spec?.parallelism);
  return parallelism > 1 ? `${succeeded}/1 of ${parallelism}` : `${succeeded}/1`;
}

function jobDuration(o: Obj, now: number): string {
  const start = o.status?.startTime;
  if (!start) return '';
  const end = o.status?.completionTime ? Date.parse(o.status.completionTime) : now;
  return humanDuration(end - Date.parse(start));
}

/** Role, ClusterRole: kubectl's printRole (NAME, CREATED AT) */
const ROLE_PRINTER: Printer = {
  columns: [NAME, col('Created At', 'date', 'Time when this Role was created.')],
  cells: (o) => [o.metadata.name, o.metadata.creationTimestamp],
};

/** RoleBinding, ClusterRoleBinding: printRoleBinding (ROLE as Kind/name; subjects with -o wide) */
const BINDING_PRINTER: Printer = {
  columns: [
    NAME,
    col('Role', 'string', 'RoleRef to the Role or ClusterRole being bound.'),
    AGE,
    col('Users', 'string', 'Users in the roleBinding', 1),
    col('Groups', 'string', 'Groups in the roleBinding', 1),
    col('ServiceAccounts', 'string', 'ServiceAccounts in the roleBinding', 1),
  ],
  cells: (o, now) => {
    const subs = (o.subjects ?? []) as Obj[];
    const names = (kind: string) => subs.filter((x) => x.kind === kind).map((x) => (kind === 'ServiceAccount' ? `${x.namespace ?? ''}/${x.name}` : x.name)).join(', ');
    return [o.metadata.name, `${o.roleRef?.kind}/${o.roleRef?.name}`, age(o.metadata.creationTimestamp, now), names('User'), names('Group'), names('ServiceAccount')];
  },
};

Object.assign(printers, {
  Deployment: {
    columns: [
      NAME,
      col('Ready', 'string', 'Number of the pod with ready state'),
      col('Up-to-date', 'integer', 'Total number of non-terminated pods targeted by this deployment that have the desired template spec.'),
      col('Available', 'integer', 'Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.'),
      AGE,
      CONTAINERS,
      IMAGES,
      SELECTOR,
    ],
    cells: (o, now) => [
      o.metadata.name,
      `${num(o.status?.readyReplicas)}/${num(o.spec?.replicas)}`,
      num(o.status?.updatedReplicas),
      num(o.status?.availableReplicas),
      age(o.metadata.creationTimestamp, now),
      ...templateCells(o.spec?.template),
      formatLabelSelector(o.spec?.selector),
    ],
  },
  ReplicaSet: replicaSetLike((o) => formatLabelSelector(o.spec?.selector)),
  ReplicationController: replicaSetLike((o) => formatLabels(o.spec?.selector)),
  StatefulSet: {
    columns: [NAME, col('Ready', 'string', 'Number of the pod with ready state'), AGE, CONTAINERS, IMAGES],
    cells: (o, now) => [o.metadata.name, `${num(o.status?.readyReplicas)}/${num(o.spec?.replicas)}`, age(o.metadata.creationTimestamp, now), ...templateCells(o.spec?.template)],
  },
  DaemonSet: {
    columns: [
      NAME,
      col('Desired', 'integer', 'The total number of nodes that should be running the daemon pod (including nodes correctly running the daemon pod).'),
      col('Current', 'integer', 'The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod.'),
      col('Ready', 'integer', 'The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and ready.'),
      col('Up-to-date', 'integer', 'The total number of nodes that are running updated daemon pod'),
      col('Available', 'integer', 'The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available (ready for at least spec.minReadySeconds)'),
      col('Node Selector', 'string', 'NodeSelector is a selector which must be true for the pod to fit on a node. Selector which must match a node\'s labels for the pod to be scheduled on that node. More info: https://kubernetes.io/docs/concepts/configuration/assign-pod-node/'),
      AGE,
      CONTAINERS,
      IMAGES,
      SELECTOR,
    ],
    cells: (o, now) => [
      o.metadata.name,
      num(o.status?.desiredNumberScheduled),
      num(o.status?.currentNumberScheduled),
      num(o.status?.numberReady),
      num(o.status?.updatedNumberScheduled),
      num(o.status?.numberAvailable),
      formatLabels(o.spec?.template?.spec?.nodeSelector),
      age(o.metadata.creationTimestamp, now),
      ...templateCells(o.spec?.template),
      formatLabelSelector(o.spec?.selector),
    ],
  },
  Job: {
    columns: [
      NAME,
      col('Status', 'string', 'Status of the job.'),
      col('Completions', 'string', 'The completion status of the job.'),
      col('Duration', 'string', 'Time required to complete the job.'),
      AGE,
      CONTAINERS,
      IMAGES,
      SELECTOR,
    ],
    cells: (o, now) => [
      o.metadata.name,
      jobStatus(o),
      jobCompletions(o),
      jobDuration(o, now),
      age(o.metadata.creationTimestamp, now),
      ...templateCells(o.spec?.template),
      formatLabelSelector(o.spec?.selector),
    ],
  },
  CronJob: {
    columns: [
      NAME,
      col('Schedule', 'string', 'The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron.'),
      col('Timezone', 'string', 'The time zone name for the given schedule, see https://en.wikipedia.org/wiki/List_of_tz_database_time_zones.'),
      col('Suspend', 'boolean', 'This flag tells the controller to suspend subsequent executions.'),
      col('Active', 'integer', 'A list of pointers to currently running jobs.'),
      col('Last Schedule', 'string', 'Information when was the last time the job was successfully scheduled.'),
      AGE,
      CONTAINERS,
      IMAGES,
      SELECTOR,
    ],
    cells: (o, now) => [
      o.metadata.name,
      o.spec?.schedule ?? '',
      o.spec?.timeZone ?? '<none>',
      // printBoolPtr: the strings True / False / <unset>
      o.spec?.suspend == null ? '<unset>' : o.spec.suspend === true ? 'True' : 'False',
      (o.status?.active ?? []).length,
      o.status?.lastScheduleTime ? age(o.status.lastScheduleTime, now) : '<none>',
      age(o.metadata.creationTimestamp, now),
      ...templateCells(o.spec?.jobTemplate?.spec?.template),
      formatLabelSelector(o.spec?.jobTemplate?.spec?.selector),
    ],
  },
  ControllerRevision: {
    columns: [
      NAME,
      col('Controller', 'string', 'Controller of the object'),
      col('Revision', 'integer', 'Revision indicates the revision of the state represented by Data.'),
      AGE,
    ],
    cells(o, now) {
      const owner = ((o.metadata.ownerReferences ?? []) as Obj[]).find((r) => r.controller === true);
      const group = owner ? String(owner.apiVersion ?? '').split('/').slice(0, -1).join('/') : '';
      const controller = owner ? `${String(owner.kind).toLowerCase()}${group ? `.${group}` : ''}/${owner.name}` : '<none>';
      return [o.metadata.name, controller, num(o.revision), age(o.metadata.creationTimestamp, now)];
    },
  },
  // upstream's printCertificateSigningRequest (extractCSRStatus for the condition)
  CertificateSigningRequest: {
    columns: [
      NAME,
      AGE,
      col('SignerName', 'string', 'Only one signer can sign a request.'),
      col('Requestor', 'string', 'Name of the user requesting the certificate.'),
      col('RequestedDuration', 'string', 'The requested duration of validity of the issued certificate.'),
      col('Condition', 'string', 'Condition of the request.'),
    ],
    cells(o, now) {
      const is = (t: string) => ((o.status?.conditions ?? []) as Obj[]).some((c) => c.type === t && c.status !== 'False');
      let cond = is('Denied') ? 'Denied' : is('Approved') ? 'Approved' : 'Pending';
      if (is('Failed')) cond += ',Failed';
      if (o.status?.certificate) cond += ',Issued';
      const secs = o.spec?.expirationSeconds;
      return [o.metadata.name, age(o.metadata.creationTimestamp, now), o.spec?.signerName ?? '', o.spec?.username ?? '', secs ? age(new Date(now - secs * 1000).toISOString(), now) : '<none>', cond];
    },
  },
  Lease: {
    columns: [NAME, col('Holder', 'string', 'The holder of the lease.'), AGE],
    cells: (o, now) => [o.metadata.name, o.spec?.holderIdentity ?? '', age(o.metadata.creationTimestamp, now)],
  },
  Ingress: {
    columns: [
      NAME,
      col('Class', 'string', 'The name of the IngressClass resource that should be used for this ingress.'),
      col('Hosts', 'string', 'Hosts that incoming requests are matched against before the ingress rule'),
      col('Address', 'string', 'Address is a list containing ingress points for the load-balancer'),
      col('Ports', 'string', 'Ports of TLS configurations that open'),
      AGE,
    ],
    cells: (o, now) => [
      o.metadata.name,
      o.spec?.ingressClassName ?? '<none>',
      ingressHosts(o.spec?.rules ?? []),
      ingressAddress(o.status?.loadBalancer?.ingress ?? []),
      (o.spec?.tls ?? []).length ? '80, 443' : '80',
      age(o.metadata.creationTimestamp, now),
    ],
  },
  IngressClass: {
    columns: [
      NAME,
      col('Controller', 'string', 'Controller that is responsible for handling this class'),
      col('Parameters', 'string', 'A reference to a resource with additional parameters'),
      AGE,
    ],
    cells(o, now) {
      const p = o.spec?.parameters;
      const parameters = p ? `${p.kind}${p.apiGroup != null ? `.${p.apiGroup}` : ''}/${p.name}` : '<none>';
      return [o.metadata.name, o.spec?.controller ?? '', parameters, age(o.metadata.creationTimestamp, now)];
    },
  },
  // printers.go's validating/mutating webhook columns: the number of webhooks
  MutatingWebhookConfiguration: {
    columns: [NAME, col('Webhooks', 'integer', 'Webhooks indicates the number of webhooks in the configuration.'), AGE],
    cells: (o, now) => [o.metadata.name, Array.isArray(o.webhooks) ? o.webhooks.length : 0, age(o.metadata.creationTimestamp, now)],
  },
  ValidatingWebhookConfiguration: {
    columns: [NAME, col('Webhooks', 'integer', 'Webhooks indicates the number of webhooks in the configuration.'), AGE],
    cells: (o, now) => [o.metadata.name, Array.isArray(o.webhooks) ? o.webhooks.length : 0, age(o.metadata.creationTimestamp, now)],
  },
  NetworkPolicy: {
    columns: [NAME, col('Pod-Selector', 'string', 'podSelector selects the pods to which this NetworkPolicy object applies.'), AGE],
    cells: (o, now) => [o.metadata.name, formatLabelSelector(o.spec?.podSelector), age(o.metadata.creationTimestamp, now)],
  },
  PodDisruptionBudget: {
    columns: [
      NAME,
      col('Min Available', 'string', 'The minimum number of pods that must be available.'),
      col('Max Unavailable', 'string', 'The maximum number of pods that may be unavailable.'),
      col('Allowed Disruptions', 'integer', 'Calculated number of pods that may be disrupted at this time.'),
      AGE,
    ],
    cells: (o, now) => [o.metadata.name, o.spec?.minAvailable != null ? String(o.spec.minAvailable) : 'N/A', o.spec?.maxUnavailable != null ? String(o.spec.maxUnavailable) : 'N/A', num(o.status?.disruptionsAllowed), age(o.metadata.creationTimestamp, now)],
  },
  StorageClass: {
    columns: [
      NAME,
      col('Provisioner', 'string', 'Indicates the type of the provisioner.'),
      col('ReclaimPolicy', 'string', 'Indicates the type of the reclaim policy.'),
      col('VolumeBindingMode', 'string', 'Indicates when volume binding and dynamic provisioning should occur.'),
      col('AllowVolumeExpansion', 'string', 'Indicates whether the storage class allow volume expand.'),
      AGE,
    ],
    cells(o, now) {
      const ann = o.metadata.annotations ?? {};
      const isDefault = ann['storageclass.kubernetes.io/is-default-class'] === 'true' || ann['storageclass.beta.kubernetes.io/is-default-class'] === 'true';
      return [
        isDefault ? `${o.metadata.name} (default)` : o.metadata.name,
        o.provisioner ?? '',
        o.reclaimPolicy ?? 'Delete',
        o.volumeBindingMode ?? 'Immediate',
        String(o.allowVolumeExpansion === true),
        age(o.metadata.creationTimestamp, now),
      ];
    },
  },
  PersistentVolume: {
    columns: [
      NAME,
      col('Capacity', 'string', 'capacity is the description of the persistent volume\'s resources and capacity.'),
      col('Access Modes', 'string', 'accessModes contains all ways the volume can be mounted.'),
      col('Reclaim Policy', 'string', 'What happens to a persistent volume when released from its claim.'),
      col('Status', 'string', 'phase indicates if a volume is available, bound to a claim, or released by a claim.'),
      col('Claim', 'string', 'claimRef is part of a bi-directional binding between PersistentVolume and PersistentVolumeClaim.'),
      col('StorageClass', 'string', 'storageClassName is the name of StorageClass to which this persistent volume belongs.'),
      col('VolumeAttributesClass', 'string', 'VolumeAttributesClass that this persistent volume belongs to.'),
      col('Reason', 'string', 'reason is a brief CamelCase string that describes any failure.'),
      AGE,
      col('VolumeMode', 'string', 'volumeMode defines if a volume is intended to be used with a formatted filesystem or to remain in raw block state.', 1),
    ],
    cells(o, now) {
      const claim = o.spec?.claimRef ? `${o.spec.claimRef.namespace}/${o.spec.claimRef.name}` : '';
      return [
        o.metadata.name,
        o.spec?.capacity?.storage ?? '',
        accessModes(o.spec?.accessModes),
        o.spec?.persistentVolumeReclaimPolicy ?? '',
        o.status?.phase ?? '',
        claim,
        o.spec?.storageClassName ?? '',
        o.spec?.volumeAttributesClassName ?? '<unset>',
        o.status?.reason ?? '',
        age(o.metadata.creationTimestamp, now),
        o.spec?.volumeMode ?? '<unset>',
      ];
    },
  },
  PersistentVolumeClaim: {
    columns: [
      NAME,
      col('Status', 'string', 'phase represents the current phase of PersistentVolumeClaim.'),
      col('Volume', 'string', 'volumeName is the binding reference to the PersistentVolume backing this claim.'),
      col('Capacity', 'string', 'capacity represents the actual resources of the underlying volume.'),
      col('Access Modes', 'string', 'accessModes contains the desired access modes the volume should have.'),
      col('StorageClass', 'string', 'storageClassName is the name of the StorageClass required by the claim.'),
      col('VolumeAttributesClass', 'string', 'volumeAttributesClassName may be used to set the VolumeAttributesClass used by this claim.'),
      AGE,
      col('VolumeMode', 'string', 'volumeMode defines what type of volume is required by the claim.', 1),
    ],
    cells: (o, now) => [
      o.metadata.name,
      o.metadata.deletionTimestamp ? 'Terminating' : o.status?.phase ?? '',
      o.spec?.volumeName ?? '',
      o.status?.capacity?.storage ?? '',
      accessModes(o.status?.accessModes),
      o.spec?.storageClassName ?? '',
      o.spec?.volumeAttributesClassName ?? '<unset>',
      age(o.metadata.creationTimestamp, now),
      o.spec?.volumeMode ?? '<unset>',
    ],
  },
  Service: {
    columns: [
      NAME,
      col('Type', 'string', 'The type of service.'),
      col('Cluster-IP', 'string', 'The cluster IP of the service.'),
      col('External-IP', 'string', 'The external IPs of the service.'),
      col('Port(s)', 'string', 'The ports of the service.'),
      AGE,
      col('Selector', 'string', 'Route service traffic to pods with label keys and values matching this selector.', 1),
    ],
    cells(o, now) {
      const s = o.spec ?? {};
      const ports = ((s.ports ?? []) as Obj[]).map((p) => (p.nodePort ? `${p.port}:${p.nodePort}/${p.protocol ?? 'TCP'}` : `${p.port}/${p.protocol ?? 'TCP'}`)).join(',');
      return [o.metadata.name, s.type ?? 'ClusterIP', s.clusterIP || '<none>', serviceExternalIP(o), ports || '<none>', age(o.metadata.creationTimestamp, now), formatLabels(s.selector)];
    },
  },
  Endpoints: {
    columns: [NAME, col('Endpoints', 'string', 'Endpoints is the list of endpoints in the object.'), AGE],
    cells: (o, now) => [o.metadata.name, formatEndpoints(o), age(o.metadata.creationTimestamp, now)],
  },
  EndpointSlice: {
    columns: [
      NAME,
      col('AddressType', 'string', 'The IP protocol for this slice.'),
      col('Ports', 'string', 'The ports of the endpoints.'),
      col('Endpoints', 'string', 'The endpoints of the slice.'),
      AGE,
    ],
    cells(o, now) {
      const ports = ((o.ports ?? []) as Obj[]).map((p) => (p.port === undefined ? '<unset>' : String(p.port)));
      const addrs = ((o.endpoints ?? []) as Obj[]).flatMap((e) => (e.addresses ?? []) as string[]);
      return [o.metadata.name, o.addressType ?? '', ports.length ? ports.join(',') : '<unset>', moreList(addrs), age(o.metadata.creationTimestamp, now)];
    },
  },
  ServiceAccount: {
    columns: [NAME, col('Secrets', 'integer', 'Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use.'), AGE],
    cells: (o, now) => [o.metadata.name, (o.secrets ?? []).length, age(o.metadata.creationTimestamp, now)],
  },
  Role: ROLE_PRINTER,
  ClusterRole: ROLE_PRINTER,
  RoleBinding: BINDING_PRINTER,
  ClusterRoleBinding: BINDING_PRINTER,
} satisfies Record<string, Printer>);

const DEFAULT_PRINTER: Printer = { columns: [NAME, AGE], cells: (o, now) => [o.metadata.name, age(o.metadata.creationTimestamp, now)] };

export type IncludeObject = 'None' | 'Metadata' | 'Object';

/** kind and apiVersion (in the request's version) of the objects a Table's rows carry */
export interface TypeMeta {
  kind: string;
  apiVersion: string;
}

export interface TableOptions {
  include?: IncludeObject;
  noHeaders?: boolean;
  now?: number;
  /** set on the rows' objects (includeObject=Object): a list's items have none of their own */
  typeMeta?: TypeMeta;
}

/**
 * A row's `object` per includeObject, as kube-apiserver's TableConvertor fills it: the whole
 * object with its kind and apiVersion (kubectl decodes each row by them, e.g. for --sort-by),
 * a PartialObjectMetadata, or nothing.
 */
export function rowObject(obj: Obj, include: IncludeObject, typeMeta?: TypeMeta): Obj | undefined {
  if (include === 'None') return undefined;
  if (include === 'Object') return typeMeta ? Object.assign({ kind: typeMeta.kind, apiVersion: typeMeta.apiVersion }, obj, typeMeta) : obj;
  return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: obj.metadata };
}

/** A Table for a list (or one object), as kube-apiserver's TableConvertor returns it. */
export function toTable(kind: string, objects: Obj[], listMeta: Obj, opts: TableOptions = {}): Obj {
  const p = printers[kind] ?? DEFAULT_PRINTER;
  const now = opts.now ?? Date.now();
  const include = opts.include ?? 'Metadata';
  const table: Obj = { kind: 'Table', apiVersion: 'meta.k8s.io/v1', metadata: listMeta };
  if (!opts.noHeaders) table.columnDefinitions = p.columns;
  table.rows = objects.map((o) => {
    const row: Obj = { cells: p.cells(o, now) };
    const ro = rowObject(o, include, opts.typeMeta);
    if (ro !== undefined) row.object = ro;
    return row;
  });
  return table;
}

/** kubectl's "a,b,c + N more..." for lists longer than three */
function moreList(items: string[]): string {
  if (items.length === 0) return '<none>';
  if (items.length <= 3) return items.join(',');
  return `${items.slice(0, 3).join(',')} + ${items.length - 3} more...`;
}

/** formatEndpoints of the kubectl/server printer: IP:PORT of ready addresses, three at most */
function formatEndpoints(o: Obj): string {
  const out: string[] = [];
  for (const ss of (o.subsets ?? []) as Obj[]) {
    const ports = (ss.ports ?? []) as Obj[];
    for (const a of (ss.addresses ?? []) as Obj[]) {
      if (ports.length === 0) out.push(a.ip);
      else for (const p of ports) out.push(`${a.ip}:${p.port}`);
    }
  }
  return moreList(out);
}
