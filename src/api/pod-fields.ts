/**
 * The field ledger: for every field of PodSpec, Container, EphemeralContainer and Volume (and
 * the objects nested in them, walked from the generated schema), what podbay does with it:
 *
 *   implemented   podbay does what Kubernetes documents (where: the file that does it)
 *   refused       validation answers 422 naming the field (src/api/validation/pod-unsupported.ts
 *                 or upstream's rules); `sample` is a pod change that must be refused
 *   mount-refused the kubelet refuses the volume with a FailedMount event naming it
 *   ignored       accepted and without effect, as on a Kubernetes node in podbay's situation
 *                 (the reason says which)
 *
 * A row covers its path, and with `subtree` every field below it. docs/pod-fields.md is
 * rendered from this (renderLedger; `node dist/src/api/pod-fields.js > docs/pod-fields.md`), and
 * pod-fields.test.ts fails when a schema field is in no row, when a row matches no field, when
 * a refused row's sample is accepted, or when the doc is stale.
 */
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { UNSUPPORTED_VOLUME_SOURCES } from './validation/pod-unsupported.js';

type Obj = Record<string, any>;

export type FieldStatus = 'implemented' | 'refused' | 'mount-refused' | 'ignored';

export interface LedgerRow {
  path: string;
  status: FieldStatus;
  /** where it is implemented, or why it is refused / ignored */
  note: string;
  subtree?: boolean;
  /** for refused rows: a change to a valid pod that validation must refuse, and the field path the 422 names */
  sample?: { apply: (pod: Obj) => void; field: string };
}

export const LEDGER_ROOTS: Record<string, string> = {
  PodSpec: 'io.k8s.api.core.v1.PodSpec',
  Container: 'io.k8s.api.core.v1.Container',
  EphemeralContainer: 'io.k8s.api.core.v1.EphemeralContainer',
  Volume: 'io.k8s.api.core.v1.Volume',
};

const c0 = (pod: Obj) => pod.spec.containers[0];
const impl = (path: string, note: string, subtree = false): LedgerRow => ({ path, status: 'implemented', note, subtree });
const ignored = (path: string, note: string, subtree = false): LedgerRow => ({ path, status: 'ignored', note, subtree });
const refused = (path: string, note: string, apply: (pod: Obj) => void, field: string, subtree = true): LedgerRow => ({ path, status: 'refused', note, subtree, sample: { apply, field } });

const KUBELET = 'src/kubelet/kubelet.ts';
const SEC = 'docs/security-context.md, src/kubelet/security-context.ts, src/runtime/oci-spec.ts';
const LIFECYCLE = 'lifecycle hooks (issue 9 lifecycle work, merged by the integrator)';
const probeRows = (kind: string): LedgerRow[] => [
  impl(`Container.${kind}`, 'src/kubelet/prober.ts'),
  impl(`Container.${kind}.exec`, 'src/kubelet/prober.ts (runtime exec)', true),
  impl(`Container.${kind}.httpGet`, 'src/kubelet/prober.ts (HTTP GET, 200-399)', true),
  refused(`Container.${kind}.httpGet.scheme`, 'HTTP implemented; HTTPS refused: podbay does not implement HTTPS probes yet', (p) => (c0(p)[kind] = { httpGet: { port: 80, scheme: 'HTTPS' } }), `spec.containers[0].${kind}.httpGet.scheme`, false),
  impl(`Container.${kind}.tcpSocket`, 'src/kubelet/prober.ts (TCP connect)', true),
  refused(`Container.${kind}.grpc`, 'podbay does not implement gRPC probes yet', (p) => (c0(p)[kind] = { grpc: { port: 80 } }), `spec.containers[0].${kind}.grpc`),
  impl(`Container.${kind}.initialDelaySeconds`, 'src/kubelet/prober.ts'),
  impl(`Container.${kind}.periodSeconds`, 'src/kubelet/prober.ts'),
  impl(`Container.${kind}.timeoutSeconds`, 'src/kubelet/prober.ts'),
  impl(`Container.${kind}.successThreshold`, 'src/kubelet/prober.ts'),
  impl(`Container.${kind}.failureThreshold`, 'src/kubelet/prober.ts'),
  impl(`Container.${kind}.terminationGracePeriodSeconds`, `${KUBELET} (the kill after a failed liveness/startup probe)`),
];

const containerRows: LedgerRow[] = [
  impl('Container.name', KUBELET),
  impl('Container.image', `${KUBELET}, src/image (images loaded locally; image updates: issue 9 lifecycle work)`),
  impl('Container.imagePullPolicy', 'src/kubelet/image-pull.ts (Always, IfNotPresent, Never)'),
  impl('Container.command', 'src/kubelet/container-args.ts'),
  impl('Container.args', 'src/kubelet/container-args.ts'),
  impl('Container.workingDir', 'src/runtime/oci-spec.ts'),
  impl('Container.env', 'src/kubelet/env.ts', true),
  impl('Container.env.valueFrom.fieldRef', 'src/kubelet/downward.ts (status IPs from the sandbox)', true),
  impl('Container.env.valueFrom.resourceFieldRef', 'src/kubelet/downward.ts (divisor; node allocatable when no limit)', true),
  refused('Container.env.valueFrom.fileKeyRef', 'alpha feature podbay does not implement', (p) => (c0(p).env = [{ name: 'X', valueFrom: { fileKeyRef: { volumeName: 'v', path: 'p', key: 'k' } } }]), 'spec.containers[0].env[0].valueFrom.fileKeyRef'),
  impl('Container.envFrom', 'src/kubelet/env.ts', true),
  impl('Container.ports', 'informational, as in Kubernetes; hostPort/hostIP: src/network/hostport-manager.ts (DNAT rules, one iptables-restore per batch), src/scheduler/binder.ts and src/network/host-ports.ts (conflicts)', true),
  impl('Container.resources', 'src/kubelet/qos.ts, src/runtime/cgroups.ts, src/kubelet/eviction.ts (ephemeral-storage)', true),
  refused('Container.resources.claims', 'podbay does not implement dynamic resource allocation', (p) => (c0(p).resources = { claims: [{ name: 'gpu' }] }), 'spec.containers[0].resources.claims'),
  ignored('Container.resizePolicy', 'podbay serves no pods/resize subresource, so no in-place resize ever asks for this policy', true),
  impl('Container.restartPolicy', 'native sidecars (issue 9 lifecycle work)'),
  refused('Container.restartPolicyRules', 'alpha feature podbay does not implement', (p) => (c0(p).restartPolicyRules = [{ action: 'Restart', exitCodes: { operator: 'In', values: [42] } }]), 'spec.containers[0].restartPolicyRules'),
  impl('Container.lifecycle', LIFECYCLE, true),
  refused('Container.lifecycle.stopSignal', 'alpha feature podbay does not implement yet', (p) => (c0(p).lifecycle = { stopSignal: 'SIGUSR1' }), 'spec.containers[0].lifecycle.stopSignal'),
  ...probeRows('livenessProbe'),
  ...probeRows('readinessProbe'),
  ...probeRows('startupProbe'),
  impl('Container.securityContext', SEC, true),
  ignored('Container.securityContext.windowsOptions', 'Kubernetes ignores windowsOptions on Linux nodes (and forbids them with os.name linux)', true),
  refused('Container.securityContext.windowsOptions.hostProcess', 'podbay runs Linux containers: hostProcess true refused', (p) => (c0(p).securityContext = { windowsOptions: { hostProcess: true } }), 'spec.containers[0].securityContext.windowsOptions.hostProcess', false),
  impl('Container.securityContext.procMount', `${SEC} (Default; Unmasked needs hostUsers: false, which podbay refuses)`),
  impl('Container.stdin', 'src/runtime/conmon.ts (conmon -i keeps stdin open), src/kubelet/attach.ts (pods/attach)'),
  impl('Container.stdinOnce', 'src/runtime/conmon.ts (without --leave-stdin-open conmon closes stdin when the first attach ends)'),
  impl('Container.tty', 'src/runtime/oci-spec.ts (process.terminal), src/runtime/conmon.ts (-t: conmon holds the console; attach resize through its ctl FIFO)'),
  impl('Container.terminationMessagePath', 'termination messages (issue 9 lifecycle work)'),
  impl('Container.terminationMessagePolicy', 'termination messages (issue 9 lifecycle work)'),
  refused('Container.volumeDevices', 'podbay has no block volumes (they need PersistentVolumeClaims)', (p) => (c0(p).volumeDevices = [{ name: 'v', devicePath: '/dev/xvda' }]), 'spec.containers[0].volumeDevices'),
  impl('Container.volumeMounts', `${KUBELET} mountsOf, src/kubelet/subpath.ts (subPath, subPathExpr, created on demand)`, true),
  impl('Container.volumeMounts.mountPropagation', 'src/runtime/oci-spec.ts (rprivate/rslave/rshared, rootfs propagation, containerd\'s shared-source check); Bidirectional only for privileged containers (422)'),
  refused('Container.volumeMounts.recursiveReadOnly', 'Disabled and IfPossible (plain read-only, as the kubelet does when the runtime lacks rro) implemented; Enabled refused: runc 1.1 cannot do it', (p) => (c0(p).volumeMounts = [{ name: 'v', mountPath: '/v', readOnly: true, recursiveReadOnly: 'Enabled' }]), 'spec.containers[0].volumeMounts[0].recursiveReadOnly', false),
];

const podRows: LedgerRow[] = [
  impl('PodSpec.activeDeadlineSeconds', 'issue 9 lifecycle work (DeadlineExceeded)'),
  ignored('PodSpec.affinity', 'the preferred terms only rank nodes, and a podbay cluster has one node', true),
  impl('PodSpec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution', 'src/scheduler/affinity.ts (NodeAffinity filter, src/api/node-selector.ts)', true),
  impl('PodSpec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution', 'src/scheduler/affinity.ts (InterPodAffinity filter on the one node)', true),
  impl('PodSpec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution', 'src/scheduler/affinity.ts (InterPodAffinity filter on the one node)', true),
  impl('PodSpec.automountServiceAccountToken', 'src/registry/service-account-admission.ts (the kube-api-access volume is added unless false on pod or account)'),
  impl('PodSpec.containers', KUBELET),
  impl('PodSpec.initContainers', 'src/kubelet/init-containers.ts'),
  impl('PodSpec.ephemeralContainers', 'only through pods/NAME/ephemeralcontainers (a create is refused, as upstream; only additions): src/api/validation/pod-ephemeral.ts, src/kubelet/ephemeral-containers.ts'),
  impl('PodSpec.dnsPolicy', 'src/kubelet/pod-dns.ts (ClusterFirst: podbay\'s cluster DNS, src/dns; with --cluster-dns none it falls back to Default with MissingClusterDNS)'),
  impl('PodSpec.dnsConfig', 'src/kubelet/pod-dns.ts (merged as the kubelet merges; limits with DNSConfigForming)', true),
  impl('PodSpec.enableServiceLinks', 'src/kubelet/service-env.ts (false: only the kubernetes Service\'s variables)'),
  impl('PodSpec.hostAliases', 'src/runtime/oci-spec.ts hostsFile ("# Entries added by HostAliases.")', true),
  impl('PodSpec.hostIPC', 'src/runtime/oci-spec.ts'),
  impl('PodSpec.hostNetwork', 'src/runtime/runtime.ts, src/runtime/oci-spec.ts'),
  impl('PodSpec.hostPID', 'src/runtime/oci-spec.ts'),
  refused('PodSpec.hostUsers', 'true/unset implemented; false refused: podbay does not implement user namespaces', (p) => (p.spec.hostUsers = false), 'spec.hostUsers'),
  impl('PodSpec.hostname', 'src/kubelet/pod-dns.ts (cut to 63 characters)'),
  refused('PodSpec.hostnameOverride', 'alpha feature podbay does not implement', (p) => (p.spec.hostnameOverride = 'other'), 'spec.hostnameOverride'),
  impl('PodSpec.imagePullSecrets', 'src/kubelet/image-pull.ts (kubernetes.io/dockerconfigjson and dockercfg secrets)', true),
  impl('PodSpec.nodeName', 'src/kubelet/binder.ts, kubelet watch'),
  impl('PodSpec.nodeSelector', 'src/kubelet/binder.ts'),
  impl('PodSpec.os', 'validation (os-specific fields)'),
  refused('PodSpec.os.name', 'linux implemented; windows refused: podbay runs Linux containers only', (p) => (p.spec.os = { name: 'windows' }), 'spec.os.name'),
  impl('PodSpec.overhead', 'src/kubelet/qos.ts (added to the pod cgroup); nothing sets it without RuntimeClasses'),
  ignored('PodSpec.preemptionPolicy', 'one node and no scheduler queue: there is never anything to preempt'),
  ignored('PodSpec.priority', 'one node: no preemption; podbay\'s eviction (src/kubelet/eviction.ts) evicts only pods over their own limits'),
  ignored('PodSpec.priorityClassName', 'as priority'),
  refused('PodSpec.readinessGates', 'podbay does not implement readiness gates yet', (p) => (p.spec.readinessGates = [{ conditionType: 'example.com/ready' }]), 'spec.readinessGates'),
  refused('PodSpec.resourceClaims', 'podbay does not implement dynamic resource allocation', (p) => (p.spec.resourceClaims = [{ name: 'gpu', resourceClaimName: 'gpu' }]), 'spec.resourceClaims'),
  refused('PodSpec.resources', 'podbay does not implement pod-level resources yet', (p) => (p.spec.resources = { limits: { cpu: '1' } }), 'spec.resources'),
  impl('PodSpec.restartPolicy', KUBELET),
  refused('PodSpec.runtimeClassName', 'podbay has one runtime (runc) and no RuntimeClasses', (p) => (p.spec.runtimeClassName = 'gvisor'), 'spec.runtimeClassName'),
  impl('PodSpec.schedulerName', 'src/kubelet/binder.ts (binds only default-scheduler pods; others wait for their scheduler, as in Kubernetes)'),
  impl('PodSpec.schedulingGates', 'validation and src/kubelet/binder.ts', true),
  refused('PodSpec.schedulingGroup', 'alpha feature podbay does not implement', (p) => (p.spec.schedulingGroup = { podGroupName: 'g' }), 'spec.schedulingGroup'),
  impl('PodSpec.securityContext', SEC, true),
  ignored('PodSpec.securityContext.windowsOptions', 'Kubernetes ignores windowsOptions on Linux nodes (and forbids them with os.name linux)', true),
  refused('PodSpec.securityContext.windowsOptions.hostProcess', 'podbay runs Linux containers: hostProcess true refused', (p) => (p.spec.securityContext = { windowsOptions: { hostProcess: true } }), 'spec.securityContext.windowsOptions.hostProcess', false),
  impl('PodSpec.serviceAccount', 'deprecated alias of serviceAccountName (defaulting)'),
  impl('PodSpec.serviceAccountName', 'src/registry/service-account-admission.ts (defaulted to default, must exist), src/kubelet/token-manager.ts (its token)'),
  impl('PodSpec.setHostnameAsFQDN', 'src/kubelet/pod-dns.ts'),
  impl('PodSpec.shareProcessNamespace', 'src/runtime/oci-spec.ts'),
  impl('PodSpec.subdomain', 'src/kubelet/pod-dns.ts (FQDN in /etc/hosts)'),
  impl('PodSpec.terminationGracePeriodSeconds', KUBELET),
  impl('PodSpec.tolerations', 'src/scheduler/taints.ts (NoSchedule/NoExecute taints, cordon), src/controllers/node-lifecycle.ts (NoExecute eviction after tolerationSeconds), src/api/defaults/pod.ts (DefaultTolerationSeconds)', true),
  refused('PodSpec.topologySpreadConstraints', 'podbay\'s scheduler does not implement topology spread yet', (p) => (p.spec.topologySpreadConstraints = [{ maxSkew: 1, topologyKey: 'zone', whenUnsatisfiable: 'DoNotSchedule', labelSelector: { matchLabels: { a: 'b' } } }]), 'spec.topologySpreadConstraints'),
  impl('PodSpec.volumes', 'src/kubelet/volumes.ts (the Volume rows)'),
];

const volumeRows: LedgerRow[] = [
  impl('Volume.name', 'src/kubelet/volumes.ts'),
  impl('Volume.configMap', 'src/kubelet/volumes.ts (atomic writer, read-only)', true),
  impl('Volume.secret', 'src/kubelet/volumes.ts (atomic writer on a tmpfs, read-only)', true),
  impl('Volume.emptyDir', 'src/kubelet/volumes.ts (medium Memory: tmpfs, sized by sizeLimit, the pod memory limit, allocatable), src/kubelet/eviction.ts (sizeLimit)', true),
  impl('Volume.hostPath', 'src/kubelet/volumes.ts (type checks with the kubelet\'s messages)', true),
  impl('Volume.downwardAPI', 'src/kubelet/volumes.ts, src/kubelet/downward.ts (labels/annotations files updated in place)', true),
  impl('Volume.projected', 'src/kubelet/volumes.ts (configMap, secret, downwardAPI sources)', true),
  impl('Volume.ephemeral', 'src/controllers/ephemeral.ts (the claim <pod>-<volume>, owned by the pod), src/kubelet/claim-volume.ts', true),
  impl('Volume.persistentVolumeClaim', 'src/kubelet/volumes.ts, src/kubelet/claim-volume.ts (the bound PV\'s hostPath/local path; readOnly)', true),
  { path: 'Volume.projected.sources.serviceAccountToken', status: 'implemented', subtree: true, note: 'src/kubelet/token-manager.ts: a bound token through serviceaccounts/NAME/token, refreshed at 80% of its life or after 24 h' },
  refused('Volume.projected.sources.clusterTrustBundle', 'podbay serves no ClusterTrustBundles', (p) => (p.spec.volumes = [{ name: 'v', projected: { sources: [{ clusterTrustBundle: { path: 'b', signerName: 'example.com/s' } }] } }]), 'spec.volumes[0].projected.sources[0].clusterTrustBundle'),
  refused('Volume.projected.sources.podCertificate', 'alpha feature podbay does not implement', (p) => (p.spec.volumes = [{ name: 'v', projected: { sources: [{ podCertificate: { signerName: 'example.com/s', keyType: 'ED25519', credentialBundlePath: 'c' } }] } }]), 'spec.volumes[0].projected.sources[0].podCertificate'),
  ...Object.entries(UNSUPPORTED_VOLUME_SOURCES).map(([member, why]) => refused(`Volume.${member}`, why, (p) => (p.spec.volumes = [{ name: 'v', [member]: {} }]), `spec.volumes[0].${member}`)),
];

export const LEDGER: LedgerRow[] = [
  ...podRows,
  ...containerRows,
  // EphemeralContainer shares Container's fields, minus those validation forbids it
  impl('EphemeralContainer', 'as Container\'s fields; ports, probes, lifecycle, resources, resizePolicy, restartPolicy and subPath are forbidden (422); targetContainerName joins that container\'s PID namespace; never restarted (src/kubelet/ephemeral-containers.ts)', true),
  ...volumeRows,
];

/** Every field path under the roots, walked from the schema (the roots themselves are not walked into again). */
export function schemaFields(schema: Record<string, Obj>): string[] {
  const rootRefs = new Set(Object.values(LEDGER_ROOTS));
  const out: string[] = [];
  const walk = (ref: string, prefix: string, chain: string[]) => {
    for (const [name, f] of Object.entries((schema[ref]?.fields ?? {}) as Record<string, Obj>)) {
      const path = `${prefix}.${name}`;
      out.push(path);
      const next: string | undefined = f.ref ?? (f.items?.kind === 'object' ? f.items.ref : undefined);
      if (next && schema[next] && !rootRefs.has(next) && !chain.includes(next)) walk(next, path, [...chain, next]);
    }
  };
  for (const [root, ref] of Object.entries(LEDGER_ROOTS)) walk(ref, root, [ref]);
  return out;
}

/** The most specific row covering a path. */
export function rowFor(path: string, rows: LedgerRow[] = LEDGER): LedgerRow | undefined {
  let best: LedgerRow | undefined;
  for (const r of rows) {
    const covers = r.path === path || (r.subtree && path.startsWith(r.path + '.'));
    if (covers && (!best || r.path.length > best.path.length)) best = r;
  }
  return best;
}

const STATUS_TEXT: Record<FieldStatus, string> = {
  implemented: 'implemented',
  refused: 'refused (422)',
  'mount-refused': 'refused at mount (FailedMount)',
  ignored: 'ignored',
};

export function renderLedger(schema: Record<string, Obj>): string {
  const fields = schemaFields(schema);
  const counts: Record<string, number> = {};
  const lines = fields.map((f) => {
    const r = rowFor(f);
    const status = r ? STATUS_TEXT[r.status] : 'MISSING';
    counts[status] = (counts[status] ?? 0) + 1;
    const own = r && r.path !== f ? `(as \`${r.path}\`) ` : '';
    return `| \`${f}\` | ${status} | ${own}${(r?.note ?? '').replace(/\|/g, '\\|')} |`;
  });
  return [
    '# The Pod field ledger',
    '',
    '<!-- generated by src/api/pod-fields.ts from src/api/generated/schema.json: `npm run -s build && node dist/src/api/pod-fields.js > docs/pod-fields.md`; checked by src/api/pod-fields.test.ts -->',
    '',
    'Every field of PodSpec, Container, EphemeralContainer and Volume (and the objects nested in them), and what podbay does with it:',
    '',
    '- **implemented**: podbay does what Kubernetes documents (where);',
    '- **refused (422)**: creating a pod that sets it (or the value named) is refused with a 422 naming the field;',
    '- **refused at mount (FailedMount)**: the kubelet refuses the volume with a FailedMount event naming it;',
    '- **ignored**: accepted without effect, as on a Kubernetes node in podbay\'s situation (the reason is given).',
    '',
    `Totals: ${Object.entries(counts).map(([k, v]) => `${v} ${k}`).join(', ')} (${fields.length} fields).`,
    '',
    '| field | status | where / why |',
    '| --- | --- | --- |',
    ...lines,
    '',
  ].join('\n');
}

/** `node dist/src/api/pod-fields.js` prints the ledger (docs/pod-fields.md). */
// (by name too: bundled into dist/bundle, this module's URL is the bundle's, which is the CLI's main)
if (process.argv[1]?.endsWith('pod-fields.js') && fileURLToPath(import.meta.url) === process.argv[1]) {
  const schemaPath = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'src', 'api', 'generated', 'schema.json');
  process.stdout.write(renderLedger(JSON.parse(readFileSync(schemaPath, 'utf8'))));
}
