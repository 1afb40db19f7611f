import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeProtobufObject } from './protobuf.js';
import { ApiError } from '../api/errors.js';
import { resourceInfo } from '../api/registry.js';
import { memoryRegistry } from '../registry/registry.test-util.js';

// What kubectl 1.32 sends for `kubectl create namespace foo3` (captured with -v=8).
const NAMESPACE_FOO3 = Buffer.from(
  '6b3873000a0f0a02763112094e616d657370616365121c0a140a04666f6f3312001a0022002a003200380042001200' + '1a020a001a002200',
  'hex',
);

test('decodes the Namespace kubectl create namespace sends', () => {
  assert.deepEqual(decodeProtobufObject(NAMESPACE_FOO3, 'Namespace'), {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: 'foo3' },
  });
});

test('decodes map fields, keeping empty values, and bytes as base64', () => {
  // Secret{metadata{name:"s"}, data{"a": "b"}, type "Opaque"} wrapped in Unknown
  const entry = Buffer.from([0x0a, 0x01, 0x61, 0x12, 0x01, 0x62]);
  const secret = Buffer.concat([
    Buffer.from([0x0a, 0x03, 0x0a, 0x01, 0x73]),
    Buffer.from([0x12, entry.length]),
    entry,
    Buffer.from([0x1a, 0x06]),
    Buffer.from('Opaque'),
  ]);
  const typeMeta = Buffer.concat([Buffer.from([0x0a, 0x02]), Buffer.from('v1'), Buffer.from([0x12, 0x06]), Buffer.from('Secret')]);
  const body = Buffer.concat([
    Buffer.from('k8s\0', 'binary'),
    Buffer.from([0x0a, typeMeta.length]),
    typeMeta,
    Buffer.from([0x12, secret.length]),
    secret,
  ]);
  assert.deepEqual(decodeProtobufObject(body, 'Secret'), {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 's' },
    data: { a: Buffer.from('b').toString('base64') },
    type: 'Opaque',
  });
});

test('refuses kinds it cannot read with 415, and garbage with 400', () => {
  const svc = Buffer.concat([Buffer.from('k8s\0', 'binary'), Buffer.from([0x0a, 0x0f, 0x0a, 0x02]), Buffer.from('v1'), Buffer.from([0x12, 0x09]), Buffer.from('Endpoints')]);
  assert.throws(
    () => decodeProtobufObject(svc, 'Endpoints'),
    (e: unknown) =>
      e instanceof ApiError &&
      e.code === 415 &&
      e.reason === 'UnsupportedMediaType' &&
      // kube-apiserver's wording first (what the kind can be sent as), then that the limit is podbay's:
      // a kubectl user cannot change the Content-Type kubectl sends
      e.message ===
        'the body of the request was in an unknown format - accepted media types include: application/json, application/yaml ' +
          '(podbay cannot decode Endpoints from application/vnd.kubernetes.protobuf: this is a limit of podbay, which reads protobuf only for the built-in kinds it has the wire layout of)' &&
      !/send it with|Content-Type/.test(e.message),
  );
  assert.throws(() => decodeProtobufObject(Buffer.from('{"a":1}'), 'Namespace'), (e: unknown) => e instanceof ApiError && e.code === 400);
  assert.throws(
    () => decodeProtobufObject(Buffer.concat([Buffer.from('k8s\0', 'binary'), Buffer.from([0x12, 0x7f, 0x01])]), 'Namespace'),
    (e: unknown) => e instanceof ApiError && e.code === 400,
  );
});

// What kubectl 1.33 sends for `kubectl create ingress ing2 --rule='foo.com/bar*=mysvc:80'` and for
// `kubectl create ingress ing3 --rule='foo.com/bar*=mysvc:80' --rule='bar.com/=svc2:http,tls=mysecret'
//   --default-backend=defsvc:8080 --class=nginx --annotation=a=b` (the bodies as sent, captured by a proxy).
const INGRESS_ING2 = Buffer.from(
  '6b3873000a1f0a146e6574776f726b696e672e6b38732e696f2f76311207496e6772657373124c0a140a04696e673212001a0022002a0032003800420012301a2e0a07666f6f2e636f6d12230a210a1f0a042f626172120f220d0a056d7973766312040a0010501a065072656669781a020a001a002200',
  'hex',
);
const INGRESS_ING3 = Buffer.from(
  '6b3873000a1f0a146e6574776f726b696e672e6b38732e696f2f76311207496e677265737312b3010a1c0a04696e673312001a0022002a0032003800420062060a0161120162128e010a11220f0a0664656673766312050a0010903f12130a076261722e636f6d12086d797365637265741a2e0a07666f6f2e636f6d12230a210a1f0a042f626172120f220d0a056d7973766312040a0010501a065072656669781a2d0a076261722e636f6d12220a200a1e0a012f121222100a047376633212080a046874747010001a05457861637422056e67696e781a020a001a002200',
  'hex',
);

test('decodes the Ingresses kubectl 1.33 create ingress sends: rules inlined, named and numbered ports, tls, default backend, class', () => {
  const rule = (host: string, path: string, pathType: string, service: object) => ({ host, http: { paths: [{ path, pathType, backend: { service } }] } });
  assert.deepEqual(decodeProtobufObject(INGRESS_ING2, 'Ingress'), {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name: 'ing2' },
    spec: { rules: [rule('foo.com', '/bar', 'Prefix', { name: 'mysvc', port: { number: 80 } })] },
  });
  assert.deepEqual(decodeProtobufObject(INGRESS_ING3, 'Ingress'), {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name: 'ing3', annotations: { a: 'b' } },
    spec: {
      defaultBackend: { service: { name: 'defsvc', port: { number: 8080 } } },
      tls: [{ hosts: ['bar.com'], secretName: 'mysecret' }],
      rules: [rule('foo.com', '/bar', 'Prefix', { name: 'mysvc', port: { number: 80 } }), rule('bar.com', '/', 'Exact', { name: 'svc2', port: { name: 'http' } })],
      ingressClassName: 'nginx',
    },
  });
});

test('an Ingress created from protobuf is stored as the same Ingress sent as JSON (status.loadBalancer {} included)', async () => {
  const reg = await memoryRegistry();
  const INGRESSES = resourceInfo('ingresses', 'networking.k8s.io')!;
  const fromProtobuf = await reg.create(INGRESSES, 'default', decodeProtobufObject(INGRESS_ING2, 'Ingress'));
  // what kubectl 1.27 sends as JSON for the same command; a create's status is the server's
  const json = {
    kind: 'Ingress',
    apiVersion: 'networking.k8s.io/v1',
    metadata: { name: 'ing2j', creationTimestamp: null },
    spec: { rules: [{ host: 'foo.com', http: { paths: [{ path: '/bar', pathType: 'Prefix', backend: { service: { name: 'mysvc', port: { number: 80 } } } }] } }] },
    status: { loadBalancer: { ingress: [{ ip: '10.0.0.1' }] } },
  };
  const fromJson = await reg.create(INGRESSES, 'default', json);
  const strip = (o: any) => ({ ...o, metadata: { ...o.metadata, name: '', uid: '', resourceVersion: '', creationTimestamp: '', managedFields: undefined } });
  assert.deepEqual(strip(fromProtobuf), strip(fromJson));
  assert.deepEqual(fromProtobuf.status, { loadBalancer: {} });
});

test('decodes the other networking and certificates kinds and the review kinds by their upstream field numbers', () => {
  // NetworkPolicy{spec{podSelector{}, ingress[{ports[{protocol TCP, port 80 (IntOrString), endPort 90}], from[{ipBlock{cidr, except}}]}], policyTypes[Ingress]}}
  const np = wrap(
    'networking.k8s.io/v1',
    'NetworkPolicy',
    Buffer.concat([msg(1, str(1, 'np')), msg(2, msg(1), msg(2, msg(1, str(1, 'TCP'), msg(2, int(1, 0), int(2, 80)), int(3, 90)), msg(2, msg(3, str(1, '10.0.0.0/8'), str(2, '10.1.0.0/16')))), str(4, 'Ingress'))]),
  );
  assert.deepEqual(decodeProtobufObject(np, 'NetworkPolicy').spec, {
    ingress: [{ ports: [{ protocol: 'TCP', port: 80, endPort: 90 }], from: [{ ipBlock: { cidr: '10.0.0.0/8', except: ['10.1.0.0/16'] } }] }],
    policyTypes: ['Ingress'],
  });
  // CertificateSigningRequest{spec{request (bytes), usages, signerName, expirationSeconds 600}}
  const csr = wrap(
    'certificates.k8s.io/v1',
    'CertificateSigningRequest',
    Buffer.concat([msg(1, str(1, 'c')), msg(2, str(1, 'PEM'), str(5, 'client auth'), str(7, 'kubernetes.io/kube-apiserver-client'), int(8, 600)), msg(3)]),
  );
  assert.deepEqual(decodeProtobufObject(csr, 'CertificateSigningRequest').spec, {
    request: Buffer.from('PEM').toString('base64'),
    usages: ['client auth'],
    signerName: 'kubernetes.io/kube-apiserver-client',
    expirationSeconds: 600,
  });
  // IngressClass{spec{controller, parameters{kind, name, scope Cluster}}}
  const ic = wrap('networking.k8s.io/v1', 'IngressClass', Buffer.concat([msg(1, str(1, 'ic')), msg(2, str(1, 'example.com/ic'), msg(2, str(2, 'K'), str(3, 'n'), str(4, 'Cluster')))]));
  assert.deepEqual(decodeProtobufObject(ic, 'IngressClass').spec, { controller: 'example.com/ic', parameters: { kind: 'K', name: 'n', scope: 'Cluster' } });
  // Eviction{metadata{name}, deleteOptions{gracePeriodSeconds 0}}
  const ev = wrap('policy/v1', 'Eviction', Buffer.concat([msg(1, str(1, 'p')), msg(2, int(1, 5))]));
  assert.deepEqual(decodeProtobufObject(ev, 'Eviction'), { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: 'p' }, deleteOptions: { gracePeriodSeconds: 5 } });
  // TokenReview{spec{token}}
  const tr = wrap('authentication.k8s.io/v1', 'TokenReview', msg(2, str(1, 'abc')));
  assert.deepEqual(decodeProtobufObject(tr, 'TokenReview').spec, { token: 'abc' });
});

// ---- the served kinds' messages (protobuf-messages.json), with a small encoder

function varint(n: number): Buffer {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return Buffer.from(out);
}
const str = (field: number, s: string | Buffer) => {
  const b = Buffer.isBuffer(s) ? s : Buffer.from(s);
  return Buffer.concat([varint((field << 3) | 2), varint(b.length), b]);
};
const msg = (field: number, ...parts: Buffer[]) => str(field, Buffer.concat(parts));
const int = (field: number, n: number) => Buffer.concat([varint(field << 3), varint(n)]);
const entry = (field: number, k: string, v: string) => msg(field, str(1, k), str(2, v));
function wrap(apiVersion: string, kind: string, raw: Buffer): Buffer {
  return Buffer.concat([Buffer.from('k8s\0', 'binary'), msg(1, str(1, apiVersion), str(2, kind)), str(2, raw)]);
}

/** what `kubectl create deployment web --image=nginx --replicas=0` sends, zero values and all */
const DEPLOYMENT = wrap(
  'apps/v1',
  'Deployment',
  Buffer.concat([
    msg(1, str(1, 'web'), str(2, ''), str(3, ''), entry(11, 'app', 'web')),
    msg(
      2,
      int(1, 0), // replicas: a pointer, so 0 is a value
      msg(2, entry(1, 'app', 'web')),
      msg(3, msg(1, entry(11, 'app', 'web')), msg(2, msg(2, str(1, 'nginx'), str(2, 'nginx'), msg(8), str(5, ''), int(16, 0)), str(3, ''), msg(1, str(1, 'data'), msg(2, msg(2, str(1, 'Memory')))))),
      msg(4),
      int(5, 0),
      int(7, 0),
    ),
    msg(3),
  ]),
);

test('decodes a Deployment: pointer zeros kept, Go zero values dropped, inline volume sources merged', () => {
  assert.deepEqual(decodeProtobufObject(DEPLOYMENT, 'Deployment'), {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', labels: { app: 'web' } },
    spec: {
      replicas: 0,
      selector: { matchLabels: { app: 'web' } },
      template: {
        metadata: { labels: { app: 'web' } },
        spec: { containers: [{ name: 'nginx', image: 'nginx' }], volumes: [{ name: 'data', emptyDir: { medium: 'Memory' } }] },
      },
    },
  });
});

test('a field podbay does not know is refused when it carries a value, not dropped', () => {
  const unknown = wrap('batch/v1', 'Job', Buffer.concat([msg(1, str(1, 'j')), msg(2, int(99, 0))]));
  assert.equal(decodeProtobufObject(unknown, 'Job').metadata.name, 'j', 'an empty unknown field is harmless');
  const set = wrap('batch/v1', 'Job', Buffer.concat([msg(1, str(1, 'j')), msg(2, int(99, 7))]));
  assert.throws(() => decodeProtobufObject(set, 'Job'), (e: unknown) => e instanceof ApiError && e.code === 400 && /field 99 of JobSpec is not known to podbay: send the object as JSON/.test(e.message));
});

test('Quantity and IntOrString messages become their JSON scalars', () => {
  const q = (field: number, s: string) => msg(field, str(1, s));
  const rs = wrap(
    'apps/v1',
    'Deployment',
    msg(2, msg(3, msg(2, msg(2, str(1, 'c'), msg(8, msg(1, str(1, 'cpu'), q(2, '500m')))))), msg(4, str(1, 'RollingUpdate'), msg(2, msg(1, int(1, 1), str(3, '50%')), msg(2, int(1, 0), int(2, 2))))),
  );
  const d = decodeProtobufObject(rs, 'Deployment');
  assert.deepEqual(d.spec.template.spec.containers[0].resources, { limits: { cpu: '500m' } });
  assert.deepEqual(d.spec.strategy, { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '50%', maxSurge: 2 } });
});

test('decodes what kubectl auth can-i and debug send: a SelfSubjectAccessReview, a Pod with a zero pointer, and an extra map of string lists', () => {
  // SelfSubjectAccessReview{spec{resourceAttributes{namespace default, verb create, resource pods}}}
  const ssar = wrap('authorization.k8s.io/v1', 'SelfSubjectAccessReview', Buffer.concat([msg(1), msg(2, msg(1, str(1, 'default'), str(2, 'create'), str(5, 'pods')))]));
  assert.deepEqual(decodeProtobufObject(ssar, 'SelfSubjectAccessReview'), {
    apiVersion: 'authorization.k8s.io/v1',
    kind: 'SelfSubjectAccessReview',
    spec: { resourceAttributes: { namespace: 'default', verb: 'create', resource: 'pods' } },
  });
  // Pod{spec{containers[{name c, image busybox}], terminationGracePeriodSeconds: 0}}
  const pod = wrap('v1', 'Pod', Buffer.concat([msg(1, str(1, 'p')), msg(2, msg(2, str(1, 'c'), str(2, 'busybox')), int(4, 0))]));
  assert.deepEqual(decodeProtobufObject(pod, 'Pod').spec, { containers: [{ name: 'c', image: 'busybox' }], terminationGracePeriodSeconds: 0 });
  // SelfSubjectReview has no spec; UserInfo.extra (map[string]ExtraValue) as a status would carry it
  const ssr = wrap('authentication.k8s.io/v1', 'SelfSubjectReview', Buffer.concat([msg(1, str(1, 'me')), msg(2, msg(1, str(1, 'u'), msg(4, str(1, 'scopes'), msg(2, str(1, 'a'), str(1, 'b')))))]));
  assert.deepEqual(decodeProtobufObject(ssr, 'SelfSubjectReview').status, { userInfo: { username: 'u', extra: { scopes: ['a', 'b'] } } });
});

test('decodes ObjectMeta.managedFields, which a typed client sends back on update (kubectl certificate approve)', () => {
  const entry = msg(17, str(1, 'kubectl-create'), str(2, 'Update'), str(3, 'certificates.k8s.io/v1'), msg(4, int(1, 1764578400)), str(6, 'FieldsV1'), msg(7, str(1, '{"f:spec":{"f:usages":{}}}')));
  const csr = wrap('certificates.k8s.io/v1', 'CertificateSigningRequest', Buffer.concat([msg(1, str(1, 'c'), entry), msg(2, str(7, 'example.com/x'))]));
  assert.deepEqual(decodeProtobufObject(csr, 'CertificateSigningRequest').metadata, {
    name: 'c',
    managedFields: [{ manager: 'kubectl-create', operation: 'Update', apiVersion: 'certificates.k8s.io/v1', time: '2025-12-01T08:40:00Z', fieldsType: 'FieldsV1', fieldsV1: { 'f:spec': { 'f:usages': {} } } }],
  });
});
