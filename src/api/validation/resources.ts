/**
 * Container resource requirements (validateResourceRequirements upstream): resource names,
 * non-negative quantities, integer extended resources, requests <= limits.
 */
import { type ValidationError, forbidden, invalid, isObj, key, obj, required } from './field.js';
import { isQualifiedName } from './names.js';
import { QUANTITY_REGEX_MESSAGE, type Quantity, compareQuantity, formatQuantity, parseQuantity } from './quantity.js';

const STANDARD_CONTAINER_RESOURCES = new Set(['cpu', 'memory', 'ephemeral-storage']);
const STANDARD_RESOURCES = new Set([
  'cpu',
  'memory',
  'ephemeral-storage',
  'storage',
  'pods',
  'services',
  'replicationcontrollers',
  'resourcequotas',
  'secrets',
  'configmaps',
  'persistentvolumeclaims',
  'services.nodeports',
  'services.loadbalancers',
  'requests.cpu',
  'requests.memory',
  'requests.ephemeral-storage',
  'requests.storage',
  'limits.cpu',
  'limits.memory',
  'limits.ephemeral-storage',
]);

const isHugePages = (name: string): boolean => name.startsWith('hugepages-');

/** No domain, or a kubernetes.io domain. */
export function isNativeResource(name: string): boolean {
  return !name.includes('/') || name.includes('kubernetes.io/');
}

export function isExtendedResourceName(name: string): boolean {
  if (isNativeResource(name) || name.startsWith('requests.')) return false;
  return isQualifiedName('requests.' + name).length === 0;
}

/** Requests may be below limits only for overcommittable resources (not hugepages, not extended). */
export function isOvercommitAllowed(name: string): boolean {
  return isNativeResource(name) && !isHugePages(name);
}

function validateContainerResourceName(name: string, fldPath: string): ValidationError[] {
  const errs = isQualifiedName(name).map((m) => invalid(fldPath, name, m));
  if (errs.length) return errs;
  if (!name.includes('/')) {
    if (!STANDARD_RESOURCES.has(name) && !isHugePages(name) && !name.startsWith('requests.hugepages-')) {
      errs.push(invalid(fldPath, name, 'must be a standard resource type or fully qualified'));
    }
    if (!STANDARD_CONTAINER_RESOURCES.has(name) && !isHugePages(name)) {
      errs.push(invalid(fldPath, name, 'must be a standard resource for containers'));
    }
  } else if (!isNativeResource(name) && !isExtendedResourceName(name)) {
    errs.push(invalid(fldPath, name, "doesn't follow extended resource name standard"));
  }
  return errs;
}

function validateQuantityValue(name: string, q: Quantity, fldPath: string): ValidationError[] {
  const errs: ValidationError[] = [];
  if (q.num < 0n) errs.push(invalid(fldPath, formatQuantity(q), 'must be greater than or equal to 0'));
  if (isExtendedResourceName(name) && q.num % q.den !== 0n) {
    errs.push({ ...invalid(fldPath, formatQuantity(q), 'must be an integer'), rawValue: formatQuantity(q) });
  }
  return errs;
}

/** Parses every entry of a ResourceList, reporting the ones that are not quantities. */
function parseList(list: unknown, fldPath: string, errs: ValidationError[]): Map<string, Quantity> {
  const out = new Map<string, Quantity>();
  for (const [name, raw] of Object.entries(obj(list))) {
    const q = parseQuantity(raw);
    if (q) out.set(name, q);
    else errs.push(invalid(key(fldPath, name), raw, QUANTITY_REGEX_MESSAGE));
  }
  return out;
}

export function validateResourceRequirements(resources: unknown, fldPath: string): ValidationError[] {
  if (!isObj(resources)) return [];
  const errs: ValidationError[] = [];
  const limPath = `${fldPath}.limits`;
  const reqPath = `${fldPath}.requests`;
  const limits = parseList(resources.limits, limPath, errs);
  const requests = parseList(resources.requests, reqPath, errs);
  let cpuOrMemory = false;
  let hugePages = false;
  for (const [name, q] of limits) {
    const p = key(limPath, name);
    errs.push(...validateContainerResourceName(name, p), ...validateQuantityValue(name, q, p));
    if (isHugePages(name)) hugePages = true;
    if (name === 'cpu' || name === 'memory') cpuOrMemory = true;
  }
  for (const [name, q] of requests) {
    const p = key(reqPath, name);
    errs.push(...validateContainerResourceName(name, p), ...validateQuantityValue(name, q, p));
    const limit = limits.get(name);
    if (limit) {
      const c = compareQuantity(q, limit);
      if (c !== 0 && !isOvercommitAllowed(name)) {
        errs.push(invalid(reqPath, formatQuantity(q), `must be equal to ${name} limit of ${formatQuantity(limit)}`));
      } else if (c > 0) {
        errs.push(invalid(reqPath, formatQuantity(q), `must be less than or equal to ${name} limit of ${formatQuantity(limit)}`));
      }
    } else if (!isOvercommitAllowed(name)) {
      errs.push(required(limPath, 'Limit must be set for non overcommitable resources'));
    }
    if (isHugePages(name)) hugePages = true;
    if (name === 'cpu' || name === 'memory') cpuOrMemory = true;
  }
  if (hugePages && !cpuOrMemory) errs.push(forbidden(fldPath, 'HugePages require cpu or memory'));
  return errs;
}
