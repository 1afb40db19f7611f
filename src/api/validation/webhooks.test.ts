import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resourceInfo } from '../registry.js';
import { toTable } from '../tables.js';
import { apiError, memoryRegistry } from '../../registry/registry.test-util.js';

type Obj = Record<string, any>;
const G = 'admissionregistration.k8s.io';
const VWC = resourceInfo('validatingwebhookconfigurations', G)!;
const MWC = resourceInfo('mutatingwebhookconfigurations', G)!;

const hook = (extra: Obj = {}): Obj => ({
  name: 'check.example.com',
  clientConfig: { url: 'https://127.0.0.1:8443/validate' },
  rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['configmaps'] }],
  sideEffects: 'None',
  admissionReviewVersions: ['v1'],
  ...extra,
});
const cfg = (webhooks: Obj[], name = 'c'): Obj => ({ metadata: { name }, webhooks });

async function causes(r = VWC, webhooks: Obj[]): Promise<string[]> {
  const reg = await memoryRegistry();
  const e = await apiError(reg.create(r, undefined, cfg(webhooks)));
  assert.equal(e.code, 422);
  return (e.details?.causes ?? []).map((c) => `${c.field}: ${c.message}`);
}

test('served as cluster-scoped admissionregistration.k8s.io/v1 kinds, listed in tables with their webhook count', async () => {
  assert.equal(VWC.namespaced, false);
  assert.equal(MWC.kind, 'MutatingWebhookConfiguration');
  const reg = await memoryRegistry();
  const made = await reg.create(MWC, undefined, cfg([hook({ clientConfig: { service: { namespace: 'default', name: 'hooks' } } })]));
  const h = made.webhooks[0];
  // the v1 defaults
  assert.equal(h.failurePolicy, 'Fail');
  assert.equal(h.matchPolicy, 'Equivalent');
  assert.equal(h.timeoutSeconds, 10);
  assert.equal(h.reinvocationPolicy, 'Never');
  assert.deepEqual(h.namespaceSelector, {});
  assert.deepEqual(h.objectSelector, {});
  assert.equal(h.rules[0].scope, '*');
  assert.equal(h.clientConfig.service.port, 443);
  const t = toTable(MWC.kind, [made], { resourceVersion: '1' }) as Obj;
  assert.deepEqual(t.columnDefinitions.map((c: Obj) => c.name), ['Name', 'Webhooks', 'Age']);
  assert.equal(t.rows[0].cells[1], 1);
  const v = await reg.create(VWC, undefined, cfg([hook()]));
  assert.equal(v.webhooks[0].reinvocationPolicy, undefined, 'validating webhooks have no reinvocation');
});

test('names: qualified with three segments, unique within the configuration', async () => {
  assert.deepEqual(await causes(VWC, [hook({ name: 'check' }), hook({ name: 'a.b.c' }), hook({ name: 'a.b.c' })]), [
    'webhooks[0].name: Invalid value: "check": should be a domain with at least three segments separated by dots',
    'webhooks[2].name: Duplicate value: "a.b.c"',
  ]);
});

test('clientConfig: exactly one of url and service; https only; service names and paths', async () => {
  const got = await causes(VWC, [
    hook({ clientConfig: {} }),
    hook({ name: 'b.example.com', clientConfig: { url: 'http://127.0.0.1/x?y=1' } }),
    hook({ name: 'c.example.com', clientConfig: { url: 'https://h/', service: { namespace: 'a', name: 'b' } } }),
    hook({ name: 'd.example.com', clientConfig: { service: { namespace: '', name: 'b', path: 'x', port: 0 } } }),
  ]);
  assert.deepEqual(got, [
    'webhooks[0].clientConfig: Required value: exactly one of url or service is required',
    `webhooks[1].clientConfig.url: Invalid value: "http": 'https' is the only allowed URL scheme`,
    'webhooks[1].clientConfig.url: Invalid value: "y=1": query parameters are not permitted in the URL',
    'webhooks[2].clientConfig: Required value: exactly one of url or service is required',
    'webhooks[3].clientConfig.service.namespace: Required value: service namespace is required',
    'webhooks[3].clientConfig.service.port: Invalid value: 0: port is not valid: must be between 1 and 65535, inclusive',
    `webhooks[3].clientConfig.service.path: Invalid value: "x": must start with a '/'`,
  ]);
});

test('sideEffects required and None/NoneOnDryRun only; admissionReviewVersions; timeoutSeconds 1..30; policies', async () => {
  const got = await causes(MWC, [
    hook({ sideEffects: undefined, admissionReviewVersions: [] }),
    hook({ name: 'b.example.com', sideEffects: 'Some', admissionReviewVersions: ['v2'], timeoutSeconds: 31 }),
    hook({ name: 'c.example.com', failurePolicy: 'Maybe', matchPolicy: 'Loose', reinvocationPolicy: 'Always' }),
  ]);
  assert.deepEqual(got, [
    'webhooks[0].sideEffects: Required value: must specify one of None, NoneOnDryRun, Some, Unknown',
    'webhooks[0].admissionReviewVersions: Required value: must specify one of v1, v1beta1',
    'webhooks[1].sideEffects: Unsupported value: "Some": supported values: "None", "NoneOnDryRun"',
    'webhooks[1].timeoutSeconds: Invalid value: 31: the timeout value must be between 1 and 30 seconds',
    'webhooks[1].admissionReviewVersions: Invalid value: ["v2"]: must include at least one of v1, v1beta1',
    'webhooks[2].failurePolicy: Unsupported value: "Maybe": supported values: "Fail", "Ignore"',
    'webhooks[2].matchPolicy: Unsupported value: "Loose": supported values: "Equivalent", "Exact"',
    'webhooks[2].reinvocationPolicy: Unsupported value: "Always": supported values: "IfNeeded", "Never"',
  ]);
});

test('rules: operations, groups, versions, resources with wildcards and scope', async () => {
  const got = await causes(VWC, [
    hook({ rules: [{ operations: ['*', 'CREATE'], apiGroups: [], apiVersions: ['v1'], resources: ['*', 'pods'], scope: 'Everywhere' }, { operations: ['PATCH'], apiGroups: ['*'], apiVersions: ['*'], resources: ['*/*', 'pods'] }] }),
  ]);
  assert.deepEqual(got, [
    `webhooks[0].rules[0].operations: Invalid value: ["*","CREATE"]: if '*' is present, must not specify other operations`,
    'webhooks[0].rules[0].apiGroups: Required value',
    `webhooks[0].rules[0].resources: Invalid value: ["*","pods"]: if '*' is present, must not specify other resources without subresources`,
    'webhooks[0].rules[0].scope: Unsupported value: "Everywhere": supported values: "*", "Cluster", "Namespaced"',
    'webhooks[0].rules[1].operations[0]: Unsupported value: "PATCH": supported values: "*", "CONNECT", "CREATE", "DELETE", "UPDATE"',
    `webhooks[0].rules[1].resources: Invalid value: ["*/*","pods"]: if '*/*' is present, must not specify other resources`,
  ]);
});

test('matchConditions are validated as kube-apiserver does: at most 64, qualified unique names, expressions that compile to a bool; authorizer is refused clearly', async () => {
  const got = await causes(VWC, [
    hook({
      matchConditions: [
        { name: 'ok', expression: 'object.metadata.name != "x"' },
        { name: 'ok', expression: 'true' },
        { name: 'bad name!', expression: 'true' },
        { name: '', expression: '' },
        { name: 'syntax', expression: '1 +' },
        { name: 'types', expression: '"a" + 1' },
        { name: 'notbool', expression: '"a"' },
        { name: 'authz', expression: 'authorizer.group("").resource("pods").check("get").allowed()' },
      ],
    }),
  ]);
  assert.deepEqual(got.slice(0, 4), [
    'webhooks[0].matchConditions[1].name: Duplicate value: "ok"',
    `webhooks[0].matchConditions[2].name: Invalid value: "bad name!": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`,
    'webhooks[0].matchConditions[3].name: Required value',
    'webhooks[0].matchConditions[3].expression: Required value',
  ]);
  assert.match(got[4]!, /^webhooks\[0\]\.matchConditions\[4\]\.expression: Invalid value: "1 \+": compilation failed: /);
  assert.match(got[5]!, /^webhooks\[0\]\.matchConditions\[5\]\.expression: Invalid value: "\\"a\\" \+ 1": compilation failed: no such overload/);
  assert.match(got[6]!, /^webhooks\[0\]\.matchConditions\[6\]\.expression: Invalid value: "\\"a\\"": must evaluate to bool, not string/);
  assert.match(got[7]!, /matchConditions\[7\]\.expression: Invalid value: .*podbay does not evaluate authorizer checks in match conditions/);
  assert.equal(got.length, 8);
  const many = await causes(VWC, [hook({ matchConditions: Array.from({ length: 65 }, (_, i) => ({ name: `c${i}`, expression: 'true' })) })]);
  assert.deepEqual(many, ['webhooks[0].matchConditions: Too many: 65: must have at most 64 items']);
  const reg = await memoryRegistry();
  await reg.create(VWC, undefined, cfg([hook({ matchConditions: [{ name: 'not-system', expression: '!request.userInfo.username.startsWith("system:")' }] })]));
});
