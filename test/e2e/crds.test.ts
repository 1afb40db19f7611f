/**
 * CustomResourceDefinitions and the APIService listing with real kubectl (the oldest and the
 * newest supported): a CRD is validated as kube-apiserver validates it (a non-structural schema
 * is a 422 listing why), becomes Established, and its kind is served: discovery, shortNames and
 * categories (`kubectl get all`), printer columns, `explain`, schema validation with the path in
 * the 422, defaulting, pruning, CEL rules, the status and scale subresources, server-side apply,
 * a mixed manifest of built-in and custom kinds, two served versions with the None conversion,
 * and deletion of the CRD taking its objects along. `kubectl get apiservices` lists every served
 * group version, and registering an extension API server is refused, naming why. The API alone
 * is under test: the server runs without a kubelet (no host state).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { PodbayServer, kubectlBinaries, kubectlHelpers, waitFor } from './harness.js';

const CRD = (plural: string, kind: string, extra = '') => `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: ${plural}.stable.example.com}
spec:
  group: stable.example.com
  scope: Namespaced
  names:
    plural: ${plural}
    singular: ${kind.toLowerCase()}
    kind: ${kind}
    shortNames: [${plural.slice(0, 2)}x]
    categories: [all]
  versions:
  - name: v1
    served: true
    storage: true
    subresources:
      status: {}
      scale: {specReplicasPath: .spec.replicas, statusReplicasPath: .status.replicas}
    additionalPrinterColumns:
    - {name: Spec, type: string, jsonPath: .spec.cronSpec, description: The cron spec}
    - {name: Replicas, type: integer, jsonPath: .spec.replicas}
    - {name: Age, type: date, jsonPath: .metadata.creationTimestamp}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            description: What the ${kind} should do.
            x-kubernetes-validations:
            - rule: self.replicas <= self.maxReplicas
              message: replicas must not exceed maxReplicas
            properties:
              cronSpec: {type: string, pattern: '^(\\d+|\\*)(/\\d+)?(\\s+(\\d+|\\*)(/\\d+)?){4}$', description: The schedule in cron format.}
              image: {type: string}
              replicas: {type: integer, minimum: 0, default: 1}
              maxReplicas: {type: integer, default: 10}
              port: {x-kubernetes-int-or-string: true}
              extra: {type: object, x-kubernetes-preserve-unknown-fields: true}
              template: {type: object, x-kubernetes-embedded-resource: true, x-kubernetes-preserve-unknown-fields: true}
              endpoint: {type: object, x-kubernetes-map-type: atomic, properties: {host: {type: string}, port: {type: integer}}}
              ports:
                type: array
                x-kubernetes-list-type: map
                x-kubernetes-list-map-keys: [name]
                items: {type: object, required: [name], properties: {name: {type: string}, port: {type: integer}}}
          status:
            type: object
            properties:
              replicas: {type: integer}
${extra}`;

describe('CustomResourceDefinitions with real kubectl', () => {
  let s: PodbayServer;
  before(async () => {
    s = await PodbayServer.start(['--no-kubelet']);
  });
  after(async () => {
    await s?.teardown();
  });

  for (const kc of kubectlBinaries()) {
    describe(kc.name, () => {
      const { k, ok, apply } = kubectlHelpers(() => s, kc.path);
      const n = kc.name.replace(/\D/g, '');
      const plural = `crontabs${n}`;
      const kind = `CronTab${n}`;
      const short = `${plural.slice(0, 2)}x`;
      const ns = `crd-${n}`;

      it('a CRD is created, Established with its names accepted, and listed by get crd', async () => {
        ok('create', 'namespace', ns);
        apply(CRD(plural, kind));
        ok('wait', '--for=condition=Established', `crd/${plural}.stable.example.com`, '--timeout=20s');
        const crd = JSON.parse(ok('get', 'crd', `${plural}.stable.example.com`, '-o', 'json'));
        const cond = (t: string) => crd.status.conditions.find((c: { type: string }) => c.type === t);
        assert.equal(cond('NamesAccepted').status, 'True');
        assert.equal(cond('Established').status, 'True');
        assert.deepEqual(crd.status.storedVersions, ['v1']);
        assert.equal(crd.status.acceptedNames.kind, kind);
        assert.ok(crd.metadata.finalizers.includes('customresourcecleanup.apiextensions.k8s.io'));
        assert.match(ok('get', 'crd'), new RegExp(`${plural}.stable.example.com\\s+\\d{4}-`));
        const res = ok('api-resources', '--api-group=stable.example.com');
        assert.match(res, new RegExp(`${plural}\\s+${short}\\s+stable.example.com/v1\\s+true\\s+${kind}`));
      });

      it('a custom resource is created with defaults, unknown fields pruned (with a warning), printed with its columns', () => {
        const out = s.kubectl(kc.path, ['apply', '-n', ns, '-f', '-'], `apiVersion: stable.example.com/v1\nkind: ${kind}\nmetadata: {name: first}\nspec:\n  cronSpec: "* * * * */5"\n  image: my-cron\n  port: http\n  extra: {anything: [1, 2]}\n  template: {apiVersion: v1, kind: Pod, metadata: {name: x}, spec: {foo: bar}}\n  bogus: 1\n`);
        // kubectl's strict validation (server-side) refuses the unknown field, naming it
        assert.equal(out.code, 1, out.stdout);
        assert.match(out.stderr, /unknown field "spec.bogus"/);
        const warn = s.kubectl(kc.path, ['apply', '-n', ns, '--validate=warn', '-f', '-'], `apiVersion: stable.example.com/v1\nkind: ${kind}\nmetadata: {name: first}\nspec:\n  cronSpec: "* * * * */5"\n  image: my-cron\n  port: http\n  extra: {anything: [1, 2]}\n  template: {apiVersion: v1, kind: Pod, metadata: {name: x}, spec: {foo: bar}}\n  bogus: 1\n`);
        assert.equal(warn.code, 0, warn.stderr);
        assert.match(warn.stderr, /unknown field "spec.bogus"/);
        const o = JSON.parse(ok('get', short, 'first', '-n', ns, '-o', 'json'));
        assert.equal(o.spec.replicas, 1, 'defaulted');
        assert.equal(o.spec.maxReplicas, 10, 'defaulted');
        assert.equal(o.spec.bogus, undefined, 'pruned');
        assert.deepEqual(o.spec.extra, { anything: [1, 2] }, 'preserved');
        assert.equal(o.spec.port, 'http');
        assert.equal(o.spec.template.spec.foo, 'bar');
        assert.equal(o.metadata.generation, 1);
        const table = ok('get', plural, '-n', ns);
        assert.match(table, /^NAME\s+SPEC\s+REPLICAS\s+AGE\n/);
        assert.match(table, /first\s+\* \* \* \* \*\/5\s+1\s+\d+s/);
        // the category "all" brings it into get all
        assert.match(ok('get', 'all', '-n', ns), new RegExp(`${kind.toLowerCase()}.stable.example.com/first`));
      });

      it('schema violations are 422s naming the field; CEL rules with their message; a bad list-map duplicate', () => {
        const bad = (spec: string) => s.kubectl(kc.path, ['apply', '-n', ns, '-f', '-'], `apiVersion: stable.example.com/v1\nkind: ${kind}\nmetadata: {name: bad}\nspec: ${spec}\n`);
        let r = bad('{replicas: many}');
        assert.equal(r.code, 1);
        assert.match(r.stderr, /spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string"/);
        r = bad('{replicas: -1}');
        assert.match(r.stderr, /spec.replicas: Invalid value: -1: spec.replicas in body should be greater than or equal to 0/);
        r = bad('{cronSpec: "nope"}');
        assert.match(r.stderr, /spec.cronSpec: Invalid value: "nope": spec.cronSpec in body should match/);
        r = bad('{replicas: 20, maxReplicas: 5}');
        assert.match(r.stderr, /spec: Invalid value: "object": replicas must not exceed maxReplicas/);
        r = bad('{ports: [{name: a, port: 1}, {name: a, port: 2}]}');
        assert.match(r.stderr, /spec.ports\[1\]: Duplicate value/);
        r = bad('{template: {metadata: {name: x}}}');
        assert.match(r.stderr, /spec.template.apiVersion: Required value/);
        assert.match(k('get', plural, 'bad', '-n', ns).stderr, /not found/);
      });

      it('status and scale subresources; merge and json patches; strategic merge is refused', () => {
        ok('patch', plural, 'first', '-n', ns, '--type=merge', '-p', '{"spec":{"image":"v2"},"status":{"replicas":7}}');
        let o = JSON.parse(ok('get', plural, 'first', '-n', ns, '-o', 'json'));
        assert.equal(o.spec.image, 'v2');
        assert.equal(o.status, undefined, 'the main resource does not write status');
        assert.equal(o.metadata.generation, 2);
        ok('patch', plural, 'first', '-n', ns, '--subresource=status', '--type=merge', '-p', '{"status":{"replicas":3}}');
        o = JSON.parse(ok('get', plural, 'first', '-n', ns, '-o', 'json'));
        assert.equal(o.status.replicas, 3);
        assert.equal(o.metadata.generation, 2, 'a status write is no spec change');
        ok('scale', plural, 'first', '-n', ns, '--replicas=4');
        o = JSON.parse(ok('get', plural, 'first', '-n', ns, '-o', 'json'));
        assert.equal(o.spec.replicas, 4);
        ok('patch', plural, 'first', '-n', ns, '--type=json', '-p', '[{"op":"replace","path":"/spec/image","value":"v3"}]');
        const sm = k('patch', plural, 'first', '-n', ns, '-p', '{"spec":{"image":"v4"}}');
        assert.notEqual(sm.code, 0);
        assert.match(sm.stderr, /application\/merge-patch\+json/);
      });

      it('server-side apply of a custom resource, with field ownership; explain of the kind', () => {
        const yaml = `apiVersion: stable.example.com/v1\nkind: ${kind}\nmetadata: {name: ssa}\nspec:\n  image: one\n  ports: [{name: a, port: 1}]\n  endpoint: {host: h, port: 1}\n`;
        let r = s.kubectl(kc.path, ['apply', '--server-side', '--field-manager=alice', '-n', ns, '-f', '-'], yaml);
        assert.equal(r.code, 0, r.stderr);
        r = s.kubectl(kc.path, ['apply', '--server-side', '--field-manager=bob', '-n', ns, '-f', '-'], `apiVersion: stable.example.com/v1\nkind: ${kind}\nmetadata: {name: ssa}\nspec:\n  ports: [{name: b, port: 2}]\n`);
        assert.equal(r.code, 0, r.stderr);
        const o = JSON.parse(ok('get', plural, 'ssa', '-n', ns, '-o', 'json'));
        assert.deepEqual(o.spec.ports.map((p: { name: string }) => p.name).sort(), ['a', 'b'], 'list-type map items merge by key');
        r = s.kubectl(kc.path, ['apply', '--server-side', '--field-manager=bob', '-n', ns, '-f', '-'], `apiVersion: stable.example.com/v1\nkind: ${kind}\nmetadata: {name: ssa}\nspec:\n  image: two\n`);
        assert.equal(r.code, 1);
        assert.match(r.stderr, /conflict/i);
        // an x-kubernetes-map-type atomic object is owned whole: touching one field of it conflicts with its owner
        r = s.kubectl(kc.path, ['apply', '--server-side', '--field-manager=bob', '-n', ns, '-f', '-'], `apiVersion: stable.example.com/v1\nkind: ${kind}\nmetadata: {name: ssa}\nspec:\n  endpoint: {port: 2}\n`);
        assert.equal(r.code, 1);
        assert.match(r.stderr, /conflict with "alice"[^\n]*: \.spec\.endpoint\b(?!\.)/);
        const owned = JSON.parse(ok('get', plural, 'ssa', '-n', ns, '-o', 'json'));
        assert.deepEqual(owned.spec.endpoint, { host: 'h', port: 1 }, 'the refused apply changed nothing');
        const ex = ok('explain', `${plural}.spec`);
        assert.match(ex, new RegExp(`KIND:\\s+${kind}`));
        assert.match(ex, /What the CronTab\d+ should do\./);
        assert.match(ex, /cronSpec\s+<string>/);
      });

      it('a mixed manifest of built-in and custom kinds applies; watch sees changes', async () => {
        const r = s.kubectl(kc.path, ['apply', '-n', ns, '-f', '-'], `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: mixed}\ndata: {a: b}\n---\napiVersion: stable.example.com/v1\nkind: ${kind}\nmetadata: {name: mixed}\nspec: {image: x}\n`);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /configmap\/mixed created/);
        assert.match(r.stdout, new RegExp(`${kind.toLowerCase()}.stable.example.com/mixed created`));
        const json = JSON.parse(ok('get', plural, '-n', ns, '-o', 'json'));
        assert.deepEqual(json.items.map((i: { metadata: { name: string } }) => i.metadata.name).sort(), ['first', 'mixed', 'ssa']);
        // a watch (kubectl wait lists, then watches) sees a later change
        const waiting = new Promise<{ code: number | null; out: string }>((resolve) => {
          const p = spawn(kc.path, ['--kubeconfig', s.kubeconfig, 'wait', '-n', ns, `${plural}/mixed`, '--for=jsonpath={.spec.image}=changed', '--timeout=20s'], { stdio: ['ignore', 'pipe', 'pipe'] });
          let out = '';
          p.stdout.on('data', (d) => (out += d));
          p.stderr.on('data', (d) => (out += d));
          p.on('close', (code) => resolve({ code, out }));
        });
        await new Promise((r) => setTimeout(r, 1500));
        ok('patch', plural, 'mixed', '-n', ns, '--type=merge', '-p', '{"spec":{"image":"changed"}}');
        const w = await waiting;
        assert.equal(w.code, 0, w.out);
        assert.match(w.out, /condition met/);
      });

      it('an invalid CRD is a 422 listing every reason; a conflicting name is not accepted', async () => {
        const r = s.kubectl(kc.path, ['apply', '-f', '-'], `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: wrongs${n}.stable.example.com}
spec:
  group: stable.example.com
  scope: Namespaced
  names: {plural: wrongs${n}, kind: Wrong${n}}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            properties:
              list: {type: array}
              both: {type: object, properties: {a: {type: string}}, additionalProperties: {type: string}}
              rule: {type: string, x-kubernetes-validations: [{rule: 'isURL(self)'}]}
  - name: v2
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object}}
`);
        assert.equal(r.code, 1);
        assert.match(r.stderr, /CustomResourceDefinition "wrongs\d+.stable.example.com" is invalid/);
        assert.match(r.stderr, /spec.versions\[0\].schema.openAPIV3Schema.properties\[spec\].type: Required value: must not be empty for specified object fields/);
        assert.match(r.stderr, /properties\[list\].items: Required value: must be specified/);
        assert.match(r.stderr, /properties\[both\].additionalProperties: Forbidden: additionalProperties and properties are mutual exclusive/);
        assert.match(r.stderr, /x-kubernetes-validations\[0\].rule: Invalid value: "isURL\(self\)": compilation failed/);
        assert.match(r.stderr, /spec.versions: Invalid value: .*must have exactly one version marked as storage version/);
        // a second CRD of the group with the same kind: names not accepted, not established
        apply(`apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: others${n}.stable.example.com}
spec:
  group: stable.example.com
  scope: Cluster
  names: {plural: others${n}, singular: other${n}, kind: ${kind}, listKind: Others${n}List}
  versions: [{name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object}}}]
`);
        const c = await waitFor('NamesAccepted False', () => {
          const crd = JSON.parse(ok('get', 'crd', `others${n}.stable.example.com`, '-o', 'json'));
          return crd.status?.conditions?.find((x: { type: string; status: string }) => x.type === 'NamesAccepted' && x.status === 'False');
        }, 10_000);
        assert.equal(c.reason, 'KindConflict');
        assert.match(c.message, new RegExp(`"${kind}" is already in use`));
        ok('delete', 'crd', `others${n}.stable.example.com`);
      });

      it('two served versions with the None conversion read the same objects, the deprecated one with a warning; a cluster-scoped kind', () => {
        apply(`apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gadgets${n}.stable.example.com}
spec:
  group: stable.example.com
  scope: Cluster
  names: {plural: gadgets${n}, kind: Gadget${n}}
  versions:
  - {name: v1beta1, served: true, storage: false, deprecated: true, schema: {openAPIV3Schema: {type: object, properties: {spec: {type: object, properties: {size: {type: integer}}}}}}}
  - {name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object, properties: {spec: {type: object, properties: {size: {type: integer}}}}}}}
`);
        ok('wait', '--for=condition=Established', `crd/gadgets${n}.stable.example.com`, '--timeout=20s');
        // every request to the deprecated version is warned, naming the version to use instead
        const warned = s.kubectl(kc.path, ['apply', '-f', '-'], `apiVersion: stable.example.com/v1beta1\nkind: Gadget${n}\nmetadata: {name: g1}\nspec: {size: 3}\n`);
        assert.equal(warned.code, 0, warned.stderr);
        const warning = `Warning: stable.example.com/v1beta1 Gadget${n} is deprecated; use stable.example.com/v1 Gadget${n}`;
        assert.ok(warned.stderr.includes(warning), warned.stderr);
        const got = s.kubectl(kc.path, ['get', `gadgets${n}.v1beta1.stable.example.com`, 'g1']);
        assert.ok(got.stderr.includes(warning), got.stderr);
        assert.doesNotMatch(s.kubectl(kc.path, ['get', `gadgets${n}.v1.stable.example.com`, 'g1']).stderr, /deprecated/);
        const v1 = JSON.parse(ok('get', `gadgets${n}.v1.stable.example.com`, 'g1', '-o', 'json'));
        assert.equal(v1.apiVersion, 'stable.example.com/v1');
        assert.equal(v1.spec.size, 3);
        assert.equal(v1.metadata.namespace, undefined);
        const beta = JSON.parse(ok('get', `gadgets${n}.v1beta1.stable.example.com`, 'g1', '-o', 'json'));
        assert.equal(beta.apiVersion, 'stable.example.com/v1beta1');
        // deletecollection (DELETE on the collection) of a cluster-scoped custom kind
        apply(`apiVersion: stable.example.com/v1\nkind: Gadget${n}\nmetadata: {name: g2}\nspec: {size: 4}\n`);
        const del = JSON.parse(ok('delete', '--raw', `/apis/stable.example.com/v1/gadgets${n}`));
        assert.equal(del.kind, `Gadget${n}List`);
        assert.deepEqual(del.items.map((i: { metadata: { name: string } }) => i.metadata.name).sort(), ['g1', 'g2']);
        assert.match(k('get', `gadgets${n}`).stderr, /No resources found/);
        // a CRD applied server-side (as big CRDs are, beyond the last-applied annotation's limit)
        const ssa = s.kubectl(kc.path, ['apply', '--server-side', '-f', '-'], `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gizmos${n}.stable.example.com}
spec:
  group: stable.example.com
  scope: Cluster
  names: {plural: gizmos${n}, kind: Gizmo${n}, shortNames: [gz${n}]}
  versions:
  - {name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object, properties: {spec: {type: object, properties: {size: {type: integer}}}}}}}
`);
        assert.equal(ssa.code, 0, ssa.stderr);
        assert.match(ssa.stdout, /serverside-applied/);
        const gizmo = JSON.parse(ok('get', 'crd', `gizmos${n}.stable.example.com`, '-o', 'json', '--show-managed-fields'));
        assert.deepEqual(gizmo.spec.names.shortNames, [`gz${n}`]);
        assert.equal(gizmo.metadata.managedFields[0].manager, 'kubectl');
        assert.equal(gizmo.metadata.managedFields[0].operation, 'Apply');
        ok('delete', 'crd', `gizmos${n}.stable.example.com`);
      });

      it('a default added to the schema shows on objects already stored, and a field taken out of it is pruned, when they are read', () => {
        const def = (props: string) => `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: shapes${n}.stable.example.com}
spec:
  group: stable.example.com
  scope: Cluster
  names: {plural: shapes${n}, kind: Shape${n}}
  versions:
  - {name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object, properties: {spec: {type: object, properties: {${props}}}}}}}
`;
        apply(def('size: {type: integer}, color: {type: string}'));
        ok('wait', '--for=condition=Established', `crd/shapes${n}.stable.example.com`, '--timeout=20s');
        apply(`apiVersion: stable.example.com/v1\nkind: Shape${n}\nmetadata: {name: s1}\nspec: {size: 3, color: red}\n`);
        apply(def('size: {type: integer}, form: {type: string, default: round}'));
        const read = () => JSON.parse(ok('get', `shapes${n}`, 's1', '-o', 'json')).spec;
        let spec = {};
        for (let i = 0; i < 50 && JSON.stringify(spec) !== JSON.stringify({ size: 3, form: 'round' }); i++) spec = read();
        assert.deepEqual(spec, { size: 3, form: 'round' }, 'defaulted and pruned on read, as apiextensions-apiserver decodes stored objects');
        ok('delete', 'crd', `shapes${n}.stable.example.com`);
      });

      it('the garbage collector follows ownerReferences to a custom resource', async () => {
        apply(`apiVersion: stable.example.com/v1\nkind: ${kind}\nmetadata: {name: owner, namespace: ${ns}}\nspec: {image: x}\n`);
        const uid = JSON.parse(ok('get', plural, 'owner', '-n', ns, '-o', 'json')).metadata.uid;
        apply(`apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: owned\n  namespace: ${ns}\n  ownerReferences: [{apiVersion: stable.example.com/v1, kind: ${kind}, name: owner, uid: ${uid}}]\ndata: {a: b}\n`);
        ok('delete', plural, 'owner', '-n', ns);
        await waitFor('the owned ConfigMap collected', () => /not found/.test(k('get', 'configmap', 'owned', '-n', ns).stderr), 20_000);
      });

      it('deleting a namespace deletes the custom resources in it', () => {
        ok('create', 'namespace', `${ns}-gone`);
        apply(`apiVersion: stable.example.com/v1\nkind: ${kind}\nmetadata: {name: inside, namespace: ${ns}-gone}\nspec: {image: x}\n`);
        ok('delete', 'namespace', `${ns}-gone`, '--timeout=60s');
        assert.doesNotMatch(k('get', plural, '-A').stdout, /inside/);
      });

      it('deleting the CRD deletes its objects; the kind is no longer served', async () => {
        ok('delete', 'crd', `${plural}.stable.example.com`, '--timeout=30s');
        assert.match(k('get', 'crd', `${plural}.stable.example.com`).stderr, /not found/);
        const r = k('get', plural, '-n', ns);
        assert.match(r.stderr, /the server doesn't have a resource type|could not find the requested resource/);
        // made again, the kind starts empty
        apply(CRD(plural, kind));
        ok('wait', '--for=condition=Established', `crd/${plural}.stable.example.com`, '--timeout=20s');
        await waitFor('served again', () => k('get', plural, '-n', ns).code === 0, 10_000);
        assert.match(k('get', plural, '-n', ns).stderr, /No resources found/);
        ok('delete', 'crd', `${plural}.stable.example.com`, `gadgets${n}.stable.example.com`);
      });

      it('get apiservices lists every served group version as Local and Available; an extension server is refused', () => {
        const out = ok('get', 'apiservices');
        assert.match(out, /^NAME\s+SERVICE\s+AVAILABLE\s+AGE\n/);
        assert.match(out, /\nv1\.\s+Local\s+True\s+/);
        assert.match(out, /\nv1\.apps\s+Local\s+True\s+/);
        assert.match(out, /\nv1beta1\.metrics\.k8s\.io\s+Local\s+True\s+/);
        assert.match(out, /\nv1\.apiextensions\.k8s\.io\s+Local\s+True\s+/);
        const r = s.kubectl(kc.path, ['apply', '-f', '-'], `apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: {name: v1beta1.custom.metrics.k8s.io}
spec:
  group: custom.metrics.k8s.io
  version: v1beta1
  service: {namespace: monitoring, name: prometheus-adapter}
  groupPriorityMinimum: 100
  versionPriority: 100
  insecureSkipTLSVerify: true
`);
        assert.equal(r.code, 1);
        assert.match(r.stderr, /podbay does not support API aggregation to external servers \(spec.service monitoring\/prometheus-adapter\)/);
      });
    });
  }
});
