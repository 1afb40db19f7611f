/**
 * Custom resources against their schema without a server: pruning, defaulting, validation
 * messages with the field path, list types, int-or-string, embedded resources, CEL rules
 * (transition rules included), and CRD validation (structural schema, versions, names).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fieldErrorText } from '../errors.js';
import { applyDefaults, prune, validateSchema } from './structural.js';
import { validateCrd } from './validation.js';
import { compareKubeAwareVersions, customKindFor, deprecationWarning, jsonPathValue, customTable } from './custom-kind.js';
import type { JSONSchemaProps } from './types.js';

const SPEC: JSONSchemaProps = {
  type: 'object',
  properties: {
    spec: {
      type: 'object',
      'x-kubernetes-validations': [
        { rule: 'self.replicas <= self.max', messageExpression: '"replicas " + string(self.replicas) + " over " + string(self.max)' },
        { rule: 'self.image == oldSelf.image', message: 'image is immutable' },
      ],
      properties: {
        image: { type: 'string', maxLength: 10 },
        replicas: { type: 'integer', minimum: 0, default: 1 },
        max: { type: 'integer', default: 5 },
        mode: { type: 'string', enum: ['a', 'b'] },
        port: { 'x-kubernetes-int-or-string': true },
        free: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
        labels: { type: 'object', additionalProperties: { type: 'string' } },
        tags: { type: 'array', 'x-kubernetes-list-type': 'set', items: { type: 'string' } },
        ports: { type: 'array', 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'], items: { type: 'object', required: ['name'], properties: { name: { type: 'string' }, n: { type: 'integer', default: 80 } } } },
        tpl: { type: 'object', 'x-kubernetes-embedded-resource': true, 'x-kubernetes-preserve-unknown-fields': true },
      },
    },
  },
};

const texts = (errs: ReturnType<typeof validateSchema>) => errs.map(fieldErrorText);

describe('pruning and defaulting', () => {
  it('drops unknown fields (naming them), keeps preserved ones, apiVersion/kind/metadata at the root and in embedded resources', () => {
    const o: any = { apiVersion: 'x/v1', kind: 'X', metadata: { name: 'a' }, spec: { image: 'i', junk: 1, free: { any: { thing: 1 } }, tpl: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: {} }, ports: [{ name: 'a', extra: true }] }, top: 1 };
    assert.deepEqual(prune(SPEC, o).sort(), ['spec.junk', 'spec.ports[0].extra', 'top']);
    assert.deepEqual(o.spec.free, { any: { thing: 1 } });
    assert.equal(o.spec.tpl.metadata.name, 'p');
    assert.equal(o.metadata.name, 'a');
  });

  it('fills defaults where absent, in list items too, and never over a value', () => {
    const o: any = { spec: { replicas: 3, ports: [{ name: 'a' }, { name: 'b', n: 1 }] } };
    applyDefaults(SPEC, o);
    assert.equal(o.spec.replicas, 3);
    assert.equal(o.spec.max, 5);
    assert.deepEqual(o.spec.ports, [{ name: 'a', n: 80 }, { name: 'b', n: 1 }]);
  });
});

describe('schema validation', () => {
  it('names the field and the rule, as kube-openapi words it', () => {
    const errs = texts(validateSchema(SPEC, { spec: { image: 'much-too-long-image', replicas: 'x', mode: 'c', port: 1.5, labels: { a: 1 }, tags: ['a', 'a'], ports: [{ name: 'a' }, { name: 'a' }], tpl: {} } }));
    assert.deepEqual(errs, [
      'spec.image: Too long: may not be more than 10 bytes',
      'spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string"',
      'spec.mode: Unsupported value: "c": supported values: "a", "b"',
      'spec.port: Invalid value: "number": spec.port in body must be of type integer,string: "number"',
      'spec.labels.a: Invalid value: "integer": spec.labels.a in body must be of type string: "integer"',
      'spec.tags[1]: Duplicate value: "a"',
      'spec.ports[1]: Duplicate value: map[string]interface {}{"name":"a"}',
      'spec.tpl.apiVersion: Required value: must not be empty',
      'spec.tpl.kind: Required value: must not be empty',
    ]);
  });

  it('int-or-string takes both; minimum; required items of a list map', () => {
    assert.deepEqual(texts(validateSchema(SPEC, { spec: { port: 'http', replicas: 1, max: 2 } })), []);
    assert.deepEqual(texts(validateSchema(SPEC, { spec: { port: 8080, replicas: -1, max: 2 } })), ['spec.replicas: Invalid value: -1: spec.replicas in body should be greater than or equal to 0']);
    assert.deepEqual(texts(validateSchema(SPEC, { spec: { ports: [{}] } })), ['spec.ports[0].name: Required value']);
  });

  it('CEL: messageExpression, and transition rules only with an old value', () => {
    assert.deepEqual(texts(validateSchema(SPEC, { spec: { replicas: 7, max: 5, image: 'a' } })), ['spec: Invalid value: "object": replicas 7 over 5']);
    assert.deepEqual(texts(validateSchema(SPEC, { spec: { replicas: 1, max: 5, image: 'b' } }, '', { old: { spec: { replicas: 1, max: 5, image: 'a' } } })), ['spec: Invalid value: "object": image is immutable']);
    assert.deepEqual(texts(validateSchema(SPEC, { spec: { replicas: 1, max: 5, image: 'a' } }, '', { old: { spec: { replicas: 1, max: 5, image: 'a' } } })), []);
  });
});

const crd = (over: Record<string, any> = {}, schema: JSONSchemaProps = SPEC): any => ({
  metadata: { name: 'widgets.example.com' },
  spec: { group: 'example.com', scope: 'Namespaced', names: { plural: 'widgets', kind: 'Widget', singular: 'widget', listKind: 'WidgetList' }, versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: schema } }], ...over },
});

describe('CRD validation', () => {
  it('accepts a good CRD', () => {
    assert.deepEqual(validateCrd(crd()).map(fieldErrorText), []);
  });

  it('names, group, scope and the one storage version', () => {
    const errs = validateCrd({ metadata: { name: 'x' }, spec: { group: 'nodot', scope: 'Global', names: { plural: 'Widgets' }, versions: [{ name: 'v1', served: true, storage: false, schema: { openAPIV3Schema: { type: 'object' } } }] } }).map(fieldErrorText);
    assert.ok(errs.includes('spec.group: Invalid value: "nodot": should be a domain with at least one dot'), errs.join('\n'));
    assert.ok(errs.includes('metadata.name: Invalid value: "x": must be spec.names.plural+"."+spec.group'));
    assert.ok(errs.includes('spec.scope: Unsupported value: "Global": supported values: "Cluster", "Namespaced"'));
    assert.ok(errs.includes('spec.names.kind: Required value'));
    assert.ok(errs.some((e) => e.startsWith('spec.names.plural: Invalid value: "Widgets"')));
    assert.ok(errs.includes('spec.versions: Invalid value: ["v1"]: must have exactly one version marked as storage version'));
  });

  it('a non-structural schema lists every reason', () => {
    const errs = validateCrd(crd({}, { type: 'object', properties: { spec: { properties: { a: { type: 'array' }, m: { type: 'object', $ref: '#/x' } as any } }, metadata: { type: 'object', properties: { labels: { type: 'object' } } } } })).map(fieldErrorText);
    const p = 'spec.versions[0].schema.openAPIV3Schema';
    assert.deepEqual(errs.sort(), [
      `${p}.properties[metadata]: Forbidden: must not specify anything other than name and generateName, but metadata is implicitly specified`,
      `${p}.properties[spec].properties[a].items: Required value: must be specified`,
      `${p}.properties[spec].properties[m].$ref: Forbidden: $ref is forbidden in a structural schema`,
      `${p}.properties[spec].type: Required value: must not be empty for specified object fields`,
    ].sort());
  });

  it('a list map needs keys that are required or defaulted; a CEL rule the library lacks is refused, not skipped', () => {
    const errs = validateCrd(crd({}, { type: 'object', properties: { l: { type: 'array', 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['k'], items: { type: 'object', properties: { k: { type: 'string' } } } }, u: { type: 'string', 'x-kubernetes-validations': [{ rule: 'isURL(self)' }] }, d: { type: 'integer', default: 'x' } } })).map(fieldErrorText);
    assert.ok(errs.includes('spec.versions[0].schema.openAPIV3Schema.properties[l].items.properties[k]: Required value: all map keys must be required or have a default value'), errs.join('\n'));
    assert.ok(errs.some((e) => e.startsWith('spec.versions[0].schema.openAPIV3Schema.properties[u].x-kubernetes-validations[0].rule: Invalid value: "isURL(self)": compilation failed')));
    assert.ok(errs.some((e) => e.startsWith('spec.versions[0].schema.openAPIV3Schema.properties[d].default: Invalid value: "x"')));
  });

  it('x-kubernetes-map-type is atomic or granular, on objects only', () => {
    const errs = validateCrd(crd({}, { type: 'object', properties: { s: { type: 'string', 'x-kubernetes-map-type': 'atomic' }, m: { type: 'object', 'x-kubernetes-map-type': 'whole', additionalProperties: { type: 'string' } } } })).map(fieldErrorText);
    assert.ok(errs.includes('spec.versions[0].schema.openAPIV3Schema.properties[s].type: Invalid value: "string": must be object if x-kubernetes-map-type is specified'), errs.join('\n'));
    assert.ok(errs.includes('spec.versions[0].schema.openAPIV3Schema.properties[m].x-kubernetes-map-type: Unsupported value: "whole": supported values: "granular", "atomic"'), errs.join('\n'));
  });

  it('the Webhook conversion is refused, naming why', () => {
    const errs = validateCrd(crd({ conversion: { strategy: 'Webhook' } })).map(fieldErrorText);
    assert.match(errs.join('\n'), /spec.conversion.strategy: Forbidden: podbay does not call conversion webhooks/);
  });
});

describe('a custom kind', () => {
  it('validates only status on a status write, and the rest on a main write', () => {
    const c = crd({}, { type: 'object', properties: { spec: { type: 'object', properties: { a: { type: 'integer' } } }, status: { type: 'object', properties: { b: { type: 'integer' } } } } });
    c.spec.versions[0].subresources = { status: {} };
    const kind = customKindFor(c, 'v1', () => false);
    const obj = { metadata: { name: 'x' }, spec: { a: 'no' }, status: { b: 'no' } };
    assert.deepEqual(kind.validate(obj, undefined, 'main').map((e) => e.field), ['spec.a']);
    assert.deepEqual(kind.validate(obj, undefined, 'status').map((e) => e.field), ['status.b']);
  });

  it('prints its columns: dates as ages, missing values as null; JSONPath filters', () => {
    const o = { metadata: { name: 'x', creationTimestamp: '2026-01-01T00:00:00Z' }, status: { conditions: [{ type: 'A', status: 'False' }, { type: 'Ready', status: 'True' }] } };
    assert.equal(jsonPathValue(o, '.status.conditions[?(@.type=="Ready")].status'), 'True');
    const t = customTable([{ name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' }, { name: 'N', type: 'integer', jsonPath: '.spec.n' }, { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' }], [o], {}, { now: Date.parse('2026-01-01T00:01:00Z') });
    assert.deepEqual(t.rows[0].cells, ['x', 'True', null, '60s']);
    assert.deepEqual(t.columnDefinitions.map((c: any) => c.name), ['Name', 'Ready', 'N', 'Age']);
  });
});

describe('versions', () => {
  it('rank as Kubernetes ranks them: GA by major, then beta, then alpha, then the rest alphabetically', () => {
    assert.deepEqual(['foo', 'v1alpha1', 'v1beta1', 'v2', 'v1', 'v1beta2', 'v10', 'bar', 'v2alpha3'].sort(compareKubeAwareVersions), ['v10', 'v2', 'v1', 'v1beta2', 'v1beta1', 'v2alpha3', 'v1alpha1', 'bar', 'foo']);
  });

  it('a deprecated version warns, naming the highest served, not deprecated version above it; its own deprecationWarning wins', () => {
    const v = (name: string, o: Record<string, unknown> = {}) => ({ name, served: true, storage: name === 'v1', ...o });
    const crd = (versions: unknown[]) => ({ spec: { group: 'example.com', names: { kind: 'Widget' }, versions } });
    const c = crd([v('v1alpha1', { deprecated: true }), v('v1beta1'), v('v1'), v('v2', { served: false }), v('v3', { deprecated: true }), v('v1beta2', { deprecated: true, deprecationWarning: 'gone soon' })]);
    assert.equal(deprecationWarning(c, 'v1alpha1'), 'example.com/v1alpha1 Widget is deprecated; use example.com/v1 Widget');
    assert.equal(deprecationWarning(c, 'v3'), 'example.com/v3 Widget is deprecated');
    assert.equal(deprecationWarning(c, 'v1beta2'), 'gone soon');
    assert.equal(deprecationWarning(c, 'v1'), undefined);
    assert.equal(customKindFor(c, 'v1alpha1', () => false).warning, 'example.com/v1alpha1 Widget is deprecated; use example.com/v1 Widget');
    assert.equal('warning' in customKindFor(c, 'v1', () => false), false);
  });
});

describe('validation ratcheting', () => {
  const strict: JSONSchemaProps = {
    type: 'object',
    properties: {
      spec: {
        type: 'object',
        required: ['size'],
        properties: {
          color: { type: 'string', maxLength: 2 },
          size: { type: 'string', 'x-kubernetes-validations': [{ rule: "self == 'large'", message: 'must be large' }] },
          replicas: { type: 'integer' },
          ports: { type: 'array', 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'], items: { type: 'object', properties: { name: { type: 'string' }, port: { type: 'integer', maximum: 100 } } } },
        },
      },
    },
  };
  const stored = { spec: { color: 'red', size: 'small', ports: [{ name: 'a', port: 500 }, { name: 'b', port: 600 }] } };

  it('values the update leaves as stored are not validated again; what it changes or adds is', () => {
    // a field added beside the ones the stricter schema refuses: accepted
    assert.deepEqual(validateSchema(strict, { spec: { ...stored.spec, replicas: 6 } }, '', { old: stored }), []);
    // the same object without an old one (a create) fails on every refused field
    assert.deepEqual(validateSchema(strict, stored).map((e) => e.field).sort(), ['spec.color', 'spec.ports[0].port', 'spec.ports[1].port', 'spec.size']);
    // a changed value is validated; list-map items correlate by key, not by position
    const changed = { spec: { color: 'blue', size: 'small', ports: [{ name: 'b', port: 600 }, { name: 'a', port: 501 }] } };
    assert.deepEqual(validateSchema(strict, changed, '', { old: stored }).map((e) => e.field).sort(), ['spec.color', 'spec.ports[1].port']);
  });
});
