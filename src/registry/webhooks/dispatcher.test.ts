import { test } from 'node:test';
import assert from 'node:assert/strict';
import { apiError } from '../registry.test-util.js';
import { resourceInfo, type ResourceInfo } from '../../api/registry.js';
import type { Obj } from '../../api/types.js';
import { WebhookDispatcher } from './dispatcher.js';
import { attributes, reviewOptions } from './index.js';
import type { AdmissionAttributes, WebhookTarget } from './types.js';
import { ruleMatches } from './match.js';

const PODS = resourceInfo('pods')!;
const CMS = resourceInfo('configmaps')!;

const hook = (name: string, url: string, extra: Obj = {}): Obj => ({
  name,
  clientConfig: { url },
  rules: [{ operations: ['*'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods', 'configmaps'], scope: '*' }],
  sideEffects: 'None',
  admissionReviewVersions: ['v1'],
  failurePolicy: 'Fail',
  matchPolicy: 'Equivalent',
  namespaceSelector: {},
  objectSelector: {},
  timeoutSeconds: 1,
  reinvocationPolicy: 'Never',
  ...extra,
});

type Handler = (review: Obj, target: WebhookTarget) => Obj | Promise<Obj>;

function setup(mutating: Obj[], validating: Obj[], handlers: Record<string, Handler>, nsLabels: Record<string, Record<string, string>> = {}, served: ResourceInfo[] = []) {
  const calls: { url: string; review: Obj }[] = [];
  const log: string[] = [];
  const d = new WebhookDispatcher({
    configurations: async () => ({ mutating, validating }),
    namespaceLabels: async (n) => nsLabels[n] ?? {},
    resolveService: async (ns, name, port, path) => `https://10.0.0.9:${port}${path}#${name}.${ns}`,
    servedKinds: () => [PODS, CMS, ...served],
    call: async (target, body) => {
      calls.push({ url: target.url, review: body });
      const h = handlers[target.url];
      if (!h) throw new Error(`no handler for ${target.url}`);
      return h(body, target);
    },
    log: (l) => log.push(l),
  });
  return { d, calls, log };
}

const allow = (review: Obj, extra: Obj = {}): Obj => ({ apiVersion: review.apiVersion, kind: 'AdmissionReview', response: { uid: review.request.uid, allowed: true, ...extra } });
const patch = (ops: unknown[]) => (review: Obj) => allow(review, { patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(ops)).toString('base64') });
const pod = (labels: Obj = {}): Obj => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'default', labels }, spec: { containers: [{ name: 'c', image: 'x' }] } });
const create = (object: Obj, extra: Partial<AdmissionAttributes> = {}): AdmissionAttributes =>
  attributes({ r: PODS, subResource: '', operation: 'CREATE', namespace: 'default', name: 'p', object, oldObject: null, dryRun: false, options: reviewOptions('CREATE', false, 'kubectl'), ...extra });
const cfg = (name: string, webhooks: Obj[]) => ({ metadata: { name }, webhooks });

test('rules: operations, groups, versions, resources, subresources, wildcards and scope', () => {
  const r = { operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: '*' };
  assert.ok(ruleMatches(r, 'CREATE', '', 'v1', 'pods', '', 'default', true));
  assert.ok(!ruleMatches(r, 'UPDATE', '', 'v1', 'pods', '', 'default', true));
  assert.ok(!ruleMatches(r, 'CREATE', '', 'v1', 'pods', 'status', 'default', true), 'a plain resource is not its subresources');
  assert.ok(ruleMatches({ ...r, resources: ['pods/*'] }, 'CREATE', '', 'v1', 'pods', 'status', 'default', true));
  assert.ok(ruleMatches({ ...r, resources: ['*/status'] }, 'CREATE', '', 'v1', 'nodes', 'status', '', false));
  assert.ok(!ruleMatches({ ...r, resources: ['*'] }, 'CREATE', '', 'v1', 'pods', 'status', 'default', true));
  assert.ok(ruleMatches({ ...r, resources: ['*/*'], apiGroups: ['*'] }, 'CREATE', 'apps', 'v1', 'deployments', 'scale', 'default', true));
  assert.ok(!ruleMatches({ ...r, scope: 'Cluster' }, 'CREATE', '', 'v1', 'pods', '', 'default', true));
  assert.ok(!ruleMatches({ ...r, resources: ['nodes'], scope: 'Namespaced' }, 'CREATE', '', 'v1', 'nodes', '', '', false));
});

test('mutating webhooks run in configuration-name order, each on what the one before made; the review is kube-apiserver\'s', async () => {
  const { d, calls, log } = setup(
    [cfg('b-second', [hook('second.example.com', 'https://b/')]), cfg('a-first', [hook('first.example.com', 'https://a/')])],
    [],
    {
      'https://a/': patch([{ op: 'add', path: '/metadata/labels/first', value: 'yes' }]),
      'https://b/': (rv) => {
        assert.equal(rv.request.object.metadata.labels.first, 'yes', 'the second sees the first one\'s patch');
        return patch([{ op: 'add', path: '/metadata/labels/second', value: 'yes' }])(rv);
      },
    },
  );
  const warnings: string[] = [];
  const out = await d.mutate(create(pod({ app: 'web' }), { user: { username: 'alice', groups: ['devs'] } }), { warnings });
  assert.deepEqual(out!.metadata.labels, { app: 'web', first: 'yes', second: 'yes' });
  assert.deepEqual(calls.map((c) => c.url), ['https://a/', 'https://b/']);
  const rq = calls[0]!.review.request;
  assert.equal(calls[0]!.review.apiVersion, 'admission.k8s.io/v1');
  assert.deepEqual(rq.kind, { group: '', version: 'v1', kind: 'Pod' });
  assert.deepEqual(rq.resource, { group: '', version: 'v1', resource: 'pods' });
  assert.deepEqual(rq.requestKind, rq.kind);
  assert.deepEqual([rq.name, rq.namespace, rq.operation, rq.dryRun, rq.oldObject], ['p', 'default', 'CREATE', false, null]);
  assert.deepEqual(rq.userInfo, { username: 'alice', groups: ['devs'] });
  assert.deepEqual(rq.options, { kind: 'CreateOptions', apiVersion: 'meta.k8s.io/v1', fieldManager: 'kubectl' });
  assert.match(rq.uid, /^[0-9a-f-]{36}$/);
  assert.ok(!('annotations' in out!.metadata), 'no annotations are added to the object');
  assert.deepEqual(log.filter((l) => l.includes('mutation.webhook')).length, 2, 'the audit notes go to the log');
});

test('a validating denial answers with the webhook\'s code and message; warnings come back', async () => {
  const { d } = setup([], [cfg('v', [hook('deny.example.com', 'https://v/')])], {
    'https://v/': (rv) => ({ apiVersion: rv.apiVersion, kind: 'AdmissionReview', response: { uid: rv.request.uid, allowed: false, warnings: ['careful'], status: { code: 403, reason: 'Forbidden', message: 'key "bad" is not allowed' } } }),
  });
  const warnings: string[] = [];
  const e = await apiError(d.validate(create(pod()), { warnings }));
  assert.equal(e.code, 403);
  assert.equal(e.message, 'admission webhook "deny.example.com" denied the request: key "bad" is not allowed');
  assert.deepEqual(warnings, ['careful']);
  const bare = setup([], [cfg('v', [hook('deny.example.com', 'https://v/')])], { 'https://v/': (rv) => ({ apiVersion: rv.apiVersion, kind: 'AdmissionReview', response: { uid: rv.request.uid, allowed: false } }) });
  const e2 = await apiError(bare.d.validate(create(pod()), {}));
  assert.equal(e2.code, 400);
  assert.equal(e2.message, 'admission webhook "deny.example.com" denied the request without explanation');
});

test('failurePolicy: Fail answers 500 naming the webhook, Ignore lets the request pass; a wrong uid is a failure', async () => {
  const failing = () => {
    throw new Error('failed to call webhook: Post "https://f/?timeout=1s": context deadline exceeded');
  };
  const fail = setup([], [cfg('v', [hook('slow.example.com', 'https://f/')])], { 'https://f/': failing });
  const e = await apiError(fail.d.validate(create(pod()), {}));
  assert.equal(e.code, 500);
  assert.equal(e.message, 'Internal error occurred: failed calling webhook "slow.example.com": failed to call webhook: Post "https://f/?timeout=1s": context deadline exceeded');
  const ignore = setup([], [cfg('v', [hook('slow.example.com', 'https://f/', { failurePolicy: 'Ignore' })])], { 'https://f/': failing });
  await ignore.d.validate(create(pod()), {});
  const uid = setup([], [cfg('v', [hook('uid.example.com', 'https://u/')])], { 'https://u/': (rv) => ({ apiVersion: rv.apiVersion, kind: 'AdmissionReview', response: { uid: 'other', allowed: true } }) });
  const e3 = await apiError(uid.d.validate(create(pod()), {}));
  assert.match(e3.message, /failed calling webhook "uid.example.com": expected response.uid="[0-9a-f-]+", got "other"/);
});

test('namespaceSelector and objectSelector pick the requests a webhook sees', async () => {
  const { d, calls } = setup(
    [],
    [cfg('v', [hook('ns.example.com', 'https://n/', { namespaceSelector: { matchExpressions: [{ key: 'hooks', operator: 'NotIn', values: ['off'] }] } }), hook('obj.example.com', 'https://o/', { objectSelector: { matchLabels: { checked: 'yes' } } })])],
    { 'https://n/': (rv) => allow(rv), 'https://o/': (rv) => allow(rv) },
    { quiet: { hooks: 'off' } },
  );
  await d.validate(create(pod(), { namespace: 'quiet' }), {});
  assert.deepEqual(calls.map((c) => c.url), [], 'the excluded namespace and the unlabelled object are skipped');
  await d.validate(create(pod({ checked: 'yes' })), {});
  assert.deepEqual(calls.map((c) => c.url).sort(), ['https://n/', 'https://o/']);
});

test('dry run: sideEffects None is called with dryRun true; Some/Unknown refuse the request', async () => {
  const { d, calls } = setup([], [cfg('v', [hook('a.example.com', 'https://a/')])], { 'https://a/': (rv) => allow(rv) });
  await d.validate(create(pod(), { dryRun: true }), {});
  assert.equal(calls[0]!.review.request.dryRun, true);
  const some = setup([], [cfg('v', [hook('some.example.com', 'https://a/', { sideEffects: 'Some' })])], { 'https://a/': (rv) => allow(rv) });
  const e = await apiError(some.d.validate(create(pod(), { dryRun: true }), {}));
  assert.equal(e.code, 400);
  assert.equal(e.message, 'admission webhook "some.example.com" does not support dry run');
  assert.equal(some.calls.length, 0);
});

test('reinvocationPolicy IfNeeded: called again when a later webhook changed the object', async () => {
  let firstCalls = 0;
  const { d } = setup(
    [cfg('a', [hook('first.example.com', 'https://a/', { reinvocationPolicy: 'IfNeeded' }), hook('second.example.com', 'https://b/')])],
    [],
    {
      'https://a/': (rv) => {
        firstCalls++;
        return allow(rv);
      },
      'https://b/': (rv) => (rv.request.object.metadata.labels.b ? allow(rv) : patch([{ op: 'add', path: '/metadata/labels/b', value: '1' }])(rv)),
    },
  );
  const out = await d.mutate(create(pod({ x: 'y' })), {});
  assert.equal(out!.metadata.labels.b, '1');
  assert.equal(firstCalls, 2);
});

test('matchPolicy Equivalent sends the request as the version the rule names; Exact does not match it', async () => {
  const base: ResourceInfo = { ...CMS, group: 'example.com', resource: 'widgets', kind: 'Widget', version: 'v1', namespaced: true };
  const v2: ResourceInfo = { ...base, version: 'v2' };
  const rules = [{ operations: ['CREATE'], apiGroups: ['example.com'], apiVersions: ['v2'], resources: ['widgets'], scope: '*' }];
  const { d, calls } = setup([], [cfg('v', [hook('eq.example.com', 'https://e/', { rules }), hook('ex.example.com', 'https://x/', { rules, matchPolicy: 'Exact' })])], { 'https://e/': (rv) => allow(rv), 'https://x/': (rv) => allow(rv) }, {}, [base, v2]);
  const w = { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w', namespace: 'default' } };
  await d.validate(create(w, { r: base, name: 'w' }), {});
  assert.deepEqual(calls.map((c) => c.url), ['https://e/']);
  const rq = calls[0]!.review.request;
  assert.equal(rq.kind.version, 'v2');
  assert.equal(rq.requestKind.version, 'v1');
  assert.equal(rq.object.apiVersion, 'example.com/v2');
});

test('webhook configurations are never sent to webhooks', async () => {
  const all = [{ operations: ['*'], apiGroups: ['*'], apiVersions: ['*'], resources: ['*'], scope: '*' }];
  const { d, calls } = setup([], [cfg('v', [hook('all.example.com', 'https://a/', { rules: all })])], { 'https://a/': (rv) => allow(rv) });
  const r = resourceInfo('validatingwebhookconfigurations', 'admissionregistration.k8s.io')!;
  await d.validate(create({ metadata: { name: 'x' } }, { r, namespace: '', name: 'x' }), {});
  assert.equal(calls.length, 0);
});

test('CONNECT: a rule on pods/exec is called with the PodExecOptions, subResource exec; a denial stops it; the options come back as mutated', async () => {
  const rules = [{ operations: ['CONNECT'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods/exec', 'pods/attach'], scope: '*' }];
  const { d, calls } = setup(
    [cfg('m', [hook('tty.example.com', 'https://m/', { rules })])],
    [cfg('v', [hook('exec.example.com', 'https://v/', { rules }), hook('labelled.example.com', 'https://l/', { rules, objectSelector: { matchExpressions: [{ key: 'x', operator: 'DoesNotExist' }] } })])],
    {
      'https://m/': patch([{ op: 'replace', path: '/command', value: ['id'] }]),
      'https://v/': (rv) => (rv.request.object.command[0] === 'id' ? allow(rv) : allow(rv, { allowed: false, status: { code: 403, message: 'exec is not allowed' } })),
      'https://l/': (rv) => allow(rv),
    },
  );
  const options = { kind: 'PodExecOptions', apiVersion: 'v1', stdin: true, container: 'c', command: ['sh'] };
  const connect = (object: Obj) => attributes({ r: PODS, subResource: 'exec', kind: { group: '', version: 'v1', kind: 'PodExecOptions' }, operation: 'CONNECT', namespace: 'default', name: 'p', object, oldObject: null, dryRun: false, options: null });
  const out = await d.connect(connect(options), {});
  assert.deepEqual(out.command, ['id'], 'the mutating webhook changed the command');
  assert.deepEqual(calls.map((c) => c.url), ['https://m/', 'https://v/'], 'a non-empty objectSelector never matches options, which have no metadata');
  const rq = calls[0]!.review.request;
  assert.deepEqual([rq.operation, rq.subResource, rq.requestSubResource, rq.name, rq.namespace, rq.options], ['CONNECT', 'exec', 'exec', 'p', 'default', null]);
  assert.deepEqual(rq.kind, { group: '', version: 'v1', kind: 'PodExecOptions' });
  assert.deepEqual(rq.requestKind, rq.kind);
  assert.deepEqual(rq.resource, { group: '', version: 'v1', resource: 'pods' });
  assert.deepEqual(rq.object, options);
  assert.equal(calls[1]!.review.request.object.command[0], 'id', 'the validating webhook sees the mutated options');
  // without the mutating webhook the validating one denies
  const deny = setup([], [cfg('v', [hook('exec.example.com', 'https://v/', { rules })])], { 'https://v/': (rv) => allow(rv, { allowed: false, status: { code: 403, message: 'exec is not allowed' } }) });
  const e = await apiError(deny.d.connect(connect(options), {}));
  assert.equal(e.code, 403);
  assert.equal(e.message, 'admission webhook "exec.example.com" denied the request: exec is not allowed');
  // a CREATE rule on pods never sees a CONNECT; a CONNECT rule on pods/exec never sees attach of another sub
  const other = setup([], [cfg('v', [hook('pods.example.com', 'https://v/')])], { 'https://v/': (rv) => allow(rv) });
  await other.d.connect(connect(options), {});
  assert.equal(other.calls.length, 0);
});

test('the scale subresource: rules on deployments/scale (or */scale) see an autoscaling/v1 Scale; rules on deployments do not', async () => {
  const DEPLOY = resourceInfo('deployments', 'apps')!;
  const scaleRules = [{ operations: ['UPDATE'], apiGroups: ['apps'], apiVersions: ['v1'], resources: ['deployments/scale'], scope: '*' }];
  const anyScale = [{ operations: ['UPDATE'], apiGroups: ['*'], apiVersions: ['*'], resources: ['*/scale'], scope: '*' }];
  const mainRules = [{ operations: ['UPDATE'], apiGroups: ['apps'], apiVersions: ['v1'], resources: ['deployments'], scope: '*' }];
  const { d, calls } = setup(
    [],
    [cfg('v', [hook('scale.example.com', 'https://s/', { rules: scaleRules }), hook('any.example.com', 'https://a/', { rules: anyScale }), hook('main.example.com', 'https://m/', { rules: mainRules })])],
    { 'https://s/': (rv) => allow(rv), 'https://a/': (rv) => allow(rv), 'https://m/': (rv) => allow(rv) },
    {},
    [DEPLOY],
  );
  const scale = (n: number) => ({ kind: 'Scale', apiVersion: 'autoscaling/v1', metadata: { name: 'web', namespace: 'default' }, spec: { replicas: n }, status: { replicas: 1, selector: 'app=web' } });
  await d.validate(attributes({ r: DEPLOY, subResource: 'scale', kind: { group: 'autoscaling', version: 'v1', kind: 'Scale' }, operation: 'UPDATE', namespace: 'default', name: 'web', object: scale(3), oldObject: scale(1), dryRun: false, options: reviewOptions('UPDATE', false) }), {});
  assert.deepEqual(calls.map((c) => c.url).sort(), ['https://a/', 'https://s/']);
  const rq = calls.find((c) => c.url === 'https://s/')!.review.request;
  assert.deepEqual(rq.kind, { group: 'autoscaling', version: 'v1', kind: 'Scale' });
  assert.deepEqual(rq.resource, { group: 'apps', version: 'v1', resource: 'deployments' });
  assert.equal(rq.subResource, 'scale');
  assert.deepEqual([rq.object.apiVersion, rq.object.spec.replicas, rq.oldObject.spec.replicas], ['autoscaling/v1', 3, 1]);
});

test('matchConditions: all true calls the webhook, any false skips it, an error follows failurePolicy', async () => {
  const conds = (...expressions: string[]) => ({ matchConditions: expressions.map((expression, i) => ({ name: `c${i}`, expression })) });
  const { d, calls, log } = setup(
    [],
    [
      cfg('v', [
        hook('labelled.example.com', 'https://a/', conds('has(object.metadata.labels) && object.metadata.labels.app == "web"', 'request.userInfo.username != "system:admin"', 'oldObject == null')),
        hook('false-and-error.example.com', 'https://b/', conds('object.metadata.nope == 1', 'false')),
        hook('ignore.example.com', 'https://c/', { ...conds('object.metadata.nope == 1'), failurePolicy: 'Ignore' }),
        hook('replicas.example.com', 'https://d/', conds('request.operation == "CREATE" && request.kind.kind == "Pod" && size(object.spec.containers) > 0')),
      ]),
    ],
    { 'https://a/': (rv) => allow(rv), 'https://b/': (rv) => allow(rv), 'https://c/': (rv) => allow(rv), 'https://d/': (rv) => allow(rv) },
  );
  await d.validate(create(pod({ app: 'web' })), {});
  assert.deepEqual(calls.map((c) => c.url).sort(), ['https://a/', 'https://d/'], 'a false condition skips even when another errs; Ignore skips on error');
  assert.ok(log.some((l) => l.includes('"ignore.example.com": match conditions failed to evaluate')));
  calls.length = 0;
  await d.validate(create(pod({ app: 'db' })), {});
  assert.deepEqual(calls.map((c) => c.url), ['https://d/']);
  // an error and no false under Fail: 403 naming the object, the webhook never called
  const fail = setup([], [cfg('v', [hook('fail.example.com', 'https://f/', conds('true', 'object.spec.nothing.deeper'))])], { 'https://f/': (rv) => allow(rv) });
  const e = await apiError(fail.d.validate(create(pod()), {}));
  assert.equal(e.code, 403);
  assert.match(e.message, /^pods "p" is forbidden: expression 'object.spec.nothing.deeper' resulted in error: No such key: nothing/);
  assert.equal(fail.calls.length, 0);
});
