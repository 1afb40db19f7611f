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
  const svc = Buffer.concat([Buffer.from('k8s\0', 'binary'), Buffer.from([0x0a, 0x0d, 0x0a, 0x02]), Buffer.from('v1'), Buffer.from([0x12, 0x07]), Buffer.from('Service')]);
  assert.throws(() => decodeProtobufObject(svc, 'Service'), (e: unknown) => e instanceof ApiError && e.code === 415 && /application\/json/.test(e.message));
  assert.throws(() => decodeProtobufObject(Buffer.from('{"a":1}'), 'Namespace'), (e: unknown) => e instanceof ApiError && e.code === 400);
  assert.throws(
    () => decodeProtobufObject(Buffer.concat([Buffer.from('k8s\0', 'binary'), Buffer.from([0x12, 0x7f, 0x01])]), 'Namespace'),
    (e: unknown) => e instanceof ApiError && e.code === 400,
  );
});

// A minimal protobuf writer for the tests: [field, value] pairs, value a string, number
// (varint), or nested pairs (a message).
type Field = [number, string | number | Buffer | Field[]];
function pb(fields: Field[]): Buffer {
  const varint = (n: number | bigint) => {
    let v = BigInt.asUintN(64, BigInt(n));
    const out: number[] = [];
    do {
      let b = Number(v & 0x7fn);
      v >>= 7n;
      if (v) b |= 0x80;
      out.push(b);
    } while (v);
    return Buffer.from(out);
  };
  return Buffer.concat(
    fields.map(([n, v]) => {
      if (typeof v === 'number') return Buffer.concat([varint(n << 3), varint(v)]);
      const body = typeof v === 'string' ? Buffer.from(v) : Buffer.isBuffer(v) ? v : pb(v);
      return Buffer.concat([varint((n << 3) | 2), varint(body.length), body]);
    }),
  );
}
function wrap(kind: string, raw: Buffer): Buffer {
  return Buffer.concat([Buffer.from('k8s\0', 'binary'), pb([[1, [[1, 'v1'], [2, kind]]], [2, raw]])]);
}

test("decodes a Pod as Go's JSON encoder would write it: pointers kept at zero, embedded structs inlined, Quantity and IntOrString as JSON values", () => {
  const pod = pb([
    [1, [[1, 'p'], [2, ''], [7, 0]]],
    [
      2,
      [
        [1, [[1, 'v'], [2, [[2, []]]]]], // volumes[0]: name v, VolumeSource{emptyDir: {}}
        [
          2,
          [
            [1, 'c'],
            [2, 'busybox:1.36'],
            [6, [[3, 80], [4, 'TCP']]],
            [8, [[1, [[1, 'cpu'], [2, [[1, '100m']]]]]]], // resources.limits.cpu = "100m"
            [11, [[1, [[2, [[2, [[1, 0], [2, 8080]]]]]]], [2, 0]]], // readinessProbe.httpGet.port = 8080; initialDelaySeconds 0 (omitempty)
          ],
        ],
        [4, 0], // terminationGracePeriodSeconds: a *int64 sent as 0
      ],
    ],
  ]);
  assert.deepEqual(decodeProtobufObject(wrap('Pod', pod), 'Pod'), {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p' },
    spec: {
      volumes: [{ name: 'v', emptyDir: {} }],
      containers: [
        {
          name: 'c',
          image: 'busybox:1.36',
          ports: [{ containerPort: 80, protocol: 'TCP' }],
          resources: { limits: { cpu: '100m' } },
          readinessProbe: { httpGet: { port: 8080 } },
        },
      ],
      terminationGracePeriodSeconds: 0,
    },
  });
});

test('IntOrString carries a string when its type is 1', () => {
  const pod = pb([[2, [[2, [[1, 'c'], [11, [[1, [[2, [[2, [[1, 1], [3, 'http']]]]]]]]]]]]]]);
  assert.deepEqual(decodeProtobufObject(wrap('Pod', pod), 'Pod').spec.containers[0].readinessProbe, { httpGet: { port: 'http' } });
});
