#!/usr/bin/env node
// Generates src/api/generated/schema.json (a SchemaSet, see src/api/schema-types.ts) at build time.
//
// Sources:
//   * kubernetes-models (node_modules/kubernetes-models/v1/*.d.ts) and its dependency
//     @kubernetes-models/apimachinery: interfaces with JSDoc descriptions, optional-ness
//     (required fields), string enums, arrays, maps and references between definitions.
//   * the compiled ajv validators next to them (_schemas/IoK8s*.js): the OpenAPI formats
//     the .d.ts files lose (int32 / int64 / double / byte / date-time).
//   * PATCH_META below: list patch metadata (merge keys, strategies, list types), which the
//     type packages do not carry, copied from the struct tags and +listType markers of
//     k8s.io/api/core/v1/types.go and k8s.io/apimachinery/pkg/apis/meta/v1/types.go.
//
// Only the TypeScript parser is used (no type checker), so this runs in well under a second.
// Output is deterministic: definitions and fields are sorted by name.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OUT = path.join(ROOT, 'src/api/generated/schema.json');

function findPackage(name, from) {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'node_modules', name);
    if (fs.existsSync(path.join(candidate, 'package.json'))) return fs.realpathSync(candidate);
    if (path.dirname(dir) === dir) throw new Error(`gen-schema: package ${name} not found (npm install?)`);
  }
}
const MODELS = findPackage('kubernetes-models', ROOT);
const MACHINERY = findPackage('@kubernetes-models/apimachinery', MODELS);

// ---------------------------------------------------------------------------------------------
// What to generate: the served kinds, their lists, and the meta types the API server speaks.

const CORE = 'io.k8s.api.core.v1.';
const META = 'io.k8s.apimachinery.pkg.apis.meta.v1.';
const SERVED_KINDS = [
  'Namespace', 'Pod', 'ConfigMap', 'Secret', 'Event', 'Node',
  'ReplicationController', 'PersistentVolume', 'PersistentVolumeClaim', 'ServiceAccount', 'Service', 'Endpoints',
];
// the named groups' kinds (src/api/registry.ts), as definition names
const GROUP_KINDS = [
  ...['Deployment', 'ReplicaSet', 'StatefulSet', 'DaemonSet', 'ControllerRevision'].map((k) => 'io.k8s.api.apps.v1.' + k),
  ...['Job', 'CronJob'].map((k) => 'io.k8s.api.batch.v1.' + k),
  'io.k8s.api.policy.v1.PodDisruptionBudget',
  'io.k8s.api.coordination.v1.Lease',
  'io.k8s.api.certificates.v1.CertificateSigningRequest',
  'io.k8s.api.storage.v1.StorageClass',
  'io.k8s.api.discovery.v1.EndpointSlice',
  ...['NetworkPolicy', 'Ingress', 'IngressClass'].map((k) => 'io.k8s.api.networking.v1.' + k),
  ...['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration'].map((k) => 'io.k8s.api.admissionregistration.v1.' + k),
  ...['Role', 'ClusterRole', 'RoleBinding', 'ClusterRoleBinding'].map((k) => 'io.k8s.api.rbac.v1.' + k),
];
const ROOTS = [
  ...SERVED_KINDS.flatMap((k) => [CORE + k, CORE + k + 'List']),
  ...GROUP_KINDS.flatMap((d) => [d, d + 'List']),
  // the scale subresource's kind
  'io.k8s.api.autoscaling.v1.Scale',
  // serviceaccounts/NAME/token's kind
  'io.k8s.api.authentication.v1.TokenRequest',
  CORE + 'Binding',
  CORE + 'ObjectReference',
  ...[
    'ObjectMeta', 'ListMeta', 'Status', 'StatusDetails', 'StatusCause', 'OwnerReference',
    'ManagedFieldsEntry', 'Time', 'MicroTime', 'DeleteOptions', 'Preconditions', 'WatchEvent',
    'APIResource', 'APIResourceList', 'APIVersions', 'APIGroup', 'APIGroupList', 'Patch',
  ].map((n) => META + n),
  'io.k8s.apimachinery.pkg.api.resource.Quantity',
  'io.k8s.apimachinery.pkg.util.intstr.IntOrString',
  'io.k8s.apimachinery.pkg.runtime.RawExtension',
  'io.k8s.apimachinery.pkg.version.Info',
];
/** meta kinds that carry a GVK of their own in the core group (upstream lists every group) */
const META_KINDS = new Set(['Status', 'DeleteOptions', 'WatchEvent']);

/** definitions that are not objects on the wire */
const LEAF = {
  'io.k8s.apimachinery.pkg.api.resource.Quantity': {
    kind: 'quantity',
    // kubernetes-models has no JSDoc for Quantity; this is the start of upstream's description
    description:
      'Quantity is a fixed-point representation of a number. It provides convenient marshaling/unmarshaling in JSON and YAML, in addition to String() and AsInt64() accessors.\n\nThe serialization format is:\n\n``` <quantity>        ::= <signedNumber><suffix>\n\n\t(Note that <suffix> may be empty, from the "" case in <decimalSI>.)\n\n<digit>           ::= 0 | 1 | ... | 9 <digits>          ::= <digit> | <digit><digits> <number>          ::= <digits> | <digits>.<digits> | <digits>. | .<digits> <sign>            ::= "+" | "-" <signedNumber>    ::= <number> | <sign><number> <suffix>          ::= <binarySI> | <decimalExponent> | <decimalSI> <binarySI>        ::= Ki | Mi | Gi | Ti | Pi | Ei\n\n\t(International System of units; See: http://physics.nist.gov/cuu/Units/binary.html)\n\n<decimalSI>       ::= m | "" | k | M | G | T | P | E\n\n\t(Note that 1024 = 1Ki but 1000 = 1k; I didn\'t choose the capitalization.)\n\n<decimalExponent> ::= "e" <signedNumber> | "E" <signedNumber> ```\n\nNo matter which of the three exponent forms is used, no quantity may represent a number greater than 2^63-1 in magnitude, nor may it have more than 3 decimal places. Numbers larger or more precise will be capped or rounded up. (E.g.: 0.1m will rounded up to 1m.) This may be extended in the future if we require larger or smaller quantities.',
  },
  'io.k8s.apimachinery.pkg.util.intstr.IntOrString': { kind: 'int-or-string', format: 'int-or-string' },
  [META + 'Time']: { kind: 'time', format: 'date-time' },
  [META + 'MicroTime']: { kind: 'time', format: 'date-time' },
  [META + 'FieldsV1']: { kind: 'any' },
  [META + 'Patch']: { kind: 'any' },
  'io.k8s.apimachinery.pkg.runtime.RawExtension': { kind: 'any' },
};

// ---------------------------------------------------------------------------------------------
// Patch metadata, keyed by "<Go type>.<json field>" (core/v1 unless the type is a meta type).
// Values mirror upstream's struct tags / markers:
//   s = patchStrategy (x-kubernetes-patch-strategy), k = patchMergeKey (x-kubernetes-patch-merge-key)
//   t = +listType (x-kubernetes-list-type), m = +listMapKey (x-kubernetes-list-map-keys)
// Lists not named here have no strategy: a strategic merge patch replaces them whole.
const PATCH_META = {
  // PodSpec: containers are merged by name, volumes by name with retainKeys (a volume's
  // source is a union: switching emptyDir -> configMap must drop the old member)
  'PodSpec.containers': { s: 'merge', k: 'name', t: 'map', m: ['name'] },
  'PodSpec.initContainers': { s: 'merge', k: 'name', t: 'map', m: ['name'] },
  'PodSpec.ephemeralContainers': { s: 'merge', k: 'name', t: 'map', m: ['name'] },
  'PodSpec.volumes': { s: 'merge,retainKeys', k: 'name', t: 'map', m: ['name'] },
  'PodSpec.imagePullSecrets': { s: 'merge', k: 'name', t: 'map', m: ['name'] },
  'PodSpec.hostAliases': { s: 'merge', k: 'ip', t: 'map', m: ['ip'] },
  'PodSpec.topologySpreadConstraints': { s: 'merge', k: 'topologyKey', t: 'map', m: ['topologyKey', 'whenUnsatisfiable'] },
  'PodSpec.schedulingGates': { s: 'merge', k: 'name', t: 'map', m: ['name'] },
  'PodSpec.resourceClaims': { s: 'merge,retainKeys', k: 'name', t: 'map', m: ['name'] },
  'PodSpec.tolerations': { t: 'atomic' },
  'PodSpec.readinessGates': { t: 'atomic' },
  // Container / EphemeralContainer (EphemeralContainerCommon is inlined upstream)
  'Container.ports': { s: 'merge', k: 'containerPort', t: 'map', m: ['containerPort', 'protocol'] },
  'Container.env': { s: 'merge', k: 'name', t: 'map', m: ['name'] },
  'Container.volumeMounts': { s: 'merge', k: 'mountPath', t: 'map', m: ['mountPath'] },
  'Container.volumeDevices': { s: 'merge', k: 'devicePath', t: 'map', m: ['devicePath'] },
  'EphemeralContainer.ports': { s: 'merge', k: 'containerPort', t: 'map', m: ['containerPort', 'protocol'] },
  'EphemeralContainer.env': { s: 'merge', k: 'name', t: 'map', m: ['name'] },
  'EphemeralContainer.volumeMounts': { s: 'merge', k: 'mountPath', t: 'map', m: ['mountPath'] },
  'EphemeralContainer.volumeDevices': { s: 'merge', k: 'devicePath', t: 'map', m: ['devicePath'] },
  'ResourceRequirements.claims': { t: 'map', m: ['name'] },
  'ContainerRestartRuleOnExitCodes.values': { t: 'set' },
  // PodStatus: conditions by type; container statuses are atomic (no strategy)
  'PodStatus.conditions': { s: 'merge', k: 'type', t: 'map', m: ['type'] },
  'PodStatus.podIPs': { s: 'merge', k: 'ip', t: 'map', m: ['ip'] },
  'PodStatus.hostIPs': { s: 'merge', k: 'ip', t: 'atomic' },
  'PodStatus.resourceClaimStatuses': { s: 'merge,retainKeys', k: 'name', t: 'map', m: ['name'] },
  'PodStatus.initContainerStatuses': { t: 'atomic' },
  'PodStatus.containerStatuses': { t: 'atomic' },
  'PodStatus.ephemeralContainerStatuses': { t: 'atomic' },
  'ContainerStatus.volumeMounts': { s: 'merge', k: 'mountPath', t: 'map', m: ['mountPath'] },
  'ContainerStatus.allocatedResourcesStatus': { s: 'merge', k: 'name', t: 'map', m: ['name'] },
  'ResourceStatus.resources': { t: 'map', m: ['resourceID'] },
  // Node / Namespace
  'NodeSpec.podCIDRs': { s: 'merge', t: 'set' },
  'NodeSpec.taints': { t: 'atomic' },
  'NodeStatus.addresses': { s: 'merge', k: 'type', t: 'map', m: ['type'] },
  'NodeStatus.conditions': { s: 'merge', k: 'type', t: 'map', m: ['type'] },
  'NodeStatus.images': { t: 'atomic' },
  'NodeStatus.volumesInUse': { t: 'atomic' },
  'NodeStatus.volumesAttached': { t: 'atomic' },
  'NodeStatus.runtimeHandlers': { t: 'atomic' },
  'NamespaceStatus.conditions': { s: 'merge', k: 'type', t: 'map', m: ['type'] },
  'NamespaceSpec.finalizers': { t: 'atomic' },
  // meta/v1
  'ObjectMeta.finalizers': { s: 'merge', t: 'set' },
  'ObjectMeta.ownerReferences': { s: 'merge', k: 'uid', t: 'map', m: ['uid'] },
  'ObjectMeta.managedFields': { t: 'atomic' },
  'StatusDetails.causes': { t: 'atomic' },
  // named groups ("<package>:<Type>.<field>", io.k8s.api.<package>.v1.<Type>): from k8s.io/api
  // apps/v1, batch/v1, policy/v1 types.go
  'apps:DeploymentStatus.conditions': { s: 'merge', k: 'type', t: 'map', m: ['type'] },
  'apps:ReplicaSetStatus.conditions': { s: 'merge', k: 'type', t: 'map', m: ['type'] },
  'apps:StatefulSetStatus.conditions': { s: 'merge', k: 'type', t: 'map', m: ['type'] },
  'apps:DaemonSetStatus.conditions': { s: 'merge', k: 'type', t: 'map', m: ['type'] },
  'apps:StatefulSetSpec.volumeClaimTemplates': { t: 'atomic' },
  'batch:JobStatus.conditions': { s: 'merge', k: 'type', t: 'atomic' },
  'batch:CronJobStatus.active': { t: 'atomic' },
  'policy:PodDisruptionBudgetStatus.conditions': { s: 'merge', k: 'type', t: 'map', m: ['type'] },
  'ReplicationControllerStatus.conditions': { s: 'merge', k: 'type', t: 'map', m: ['type'] },
  'PersistentVolumeClaimStatus.conditions': { s: 'merge', k: 'type', t: 'map', m: ['type'] },
  'ServiceAccount.secrets': { s: 'merge', k: 'name', t: 'atomic' },
  'ServiceSpec.ports': { s: 'merge', k: 'port', t: 'map', m: ['port', 'protocol'] },
  'ServiceSpec.clusterIPs': { t: 'atomic' },
  'ServiceSpec.externalIPs': { t: 'atomic' },
  'ServiceSpec.ipFamilies': { t: 'atomic' },
  'ServiceSpec.loadBalancerSourceRanges': { t: 'atomic' },
  'ServiceStatus.conditions': { s: 'merge', k: 'type', t: 'map', m: ['type'] },
};
// Lists upstream marks +listType=atomic (no merge semantics), by type.
const ATOMIC = {
  Container: ['command', 'args', 'envFrom', 'resizePolicy', 'restartPolicyRules'],
  EphemeralContainer: ['command', 'args', 'envFrom', 'resizePolicy', 'restartPolicyRules'],
  PodSecurityContext: ['supplementalGroups', 'sysctls'],
  LinuxContainerUser: ['supplementalGroups'],
  PodDNSConfig: ['nameservers', 'searches', 'options'],
  HostAlias: ['hostnames'],
  Capabilities: ['add', 'drop'],
  ExecAction: ['command'],
  HTTPGetAction: ['httpHeaders'],
  NodeSelector: ['nodeSelectorTerms'],
  NodeSelectorTerm: ['matchExpressions', 'matchFields'],
  NodeSelectorRequirement: ['values'],
  NodeAffinity: ['preferredDuringSchedulingIgnoredDuringExecution'],
  PodAffinity: ['requiredDuringSchedulingIgnoredDuringExecution', 'preferredDuringSchedulingIgnoredDuringExecution'],
  PodAntiAffinity: ['requiredDuringSchedulingIgnoredDuringExecution', 'preferredDuringSchedulingIgnoredDuringExecution'],
  PodAffinityTerm: ['namespaces', 'matchLabelKeys', 'mismatchLabelKeys'],
  TopologySpreadConstraint: ['matchLabelKeys'],
  ProjectedVolumeSource: ['sources'],
  SecretVolumeSource: ['items'],
  SecretProjection: ['items'],
  ConfigMapVolumeSource: ['items'],
  ConfigMapProjection: ['items'],
  DownwardAPIVolumeSource: ['items'],
  DownwardAPIProjection: ['items'],
  RBDVolumeSource: ['monitors'],
  CephFSVolumeSource: ['monitors'],
  ISCSIVolumeSource: ['portals'],
  FCVolumeSource: ['targetWWNs', 'wwids'],
  ContainerImage: ['names'],
  'meta:LabelSelector': ['matchExpressions'],
  'meta:LabelSelectorRequirement': ['values'],
};
for (const [type, fields] of Object.entries(ATOMIC)) {
  for (const f of fields) PATCH_META[`${type}.${f}`] ??= { t: 'atomic' };
}

function patchMetaFor(defName, field) {
  const grouped = /^io\.k8s\.api\.([^.]+)\.v1\.([^.]+)$/.exec(defName);
  if (grouped && grouped[1] !== 'core') return PATCH_META[`${grouped[1]}:${grouped[2]}.${field}`];
  const short = defName.startsWith(CORE) ? defName.slice(CORE.length) : defName.startsWith(META) ? defName.slice(META.length) : null;
  if (!short) return undefined;
  return PATCH_META[`${short}.${field}`] ?? (defName.startsWith(META) ? PATCH_META[`meta:${short}.${field}`] : undefined);
}

// ---------------------------------------------------------------------------------------------
// Definition name <-> files.

/** package directory (relative) -> definition name prefix */
function prefixForDir(absDir) {
  if (absDir.startsWith(MACHINERY + path.sep) || absDir === MACHINERY) {
    const rel = path.relative(MACHINERY, absDir).split(path.sep).join('.');
    return `io.k8s.apimachinery.pkg.${rel}.`;
  }
  if (absDir.startsWith(MODELS + path.sep)) {
    const rel = path.relative(MODELS, absDir).split(path.sep);
    if (rel.length === 1 && rel[0] === 'v1') return CORE;
    if (rel.length === 2) return `io.k8s.api.${rel[0].replace(/\.k8s\.io$/, '').replace(/\.authorization$/, '')}.${rel[1]}.`;
  }
  throw new Error(`gen-schema: no definition prefix for ${absDir}`);
}

function fileForDef(name) {
  const i = name.lastIndexOf('.');
  const prefix = name.slice(0, i + 1);
  const base = name.slice(i + 1);
  if (prefix === CORE) return path.join(MODELS, 'v1', base + '.d.ts');
  if (prefix.startsWith('io.k8s.apimachinery.pkg.')) {
    const rel = prefix.slice('io.k8s.apimachinery.pkg.'.length, -1).split('.');
    return path.join(MACHINERY, ...rel, base + '.d.ts');
  }
  const m = /^io\.k8s\.api\.([^.]+)\.([^.]+)\.$/.exec(prefix);
  if (m) {
    for (const g of [m[1], `${m[1]}.k8s.io`, `${m[1]}.authorization.k8s.io`]) {
      const f = path.join(MODELS, g, m[2], base + '.d.ts');
      if (fs.existsSync(f)) return f;
    }
  }
  throw new Error(`gen-schema: no file for definition ${name}`);
}

/** io.k8s.api.core.v1.Pod -> .../_schemas/IoK8sApiCoreV1Pod.js */
function validatorFileForDef(name) {
  const id = name.split('.').map((p) => p.charAt(0).toUpperCase() + p.slice(1)).join('').replace(/-/g, '');
  const pkg = name.startsWith('io.k8s.apimachinery.') ? MACHINERY : MODELS;
  return path.join(pkg, '_schemas', id + '.js');
}

// ---------------------------------------------------------------------------------------------
// Formats from the ajv standalone validators. Each validator module is a flat list of
// `function validateN(data,...){...}`; the type's own validator calls one function per property
// (`void 0!==data.foo&&(validateN(data.foo,...`). The first `params:{format:"..."}` reachable
// from that property's function (following calls to functions of the same module) is the format.

function formatsFromValidator(file) {
  const out = new Map();
  if (!fs.existsSync(file)) return out;
  const src = fs.readFileSync(file, 'utf8');
  const entry = /export const validate=(validate\d+)/.exec(src)?.[1];
  const chunks = new Map();
  const re = /function (validate\d+)\(data,/g;
  const starts = [];
  for (let m; (m = re.exec(src)); ) starts.push([m[1], m.index]);
  starts.forEach(([fn, at], i) => chunks.set(fn, src.slice(at, i + 1 < starts.length ? starts[i + 1][1] : src.length)));
  const info = (fn, seen = new Set()) => {
    if (seen.has(fn) || !chunks.has(fn)) return undefined;
    seen.add(fn);
    const body = chunks.get(fn);
    const format = /params:\{format:"([^"]+)"\}/.exec(body)?.[1];
    const type = /params:\{type:"(integer|number)"\}/.exec(body)?.[1];
    if (format || type) return { format, type };
    const calls = [...body.matchAll(/\b(validate\d+)\(/g)].map((c) => c[1]).filter((c) => c !== fn);
    for (const c of calls) {
      const r = info(c, seen);
      if (r) return r;
    }
    return undefined;
  };
  const main = chunks.get(entry) ?? '';
  for (const m of main.matchAll(/void 0!==data(?:\.([A-Za-z_$][\w$]*)|\["([^"]+)"\])&&\((validate\d+)\(/g)) {
    const r = info(m[3]);
    if (r) out.set(m[1] ?? m[2], r);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// .d.ts parsing.

function jsDocText(node) {
  const docs = node.jsDoc;
  if (!docs?.length) return '';
  const c = docs[docs.length - 1].comment;
  const text = typeof c === 'string' ? c : ts.getTextOfJSDocComment(c) ?? '';
  // kubernetes-models escapes markdown asterisks; upstream descriptions do not.
  return text.replace(/\\\*/g, '*').replace(/\r/g, '').trim();
}

let formatMisses = 0;

function parseDefinition(name) {
  const file = fileForDef(name);
  const sf = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
  const imports = new Map(); // local identifier -> definition name
  let iface;
  let aliasDoc = '';
  const baseName = name.slice(name.lastIndexOf('.') + 1);
  for (const st of sf.statements) {
    if (ts.isImportDeclaration(st) && st.importClause?.namedBindings && ts.isNamedImports(st.importClause.namedBindings)) {
      const spec = st.moduleSpecifier.text;
      if (spec === '@kubernetes-models/base') continue;
      let target;
      if (spec.startsWith('.')) target = path.resolve(path.dirname(file), spec.replace(/\.js$/, ''));
      else if (spec.startsWith('@kubernetes-models/apimachinery/')) target = path.join(MACHINERY, spec.slice('@kubernetes-models/apimachinery/'.length));
      else throw new Error(`gen-schema: unexpected import ${spec} in ${file}`);
      const def = prefixForDir(path.dirname(target)) + path.basename(target);
      for (const el of st.importClause.namedBindings.elements) imports.set(el.name.text, def);
    } else if (ts.isInterfaceDeclaration(st) && st.name.text === 'I' + baseName) {
      iface = st;
    } else if (ts.isTypeAliasDeclaration(st) && st.name.text === 'I' + baseName) {
      aliasDoc = jsDocText(st);
    }
  }
  const leaf = LEAF[name];
  if (!iface || leaf) {
    const { description = '', ...rest } = leaf ?? { kind: 'any' };
    return { schema: { name, description: (iface ? jsDocText(iface) : aliasDoc) || description, fields: {}, required: [], ...rest }, refs: [] };
  }
  const formats = formatsFromValidator(validatorFileForDef(name));
  const refs = new Set();
  const isKind = iface.heritageClauses?.some((h) => h.types.some((t) => t.expression.getText(sf) === 'TypeMeta')) ?? false;

  const typeOf = (node, fieldName) => {
    switch (node.kind) {
      case ts.SyntaxKind.StringKeyword: {
        const f = formats.get(fieldName)?.format;
        return f && f !== 'int32' && f !== 'int64' ? { kind: 'string', format: f } : { kind: 'string' };
      }
      case ts.SyntaxKind.NumberKeyword: {
        const info = formats.get(fieldName);
        if (info?.type === 'number' || info?.format === 'double') return { kind: 'number', format: 'double' };
        if (!info?.format) formatMisses++;
        return { kind: 'integer', format: info?.format ?? 'int32' };
      }
      case ts.SyntaxKind.BooleanKeyword:
        return { kind: 'boolean' };
      case ts.SyntaxKind.AnyKeyword:
      case ts.SyntaxKind.UnknownKeyword:
      case ts.SyntaxKind.ObjectKeyword:
        return { kind: 'any' };
      case ts.SyntaxKind.LiteralType:
        return ts.isStringLiteral(node.literal) ? { kind: 'string' } : { kind: 'any' };
      case ts.SyntaxKind.ArrayType:
        return { kind: 'array', items: typeOf(node.elementType, fieldName) };
      case ts.SyntaxKind.ParenthesizedType:
        return typeOf(node.type, fieldName);
      case ts.SyntaxKind.UnionType: {
        const lits = node.types.filter((t) => ts.isLiteralTypeNode(t) && ts.isStringLiteral(t.literal));
        if (lits.length === node.types.length) return { kind: 'string', enum: lits.map((t) => t.literal.text) };
        const kinds = new Set(node.types.map((t) => t.kind));
        if (kinds.has(ts.SyntaxKind.StringKeyword) && kinds.has(ts.SyntaxKind.NumberKeyword)) return { kind: 'int-or-string' };
        return { kind: 'any' };
      }
      case ts.SyntaxKind.TypeLiteral: {
        const idx = node.members.find(ts.isIndexSignatureDeclaration);
        if (idx && node.members.length === 1) return { kind: 'map', items: typeOf(idx.type, fieldName) };
        return { kind: 'any' };
      }
      case ts.SyntaxKind.TypeReference: {
        const id = node.typeName.getText(sf);
        if (id === 'Array' && node.typeArguments?.length === 1) return { kind: 'array', items: typeOf(node.typeArguments[0], fieldName) };
        const def = imports.get(id);
        if (!def) throw new Error(`gen-schema: unresolved type ${id} in ${file}`);
        refs.add(def);
        const lf = LEAF[def];
        if (lf) return { kind: lf.kind, ref: def, ...(lf.format && lf.kind !== 'int-or-string' ? { format: lf.format } : {}) };
        return { kind: 'object', ref: def };
      }
      default:
        throw new Error(`gen-schema: unsupported type ${ts.SyntaxKind[node.kind]} (${node.getText(sf)}) in ${file}`);
    }
  };

  const fields = {};
  const required = [];
  const members = [...iface.members].filter(ts.isPropertySignature);
  for (const m of members) {
    const fname = m.name.text ?? m.name.getText(sf);
    const fs_ = typeOf(m.type, fname);
    let description = jsDocText(m);
    if (isKind && (fname === 'apiVersion' || fname === 'kind')) {
      // kubernetes-models pins these to literals and marks them required; upstream they are
      // optional strings with the standard TypeMeta docs.
      fs_.kind = 'string';
      delete fs_.enum;
      description = description || TYPEMETA_DOCS[fname];
    } else if (!m.questionToken) {
      required.push(fname);
    }
    if (description) fs_.description = description;
    const pm = patchMetaFor(name, fname);
    if (pm) {
      if (fs_.kind !== 'array') throw new Error(`gen-schema: patch metadata for non-list ${name}.${fname}`);
      if (pm.k) fs_.patchMergeKey = pm.k;
      if (pm.s) fs_.patchStrategy = pm.s;
      if (pm.t) fs_.listType = pm.t;
      if (pm.m) fs_.listMapKeys = pm.m;
    }
    fields[fname] = fs_;
  }
  const schema = { name, description: jsDocText(iface), fields: sortKeys(fields), required: required.sort() };
  const gvkKind = name.startsWith(CORE) && isKind ? baseName : name.startsWith(META) && META_KINDS.has(baseName) ? baseName : undefined;
  if (gvkKind) schema.gvk = { group: '', version: 'v1', kind: gvkKind };
  else if (isKind && file.startsWith(MODELS + path.sep)) {
    // kubernetes-models/<group>/<version>/<Kind>.d.ts: the directory is the API group's name
    const [group, version] = path.relative(MODELS, file).split(path.sep);
    schema.gvk = { group, version, kind: baseName };
  }
  return { schema, refs: [...refs] };
}

const TYPEMETA_DOCS = {
  apiVersion:
    'APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources',
  kind:
    'Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds',
};

function sortKeys(o) {
  return Object.fromEntries(Object.keys(o).sort().map((k) => [k, o[k]]));
}

// ---------------------------------------------------------------------------------------------

const started = Date.now();
const set = {};
const queue = [...ROOTS];
while (queue.length) {
  const name = queue.shift();
  if (set[name]) continue;
  const { schema, refs } = parseDefinition(name);
  set[name] = schema;
  for (const r of refs) if (!set[r]) queue.push(r);
}
// every patch-metadata key must have matched a generated field (catches typos and renames)
const used = new Set();
for (const s of Object.values(set)) for (const [f, fs_] of Object.entries(s.fields)) if (fs_.listType || fs_.patchStrategy) used.add(`${s.name}.${f}`);
const stale = Object.keys(PATCH_META).filter((k) => {
  const g = /^(\w+):(\w+)\.(\w+)$/.exec(k);
  if (g && g[1] !== 'meta') return !used.has(`io.k8s.api.${g[1]}.v1.${g[2]}.${g[3]}`);
  const [t, f] = k.replace(/^meta:/, '').split('.');
  return (set[CORE + t] || set[META + t]) && !used.has(`${set[CORE + t] ? CORE : META}${t}.${f}`);
});
if (stale.length) throw new Error(`gen-schema: patch metadata for unknown fields: ${stale.join(', ')}`);

const sorted = sortKeys(set);
fs.mkdirSync(path.dirname(OUT), { recursive: true });
const text = JSON.stringify(sorted) + '\n';
if (!fs.existsSync(OUT) || fs.readFileSync(OUT, 'utf8') !== text) fs.writeFileSync(OUT, text);
console.log(
  `gen-schema: ${Object.keys(sorted).length} definitions -> ${path.relative(ROOT, OUT)} (${(text.length / 1024).toFixed(0)} KiB, ${Date.now() - started} ms${formatMisses ? `, ${formatMisses} integer fields without a validator format (int32 assumed)` : ''})`,
);
