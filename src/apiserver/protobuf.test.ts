import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeProtobufObject } from './protobuf.js';
import { ApiError } from '../api/errors.js';

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
  assert.throws(() => decodeProtobufObject(svc, 'Endpoints'), (e: unknown) => e instanceof ApiError && e.code === 415 && /application\/json/.test(e.message));
  assert.throws(() => decodeProtobufObject(Buffer.from('{"a":1}'), 'Namespace'), (e: unknown) => e instanceof ApiError && e.code === 400);
  assert.throws(
    () => decodeProtobufObject(Buffer.concat([Buffer.from('k8s\0', 'binary'), Buffer.from([0x12, 0x7f, 0x01])]), 'Namespace'),
    (e: unknown) => e instanceof ApiError && e.code === 400,
  );
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
