/**
 * Endpoints and EndpointSlices, after kube-apiserver's ValidateEndpoints and
 * ValidateEndpointSlice: addresses are IPs of the slice's address type, ports are in range with
 * unique names, and (slices) at most 1000 endpoints of at most 100 addresses each.
 */
import { type Obj, type ValidationError, arr, invalid, notSupported, obj, required, str } from './field.js';
import { validateObjectMeta, validateObjectMetaUpdate } from './meta.js';
import { INVALID_IP_MESSAGE, ipFamily, isValidPortNum } from './names.js';

type Errs = ValidationError[];

/** field.TooMany: "Too many: N: must have at most M items" */
function tooMany(field: string, actual: number, max: number): ValidationError {
  return { type: 'FieldValueTooMany', field, rawValue: String(actual), detail: `must have at most ${max} items` };
}

const ADDRESS_TYPES = ['FQDN', 'IPv4', 'IPv6'];
const PROTOCOLS = ['SCTP', 'TCP', 'UDP'];

function validatePorts(ports: unknown[], field: string): Errs {
  const errs: Errs = [];
  ports.forEach((p, i) => {
    const port = obj(p);
    const f = `${field}[${i}]`;
    if (port.port !== undefined && port.port !== null) errs.push(...isValidPortNum(Number(port.port)).map((m) => invalid(`${f}.port`, port.port, m)));
    if (port.protocol !== undefined && !PROTOCOLS.includes(str(port.protocol))) errs.push(notSupported(`${f}.protocol`, port.protocol, PROTOCOLS));
  });
  return errs;
}

export function validateEndpoints(ep: Obj): Errs {
  const errs = validateObjectMeta(ep.metadata, true, 'dns1123-subdomain');
  arr(ep.subsets).forEach((ss, i) => {
    const s = obj(ss);
    for (const key of ['addresses', 'notReadyAddresses']) {
      arr(s[key]).forEach((a, j) => {
        const ip = str(obj(a).ip);
        if (!ip) errs.push(required(`subsets[${i}].${key}[${j}].ip`));
        else if (!ipFamily(ip)) errs.push(invalid(`subsets[${i}].${key}[${j}].ip`, ip, INVALID_IP_MESSAGE));
      });
    }
    errs.push(...validatePorts(arr(s.ports), `subsets[${i}].ports`));
  });
  return errs;
}

export function validateEndpointsUpdate(n: Obj, o: Obj): Errs {
  return [...validateObjectMetaUpdate(n.metadata, o.metadata), ...validateEndpoints({ ...n, metadata: { name: 'x', namespace: 'x' } })];
}

export function validateEndpointSlice(es: Obj): Errs {
  const errs = validateObjectMeta(es.metadata, true, 'dns1123-subdomain');
  const type = str(es.addressType);
  if (!type) errs.push(required('addressType'));
  else if (!ADDRESS_TYPES.includes(type)) errs.push(notSupported('addressType', es.addressType, ADDRESS_TYPES));
  const eps = arr(es.endpoints);
  if (eps.length > 1000) errs.push(tooMany('endpoints', eps.length, 1000));
  eps.forEach((e, i) => {
    const addrs = arr(obj(e).addresses);
    if (addrs.length === 0) errs.push(required(`endpoints[${i}].addresses`));
    if (addrs.length > 100) errs.push(tooMany(`endpoints[${i}].addresses`, addrs.length, 100));
    addrs.forEach((a, j) => {
      const fam = ipFamily(str(a));
      if ((type === 'IPv4' && fam !== 4) || (type === 'IPv6' && fam !== 6)) errs.push(invalid(`endpoints[${i}].addresses[${j}]`, a, `must be a valid ${type} address`));
    });
  });
  errs.push(...validatePorts(arr(es.ports), 'ports'));
  return errs;
}

export function validateEndpointSliceUpdate(n: Obj, o: Obj): Errs {
  const errs = [...validateObjectMetaUpdate(n.metadata, o.metadata), ...validateEndpointSlice({ ...n, metadata: { name: 'x', namespace: 'x' } })];
  if (str(n.addressType) !== str(o.addressType)) errs.push(invalid('addressType', n.addressType, 'field is immutable'));
  return errs;
}
