import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resourceInfo } from '../registry.js';
import { toTable } from '../tables.js';
import { apiError, memoryRegistry } from '../../registry/registry.test-util.js';
import { validateIngress, validateIngressClass, validateIngressClassUpdate } from './ingress.js';

type Obj = Record<string, any>;
const ING = resourceInfo('ingresses', 'networking.k8s.io', 'v1')!;
const CLASS = resourceInfo('ingressclasses', 'networking.k8s.io', 'v1')!;
const ing = (spec: Obj, name = 'web', annotations?: Obj): Obj => ({ apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name, namespace: 'default', ...(annotations ? { annotations } : {}) }, spec });
const svc = (name: string, number = 80) => ({ service: { name, port: { number } } });
const path = (p: string, pathType: string | undefined, backend: Obj = svc('blog')) => ({ path: p, ...(pathType ? { pathType } : {}), backend });
const rules = (...paths: Obj[]) => ({ rules: [{ host: 'blog.local', http: { paths } }] });

function errors(o: Obj): string[] {
  return validateIngress(o).map((e) => `${e.field}: ${e.type}${e.detail ? `: ${e.detail}` : ''}`);
}

test('served: networking.k8s.io/v1 ingresses (ing, status, generation) and cluster-scoped ingressclasses', () => {
  assert.deepEqual([ING.kind, ING.namespaced, ING.shortNames, ING.subresources, ING.generation], ['Ingress', true, ['ing'], ['status'], true]);
  assert.deepEqual([CLASS.kind, CLASS.namespaced], ['IngressClass', false]);
  assert.equal(ING.typeName, 'io.k8s.api.networking.v1.Ingress');
});

test('a valid Ingress: host rules with every path type, wildcard host, TLS, default backend, resource backend', () => {
  assert.deepEqual(errors(ing(rules(path('/', 'Prefix'), path('/api', 'Exact'), path('/x', 'ImplementationSpecific')))), []);
  assert.deepEqual(errors(ing({ defaultBackend: svc('blog'), rules: [{ host: '*.blog.local', http: { paths: [path('/', 'Prefix', { resource: { apiGroup: 'k8s.example.com', kind: 'StorageBucket', name: 'static' } })] } }], tls: [{ hosts: ['*.blog.local'], secretName: 'tls' }] })), []);
  assert.deepEqual(errors(ing({ defaultBackend: { service: { name: 'blog', port: { name: 'http' } } } })), []);
});

test('bad Ingresses: 422 causes with kube-apiserver field paths and wording', () => {
  assert.deepEqual(errors(ing({})), ['spec: FieldValueInvalid: either `defaultBackend` or `rules` must be specified']);
  assert.deepEqual(errors(ing(rules(path('/', undefined)))), ['spec.rules[0].http.paths[0].pathType: FieldValueRequired: pathType must be specified']);
  assert.deepEqual(errors(ing(rules(path('/', 'Regex')))), ['spec.rules[0].http.paths[0].pathType: FieldValueNotSupported: supported values: "Exact", "ImplementationSpecific", "Prefix"']);
  assert.deepEqual(errors(ing(rules(path('api', 'Prefix')))), ['spec.rules[0].http.paths[0].path: FieldValueInvalid: must be an absolute path']);
  assert.deepEqual(errors(ing(rules(path('/a//b', 'Exact')))), ["spec.rules[0].http.paths[0].path: FieldValueInvalid: must not contain '//'"]);
  assert.deepEqual(errors(ing(rules(path('/a/..', 'Prefix')))), ["spec.rules[0].http.paths[0].path: FieldValueInvalid: cannot end with '/..'"]);
  assert.deepEqual(errors(ing(rules(path('/', 'Prefix', { service: { name: 'blog', port: {} } })))), ['spec.rules[0].http.paths[0].backend: FieldValueRequired: port name or number is required']);
  assert.deepEqual(errors(ing(rules(path('/', 'Prefix', { service: { name: 'blog', port: { name: 'http', number: 80 } } })))), ['spec.rules[0].http.paths[0].backend: FieldValueInvalid: cannot set both port name & port number']);
  assert.deepEqual(errors(ing(rules(path('/', 'Prefix', { ...svc('blog'), resource: { kind: 'K', name: 'n' } })))), ['spec.rules[0].http.paths[0].backend: FieldValueInvalid: cannot set both resource and service backends']);
  assert.deepEqual(errors(ing(rules(path('/', 'Prefix', {})))), ['spec.rules[0].http.paths[0].backend: FieldValueInvalid: resource or service backend is required']);
  assert.match(errors(ing(rules(path('/', 'Prefix', svc('Blog')))))[0]!, /^spec.rules\[0\].http.paths\[0\].backend.service.name: FieldValueInvalid: a DNS-1035 label/);
  assert.match(errors(ing(rules(path('/', 'Prefix', svc('blog', 70000)))))[0]!, /^spec.rules\[0\].http.paths\[0\].backend.service.port.number: FieldValueInvalid: must be between 1 and 65535/);
  assert.deepEqual(errors(ing({ rules: [{ host: 'blog.local', http: { paths: [] } }] })), ['spec.rules[0].http.paths: FieldValueRequired']);
  assert.ok(errors(ing({ rules: [{ host: '10.0.0.1' }] })).includes('spec.rules[0].host: FieldValueInvalid: must be a DNS name, not an IP address'));
  assert.match(errors(ing({ rules: [{ host: 'a.*.local' }] }))[0]!, /^spec.rules\[0\].host: FieldValueInvalid: a wildcard DNS-1123 subdomain must start with '\*\.'/);
  assert.match(errors(ing({ defaultBackend: svc('blog'), tls: [{ hosts: ['Bad_Host'] }] }))[0]!, /^spec.tls\[0\].hosts\[0\]: FieldValueInvalid: a lowercase RFC 1123 subdomain/);
  assert.deepEqual(errors(ing({ defaultBackend: svc('blog'), ingressClassName: 'podbay' }, 'web', { 'kubernetes.io/ingress.class': 'nginx' })), ['metadata.annotations.kubernetes.io/ingress.class: FieldValueInvalid: can not be set when the class field is also set']);
});

test('IngressClass: a domain-prefixed controller, required and immutable; parameters need kind, name and a scope', () => {
  const ic = (spec: Obj): Obj => ({ metadata: { name: 'c', resourceVersion: '1' }, spec });
  assert.deepEqual(validateIngressClass(ic({ controller: 'podbay.io/ingress-nginx' })), []);
  assert.deepEqual(validateIngressClass(ic({})).map((e) => `${e.field}: ${e.type}`), ['spec.controller: FieldValueRequired']);
  assert.equal(validateIngressClass(ic({ controller: 'nginx' }))[0]!.detail, 'must be a domain-prefixed path (such as "acme.io/foo")');
  assert.deepEqual(validateIngressClass(ic({ controller: 'a.io/b', parameters: { kind: 'K', name: 'n', scope: 'Namespace' } })).map((e) => e.field), ['spec.parameters.namespace']);
  assert.deepEqual(validateIngressClassUpdate(ic({ controller: 'a.io/c' }), ic({ controller: 'a.io/b' })).map((e) => `${e.field}: ${e.detail}`), ['spec.controller: field is immutable']);
});

test('the registry: 422 with the field path; DefaultIngressClass admission; status subresource; kubectl columns', async () => {
  const reg = await memoryRegistry();
  const e = await apiError(reg.create(ING, 'default', ing(rules(path('/', undefined)))));
  assert.equal(e.code, 422);
  assert.match(e.message, /^Ingress.networking.k8s.io "web" is invalid: spec.rules\[0\].http.paths\[0\].pathType: Required value: pathType must be specified/);
  // no default class yet: the class stays unset
  const before = await reg.create(ING, 'default', ing(rules(path('/', 'Prefix')), 'early'));
  assert.equal(before.spec.ingressClassName, undefined);
  await reg.create(CLASS, undefined, { metadata: { name: 'other' }, spec: { controller: 'example.com/other' } });
  await reg.create(CLASS, undefined, { metadata: { name: 'podbay', annotations: { 'ingressclass.kubernetes.io/is-default-class': 'true' } }, spec: { controller: 'podbay.io/ingress-nginx' } });
  const made = await reg.create(ING, 'default', ing({ ...rules(path('/', 'Prefix')), tls: [{ hosts: ['blog.local'], secretName: 'tls' }] }));
  assert.equal(made.spec.ingressClassName, 'podbay', 'the default class is filled in');
  const annotated = await reg.create(ING, 'default', ing(rules(path('/', 'Prefix')), 'legacy', { 'kubernetes.io/ingress.class': 'other' }));
  assert.equal(annotated.spec.ingressClassName, undefined, 'a class named by the annotation is left alone');
  const named = await reg.create(ING, 'default', ing({ ...rules(path('/', 'Prefix')), ingressClassName: 'other' }, 'named'));
  assert.equal(named.spec.ingressClassName, 'other');
  assert.equal(made.metadata.generation, 1);
  const withStatus = await reg.update(ING, 'default', 'web', { ...made, status: { loadBalancer: { ingress: [{ ip: '127.0.0.1' }] } } }, { sub: 'status' });
  assert.deepEqual(withStatus.status.loadBalancer.ingress, [{ ip: '127.0.0.1' }]);
  assert.equal(withStatus.metadata.generation, 1, 'a status write is not a spec change');
  const bad = await apiError(reg.update(ING, 'default', 'web', { ...withStatus, status: { loadBalancer: { ingress: [{ ip: 'nope' }] } } }, { sub: 'status' }));
  assert.match(bad.message, /status.loadBalancer.ingress\[0\].ip: Invalid value: "nope"/);
  const t = toTable('Ingress', [{ ...withStatus, metadata: { ...withStatus.metadata, creationTimestamp: '2026-01-01T00:00:00Z' } }], {}, { now: Date.parse('2026-01-01T00:05:00Z') });
  assert.deepEqual(t.columnDefinitions.map((c: Obj) => c.name), ['Name', 'Class', 'Hosts', 'Address', 'Ports', 'Age']);
  assert.deepEqual(t.rows[0].cells, ['web', 'podbay', 'blog.local', '127.0.0.1', '80, 443', '5m']);
  assert.deepEqual(toTable('Ingress', [ing({ defaultBackend: svc('b') })], {}, {}).rows[0].cells.slice(1, 5), ['<none>', '*', '', '80']);
  const four = { rules: ['a', 'b', 'c', 'd'].map((h) => ({ host: `${h}.local` })) };
  assert.equal(toTable('Ingress', [ing(four)], {}, {}).rows[0].cells[2], 'a.local,b.local,c.local + 1 more...');
  const ct = toTable('IngressClass', [{ metadata: { name: 'p' }, spec: { controller: 'podbay.io/ingress-nginx', parameters: { apiGroup: 'k8s.example.com', kind: 'IngressParameters', name: 'x' } } }], {}, {});
  assert.deepEqual(ct.rows[0].cells.slice(0, 3), ['p', 'podbay.io/ingress-nginx', 'IngressParameters.k8s.example.com/x']);
});
