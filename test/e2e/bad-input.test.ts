/**
 * The bad-input corpus (test/corpus/*.http) replayed against a live `podbay server --no-kubelet`:
 * every answer is a 4xx metav1.Status (with the expected code, reason, message and field path),
 * the server stays up and ready after each, and nothing is written: the full list of every
 * served kind is the same before and after each request. Adding a case is dropping a file into
 * test/corpus (see its README.md).
 */
import assert from 'node:assert/strict';
import https from 'node:https';
import { after, before, describe, it } from 'node:test';

import { kubectlBinaries, PodbayServer, watchReadyz } from './harness.js';
import { loadCorpus, type CorpusCase } from './corpus.js';
import { RESOURCES } from '../../src/api/registry.js';

const NS = 'corpus';
/** every served kind's list path (the named groups' too: a workload case must not write either) */
const KINDS = RESOURCES.map((r) => (r.group ? `/apis/${r.group}/${r.version}/${r.resource}` : `/api/v1/${r.resource}`));

type Answer = Awaited<ReturnType<PodbayServer['request']>>;

function send(s: PodbayServer, method: string, path: string, body?: Buffer, contentType?: string): Promise<Answer> {
  return s.request(method, path, { body, contentType });
}

/** every object of every kind, as "kind ns/name rv", sorted */
async function snapshot(s: PodbayServer): Promise<string[]> {
  const out: string[] = [];
  for (const r of KINDS) {
    const a = await send(s, 'GET', r);
    assert.equal(a.status, 200, `list ${r}: ${a.body}`);
    for (const o of a.json.items) out.push(`${r} ${o.metadata.namespace ?? ''}/${o.metadata.name} ${o.metadata.resourceVersion}`);
  }
  return out.sort();
}

function short(text: string): string {
  return text.length > 600 ? `${text.slice(0, 600)}...` : text;
}

describe('bad input: the corpus replayed against a live server', () => {
  let s: PodbayServer;
  const corpus = loadCorpus();

  before(async () => {
    s = await PodbayServer.start(['--no-kubelet']);
    const create = async (path: string, obj: object) => {
      const a = await send(s, 'POST', path, Buffer.from(JSON.stringify(obj)), 'application/json');
      assert.equal(a.status, 201, `${path}: ${a.body}`);
    };
    await create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
    await create(`/api/v1/namespaces/${NS}/pods`, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'victim', labels: { app: 'victim' } },
      spec: { containers: [{ name: 'c', image: 'busybox', command: ['sleep', '1000'] }] },
    });
    await create(`/api/v1/namespaces/${NS}/configmaps`, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'victim' }, data: { a: 'b' } });
    await create(`/api/v1/namespaces/${NS}/secrets`, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'victim' }, data: { k: 'dmFsdWU=' } });
    await create(`/apis/apps/v1/namespaces/${NS}/deployments`, {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'victim' },
      spec: { selector: { matchLabels: { app: 'victim' } }, template: { metadata: { labels: { app: 'victim' } }, spec: { containers: [{ name: 'c', image: 'busybox' }] } } },
    });
  });

  after(async () => {
    await s?.teardown();
  });

  it('the corpus is there and every file parses', () => {
    assert.ok(corpus.length >= 50, `expected a corpus of at least 50 cases, found ${corpus.length}`);
    for (const c of corpus) assert.ok(c.about, `${c.name}: say in a comment what the case is about`);
  });

  it('each case: a 4xx Status as expected, the server alive and ready, nothing written', async () => {
    const readyz = watchReadyz(s);
    const failures: string[] = [];
    let before = await snapshot(s);
    for (const c of corpus) {
      const problems = await replay(s, c);
      if (s.proc?.exitCode !== null) {
        failures.push(`${c.name}: the server exited (${s.proc?.exitCode}):\n${s.log.slice(-2000)}`);
        break;
      }
      const ready = await send(s, 'GET', '/readyz');
      if (ready.status !== 200) problems.push(`/readyz answered ${ready.status} after it`);
      const now = await snapshot(s);
      if (JSON.stringify(now) !== JSON.stringify(before)) {
        const added = now.filter((x) => !before.includes(x));
        const gone = before.filter((x) => !now.includes(x));
        problems.push(`something was written: added/changed ${JSON.stringify(added)}, removed/changed ${JSON.stringify(gone)}`);
        before = now;
      }
      if (problems.length) failures.push(`${c.name} (${c.method} ${c.path.slice(0, 120)}):\n    ${problems.join('\n    ')}`);
    }
    const r = await readyz.stop();
    assert.deepEqual(failures, [], `${failures.length} of ${corpus.length} cases failed:\n${failures.join('\n')}`);
    assert.deepEqual(r.failures, []);
    assert.ok(r.worstMs < 1000, `/readyz took ${Math.round(r.worstMs)} ms at worst`);
  });

  for (const k of kubectlBinaries()) {
    it(`${k.name}: a manifest with wrongly typed fields is refused naming the field, and not stored`, async () => {
      const manifest = [
        'apiVersion: v1',
        'kind: Pod',
        'metadata:',
        '  name: typed',
        `  namespace: ${NS}`,
        'spec:',
        '  containers:',
        '  - name: c',
        '    image: busybox',
        '    command: sleep 100',
        '',
      ].join('\n');
      for (const verb of ['apply', 'create']) {
        const r = s.kubectl(k.path, [verb, '-f', '-'], manifest);
        assert.notEqual(r.code, 0, `${verb} should fail:\n${r.stdout}${r.stderr}`);
        assert.match(
          r.stderr,
          /Error from server \(BadRequest\): .*Pod in version "v1" cannot be handled as a Pod: json: cannot unmarshal string into Go struct field Container\.spec\.containers\.command of type \[\]string/,
          `${verb}:\n${r.stderr}`,
        );
      }
      const get = await send(s, 'GET', `/api/v1/namespaces/${NS}/pods/typed`);
      assert.equal(get.status, 404, 'nothing stored');
    });
  }

  it('a watch with a huge timeoutSeconds stays open (Node timers cap at 2^31-1 ms)', async () => {
    const res = await new Promise<{ status: number; openAfterMs: boolean }>((resolve, reject) => {
      const req = https.request(
        { host: '127.0.0.1', port: s.port, path: `/api/v1/namespaces/${NS}/configmaps?watch=1&timeoutSeconds=9223372036854775807`, ca: s.caPem, headers: { authorization: `Bearer ${s.token}` } },
        (r) => {
          let ended = false;
          r.on('end', () => (ended = true));
          r.resume();
          setTimeout(() => {
            resolve({ status: r.statusCode ?? 0, openAfterMs: !ended });
            req.destroy();
          }, 1000);
        },
      );
      req.on('error', (e) => ((e as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(e)));
      req.end();
    });
    assert.equal(res.status, 200);
    assert.equal(res.openAfterMs, true, 'the watch ended at once: its timeout overflowed');
  });
});

async function replay(s: PodbayServer, c: CorpusCase): Promise<string[]> {
  const problems: string[] = [];
  let a: Answer;
  try {
    a = await send(s, c.method, c.path, c.body, c.contentType);
  } catch (e) {
    return [`no answer: ${(e as Error).message}`];
  }
  if (a.status < 400 || a.status > 499) problems.push(`answered ${a.status}, not a 4xx: ${short(a.body)}`);
  const st = a.json;
  if (!st || st.kind !== 'Status' || st.apiVersion !== 'v1' || st.status !== 'Failure') {
    problems.push(`the answer is not a metav1.Status: ${short(a.body)}`);
    return problems;
  }
  if (st.code !== a.status) problems.push(`Status.code ${st.code} differs from the HTTP status ${a.status}`);
  if (!st.reason) problems.push('Status.reason is empty');
  if (!st.message) problems.push('Status.message is empty');
  const e = c.expect;
  if (e.status !== undefined && a.status !== e.status) problems.push(`status ${a.status}, expected ${e.status}: ${short(st.message ?? '')}`);
  if (e.reason !== undefined && st.reason !== e.reason) problems.push(`reason ${st.reason}, expected ${e.reason}: ${short(st.message ?? '')}`);
  if (e.message !== undefined && !String(st.message).includes(e.message)) problems.push(`message ${JSON.stringify(short(st.message))} does not contain ${JSON.stringify(e.message)}`);
  const fields: string[] = (st.details?.causes ?? []).map((x: { field?: string }) => x.field).filter((f: unknown) => typeof f === 'string');
  if (e.field !== undefined && !fields.includes(e.field)) problems.push(`no cause names the field ${e.field} (causes: ${JSON.stringify(st.details?.causes ?? [])})`);
  if (st.reason === 'Invalid' && fields.length === 0) problems.push('a 422 Invalid without a field path');
  return problems;
}
