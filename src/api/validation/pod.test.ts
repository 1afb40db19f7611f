import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultObject } from '../defaults/index.js';
import { type ValidationError, invalidObject, validationErrorText } from './field.js';
import { validateCreate, validateStatusUpdate, validateUpdate } from './index.js';
import { UPDATABLE_POD_SPEC_FIELDS } from './pod.js';

const texts = (errs: ValidationError[]) => errs.map(validationErrorText);

/** The seed's corrected pod: nginx + ghost, a configMap volume mounted at /etc/nginx/, hostPort 8888. */
function seedPod(): any {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'blog', namespace: 'default', labels: { app: 'blog' } },
    spec: {
      containers: [
        {
          name: 'nginx',
          image: 'nginx:1.25',
          ports: [{ containerPort: 80, hostPort: 8888 }],
          volumeMounts: [{ name: 'nginx-config', mountPath: '/etc/nginx/' }],
        },
        { name: 'ghost', image: 'ghost:5', env: [{ name: 'url', value: 'http://localhost:8888' }], ports: [{ containerPort: 2368 }] },
      ],
      volumes: [{ name: 'nginx-config', configMap: { name: 'nginx-config' } }],
    },
  };
}

/** A defaulted pod after `mutate` has been applied to the raw object. */
function pod(mutate: (p: any) => void = () => {}): any {
  const p = seedPod();
  mutate(p);
  return defaultObject('Pod', p);
}

function errorsOf(mutate: (p: any) => void): string[] {
  return texts(validateCreate('Pod', pod(mutate)));
}

test("the seed's corrected pod is valid", () => {
  assert.deepEqual(validateCreate('Pod', pod()), []);
});

test('container without an image; volumeMount naming a missing volume', () => {
  const errs = validateCreate(
    'Pod',
    pod((p) => {
      delete p.spec.containers[1].image;
      p.spec.containers[0].volumeMounts[0].name = 'x';
    }),
  );
  assert.deepEqual(texts(errs), ['spec.containers[0].volumeMounts[0].name: Not found: "x"', 'spec.containers[1].image: Required value']);
  assert.equal(errs[0].type, 'FieldValueNotFound');
  const apiErr = invalidObject('Pod', 'blog', errs);
  assert.equal(apiErr.code, 422);
  assert.equal(
    apiErr.message,
    'Pod "blog" is invalid: [spec.containers[0].volumeMounts[0].name: Not found: "x", spec.containers[1].image: Required value]',
  );
  assert.deepEqual(apiErr.details?.causes?.[0], {
    reason: 'FieldValueNotFound',
    message: 'Not found: "x"',
    field: 'spec.containers[0].volumeMounts[0].name',
  });
});

test('metadata: name, namespace, labels, annotations', () => {
  assert.deepEqual(errorsOf((p) => (p.metadata.name = 'Blog')), [
    `metadata.name: Invalid value: "Blog": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
  ]);
  assert.deepEqual(errorsOf((p) => delete p.metadata.name), ['metadata.name: Required value: name or generateName is required']);
  assert.deepEqual(errorsOf((p) => delete p.metadata.namespace), ['metadata.namespace: Required value']);
  assert.deepEqual(errorsOf((p) => (p.metadata.labels = { 'bad key!': 'v', ok: 'x'.repeat(64) })), [
    `metadata.labels: Invalid value: "bad key!": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`,
    `metadata.labels: Invalid value: "${'x'.repeat(64)}": must be no more than 63 characters`,
  ]);
  assert.deepEqual(errorsOf((p) => (p.metadata.annotations = { 'Example.COM/Key': 'ok', big: 'x'.repeat(256 * 1024) })), [
    'metadata.annotations: Too long: must have at most 262144 bytes',
  ]);
});

test('containers: at least one, names valid and unique across init containers', () => {
  assert.deepEqual(errorsOf((p) => (p.spec.containers = [])), ['spec.containers: Required value']);
  assert.deepEqual(errorsOf((p) => (p.spec.containers[1].name = 'nginx')), ['spec.containers[1].name: Duplicate value: "nginx"']);
  assert.deepEqual(errorsOf((p) => (p.spec.initContainers = [{ name: 'ghost', image: 'busybox' }])), [
    'spec.initContainers[0].name: Duplicate value: "ghost"',
  ]);
  assert.deepEqual(errorsOf((p) => (p.spec.containers[1].name = 'Ghost_1')), [
    `spec.containers[1].name: Invalid value: "Ghost_1": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`,
  ]);
  assert.deepEqual(errorsOf((p) => (p.spec.containers[0].image = ' nginx')), [
    'spec.containers[0].image: Invalid value: " nginx": must not have leading or trailing whitespace',
  ]);
});

test('ports', () => {
  assert.deepEqual(errorsOf((p) => (p.spec.containers[1].ports = [{ containerPort: 0 }])), ['spec.containers[1].ports[0].containerPort: Required value']);
  assert.deepEqual(errorsOf((p) => (p.spec.containers[1].ports = [{ containerPort: 70000, hostPort: -1 }])), [
    'spec.containers[1].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive',
    'spec.containers[1].ports[0].hostPort: Invalid value: -1: must be between 1 and 65535, inclusive',
  ]);
  assert.deepEqual(errorsOf((p) => (p.spec.containers[1].ports = [{ containerPort: 53, protocol: 'HTTP' }])), [
    'spec.containers[1].ports[0].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"',
  ]);
  assert.deepEqual(
    errorsOf((p) => (p.spec.containers[1].ports = [{ name: 'web', containerPort: 1 }, { name: 'web', containerPort: 2 }, { name: 'HTTP', containerPort: 3 }])),
    [
      'spec.containers[1].ports[1].name: Duplicate value: "web"',
      'spec.containers[1].ports[2].name: Invalid value: "HTTP": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)',
      'spec.containers[1].ports[2].name: Invalid value: "HTTP": must contain at least one letter (a-z)',
    ],
  );
  assert.deepEqual(errorsOf((p) => (p.spec.containers[1].ports = [{ containerPort: 2368, hostPort: 8888 }])), [
    'spec.containers[1].ports[0].hostPort: Duplicate value: "TCP//8888"',
  ]);
  assert.deepEqual(
    errorsOf((p) => {
      p.spec.hostNetwork = true;
      p.spec.containers[0].ports[0].hostPort = 8888;
    }),
    ['spec.containers[0].ports[0].hostPort: Invalid value: 8888: must match `containerPort` when `hostNetwork` is true'],
  );
});

test('volumes and volumeMounts', () => {
  assert.deepEqual(errorsOf((p) => p.spec.volumes.push({ name: 'nginx-config', emptyDir: {} })), ['spec.volumes[1].name: Duplicate value: "nginx-config"']);
  assert.deepEqual(errorsOf((p) => p.spec.volumes.push({ name: 'Data', emptyDir: {} })), [
    `spec.volumes[1].name: Invalid value: "Data": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`,
  ]);
  assert.deepEqual(errorsOf((p) => (p.spec.volumes[0].emptyDir = {})), [
    'spec.volumes[0].configMap: Forbidden: may not specify more than 1 volume type',
    'spec.containers[0].volumeMounts[0].name: Not found: "nginx-config"',
  ]);
  assert.deepEqual(errorsOf((p) => (p.spec.volumes[0].configMap = {})), [
    'spec.volumes[0].configMap.name: Required value',
    'spec.containers[0].volumeMounts[0].name: Not found: "nginx-config"',
  ]);
  assert.deepEqual(errorsOf((p) => (p.spec.volumes = [{ name: 's', secret: {} }])).slice(0, 1), ['spec.volumes[0].secret.secretName: Required value']);
  assert.deepEqual(errorsOf((p) => (p.spec.volumes[0].configMap.defaultMode = 0o1000)), [
    'spec.volumes[0].configMap.defaultMode: Invalid value: 512: must be a number between 0 and 0777 (octal), both inclusive',
    'spec.containers[0].volumeMounts[0].name: Not found: "nginx-config"',
  ]);
  assert.deepEqual(errorsOf((p) => p.spec.containers[0].volumeMounts.push({ name: 'nginx-config', mountPath: '/etc/nginx/' }, { name: 'nginx-config' })), [
    'spec.containers[0].volumeMounts[1].mountPath: Invalid value: "/etc/nginx/": must be unique',
    'spec.containers[0].volumeMounts[2].mountPath: Required value',
  ]);
  assert.deepEqual(errorsOf((p) => (p.spec.volumes[0].hostPath = { path: '/x', type: 'Weird' }) && delete p.spec.volumes[0].configMap), [
    'spec.volumes[0].hostPath.type: Unsupported value: "Weird": supported values: "", "BlockDevice", "CharDevice", "Directory", "DirectoryOrCreate", "File", "FileOrCreate", "Socket"',
    'spec.containers[0].volumeMounts[0].name: Not found: "nginx-config"',
  ]);
});

test('env', () => {
  const env = (e: any[]) => errorsOf((p) => (p.spec.containers[1].env = e));
  assert.deepEqual(env([{ name: 'A=B' }, { value: 'x' }]), [
    `spec.containers[1].env[0].name: Invalid value: "A=B": a valid environment variable name must consist only of printable ASCII characters other than '='`,
    'spec.containers[1].env[1].name: Required value',
  ]);
  assert.deepEqual(env([{ name: 'A', valueFrom: {} }]), [
    'spec.containers[1].env[0].valueFrom: Invalid value: "": must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`',
  ]);
  assert.deepEqual(env([{ name: 'A', valueFrom: { fieldRef: { fieldPath: 'metadata.name' }, secretKeyRef: { name: 's', key: 'k' } } }]), [
    'spec.containers[1].env[0].valueFrom: Invalid value: "": may not have more than one field specified at a time',
  ]);
  assert.deepEqual(env([{ name: 'A', value: 'v', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }]), [
    'spec.containers[1].env[0].valueFrom: Invalid value: "": may not be specified when `value` is not empty',
  ]);
  assert.deepEqual(env([{ name: 'A', valueFrom: { fieldRef: { fieldPath: 'spec.restartPolicy' } } }]), [
    'spec.containers[1].env[0].valueFrom.fieldRef.fieldPath: Unsupported value: "spec.restartPolicy": supported values: "metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName", "spec.serviceAccountName", "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs"',
  ]);
  assert.deepEqual(env([{ name: 'A', valueFrom: { configMapKeyRef: { name: 'cm', key: '' } } }]), [
    'spec.containers[1].env[0].valueFrom.configMapKeyRef.key: Required value',
  ]);
  assert.deepEqual(env([{ name: 'A', valueFrom: { fieldRef: { fieldPath: "metadata.labels['app']" } } }]), []);
});

test('pod-level enums and numbers', () => {
  assert.deepEqual(errorsOf((p) => (p.spec.restartPolicy = 'Sometimes')), [
    'spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"',
  ]);
  assert.deepEqual(errorsOf((p) => (p.spec.dnsPolicy = 'Google')), [
    'spec.dnsPolicy: Unsupported value: "Google": supported values: "ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"',
  ]);
  assert.deepEqual(errorsOf((p) => (p.spec.terminationGracePeriodSeconds = -5)), [
    'spec.terminationGracePeriodSeconds: Invalid value: -5: must be greater than or equal to 0',
  ]);
  assert.deepEqual(errorsOf((p) => (p.spec.activeDeadlineSeconds = 0)), [
    'spec.activeDeadlineSeconds: Invalid value: 0: must be between 1 and 2147483647, inclusive',
  ]);
  assert.deepEqual(errorsOf((p) => (p.spec.nodeName = 'Node_1')), [
    `spec.nodeName: Invalid value: "Node_1": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
  ]);
  assert.deepEqual(errorsOf((p) => (p.spec.tolerations = [{ key: 'k', operator: 'Exists', value: 'v' }])), [
    "spec.tolerations[0].operator: Invalid value: \"v\": value must be empty when `operator` is 'Exists'",
  ]);
  assert.deepEqual(errorsOf((p) => (p.spec.ephemeralContainers = [{ name: 'debug', image: 'busybox' }])), [
    'spec.ephemeralContainers: Forbidden: cannot be set on create',
  ]);
});

test('resources', () => {
  const res = (r: any) => errorsOf((p) => (p.spec.containers[1].resources = r));
  assert.deepEqual(res({ requests: { cpu: '1' }, limits: { cpu: '500m' } }), [
    'spec.containers[1].resources.requests: Invalid value: "1": must be less than or equal to cpu limit of 500m',
  ]);
  assert.deepEqual(res({ requests: { memory: '1Gi' }, limits: { memory: '1024Mi' } }), []);
  assert.deepEqual(res({ limits: { cpu: 'lots' } }), [
    "spec.containers[1].resources.limits[cpu]: Invalid value: \"lots\": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
    "spec.containers[1].resources.requests[cpu]: Invalid value: \"lots\": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
  ]);
  assert.deepEqual(res({ requests: { cpu: '-1' } }), ['spec.containers[1].resources.requests[cpu]: Invalid value: "-1": must be greater than or equal to 0']);
  assert.deepEqual(res({ requests: { gpus: '1' } }), [
    'spec.containers[1].resources.requests[gpus]: Invalid value: "gpus": must be a standard resource type or fully qualified',
    'spec.containers[1].resources.requests[gpus]: Invalid value: "gpus": must be a standard resource for containers',
  ]);
  assert.deepEqual(res({ requests: { 'example.com/gpu': '1' } }), [
    'spec.containers[1].resources.limits: Required value: Limit must be set for non overcommitable resources',
  ]);
});

test('probes', () => {
  assert.deepEqual(errorsOf((p) => (p.spec.containers[1].livenessProbe = { httpGet: { port: 'HTTP' } })), [
    'spec.containers[1].livenessProbe.httpGet.port: Invalid value: "HTTP": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)',
    'spec.containers[1].livenessProbe.httpGet.port: Invalid value: "HTTP": must contain at least one letter (a-z)',
  ]);
  assert.deepEqual(errorsOf((p) => (p.spec.containers[1].readinessProbe = {})), [
    'spec.containers[1].readinessProbe: Required value: must specify a handler type',
  ]);
  assert.deepEqual(errorsOf((p) => (p.spec.containers[1].livenessProbe = { tcpSocket: { port: 2368 }, successThreshold: 2 })), [
    'spec.containers[1].livenessProbe.successThreshold: Invalid value: 2: must be 1',
  ]);
});

// ---------------------------------------------------------------- updates

function stored(): any {
  const p = pod();
  p.metadata.uid = 'u-1';
  p.metadata.resourceVersion = '5';
  p.metadata.creationTimestamp = '2024-01-01T00:00:00Z';
  return p;
}

function updateErrors(mutate: (p: any) => void): string[] {
  const old = stored();
  const next = structuredClone(old);
  mutate(next);
  return texts(validateUpdate('Pod', next, old));
}

test('pod update: images, activeDeadlineSeconds, tolerations, schedulingGates are mutable', () => {
  assert.deepEqual(updateErrors((p) => (p.spec.containers[0].image = 'nginx:1.27')), []);
  assert.deepEqual(updateErrors((p) => (p.spec.activeDeadlineSeconds = 60)), []);
  assert.deepEqual(updateErrors((p) => p.spec.tolerations.push({ key: 'x', operator: 'Exists', effect: 'NoSchedule' })), []);
  assert.deepEqual(updateErrors((p) => (p.spec.tolerations[0].tolerationSeconds = 10)), []);
  assert.deepEqual(updateErrors((p) => (p.spec.tolerations = [])), [
    'spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds',
  ]);
  assert.deepEqual(updateErrors((p) => (p.spec.containers[0].image = '')), ['spec.containers[0].image: Required value', 'spec.containers[0].image: Required value']);
});

test('pod update: activeDeadlineSeconds may only be set or lowered', () => {
  const old = stored();
  old.spec.activeDeadlineSeconds = 30;
  const up = structuredClone(old);
  up.spec.activeDeadlineSeconds = 60;
  assert.deepEqual(texts(validateUpdate('Pod', up, old)), ['spec.activeDeadlineSeconds: Invalid value: 60: must be less than or equal to previous value']);
  const unset = structuredClone(old);
  delete unset.spec.activeDeadlineSeconds;
  assert.deepEqual(texts(validateUpdate('Pod', unset, old)), [
    'spec.activeDeadlineSeconds: Invalid value: null: must not update from a positive integer to nil value',
  ]);
  const lower = structuredClone(old);
  lower.spec.activeDeadlineSeconds = 10;
  assert.deepEqual(validateUpdate('Pod', lower, old), []);
});

test('pod update: other spec changes are forbidden with upstream message', () => {
  const errs = validateUpdate('Pod', { ...stored(), spec: { ...stored().spec, restartPolicy: 'Never' } }, stored());
  assert.equal(errs.length, 1);
  assert.equal(errs[0].type, 'FieldValueForbidden');
  assert.equal(errs[0].field, 'spec');
  assert.equal(
    errs[0].detail.split('\n')[0],
    'pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)',
  );
  assert.match(errs[0].detail, /- spec\.restartPolicy: "Always"\n\+ spec\.restartPolicy: "Never"/);
  assert.equal(UPDATABLE_POD_SPEC_FIELDS.length, 5);
  assert.deepEqual(updateErrors((p) => p.spec.containers.pop()), ['spec.containers: Forbidden: pod updates may not add or remove containers']);
});

test('pod update: terminationGracePeriodSeconds only from negative to 1; scheduling gates only removed', () => {
  const old = stored();
  old.spec.terminationGracePeriodSeconds = -1;
  const fixed = structuredClone(old);
  fixed.spec.terminationGracePeriodSeconds = 1;
  assert.deepEqual(validateUpdate('Pod', fixed, old), []);
  assert.equal(updateErrors((p) => (p.spec.terminationGracePeriodSeconds = 1)).length, 1);

  const gated = stored();
  gated.spec.schedulingGates = [{ name: 'example.com/wait' }];
  const ungated = structuredClone(gated);
  ungated.spec.schedulingGates = [];
  assert.deepEqual(validateUpdate('Pod', ungated, gated), []);
  const more = structuredClone(gated);
  more.spec.schedulingGates.push({ name: 'example.com/more' });
  assert.deepEqual(texts(validateUpdate('Pod', more, gated)), [
    "spec.schedulingGates[1].name: Forbidden: only deletion is allowed, but found new scheduling gate 'example.com/more'",
  ]);
});

test('pod update: metadata immutables and resourceVersion', () => {
  assert.deepEqual(updateErrors((p) => (p.metadata.uid = 'u-2')), ['metadata.uid: Invalid value: "u-2": field is immutable']);
  assert.deepEqual(updateErrors((p) => (p.metadata.name = 'other')), ['metadata.name: Invalid value: "other": field is immutable']);
  assert.deepEqual(updateErrors((p) => (p.metadata.creationTimestamp = '2025-01-01T00:00:00Z')), [
    'metadata.creationTimestamp: Invalid value: "2025-01-01T00:00:00Z": field is immutable',
  ]);
  assert.deepEqual(updateErrors((p) => delete p.metadata.resourceVersion), ['metadata.resourceVersion: Invalid value: "": must be specified for an update']);
  assert.deepEqual(updateErrors((p) => (p.metadata.labels.tier = 'web')), []);
});

test('pod status update', () => {
  const old = stored();
  const next = (mutate: (p: any) => void) => {
    const n = structuredClone(old);
    mutate(n);
    return texts(validateStatusUpdate('Pod', n, old));
  };
  assert.deepEqual(
    next((p) => {
      p.status.phase = 'Running';
      p.status.podIP = '10.88.0.5';
      p.status.podIPs = [{ ip: '10.88.0.5' }];
      p.status.conditions = [{ type: 'Ready', status: 'True' }];
    }),
    [],
  );
  assert.deepEqual(next((p) => (p.status.phase = 'Exploded')), [
    'status.phase: Unsupported value: "Exploded": supported values: "Pending", "Running", "Succeeded", "Failed", "Unknown"',
  ]);
  assert.deepEqual(next((p) => (p.status.podIPs = [{ ip: '10.0.0.300' }])), [
    'status.podIPs[0].ip: Invalid value: "10.0.0.300": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)',
  ]);
  assert.deepEqual(next((p) => (p.status.podIPs = [{ ip: '10.0.0.1' }, { ip: '10.0.0.1' }])), [
    'status.podIPs: Invalid value: [{"ip":"10.0.0.1"},{"ip":"10.0.0.1"}]: may specify no more than one IP for each IP family',
    'status.podIPs[1]: Duplicate value: {"ip":"10.0.0.1"}',
  ]);
  assert.deepEqual(next((p) => (p.status.conditions = [{ type: 'bad type!', status: 'True' }])).length, 1);
  assert.deepEqual(next((p) => (p.status.qosClass = 'Guaranteed')), ['status.qosClass: Invalid value: "Guaranteed": field is immutable']);
  assert.deepEqual(next((p) => (p.spec.nodeName = 'n1')), ['status.nodeName: Forbidden: may not be changed directly']);
});

test('binding', () => {
  assert.deepEqual(validateCreate('Binding', { metadata: { name: 'p' }, target: { kind: 'Node', name: 'n1' } }), []);
  assert.deepEqual(texts(validateCreate('Binding', { metadata: { name: 'p' }, target: { kind: 'Pod' } })), [
    'target.kind: Unsupported value: "Pod": supported values: "Node", "<empty>"',
    'target.name: Required value',
  ]);
});
