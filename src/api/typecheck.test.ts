import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import type { SchemaSet } from './schema-types.js';
import { base64ErrorOffset, decodeTyped, goType, rfc3339Error } from './typecheck.js';

const POD = 'io.k8s.api.core.v1.Pod';

function pod(spec: Record<string, unknown>, metadata: Record<string, unknown> = { name: 'p' }): Record<string, unknown> {
  return { apiVersion: 'v1', kind: 'Pod', metadata, spec };
}

function failure(obj: Record<string, unknown>, type = POD, set?: SchemaSet) {
  return decodeTyped(type, obj, { schemas: set }).failure;
}

describe('decodeTyped: JSON types against the generated schema', () => {
  it('accepts a well-typed pod and leaves it as it was', () => {
    const obj = pod({
      terminationGracePeriodSeconds: 5,
      hostNetwork: false,
      containers: [
        {
          name: 'c',
          image: 'busybox',
          command: ['sh', '-c', 'sleep 1'],
          ports: [{ containerPort: 80 }],
          resources: { limits: { cpu: '500m', memory: '64Mi' }, requests: { cpu: 1 } },
          livenessProbe: { httpGet: { port: 'http', path: '/' } },
          readinessProbe: { tcpSocket: { port: 8080 } },
        },
      ],
    }, { name: 'p', labels: { app: 'x' }, creationTimestamp: '2024-01-02T03:04:05Z' });
    const before = JSON.stringify(obj);
    const r = decodeTyped(POD, obj);
    assert.equal(r.failure, undefined);
    assert.deepEqual(r.pruned, []);
    assert.equal(JSON.stringify(obj), before);
  });

  it('a string where a list is expected: Go struct field of the innermost struct, path without indexes', () => {
    const f = failure(pod({ containers: [{ name: 'c', image: 'i', command: 'ls' }] }));
    assert.deepEqual(f, {
      message: 'json: cannot unmarshal string into Go struct field Container.spec.containers.command of type []string',
      field: 'spec.containers[0].command',
    });
  });

  it('each JSON type into each Go type', () => {
    const cases: [unknown, string][] = [
      ['abc', 'json: cannot unmarshal string into Go struct field PodSpec.spec.terminationGracePeriodSeconds of type int64'],
      [true, 'json: cannot unmarshal bool into Go struct field PodSpec.spec.terminationGracePeriodSeconds of type int64'],
      [[1], 'json: cannot unmarshal array into Go struct field PodSpec.spec.terminationGracePeriodSeconds of type int64'],
      [{}, 'json: cannot unmarshal object into Go struct field PodSpec.spec.terminationGracePeriodSeconds of type int64'],
      [1.5, 'json: cannot unmarshal number 1.5 into Go struct field PodSpec.spec.terminationGracePeriodSeconds of type int64'],
    ];
    for (const [v, msg] of cases) assert.equal(failure(pod({ containers: [], terminationGracePeriodSeconds: v }))?.message, msg);
    assert.equal(
      failure(pod({ containers: [], hostNetwork: 'yes' }))?.message,
      'json: cannot unmarshal string into Go struct field PodSpec.spec.hostNetwork of type bool',
    );
    assert.equal(
      failure(pod({ containers: [{ name: 'c', ports: [{ containerPort: 2 ** 31 }] }] }))?.message,
      `json: cannot unmarshal number ${2 ** 31} into Go struct field ContainerPort.spec.containers.ports.containerPort of type int32`,
    );
    assert.equal(failure(pod({ containers: [{ name: 7 }] }))?.message, 'json: cannot unmarshal number into Go struct field Container.spec.containers.name of type string');
    assert.equal(failure(pod({ containers: 'x' }))?.message, 'json: cannot unmarshal string into Go struct field PodSpec.spec.containers of type []v1.Container');
    assert.equal(failure(pod({ containers: ['x'] }))?.message, 'json: cannot unmarshal string into Go struct field PodSpec.spec.containers of type v1.Container');
    assert.equal(failure({ metadata: 'x' })?.message, 'json: cannot unmarshal string into Go struct field Pod.metadata of type v1.ObjectMeta');
  });

  it('maps: values typed, keys in the path as field.Path prints them, not in the Go message', () => {
    const f = failure(pod({ containers: [] }, { name: 'p', labels: { app: 1 } }));
    assert.deepEqual(f, {
      message: 'json: cannot unmarshal number into Go struct field ObjectMeta.metadata.labels of type string',
      field: 'metadata.labels[app]',
    });
    assert.equal(
      failure(pod({ containers: [] }, { name: 'p', annotations: ['a'] }))?.message,
      'json: cannot unmarshal array into Go struct field ObjectMeta.metadata.annotations of type map[string]string',
    );
  });

  it('reports the first mismatch in document order', () => {
    const f = failure(pod({ hostNetwork: 1, containers: [{ name: 2 }] }));
    assert.equal(f?.field, 'spec.hostNetwork');
  });

  it('nulls are accepted; inside lists and maps they become zero values', () => {
    const obj = pod({ containers: [null, { name: 'c', command: ['a', null] }], nodeSelector: { a: null } }, { name: 'p', labels: null });
    assert.equal(decodeTyped(POD, obj).failure, undefined);
    const spec = obj.spec as Record<string, any>;
    assert.deepEqual(spec.containers[0], {});
    assert.deepEqual(spec.containers[1].command, ['a', '']);
    assert.deepEqual(spec.nodeSelector, { a: '' });
  });

  it('prunes unknown fields at every level and says where', () => {
    const obj = pod({ bogus: { deep: 1 }, containers: [{ name: 'c', imagex: 'i' }] });
    (obj as any).extra = true;
    const r = decodeTyped(POD, obj);
    assert.equal(r.failure, undefined);
    assert.deepEqual(r.pruned, ['spec.bogus', 'spec.containers[0].imagex', 'extra']);
    assert.deepEqual(obj.spec, { containers: [{ name: 'c' }] });
    assert.equal('extra' in obj, false);
  });

  it('with prune: false, lists unknown fields and leaves them', () => {
    const obj = pod({ bogus: 1, containers: [] });
    assert.deepEqual(decodeTyped(POD, obj, { prune: false }).pruned, ['spec.bogus']);
    assert.equal((obj.spec as any).bogus, 1);
  });
});

describe('decodeTyped: values with their own decoding', () => {
  it('int-or-string: a string or an int32', () => {
    const probe = (port: unknown) => pod({ containers: [{ name: 'c', livenessProbe: { httpGet: { port } } }] });
    assert.equal(failure(probe('http')), undefined);
    assert.equal(failure(probe(8080)), undefined);
    assert.equal(
      failure(probe(true))?.message,
      'json: cannot unmarshal bool into Go struct field HTTPGetAction.spec.containers.livenessProbe.httpGet.port of type int32',
    );
    assert.equal(
      failure(probe(1.5))?.message,
      'json: cannot unmarshal number 1.5 into Go struct field HTTPGetAction.spec.containers.livenessProbe.httpGet.port of type int32',
    );
    assert.equal(failure(probe({}))?.field, 'spec.containers[0].livenessProbe.httpGet.port');
  });

  it('quantity: the regular expression, for strings and numbers', () => {
    const res = (cpu: unknown) => pod({ containers: [{ name: 'c', resources: { limits: { cpu } } }] });
    for (const ok of ['1', '500m', '1.5Gi', ' 2 ', '1e3', 0.5, 2]) assert.equal(failure(res(ok)), undefined, String(ok));
    for (const bad of ['abc', '1.5.5', '', '5 cores', true, [], {}]) {
      assert.deepEqual(
        failure(res(bad)),
        {
          message: "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
          field: 'spec.containers[0].resources.limits[cpu]',
        },
        JSON.stringify(bad),
      );
    }
  });

  it('a custom unmarshaler error wins over an earlier plain mismatch', () => {
    const f = failure(pod({ hostNetwork: 'x', containers: [{ name: 'c', resources: { limits: { cpu: 'lots' } } }] }));
    assert.equal(f?.field, 'spec.containers[0].resources.limits[cpu]');
  });

  it('date-time: RFC 3339, as time.Parse reads it', () => {
    assert.equal(rfc3339Error('2024-02-29T23:59:59Z'), undefined);
    assert.equal(rfc3339Error('2024-02-29T23:59:59.123456+02:00'), undefined);
    assert.equal(rfc3339Error('yesterday'), 'parsing time "yesterday" as "2006-01-02T15:04:05Z07:00": cannot parse "yesterday" as "2006"');
    assert.equal(rfc3339Error('2023-02-29T00:00:00Z'), 'parsing time "2023-02-29T00:00:00Z": day out of range');
    assert.equal(rfc3339Error('2023-13-01T00:00:00Z'), 'parsing time "2023-13-01T00:00:00Z": month out of range');
    const f = failure(pod({ containers: [] }, { name: 'p', creationTimestamp: 5 }));
    assert.equal(f?.message, 'json: cannot unmarshal number into Go struct field ObjectMeta.metadata.creationTimestamp of type string');
    assert.equal(failure(pod({ containers: [] }, { name: 'p', deletionTimestamp: 'soon' }))?.field, 'metadata.deletionTimestamp');
  });

  it('byte strings: standard base64 with padding', () => {
    assert.equal(base64ErrorOffset('aGVsbG8='), -1);
    assert.equal(base64ErrorOffset('aGVs\nbG8='), -1);
    assert.equal(base64ErrorOffset(''), -1);
    assert.equal(base64ErrorOffset('aGV*bG8='), 3);
    assert.equal(base64ErrorOffset('aGVsbG8'), 4);
    assert.equal(base64ErrorOffset('a==='), 1);
    const secret = (data: unknown) => ({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' }, data });
    assert.equal(failure(secret({ k: 'aGVsbG8=' }), 'io.k8s.api.core.v1.Secret'), undefined);
    assert.deepEqual(failure(secret({ k: 'not base64!' }), 'io.k8s.api.core.v1.Secret'), {
      message: 'illegal base64 data at input byte 3',
      field: 'data[k]',
    });
    assert.equal(
      failure(secret({ k: 5 }), 'io.k8s.api.core.v1.Secret')?.message,
      'json: cannot unmarshal number into Go struct field Secret.data of type []uint8',
    );
  });

  it('every served kind is described', () => {
    for (const kind of ['Namespace', 'ConfigMap', 'Event', 'Node', 'Binding']) {
      const f = failure({ metadata: { name: 7 } }, `io.k8s.api.core.v1.${kind}`);
      assert.equal(f?.message, 'json: cannot unmarshal number into Go struct field ObjectMeta.metadata.name of type string', kind);
    }
    assert.equal(
      failure({ data: { a: 1 } }, 'io.k8s.api.core.v1.ConfigMap')?.message,
      'json: cannot unmarshal number into Go struct field ConfigMap.data of type string',
    );
  });
});

describe('decodeTyped: schema shapes', () => {
  // a self-referencing definition (as JSONSchemaProps is upstream): the walk follows the value, not the schema
  const CYCLE: SchemaSet = {
    'x.v1.Node': {
      name: 'x.v1.Node',
      description: '',
      required: [],
      fields: {
        name: { kind: 'string' },
        children: { kind: 'array', items: { kind: 'object', ref: 'x.v1.Node' } },
        byName: { kind: 'map', items: { kind: 'object', ref: 'x.v1.Node' } },
      },
    },
  };

  it('follows $ref cycles as deep as the value goes', () => {
    const ok = { name: 'a', children: [{ name: 'b', byName: { c: { name: 'c', children: [] } } }] };
    assert.equal(failure(ok, 'x.v1.Node', CYCLE), undefined);
    const bad = { name: 'a', children: [{ name: 'b', byName: { c: { name: 'c', children: [{ name: 3 }] } } }] };
    assert.deepEqual(failure(bad, 'x.v1.Node', CYCLE), {
      message: 'json: cannot unmarshal number into Go struct field Node.children.byName.children.name of type string',
      field: 'children[0].byName[c].children[0].name',
    });
  });

  it('names Go types as reflect prints them', () => {
    assert.equal(goType({ kind: 'array', items: { kind: 'object', ref: 'io.k8s.api.core.v1.Container' } }), '[]v1.Container');
    assert.equal(goType({ kind: 'map', items: { kind: 'quantity', ref: 'io.k8s.apimachinery.pkg.api.resource.Quantity' } }), 'map[string]resource.Quantity');
    assert.equal(goType({ kind: 'string', format: 'byte' }), '[]uint8');
    assert.equal(goType({ kind: 'integer', format: 'int32' }), 'int32');
  });
});
