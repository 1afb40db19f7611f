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
