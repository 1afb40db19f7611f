/**
 * Validation for the small core kinds: Namespace, ConfigMap, Secret, Event, Node.
 */
import {
  type Obj,
  type ValidationError,
  arr,
  duplicate,
  forbidden,
  invalid,
  isObj,
  key,
  notSupported,
  obj,
  required,
  semanticEqual,
  str,
  tooLong,
} from './field.js';
import { FIELD_IMMUTABLE, validateFinalizerName, validateKubeFinalizerName, validateObjectMeta, validateObjectMetaUpdate } from './meta.js';
import { isConfigMapKey, isDNS1123Subdomain, isQualifiedName, isValidCIDR, isValidLabelValue, ipFamily } from './names.js';
import { QUANTITY_REGEX_MESSAGE, parseQuantity } from './quantity.js';
import { isExtendedResourceName } from './resources.js';

/** core.MaxSecretSize, also the ConfigMap limit. */
export const MAX_SECRET_SIZE = 1024 * 1024;

// ---------------------------------------------------------------- Namespace

export function validateNamespace(ns: Obj): ValidationError[] {
  const errs = validateObjectMeta(ns.metadata, false, 'dns1123-label');
  for (const f of arr(obj(ns.spec).finalizers).map(str)) {
    errs.push(...validateFinalizerName(f, 'spec.finalizers'), ...validateKubeFinalizerName(f, 'spec.finalizers'));
  }
  return errs;
}

export function validateNamespaceUpdate(n: Obj, o: Obj): ValidationError[] {
  return validateObjectMetaUpdate(n.metadata, o.metadata);
}

export function validateNamespaceStatusUpdate(n: Obj, o: Obj): ValidationError[] {
  const errs = validateObjectMetaUpdate(n.metadata, o.metadata);
  const phase = str(obj(n.status).phase);
  if (!obj(n.metadata).deletionTimestamp) {
    if (phase !== 'Active') errs.push(invalid('status.Phase', phase, "may only be 'Active' if `deletionTimestamp` is empty"));
  } else if (phase !== 'Terminating') {
    errs.push(invalid('status.Phase', phase, "may only be 'Terminating' if `deletionTimestamp` is not empty"));
  }
  return errs;
}

// ---------------------------------------------------------------- ConfigMap

export function validateConfigMap(cm: Obj): ValidationError[] {
  const errs = validateObjectMeta(cm.metadata, true, 'dns1123-subdomain');
  const data = obj(cm.data);
  const binaryData = obj(cm.binaryData);
  let total = 0;
  for (const [k, v] of Object.entries(data)) {
    errs.push(...isConfigMapKey(k).map((m) => invalid(key('data', k), k, m)));
    if (k in binaryData) errs.push(invalid(key('data', k), k, 'duplicate of key present in binaryData'));
    total += Buffer.byteLength(str(v));
  }
  for (const [k, v] of Object.entries(binaryData)) {
    errs.push(...isConfigMapKey(k).map((m) => invalid(key('binaryData', k), k, m)));
    const decoded = decodeBase64(str(v));
    if (decoded.error) errs.push(invalid(key('binaryData', k), '<binary contents redacted>', decoded.error));
    total += decoded.length;
  }
  // upstream passes field.NewPath(""), which prints as "[]": the error is about the whole object
  // (`ConfigMap "x" is invalid: []: Too long: must have at most 1048576 bytes`)
  if (total > MAX_SECRET_SIZE) errs.push(tooLong('[]', MAX_SECRET_SIZE));
  return errs;
}

function immutableWhenSet(n: Obj, o: Obj, fields: string[]): ValidationError[] {
  if (o.immutable !== true) return [];
  const errs: ValidationError[] = [];
  if (n.immutable !== true) errs.push(forbidden('immutable', 'field is immutable when `immutable` is set'));
  for (const f of fields) {
    if (!semanticEqual(n[f], o[f])) errs.push(forbidden(f, 'field is immutable when `immutable` is set'));
  }
  return errs;
}

export function validateConfigMapUpdate(n: Obj, o: Obj): ValidationError[] {
  return [
    ...validateObjectMetaUpdate(n.metadata, o.metadata),
    ...immutableWhenSet(n, o, ['data', 'binaryData']),
    ...validateConfigMap(n),
  ];
}

// ---------------------------------------------------------------- Secret

/**
 * Go's base64.StdEncoding: padded standard alphabet, newlines ignored. Returns the decoded size or
 * the decoder's error text ("illegal base64 data at input byte N").
 */
export function decodeBase64(s: string): { length: number; error?: string } {
  const clean = s.replace(/[\r\n]/g, '');
  const bad = clean.search(/[^A-Za-z0-9+/=]/);
  if (bad >= 0) return { length: 0, error: `illegal base64 data at input byte ${bad}` };
  const eq = clean.indexOf('=');
  if (clean.length % 4 !== 0 || (eq >= 0 && (eq < clean.length - 2 || !/^=*$/.test(clean.slice(eq))))) {
    const at = eq >= 0 && eq < clean.length - 2 ? eq : Math.floor(clean.length / 4) * 4;
    return { length: 0, error: `illegal base64 data at input byte ${at}` };
  }
  return { length: Buffer.from(clean, 'base64').length };
}

const SECRET_REQUIRED_KEYS: Record<string, string[]> = {
  'kubernetes.io/dockercfg': ['.dockercfg'],
  'kubernetes.io/dockerconfigjson': ['.dockerconfigjson'],
  'kubernetes.io/tls': ['tls.crt', 'tls.key'],
};

export function validateSecret(secret: Obj): ValidationError[] {
  const errs = validateObjectMeta(secret.metadata, true, 'dns1123-subdomain');
  const data = obj(secret.data);
  let total = 0;
  for (const [k, v] of Object.entries(data)) {
    errs.push(...isConfigMapKey(k).map((m) => invalid(key('data', k), k, m)));
    const decoded = decodeBase64(str(v));
    // upstream: a decode error of the request body (400); podbay reports it per key
    if (decoded.error) errs.push(invalid(key('data', k), '<secret contents redacted>', decoded.error));
    total += decoded.length;
  }
  if (total > MAX_SECRET_SIZE) errs.push(tooLong('data', MAX_SECRET_SIZE));

  const type = str(secret.type);
  switch (type) {
    case 'kubernetes.io/service-account-token':
      if (!str(obj(obj(secret.metadata).annotations)['kubernetes.io/service-account.name'])) {
        errs.push(required(key('metadata.annotations', 'kubernetes.io/service-account.name')));
      }
      break;
    case 'kubernetes.io/dockercfg':
    case 'kubernetes.io/dockerconfigjson': {
      const k = SECRET_REQUIRED_KEYS[type][0];
      if (!(k in data)) {
        errs.push(required(key('data', k)));
        break;
      }
      try {
        const parsed = JSON.parse(Buffer.from(str(data[k]), 'base64').toString('utf8'));
        if (!isObj(parsed)) throw new Error('json: cannot unmarshal into Go value of type map[string]interface {}');
      } catch (e) {
        errs.push(invalid(key('data', k), '<secret contents redacted>', (e as Error).message));
      }
      break;
    }
    case 'kubernetes.io/basic-auth':
      if (!('username' in data) && !('password' in data)) {
        errs.push(required(key('data', 'username')), required(key('data', 'password')));
      }
      break;
    case 'kubernetes.io/ssh-auth':
      if (!str(data['ssh-privatekey'])) errs.push(required(key('data', 'ssh-privatekey')));
      break;
    case 'kubernetes.io/tls':
      for (const k of SECRET_REQUIRED_KEYS[type]) if (!(k in data)) errs.push(required(key('data', k)));
      break;
  }
  return errs;
}

export function validateSecretUpdate(n: Obj, o: Obj): ValidationError[] {
  const errs = validateObjectMetaUpdate(n.metadata, o.metadata);
  if (str(n.type) !== str(o.type)) errs.push(invalid('type', str(n.type), FIELD_IMMUTABLE));
  errs.push(...immutableWhenSet(n, o, ['data']));
  errs.push(...validateSecret(n));
  return errs;
}

// ---------------------------------------------------------------- Event (core/v1 rules)

/** legacyValidateEvent: the only validation core/v1 Events get upstream. */
export function validateEvent(ev: Obj): ValidationError[] {
  const errs: ValidationError[] = [];
  const meta = obj(ev.metadata);
  const namespace = str(meta.namespace);
  const involved = obj(ev.involvedObject);
  const involvedNs = str(involved.namespace);
  // podbay: a stored object needs a name; upstream's store enforces that elsewhere
  if (!str(meta.name) && !str(meta.generateName)) errs.push(required('metadata.name', 'name or generateName is required'));
  if (!ev.eventTime) {
    if (!involvedNs) {
      if (namespace !== '' && namespace !== 'default') errs.push(invalid('involvedObject.namespace', involvedNs, 'does not match event.namespace'));
    } else if (namespace !== involvedNs) {
      errs.push(invalid('involvedObject.namespace', involvedNs, 'does not match event.namespace'));
    }
  } else {
    if (!involvedNs && namespace !== 'default' && namespace !== 'kube-system') {
      errs.push(invalid('involvedObject.namespace', involvedNs, 'does not match event.namespace'));
    }
    const rc = str(ev.reportingComponent ?? ev.reportingController);
    if (!rc) errs.push(required('reportingController'));
    errs.push(...isQualifiedName(rc).map((m) => invalid('reportingController', rc, m)));
    const limits: Array<[string, string, number, boolean]> = [
      ['reportingInstance', str(ev.reportingInstance), 128, true],
      ['action', str(ev.action), 128, true],
      ['reason', str(ev.reason), 128, true],
      ['message', str(ev.message), 1024, false],
    ];
    for (const [f, v, max, req] of limits) {
      if (req && !v) errs.push(required(f));
      if (v.length > max) errs.push(invalid(f, '', `can have at most ${max} characters`));
    }
  }
  errs.push(...isDNS1123Subdomain(namespace).map((m) => invalid('namespace', namespace, m)));
  return errs;
}

export function validateEventUpdate(n: Obj, _o: Obj): ValidationError[] {
  return validateEvent(n);
}

// ---------------------------------------------------------------- Node

const TAINT_EFFECTS = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'];

function validateNodeTaints(taints: unknown, fldPath: string): ValidationError[] {
  const errs: ValidationError[] = [];
  const unique = new Map<string, Set<string>>();
  arr(taints).map(obj).forEach((t, i) => {
    const idx = `${fldPath}[${i}]`;
    errs.push(...isQualifiedName(str(t.key)).map((m) => invalid(`${idx}.key`, str(t.key), m)));
    const vm = isValidLabelValue(str(t.value));
    if (vm.length) errs.push(invalid(`${idx}.value`, str(t.value), vm.join(';')));
    const effect = str(t.effect);
    if (!effect) errs.push(required(`${idx}.effect`));
    else if (!TAINT_EFFECTS.includes(effect)) errs.push(notSupported(`${idx}.effect`, effect, TAINT_EFFECTS));
    const keys = unique.get(effect) ?? new Set<string>();
    if (keys.has(str(t.key))) {
      errs.push({ ...duplicate(idx, t), detail: 'taints must be unique by key and effect pair' });
      return;
    }
    keys.add(str(t.key));
    unique.set(effect, keys);
  });
  return errs;
}

function validateNodeResources(node: Obj): ValidationError[] {
  const errs: ValidationError[] = [];
  for (const list of ['capacity', 'allocatable']) {
    for (const [name, raw] of Object.entries(obj(obj(node.status)[list]))) {
      const p = `status.${list}.${name}`;
      const q = parseQuantity(raw);
      if (!q) errs.push(invalid(p, raw, QUANTITY_REGEX_MESSAGE));
      else if (q.num < 0n) errs.push(invalid(p, raw, 'must be greater than or equal to 0'));
      else if (isExtendedResourceName(name) && q.num % q.den !== 0n) errs.push(invalid(p, raw, 'must be an integer'));
    }
  }
  return errs;
}

export function validateNode(node: Obj): ValidationError[] {
  const errs = validateObjectMeta(node.metadata, false, 'dns1123-subdomain');
  const spec = obj(node.spec);
  // sic: upstream reports spec.taints problems under `metadata.taints`
  errs.push(...validateNodeTaints(spec.taints, 'metadata.taints'));
  errs.push(...validateNodeResources(node));
  const cidrs = arr(spec.podCIDRs).map(str);
  cidrs.forEach((c, i) => {
    if (!isValidCIDR(c)) errs.push(invalid(`spec.podCIDRs[${i}]`, c, 'must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)'));
  });
  if (cidrs.length > 1) {
    const fams = cidrs.map((c) => ipFamily(c.split('/')[0]));
    if (!(fams.includes(4) && fams.includes(6)) || cidrs.length > 2) {
      errs.push(invalid('spec.podCIDRs', cidrs, 'may specify no more than one CIDR for each IP family'));
    }
    const seen = new Set<string>();
    cidrs.forEach((c, i) => {
      if (seen.has(c)) errs.push(duplicate(`spec.podCIDRs[${i}]`, c));
      seen.add(c);
    });
  }
  return errs;
}

export function validateNodeUpdate(node: Obj, old: Obj): ValidationError[] {
  const errs = validateObjectMetaUpdate(node.metadata, old.metadata);
  errs.push(...validateNodeResources(node));
  const seen = new Set<string>();
  arr(obj(node.status).addresses).forEach((a, i) => {
    const k = JSON.stringify([str(obj(a).type), str(obj(a).address)]);
    if (seen.has(k)) errs.push(duplicate(`status.addresses[${i}]`, a));
    seen.add(k);
  });
  const spec = obj(node.spec);
  const oldSpec = obj(old.spec);
  const oldCidrs = arr(oldSpec.podCIDRs);
  if (oldCidrs.length > 0 && !semanticEqual(arr(spec.podCIDRs), oldCidrs)) {
    errs.push(forbidden('spec.podCIDRs', 'node updates may not change podCIDR except from "" to valid'));
  }
  if (str(oldSpec.providerID) && oldSpec.providerID !== spec.providerID) {
    errs.push(forbidden('spec.providerID', 'node updates may not change providerID except from "" to valid'));
  }
  errs.push(...validateNodeTaints(spec.taints, 'metadata.taints'));
  if (str(spec.externalID) !== str(oldSpec.externalID)) errs.push(forbidden('spec.externalID', 'may not be updated'));
  return errs;
}
