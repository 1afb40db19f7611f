/**
 * networking.k8s.io/v1 Ingress and IngressClass, after kube-apiserver's
 * pkg/apis/networking/validation (ValidateIngressCreate, ValidateIngressSpec,
 * validateIngressBackend, validateHTTPIngressPath, ValidateIngressClass): either a default
 * backend or rules; hosts are DNS subdomains (a leading "*." wildcard allowed, never an IP);
 * every path has a pathType (Exact, Prefix, ImplementationSpecific), Exact and Prefix paths are
 * absolute and clean; a backend is a service (name and exactly one of port name/number) or a
 * typed resource reference, never both; an IngressClass names a domain-prefixed controller
 * that never changes.
 */
import { isIP } from 'node:net';
import { type Obj, type ValidationError, arr, forbidden, invalid, isObj, notSupported, required, str, tooLong } from './field.js';
import { validateObjectMeta, validateObjectMetaUpdate, FIELD_IMMUTABLE } from './meta.js';
import { isDNS1035Label, isDNS1123Subdomain, isValidPortName, isValidPortNum, regexError, validateName } from './names.js';

type Errs = ValidationError[];

export const PATH_TYPES = ['Exact', 'ImplementationSpecific', 'Prefix'];
/** the annotation kubectl and older controllers used before spec.ingressClassName */
export const INGRESS_CLASS_ANNOTATION = 'kubernetes.io/ingress.class';
const INVALID_PATH_SEQUENCES = ['//', '/./', '/../', '%2f', '%2F'];
const INVALID_PATH_SUFFIXES = ['/..', '/.'];
const WILDCARD_FMT = '\\*\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*';
const WILDCARD_RE = new RegExp(`^${WILDCARD_FMT}$`);
const MAX_CONTROLLER_LEN = 250;

/** IsWildcardDNS1123Subdomain */
export function isWildcardDNS1123Subdomain(value: string): string[] {
  const errs: string[] = [];
  if (value.length > 253) errs.push('must be no more than 253 characters');
  if (!WILDCARD_RE.test(value)) {
    errs.push(
      regexError(
        "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character",
        WILDCARD_FMT,
        '*.example.com',
      ),
    );
  }
  return errs;
}

function hostErrors(host: string, f: string): Errs {
  if (host.includes('*')) return isWildcardDNS1123Subdomain(host).map((m) => invalid(f, host, m));
  return isDNS1123Subdomain(host).map((m) => invalid(f, host, m));
}

/** IsValidPathSegmentName: no "." or "..", no '/' or '%' */
function pathSegmentErrors(name: string): string[] {
  if (name === '.' || name === '..') return [`may not be '${name}'`];
  const bad = ['/', '%'].filter((c) => name.includes(c));
  return bad.map((c) => `may not contain '${c}'`);
}

function validateTypedRef(ref: Obj, f: string): Errs {
  const errs: Errs = [];
  if (ref.apiGroup != null) errs.push(...isDNS1123Subdomain(str(ref.apiGroup)).map((m) => invalid(`${f}.apiGroup`, ref.apiGroup, m)));
  for (const field of ['kind', 'name'] as const) {
    const v = str(ref[field]);
    if (!v) errs.push(required(`${f}.${field}`, `${field} is required`));
    else errs.push(...pathSegmentErrors(v).map((m) => invalid(`${f}.${field}`, v, m)));
  }
  return errs;
}

export function validateIngressBackend(b: Obj, f: string): Errs {
  const hasResource = isObj(b.resource);
  const hasService = isObj(b.service);
  if (hasResource && hasService) return [invalid(f, '', 'cannot set both resource and service backends')];
  if (hasResource) return validateTypedRef(b.resource, `${f}.resource`);
  if (!hasService) return [invalid(f, '', 'resource or service backend is required')];
  const errs: Errs = [];
  const svc = b.service as Obj;
  const name = str(svc.name);
  if (!name) errs.push(required(`${f}.service.name`, ''));
  else errs.push(...isDNS1035Label(name).map((m) => invalid(`${f}.service.name`, name, m)));
  const port = isObj(svc.port) ? svc.port : {};
  const portName = str(port.name);
  const portNumber = typeof port.number === 'number' ? port.number : 0;
  if (portName && portNumber) errs.push(invalid(f, '', 'cannot set both port name & port number'));
  else if (portName) errs.push(...isValidPortName(portName).map((m) => invalid(`${f}.service.port.name`, portName, m)));
  else if (portNumber) errs.push(...isValidPortNum(portNumber).map((m) => invalid(`${f}.service.port.number`, portNumber, m)));
  else errs.push(required(f, 'port name or number is required'));
  return errs;
}

function validatePath(p: Obj, f: string): Errs {
  const errs: Errs = [];
  const path = str(p.path);
  if (p.pathType == null || p.pathType === '') {
    errs.push(required(`${f}.pathType`, 'pathType must be specified'));
    return errs;
  }
  switch (p.pathType) {
    case 'Exact':
    case 'Prefix':
      if (!path.startsWith('/')) errs.push(invalid(`${f}.path`, path, 'must be an absolute path'));
      for (const seq of INVALID_PATH_SEQUENCES) if (path.includes(seq)) errs.push(invalid(`${f}.path`, path, `must not contain '${seq}'`));
      for (const suf of INVALID_PATH_SUFFIXES) if (path.endsWith(suf)) errs.push(invalid(`${f}.path`, path, `cannot end with '${suf}'`));
      break;
    case 'ImplementationSpecific':
      if (path && !path.startsWith('/')) errs.push(invalid(`${f}.path`, path, 'must be an absolute path'));
      break;
    default:
      errs.push(notSupported(`${f}.pathType`, p.pathType, PATH_TYPES));
  }
  errs.push(...validateIngressBackend(isObj(p.backend) ? p.backend : {}, `${f}.backend`));
  return errs;
}

function validateRules(rules: unknown[], f: string): Errs {
  const errs: Errs = [];
  rules.forEach((r, i) => {
    const rule = isObj(r) ? r : {};
    const rf = `${f}[${i}]`;
    const host = str(rule.host);
    if (host) {
      if (isIP(host)) errs.push(invalid(`${rf}.host`, host, 'must be a DNS name, not an IP address'));
      errs.push(...hostErrors(host, `${rf}.host`));
    }
    if (rule.http == null) return;
    const paths = arr(isObj(rule.http) ? rule.http.paths : undefined);
    if (paths.length === 0) errs.push(required(`${rf}.http.paths`, ''));
    paths.forEach((p, j) => errs.push(...validatePath(isObj(p) ? p : {}, `${rf}.http.paths[${j}]`)));
  });
  return errs;
}

function validateTLS(tls: unknown[], f: string): Errs {
  const errs: Errs = [];
  tls.forEach((t, i) => {
    const entry = isObj(t) ? t : {};
    arr(entry.hosts).forEach((h, j) => errs.push(...hostErrors(str(h), `${f}[${i}].hosts[${j}]`)));
    const secret = str(entry.secretName);
    if (secret) errs.push(...validateName('dns1123-subdomain', secret, false).map((m) => invalid(`${f}[${i}].secretName`, secret, m)));
  });
  return errs;
}

export function validateIngressSpec(s: Obj, f = 'spec'): Errs {
  const errs: Errs = [];
  const rules = arr(s.rules);
  if (rules.length === 0 && !isObj(s.defaultBackend)) errs.push(invalid(f, rules, 'either `defaultBackend` or `rules` must be specified'));
  if (isObj(s.defaultBackend)) errs.push(...validateIngressBackend(s.defaultBackend, `${f}.defaultBackend`));
  errs.push(...validateRules(rules, `${f}.rules`));
  errs.push(...validateTLS(arr(s.tls), `${f}.tls`));
  if (s.ingressClassName != null) {
    const name = str(s.ingressClassName);
    errs.push(...isDNS1123Subdomain(name).map((m) => invalid(`${f}.ingressClassName`, name, m)));
  }
  return errs;
}

function validateIngressStatus(st: Obj): Errs {
  const errs: Errs = [];
  arr(isObj(st.loadBalancer) ? st.loadBalancer.ingress : undefined).forEach((e, i) => {
    const f = `status.loadBalancer.ingress[${i}]`;
    const lb = isObj(e) ? e : {};
    if (lb.ip != null && !isIP(str(lb.ip))) errs.push(invalid(`${f}.ip`, lb.ip, 'must be a valid IP address'));
    if (lb.hostname != null) {
      errs.push(...isDNS1123Subdomain(str(lb.hostname)).map((m) => invalid(`${f}.hostname`, lb.hostname, m)));
      if (isIP(str(lb.hostname))) errs.push(invalid(`${f}.hostname`, lb.hostname, 'must be a DNS name, not an IP address'));
    }
  });
  return errs;
}

export function validateIngress(ing: Obj): Errs {
  const errs = [...validateObjectMeta(ing.metadata, true, 'dns1123-subdomain'), ...validateIngressSpec(isObj(ing.spec) ? ing.spec : {})];
  // the class may be named once: the annotation or the field (ValidateIngressCreate)
  const annotated = isObj(ing.metadata?.annotations) ? ing.metadata.annotations[INGRESS_CLASS_ANNOTATION] : undefined;
  if (annotated != null && ing.spec?.ingressClassName != null) {
    errs.push(invalid(`metadata.annotations.${INGRESS_CLASS_ANNOTATION}`, annotated, 'can not be set when the class field is also set'));
  }
  return errs;
}

export function validateIngressUpdate(n: Obj, o: Obj): Errs {
  return [...validateObjectMetaUpdate(n.metadata, o.metadata), ...validateIngressSpec(isObj(n.spec) ? n.spec : {})];
}

export function validateIngressStatusUpdate(n: Obj, o: Obj): Errs {
  return [...validateObjectMetaUpdate(n.metadata, o.metadata), ...validateIngressStatus(isObj(n.status) ? n.status : {})];
}

/** a domain-prefixed path: "example.com/name" (IsDomainPrefixedPath) */
function controllerErrors(c: string, f: string): Errs {
  if (!c) return [required(f, '')];
  const errs: Errs = [];
  if (c.length > MAX_CONTROLLER_LEN) errs.push(tooLong(f, MAX_CONTROLLER_LEN));
  const slash = c.indexOf('/');
  if (slash <= 0) return [...errs, invalid(f, c, 'must be a domain-prefixed path (such as "acme.io/foo")')];
  errs.push(...isDNS1123Subdomain(c.slice(0, slash)).map((m) => invalid(f, c.slice(0, slash), m)));
  const path = c.slice(slash + 1);
  if (!/^[A-Za-z0-9/\-._~%!$&'()*+,;=:]+$/.test(path)) errs.push(invalid(f, path, 'Invalid path: must be a valid path'));
  return errs;
}

const SCOPES = ['Cluster', 'Namespace'];

function validateClassParameters(p: Obj, f: string): Errs {
  const errs: Errs = [];
  if (p.apiGroup != null) errs.push(...isDNS1123Subdomain(str(p.apiGroup)).map((m) => invalid(`${f}.apiGroup`, p.apiGroup, m)));
  if (!str(p.kind)) errs.push(required(`${f}.kind`, 'kind is required'));
  if (!str(p.name)) errs.push(required(`${f}.name`, 'name is required'));
  const scope = p.scope == null ? undefined : str(p.scope);
  if (scope === undefined) {
    errs.push(required(`${f}.scope`, ''));
  } else if (!SCOPES.includes(scope)) {
    errs.push(notSupported(`${f}.scope`, scope, SCOPES));
  } else if (scope === 'Namespace' && !str(p.namespace)) {
    errs.push(required(`${f}.namespace`, '`parameters.scope` is set to "Namespace"'));
  } else if (scope === 'Cluster' && p.namespace != null) {
    errs.push(forbidden(`${f}.namespace`, '`parameters.scope` is set to "Cluster"'));
  }
  return errs;
}

export function validateIngressClass(ic: Obj): Errs {
  const s = isObj(ic.spec) ? ic.spec : {};
  const errs = [...validateObjectMeta(ic.metadata, false, 'dns1123-subdomain'), ...controllerErrors(str(s.controller), 'spec.controller')];
  if (isObj(s.parameters)) errs.push(...validateClassParameters(s.parameters, 'spec.parameters'));
  return errs;
}

export function validateIngressClassUpdate(n: Obj, o: Obj): Errs {
  const errs = [...validateObjectMetaUpdate(n.metadata, o.metadata)];
  const s = isObj(n.spec) ? n.spec : {};
  if (str(s.controller) !== str(o.spec?.controller)) errs.push(invalid('spec.controller', s.controller, FIELD_IMMUTABLE));
  if (isObj(s.parameters)) errs.push(...validateClassParameters(s.parameters, 'spec.parameters'));
  return errs;
}

/** the one IngressClass marked default (ingressclass.kubernetes.io/is-default-class: "true") */
export const DEFAULT_CLASS_ANNOTATION = 'ingressclass.kubernetes.io/is-default-class';
