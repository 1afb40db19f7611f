/**
 * admissionregistration.k8s.io/v1 MutatingWebhookConfiguration and ValidatingWebhookConfiguration,
 * after kube-apiserver's pkg/apis/admissionregistration/validation (validateValidatingWebhook,
 * validateMutatingWebhook, validateRuleWithOperations, validateResources,
 * validateAdmissionReviewVersions) and apiserver's util/webhook (ValidateWebhookURL,
 * ValidateWebhookService). Objects are defaulted first (../defaults/webhooks.ts), so
 * failurePolicy, matchPolicy, timeoutSeconds, scope and port are set unless the client set them.
 * matchConditions (CEL) are compiled here and evaluated by the dispatcher (../match-conditions.ts).
 */
import { type Obj, type ValidationError, arr, duplicate, invalid, isObj, notSupported, obj, required, str } from './field.js';
import { validateObjectMeta, validateObjectMetaUpdate } from './meta.js';
import { validateLabelSelector } from './label-selector.js';
import { isDNS1035Label, isDNS1123Subdomain, isQualifiedName, isValidPortNum } from './names.js';
import { compileMatchCondition, MAX_MATCH_CONDITIONS } from '../match-conditions.js';

type Errs = ValidationError[];

/** admission.k8s.io versions podbay speaks (upstream's AcceptedAdmissionReviewVersions) */
export const ACCEPTED_REVIEW_VERSIONS = ['v1', 'v1beta1'];
const OPERATIONS = ['*', 'CONNECT', 'CREATE', 'DELETE', 'UPDATE'];
const SCOPES = ['*', 'Cluster', 'Namespaced'];
const FAILURE_POLICIES = ['Fail', 'Ignore'];
const MATCH_POLICIES = ['Equivalent', 'Exact'];
const SIDE_EFFECTS = ['None', 'NoneOnDryRun'];
const SIDE_EFFECT_CLASSES = ['None', 'NoneOnDryRun', 'Some', 'Unknown'];
const REINVOCATION = ['IfNeeded', 'Never'];

/** utilvalidation.IsFullyQualifiedName */
function fullyQualifiedName(name: string, fld: string): Errs {
  if (!name) return [required(fld, '')];
  const errs = isDNS1123Subdomain(name).map((m) => invalid(fld, name, m));
  if (errs.length) return errs;
  if (name.split('.').length < 3) return [invalid(fld, name, 'should be a domain with at least three segments separated by dots')];
  return [];
}

/** webhook.ValidateWebhookURL with forceHttps */
export function validateWebhookURL(raw: string, fld: string): Errs {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return [invalid(fld, raw, `parse "${raw}": invalid URI for request`)];
  }
  const errs: Errs = [];
  const scheme = u.protocol.replace(/:$/, '');
  if (scheme !== 'https') errs.push(invalid(fld, scheme, "'https' is the only allowed URL scheme"));
  if (!u.host) errs.push(invalid(fld, u.host, 'host must be specified'));
  if (u.username || u.password) errs.push(invalid(fld, u.password ? `${u.username}:xxxxx` : u.username, 'user information is not permitted in the URL'));
  if (u.hash) errs.push(invalid(fld, u.hash.slice(1), 'fragments are not permitted in the URL'));
  if (u.search) errs.push(invalid(fld, u.search.slice(1), 'query parameters are not permitted in the URL'));
  return errs;
}

/** webhook.ValidateWebhookService */
function validateWebhookService(svc: Obj, fld: string): Errs {
  const errs: Errs = [];
  if (!str(svc.name)) errs.push(required(`${fld}.name`, 'service name is required'));
  if (!str(svc.namespace)) errs.push(required(`${fld}.namespace`, 'service namespace is required'));
  if (typeof svc.port === 'number') {
    const bad = isValidPortNum(svc.port);
    if (bad.length) errs.push(invalid(`${fld}.port`, svc.port, `port is not valid: ${bad.join(', ')}`));
  }
  if (svc.path === undefined || svc.path === null) return errs;
  const path = str(svc.path);
  if (path === '/') return errs;
  if (!path.startsWith('/')) return [...errs, invalid(`${fld}.path`, path, "must start with a '/'")];
  const steps = path.slice(1).split('/');
  steps.forEach((step, i) => {
    if (!step) errs.push(invalid(`${fld}.path`, path, `segment[${i}] may not be empty`));
    else for (const m of isDNS1123Subdomain(step)) errs.push(invalid(`${fld}.path`, path, `segment[${i}]: ${m}`));
  });
  return errs;
}

function wildcardWithOthers(values: unknown[], fld: string, what: string): Errs {
  return values.length > 1 && values.includes('*') ? [invalid(fld, values, `if '*' is present, must not specify other ${what}`)] : [];
}

/** validateResources */
function validateResources(resources: string[], fld: string): Errs {
  if (resources.length === 0) return [required(fld, '')];
  const errs: Errs = [];
  const resWild = new Set<string>();
  const subWild = new Set<string>();
  let doubleWild = false;
  let singleWild = false;
  let withoutSub = false;
  resources.forEach((rs, i) => {
    if (rs === '') return void errs.push(required(`${fld}[${i}]`, ''));
    if (rs === '*/*') doubleWild = true;
    if (rs === '*') singleWild = true;
    const slash = rs.indexOf('/');
    if (slash < 0) {
      withoutSub = rs !== '*';
      return;
    }
    const res = rs.slice(0, slash);
    const sub = rs.slice(slash + 1);
    if (resWild.has(res)) errs.push(invalid(`${fld}[${i}]`, rs, `if '${res}/*' is present, must not specify ${rs}`));
    if (subWild.has(sub)) errs.push(invalid(`${fld}[${i}]`, rs, `if '*/${sub}' is present, must not specify ${rs}`));
    if (sub === '*') resWild.add(res);
    if (res === '*') subWild.add(sub);
  });
  if (resources.length > 1 && doubleWild) errs.push(invalid(fld, resources, "if '*/*' is present, must not specify other resources"));
  if (singleWild && withoutSub) errs.push(invalid(fld, resources, "if '*' is present, must not specify other resources without subresources"));
  return errs;
}

/** validateRuleWithOperations */
function validateRule(rule: Obj, fld: string): Errs {
  const errs: Errs = [];
  const ops = arr(rule.operations).map(str);
  if (ops.length === 0) errs.push(required(`${fld}.operations`, ''));
  errs.push(...wildcardWithOthers(ops, `${fld}.operations`, 'operations'));
  ops.forEach((op, i) => {
    if (!OPERATIONS.includes(op)) errs.push(notSupported(`${fld}.operations[${i}]`, op, OPERATIONS));
  });
  const groups = arr(rule.apiGroups).map(str);
  if (groups.length === 0) errs.push(required(`${fld}.apiGroups`, ''));
  errs.push(...wildcardWithOthers(groups, `${fld}.apiGroups`, 'API groups'));
  const versions = arr(rule.apiVersions).map(str);
  if (versions.length === 0) errs.push(required(`${fld}.apiVersions`, ''));
  errs.push(...wildcardWithOthers(versions, `${fld}.apiVersions`, 'API versions'));
  versions.forEach((v, i) => {
    if (v === '') errs.push(required(`${fld}.apiVersions[${i}]`, ''));
  });
  errs.push(...validateResources(arr(rule.resources).map(str), `${fld}.resources`));
  if (rule.scope !== undefined && rule.scope !== null && !SCOPES.includes(str(rule.scope))) errs.push(notSupported(`${fld}.scope`, rule.scope, SCOPES));
  return errs;
}

/** validateAdmissionReviewVersions (recognized: on create, and on update when the old ones were) */
function validateReviewVersions(versions: unknown, fld: string, mustBeRecognized: boolean): Errs {
  const list = arr(versions).map(str);
  if (list.length === 0) return [required(fld, `must specify one of ${ACCEPTED_REVIEW_VERSIONS.join(', ')}`)];
  const errs: Errs = [];
  const seen = new Set<string>();
  list.forEach((v, i) => {
    if (seen.has(v)) errs.push(duplicate(`${fld}[${i}]`, v));
    seen.add(v);
    for (const m of isDNS1035Label(v)) errs.push(invalid(`${fld}[${i}]`, v, m));
  });
  if (mustBeRecognized && !list.some((v) => ACCEPTED_REVIEW_VERSIONS.includes(v))) {
    errs.push(invalid(fld, list, `must include at least one of ${ACCEPTED_REVIEW_VERSIONS.join(', ')}`));
  }
  return errs;
}

function validateWebhook(hook: Obj, fld: string, mutating: boolean, creating: boolean): Errs {
  const errs = fullyQualifiedName(str(hook.name), `${fld}.name`);
  arr(hook.rules).forEach((r, j) => errs.push(...validateRule(obj(r), `${fld}.rules[${j}]`)));
  if (hook.failurePolicy != null && !FAILURE_POLICIES.includes(str(hook.failurePolicy))) errs.push(notSupported(`${fld}.failurePolicy`, hook.failurePolicy, FAILURE_POLICIES));
  if (hook.matchPolicy != null && !MATCH_POLICIES.includes(str(hook.matchPolicy))) errs.push(notSupported(`${fld}.matchPolicy`, hook.matchPolicy, MATCH_POLICIES));
  if (hook.sideEffects == null) errs.push(required(`${fld}.sideEffects`, `must specify one of ${SIDE_EFFECT_CLASSES.join(', ')}`));
  else if (!SIDE_EFFECTS.includes(str(hook.sideEffects))) errs.push(notSupported(`${fld}.sideEffects`, hook.sideEffects, SIDE_EFFECTS));
  if (typeof hook.timeoutSeconds === 'number' && (hook.timeoutSeconds < 1 || hook.timeoutSeconds > 30)) {
    errs.push(invalid(`${fld}.timeoutSeconds`, hook.timeoutSeconds, 'the timeout value must be between 1 and 30 seconds'));
  }
  if (isObj(hook.namespaceSelector)) errs.push(...validateLabelSelector(hook.namespaceSelector, `${fld}.namespaceSelector`));
  if (isObj(hook.objectSelector)) errs.push(...validateLabelSelector(hook.objectSelector, `${fld}.objectSelector`));
  errs.push(...validateReviewVersions(hook.admissionReviewVersions, `${fld}.admissionReviewVersions`, creating));
  const cc = obj(hook.clientConfig);
  const hasUrl = cc.url !== undefined && cc.url !== null;
  const hasSvc = isObj(cc.service);
  if (hasUrl === hasSvc) errs.push(required(`${fld}.clientConfig`, 'exactly one of url or service is required'));
  else if (hasUrl) errs.push(...validateWebhookURL(str(cc.url), `${fld}.clientConfig.url`));
  else errs.push(...validateWebhookService(cc.service, `${fld}.clientConfig.service`));
  if (mutating && hook.reinvocationPolicy != null && !REINVOCATION.includes(str(hook.reinvocationPolicy))) {
    errs.push(notSupported(`${fld}.reinvocationPolicy`, hook.reinvocationPolicy, REINVOCATION));
  }
  errs.push(...validateMatchConditions(arr(hook.matchConditions), `${fld}.matchConditions`));
  return errs;
}

/** validateMatchConditions: at most 64, names qualified and unique, expressions that compile to a bool */
function validateMatchConditions(conditions: unknown[], fld: string): Errs {
  const errs: Errs = [];
  if (conditions.length > MAX_MATCH_CONDITIONS) errs.push({ type: 'FieldValueTooMany', field: fld, rawValue: String(conditions.length), detail: `must have at most ${MAX_MATCH_CONDITIONS} items` });
  const names = new Set<string>();
  conditions.forEach((c, i) => {
    const mc = obj(c);
    const name = str(mc.name);
    if (!name) errs.push(required(`${fld}[${i}].name`, ''));
    else for (const m of isQualifiedName(name)) errs.push(invalid(`${fld}[${i}].name`, name, m));
    if (name && names.has(name)) errs.push(duplicate(`${fld}[${i}].name`, name));
    names.add(name);
    const expr = str(mc.expression);
    if (!expr) return void errs.push(required(`${fld}[${i}].expression`, ''));
    const why = compileMatchCondition(expr);
    if (why) errs.push(invalid(`${fld}[${i}].expression`, expr, why));
  });
  return errs;
}

function validateWebhooks(cfg: Obj, mutating: boolean, creating: boolean): Errs {
  const errs: Errs = [];
  const names = new Set<string>();
  arr(cfg.webhooks).forEach((h, i) => {
    const hook = obj(h);
    errs.push(...validateWebhook(hook, `webhooks[${i}]`, mutating, creating));
    const name = str(hook.name);
    if (names.has(name)) errs.push(duplicate(`webhooks[${i}].name`, name));
    names.add(name);
  });
  return errs;
}

export const validateMutatingWebhookConfiguration = (c: Obj): Errs => [...validateObjectMeta(c.metadata, false, 'dns1123-subdomain'), ...validateWebhooks(c, true, true)];
export const validateValidatingWebhookConfiguration = (c: Obj): Errs => [...validateObjectMeta(c.metadata, false, 'dns1123-subdomain'), ...validateWebhooks(c, false, true)];

/** an update must keep recognized review versions only if the old object had them all recognized */
function oldRecognized(o: Obj): boolean {
  return arr(o.webhooks).every((h) => arr(obj(h).admissionReviewVersions).some((v) => ACCEPTED_REVIEW_VERSIONS.includes(str(v))));
}

export const validateMutatingWebhookConfigurationUpdate = (n: Obj, o: Obj): Errs => [...validateObjectMetaUpdate(n.metadata, o.metadata), ...validateWebhooks(n, true, oldRecognized(o))];
export const validateValidatingWebhookConfigurationUpdate = (n: Obj, o: Obj): Errs => [...validateObjectMetaUpdate(n.metadata, o.metadata), ...validateWebhooks(n, false, oldRecognized(o))];
