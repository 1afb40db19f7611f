/**
 * Validation of a Service, after kube-apiserver's ValidateService (pkg/apis/core/validation):
 * type, ports (numbers, protocols, names, target ports), selector, clusterIP and externalName;
 * on update the cluster IP may not change. Defaulted first (../defaults/service.ts).
 */
import { type Obj, type ValidationError, arr, duplicate, forbidden, invalid, isObj, notSupported, obj, required, str } from './field.js';
import { validateLabels, validateObjectMeta, validateObjectMetaUpdate } from './meta.js';
import { INVALID_IP_MESSAGE, ipFamily, isDNS1123Label, isDNS1123Subdomain, isInRange, isValidPortName, isValidPortNum } from './names.js';

type Errs = ValidationError[];

const TYPES = ['ClusterIP', 'ExternalName', 'LoadBalancer', 'NodePort'];
const PROTOCOLS = ['SCTP', 'TCP', 'UDP'];

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

export function validateService(svc: Obj): Errs {
  const errs = validateObjectMeta(svc.metadata, true, 'dns1035-label');
  const s = obj(svc.spec);
  const type = str(s.type);
  if (!TYPES.includes(type)) errs.push(notSupported('spec.type', s.type, TYPES));
  const ports = arr(s.ports);
  if (type === 'ExternalName') {
    const en = str(s.externalName);
    if (!en) errs.push(required('spec.externalName'));
    else errs.push(...isDNS1123Subdomain(en.replace(/\.$/, '')).map((m) => invalid('spec.externalName', en, m)));
  } else if (ports.length === 0 && str(s.clusterIP) !== 'None') {
    errs.push(required('spec.ports'));
  }
  const names = new Set<string>();
  ports.forEach((p, i) => errs.push(...validatePort(obj(p), i, ports.length > 1, names)));
  if (type === 'ClusterIP') {
    ports.forEach((p, i) => {
      if (obj(p).nodePort) errs.push(forbidden(`spec.ports[${i}].nodePort`, 'may not be used when `type` is \'ClusterIP\''));
    });
  }
  errs.push(...validateLabels(s.selector, 'spec.selector'));
  const ip = str(s.clusterIP);
  if (ip && ip !== 'None' && !ipFamily(ip)) errs.push(invalid('spec.clusterIPs[0]', ip, INVALID_IP_MESSAGE));
  arr(s.externalIPs).forEach((e, i) => {
    if (!ipFamily(str(e))) errs.push(invalid(`spec.externalIPs[${i}]`, e, INVALID_IP_MESSAGE));
  });
  const sa = str(s.sessionAffinity);
  if (!['ClientIP', 'None'].includes(sa)) errs.push(notSupported('spec.sessionAffinity', s.sessionAffinity, ['ClientIP', 'None']));
  if (isObj(s.sessionAffinityConfig) && sa === 'None') {
    errs.push(invalid('spec.sessionAffinityConfig', s.sessionAffinityConfig, 'must not be set when session affinity is None'));
  }
  return errs;
}

export function validateServiceUpdate(n: Obj, o: Obj): Errs {
  const { metadata: _m, ...rest } = n;
  void _m;
  const errs = [...validateObjectMetaUpdate(n.metadata, o.metadata), ...validateService({ ...rest, metadata: { name: 'x', namespace: 'x' } })];
  const oldIP = str(obj(o.spec).clusterIP);
  const newIP = str(obj(n.spec).clusterIP);
  if (oldIP && newIP !== oldIP) errs.push(invalid('spec.clusterIPs[0]', newIP, 'may not change once set'));
  return errs;
}
