/**
 * Validation of a Service, after kube-apiserver's ValidateService (pkg/apis/core/validation):
 * type, ports (numbers, protocols, names, target ports), selector, externalName, and
 * clusterIP/clusterIPs/ipFamilies/ipFamilyPolicy as the type allows them (no "None" for NodePort
 * and LoadBalancer, none of them for ExternalName); on update a cluster IP may not change unless
 * the Service is or becomes ExternalName, nor a Local LoadBalancer's healthCheckNodePort.
 * Defaulted first (../defaults/service.ts), and clusterIPs filled from clusterIP by the registry's
 * strategy (src/registry/strategy/service.ts) as kube's normalizeClusterIPs does.
 */
import { type Obj, type ValidationError, arr, duplicate, forbidden, invalid, isObj, notSupported, obj, required, str } from './field.js';
import { validateLabels, validateObjectMeta, validateObjectMetaUpdate } from './meta.js';
import { INVALID_IP_MESSAGE, ipFamily, isDNS1123Label, isDNS1123Subdomain, isInRange, isValidPortName, isValidPortNum } from './names.js';

type Errs = ValidationError[];

const TYPES = ['ClusterIP', 'ExternalName', 'LoadBalancer', 'NodePort'];
const PROTOCOLS = ['SCTP', 'TCP', 'UDP'];
const IP_FAMILIES = ['IPv4', 'IPv6'];
const IP_FAMILY_POLICIES = ['PreferDualStack', 'RequireDualStack', 'SingleStack'];

function validatePort(p: Obj, i: number, requireName: boolean, names: Set<string>): Errs {
  const f = `spec.ports[${i}]`;
  const errs: Errs = [];
  const name = str(p.name);
  if (requireName && !name) errs.push(required(`${f}.name`));
  else if (name) {
    errs.push(...isDNS1123Label(name).map((m) => invalid(`${f}.name`, name, m)));
    if (names.has(name)) errs.push(duplicate(`${f}.name`, name));
    names.add(name);
  }
  errs.push(...isValidPortNum(Number(p.port)).map((m) => invalid(`${f}.port`, p.port ?? 0, m)));
  if (!PROTOCOLS.includes(str(p.protocol))) errs.push(notSupported(`${f}.protocol`, p.protocol, PROTOCOLS));
  const tp = p.targetPort;
  if (typeof tp === 'number') errs.push(...isValidPortNum(tp).map((m) => invalid(`${f}.targetPort`, tp, m)));
  else if (typeof tp === 'string') errs.push(...isValidPortName(tp).map((m) => invalid(`${f}.targetPort`, tp, m)));
  if (p.nodePort != null && p.nodePort !== 0) {
    errs.push(...isInRange(Number(p.nodePort), 1, 65535).map((m) => invalid(`${f}.nodePort`, p.nodePort, m)));
  }
  return errs;
}

/** Go's %#v of a []string (field.Error prints a slice value that way) */
function goStrings(a: string[]): string {
  return `[]string{${a.map((x) => JSON.stringify(x)).join(', ')}}`;
}

function invalidIPs(field: string, ips: string[], detail: string): ValidationError {
  return { type: 'FieldValueInvalid', field, value: ips, rawValue: goStrings(ips), detail };
}

function clusterIPsOf(s: Obj): string[] {
  return arr(s.clusterIPs).map(str);
}

/** upstream isHeadlessService: clusterIPs is exactly ["None"] (the strategy fills clusterIPs from clusterIP first) */
function isHeadless(s: Obj): boolean {
  const ips = clusterIPsOf(s);
  return ips.length === 1 && ips[0] === 'None';
}

/**
 * ValidateServiceClusterIPsRelatedFields: clusterIP and clusterIPs agree, each is an IP (or a
 * lone "None"), at most one per family, and the families are known.
 */
function validateClusterIPsRelatedFields(s: Obj): Errs {
  if (s.type === 'ExternalName') return []; // all must be unset, checked by type
  const errs: Errs = [];
  const ip = str(s.clusterIP);
  const ips = clusterIPsOf(s);
  if (ip) {
    if (ips.length === 0) errs.push(required('spec.clusterIPs'));
    else if (ips[0] !== ip) errs.push(invalidIPs('spec.clusterIPs', ips, 'first value must match `clusterIP`'));
  } else if (ips.length) {
    errs.push(invalidIPs('spec.clusterIPs', ips, 'must be empty when `clusterIP` is not specified'));
  }
  const seen = new Set<unknown>();
  arr(s.ipFamilies).forEach((f, i) => {
    if (!IP_FAMILIES.includes(f)) errs.push(notSupported(`spec.ipFamilies[${i}]`, f, IP_FAMILIES));
    if (seen.has(f)) errs.push(duplicate(`spec.ipFamilies[${i}]`, f));
    seen.add(f);
  });
  if (s.ipFamilyPolicy != null && !IP_FAMILY_POLICIES.includes(s.ipFamilyPolicy)) {
    errs.push(notSupported('spec.ipFamilyPolicy', s.ipFamilyPolicy, IP_FAMILY_POLICIES));
  }
  let badIP = false;
  ips.forEach((v, i) => {
    if (i === 0 && v === 'None') {
      if (ips.length > 1) {
        badIP = true;
        errs.push(invalidIPs('spec.clusterIPs', ips, "'None' must be the first and only value"));
      }
      return;
    }
    if (!ipFamily(v)) {
      badIP = true;
      errs.push(invalid(`spec.clusterIPs[${i}]`, v, INVALID_IP_MESSAGE));
    }
  });
  if (ips.length > 2) errs.push(invalidIPs('spec.clusterIPs', ips, 'may only hold up to 2 values'));
  if (badIP) return errs;
  if (ips.length > 1 && new Set(ips.map(ipFamily)).size !== ips.length) {
    errs.push(invalidIPs('spec.clusterIPs', ips, 'may specify no more than one IP for each IP family'));
  }
  if (!isHeadless(s)) {
    const families = arr(s.ipFamilies);
    ips.forEach((v, i) => {
      if (i >= families.length) return;
      if (families[i] === 'IPv4' && ipFamily(v) === 6) errs.push(invalid(`spec.clusterIPs[${i}]`, v, `expected an IPv4 value as indicated by \`ipFamilies[${i}]\``));
      if (families[i] === 'IPv6' && ipFamily(v) !== 6) errs.push(invalid(`spec.clusterIPs[${i}]`, v, `expected an IPv6 value as indicated by \`ipFamilies[${i}]\``));
    });
  }
  return errs;
}

/** ValidateService, in upstream's order (the checks podbay makes) */
export function validateService(svc: Obj): Errs {
  const errs = validateObjectMeta(svc.metadata, true, 'dns1035-label');
  const s = obj(svc.spec);
  const type = str(s.type);
  const ports = arr(s.ports);
  if (ports.length === 0 && !isHeadless(s) && type !== 'ExternalName') errs.push(required('spec.ports'));
  switch (type) {
    case 'LoadBalancer':
    case 'NodePort':
      if (isHeadless(s)) errs.push(invalid('spec.clusterIPs[0]', 'None', `may not be set to 'None' for ${type} services`));
      break;
    case 'ExternalName': {
      if (clusterIPsOf(s).length) errs.push(forbidden('spec.clusterIPs', 'may not be set for ExternalName services'));
      if (arr(s.ipFamilies).length) errs.push(forbidden('spec.ipFamilies', 'may not be set for ExternalName services'));
      if (s.ipFamilyPolicy != null) errs.push(forbidden('spec.ipFamilyPolicy', 'may not be set for ExternalName services'));
      const en = str(s.externalName).replace(/\.$/, '');
      if (!en) errs.push(required('spec.externalName'));
      else errs.push(...isDNS1123Subdomain(en).map((m) => invalid('spec.externalName', en, m)));
      break;
    }
  }
  const names = new Set<string>();
  ports.forEach((p, i) => errs.push(...validatePort(obj(p), i, ports.length > 1, names)));
  errs.push(...validateLabels(s.selector, 'spec.selector'));
  const sa = str(s.sessionAffinity);
  if (!['ClientIP', 'None'].includes(sa)) errs.push(notSupported('spec.sessionAffinity', s.sessionAffinity, ['ClientIP', 'None']));
  if (isObj(s.sessionAffinityConfig) && sa === 'None') {
    errs.push(invalid('spec.sessionAffinityConfig', s.sessionAffinityConfig, 'must not be set when session affinity is None'));
  }
  errs.push(...validateClusterIPsRelatedFields(s));
  arr(s.externalIPs).forEach((e, i) => {
    if (!ipFamily(str(e))) errs.push(invalid(`spec.externalIPs[${i}]`, e, INVALID_IP_MESSAGE));
  });
  if (!TYPES.includes(type)) errs.push(notSupported('spec.type', s.type, TYPES));
  if (type === 'ClusterIP') {
    ports.forEach((p, i) => {
      if (obj(p).nodePort) errs.push(forbidden(`spec.ports[${i}].nodePort`, 'may not be used when `type` is \'ClusterIP\''));
    });
  }
  return errs;
}

/**
 * validateUpgradeDowngradeClusterIPs: a cluster IP may not change once set (a secondary one may
 * be added or released), unless the Service is or becomes ExternalName.
 */
function validateClusterIPsUpdate(s: Obj, was: Obj): Errs {
  if (s.type === 'ExternalName' || was.type === 'ExternalName') return [];
  if (isHeadless(s) && isHeadless(was)) return [];
  const ips = clusterIPsOf(s);
  const old = clusterIPsOf(was);
  const errs: Errs = [];
  if (old.length === ips.length) {
    old.forEach((v, i) => {
      if (v !== ips[i]) errs.push(invalidIPs(`spec.clusterIPs[${i}]`, ips, 'may not change once set'));
    });
  } else if (old.length > ips.length) {
    if (ips.length === 0) errs.push(invalidIPs('spec.clusterIPs[0]', ips, 'primary clusterIP can not be unset'));
    if (ips.length > 0 && ips[0] !== old[0]) errs.push(invalidIPs('spec.clusterIPs[0]', ips, 'may not change once set'));
    if (ips.length === 1 && s.ipFamilyPolicy !== 'SingleStack') {
      errs.push(invalid('spec.ipFamilyPolicy', s.ipFamilyPolicy ?? null, "must be set to 'SingleStack' when releasing the secondary clusterIP"));
    }
  } else if (old.length > 0 && ips[0] !== old[0]) {
    errs.push(invalidIPs('spec.clusterIPs[0]', ips, 'may not change once set'));
  }
  return errs;
}

const needsHealthCheck = (s: Obj) => s.type === 'LoadBalancer' && s.externalTrafficPolicy === 'Local';

export function validateServiceUpdate(n: Obj, o: Obj): Errs {
  const { metadata: _m, ...rest } = n;
  void _m;
  const s = obj(n.spec);
  const was = obj(o.spec);
  const errs = [...validateObjectMetaUpdate(n.metadata, o.metadata), ...validateClusterIPsUpdate(s, was)];
  // validateServiceExternalTrafficFieldsUpdate
  if (needsHealthCheck(was) && needsHealthCheck(s) && s.healthCheckNodePort !== was.healthCheckNodePort) {
    errs.push(forbidden('spec.healthCheckNodePort', 'field is immutable'));
  }
  errs.push(...validateService({ ...rest, metadata: { name: 'x', namespace: 'x' } }));
  return errs;
}
