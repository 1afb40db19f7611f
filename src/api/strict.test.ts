import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import YAML from 'yaml';

import { ghostFixedYaml, seedGhostYaml } from '../../test/fixtures/seed.js';
import { duplicateFields, goQuote, strictDecodingMessage, strictErrors, strictFindings, unknownFields } from './strict.js';

const POD = 'io.k8s.api.core.v1.Pod';

// The seed's mis-indented ghost.yaml, verbatim, and what was meant (volumeMounts under the
// container, volumes under the pod spec).
const GHOST_YAML = seedGhostYaml();
const GHOST_FIXED_YAML = ghostFixedYaml();

const GHOST_UNKNOWN = [
  'spec.containers[0].ports[0].volumeMounts',
  'spec.containers[0].ports[1].mountPath',
  'spec.containers[0].ports[1].readOnly',
  'spec.containers[1].volumes',
  'spec.containers[2].configMap',
];

/** kubectl sends YAML manifests as JSON with keys sorted (Go map marshalling) */
function sortedJson(v: unknown): string {
  return JSON.stringify(v, (_k, val: unknown) =>
    val && typeof val === 'object' && !Array.isArray(val)
      ? Object.fromEntries(Object.keys(val).sort().map((k) => [k, (val as Record<string, unknown>)[k]]))
      : val,
  );
}

describe('unknownFields', () => {
  it('reports the mis-indented seed manifest with Kubernetes field paths', () => {
    const obj = YAML.parse(GHOST_YAML) as unknown;
    assert.deepEqual(unknownFields(POD, obj), GHOST_UNKNOWN);
  });

  it('accepts the corrected manifest', () => {
    const obj = YAML.parse(GHOST_FIXED_YAML) as unknown;
    assert.deepEqual(unknownFields(POD, obj), []);
    assert.deepEqual(strictErrors(POD, JSON.stringify(obj), obj), []);
  });

  it('accepts any keys in maps and does not look below unknown fields', () => {
    const obj = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'a', labels: { 'app.kubernetes.io/name': 'x' }, annotations: { 'a/b': 'c' } },
      spec: {
        containers: [{ name: 'c', image: 'i', resources: { limits: { cpu: '1', 'example.com/gpu': 2 } } }],
        nodeSelector: { 'kubernetes.io/os': 'linux' },
        bogus: { deeper: { still: 1 } },
      },
    };
    assert.deepEqual(unknownFields(POD, obj), ['spec.bogus']);
  });

  it('checks maps of objects and top-level fields', () => {
    assert.deepEqual(unknownFields(POD, { spek: {} }), ['spek']);
    assert.deepEqual(unknownFields('io.k8s.api.core.v1.ConfigMap', { data: { a: 'b' }, binaryData: { c: 'ZA==' }, extra: 1 }), ['extra']);
  });

  it('accepts anything in free-form and self-decoding values', () => {
    // WatchEvent.object is a RawExtension; ManagedFieldsEntry.fieldsV1 is FieldsV1
    assert.deepEqual(unknownFields('io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent', { type: 'ADDED', object: { any: { thing: 1 } } }), []);
    const mf = { metadata: { managedFields: [{ manager: 'm', fieldsV1: { 'f:spec': { 'f:x': {} } }, fieldsTpye: 'FieldsV1' }] } };
    assert.deepEqual(unknownFields(POD, mf), ['metadata.managedFields[0].fieldsTpye']);
  });

  it('ignores scalars where objects are expected (a type error, not a strict error)', () => {
    assert.deepEqual(unknownFields(POD, { spec: 'x', metadata: null }), []);
  });
});

describe('duplicateFields', () => {
  it('finds duplicate keys with their paths', () => {
    const text = '{"metadata":{"name":"a","name":"b"},"spec":{"containers":[{"name":"c","image":"x","image":"y"}]}}';
    assert.deepEqual(duplicateFields(text, POD), ['metadata.name', 'spec.containers[0].image']);
    assert.deepEqual(duplicateFields(text), ['metadata.name', 'spec.containers[0].image']);
  });

  it('finds duplicate map keys, joined with "."', () => {
    assert.deepEqual(duplicateFields('{"metadata":{"labels":{"a":"1","b":"2","a":"3"}}}', POD), ['metadata.labels.a']);
  });

  it('reports top-level duplicates and keys with escapes', () => {
    assert.deepEqual(duplicateFields('{"kind":"Pod","kind":"Pod"}', POD), ['kind']);
    assert.deepEqual(duplicateFields('{"metadata":{"labels":{"a\\"b":"1","a\\u0022b":"2"}}}', POD), ['metadata.labels.a"b']);
  });

  it('does not look below unknown fields when typed, does without a type', () => {
    const text = '{"bogus":{"x":1,"x":2}}';
    assert.deepEqual(duplicateFields(text, POD), []);
    assert.deepEqual(duplicateFields(text), ['bogus.x']);
  });

  it('returns nothing for text that is not JSON', () => {
    assert.deepEqual(duplicateFields('kind: Pod\nkind: Pod\n', POD), []);
  });
});

describe('strictErrors', () => {
  it('formats the seed manifest as kube-apiserver does', () => {
    const obj = YAML.parse(GHOST_YAML) as unknown;
    const expected = GHOST_UNKNOWN.map((p) => `unknown field "${p}"`);
    assert.deepEqual(strictErrors(POD, sortedJson(obj), obj), expected);
    assert.deepEqual(strictErrors(POD, JSON.stringify(obj), obj), expected);
    assert.deepEqual(strictErrors(POD, undefined, obj), expected);
    assert.equal(
      strictDecodingMessage(expected.slice(0, 2)),
      'strict decoding error: unknown field "spec.containers[0].ports[0].volumeMounts", unknown field "spec.containers[0].ports[1].mountPath"',
    );
  });

  it('lists unknown and duplicate fields in document order', () => {
    const text = '{"metadata":{"name":"a","name":"b"},"spec":{"containers":[{"name":"c","bogus":{"name":1,"name":2}}]},"metadata":{}}';
    assert.deepEqual(strictErrors(POD, text), [
      'duplicate field "metadata.name"',
      'unknown field "spec.containers[0].bogus"',
      'duplicate field "metadata"',
    ]);
  });

  it('deduplicates repeated messages', () => {
    const text = '{"metadata":{"x":1,"x":2,"x":3}}';
    assert.deepEqual(strictErrors(POD, text), ['unknown field "metadata.x"']);
  });

  it('stops at 100 messages', () => {
    const keys = Array.from({ length: 150 }, (_, i) => `"f${i}":1`).join(',');
    assert.equal(strictErrors(POD, `{${keys}}`).length, 100);
  });

  it('falls back to the parsed object for non-JSON (YAML) text', () => {
    const obj = YAML.parse(GHOST_YAML) as unknown;
    assert.deepEqual(strictErrors(POD, GHOST_YAML, obj).length, GHOST_UNKNOWN.length);
  });

  it('exposes typed findings', () => {
    assert.deepEqual(strictFindings(POD, '{"a":1,"kind":"Pod","kind":"Pod"}'), [
      { type: 'unknown field', path: 'a' },
      { type: 'duplicate field', path: 'kind' },
    ]);
    assert.equal(strictFindings(POD, 'not json'), undefined);
  });

  it('quotes like Go strconv.Quote', () => {
    assert.equal(goQuote('a"b\\c'), '"a\\"b\\\\c"');
    assert.equal(goQuote('\u0001\u0007\n'), '"\\x01\\a\\n"');
  });
});
