import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LEDGER, renderLedger, rowFor, schemaFields } from './pod-fields.js';
import { validateCreate } from './validation/index.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const schema = JSON.parse(readFileSync(join(ROOT, 'src/api/generated/schema.json'), 'utf8'));
const fields = schemaFields(schema);

const validPod = () => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'p', namespace: 'default' },
  spec: {
    restartPolicy: 'Always',
    dnsPolicy: 'ClusterFirst',
    terminationGracePeriodSeconds: 30,
    schedulerName: 'default-scheduler',
    containers: [{ name: 'c', image: 'busybox:1.36', imagePullPolicy: 'IfNotPresent', terminationMessagePath: '/dev/termination-log', terminationMessagePolicy: 'File' }],
  },
});

test('every schema field of PodSpec, Container, EphemeralContainer and Volume is in a ledger row', () => {
  assert.ok(fields.length > 500, `walked ${fields.length} fields`);
  const missing = fields.filter((f) => !rowFor(f));
  assert.deepEqual(missing, [], 'fields in no row of src/api/pod-fields.ts');
});

test('every ledger row names a schema field (no stale rows)', () => {
  const known = new Set(fields);
  assert.deepEqual(LEDGER.filter((r) => !known.has(r.path) && !Object.keys({ PodSpec: 1, Container: 1, EphemeralContainer: 1, Volume: 1 }).includes(r.path)).map((r) => r.path), []);
});

test('the base pod is valid, and every field marked refused is refused with a 422 naming it', () => {
  assert.deepEqual(validateCreate('Pod', validPod()), []);
  const refused = LEDGER.filter((r) => r.status === 'refused');
  assert.ok(refused.length > 20);
  for (const r of refused) {
    assert.ok(r.sample, `${r.path}: a refused row needs a sample`);
    const pod = validPod();
    r.sample!.apply(pod);
    const errs = validateCreate('Pod', pod);
    assert.ok(errs.some((e) => e.field === r.sample!.field), `${r.path}: no error at ${r.sample!.field}; got ${JSON.stringify(errs)}`);
  }
});

test('docs/pod-fields.md is the rendered ledger (regenerate: node dist/src/api/pod-fields.js > docs/pod-fields.md)', () => {
  const doc = readFileSync(join(ROOT, 'docs/pod-fields.md'), 'utf8');
  assert.equal(doc, renderLedger(schema));
  assert.doesNotMatch(doc, /\| MISSING \|/);
});
