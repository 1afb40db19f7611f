/**
 * admissionregistration.k8s.io/v1 webhook configuration defaults
 * (pkg/apis/admissionregistration/v1/defaults.go): failurePolicy Fail, matchPolicy Equivalent,
 * empty namespace and object selectors (every object), timeoutSeconds 10, a rule's scope "*",
 * a service reference's port 443, and for mutating webhooks reinvocationPolicy Never.
 * sideEffects and admissionReviewVersions have no default in v1: validation requires them.
 */
import { type Obj, arr, isObj } from '../validation/field.js';

export function defaultWebhookConfiguration(cfg: Obj, mutating: boolean): Obj {
  for (const hook of arr(cfg.webhooks)) {
    if (!isObj(hook)) continue;
    hook.failurePolicy ??= 'Fail';
    hook.matchPolicy ??= 'Equivalent';
    if (!isObj(hook.namespaceSelector)) hook.namespaceSelector = {};
    if (!isObj(hook.objectSelector)) hook.objectSelector = {};
    hook.timeoutSeconds ??= 10;
    if (mutating) hook.reinvocationPolicy ??= 'Never';
    for (const rule of arr(hook.rules)) if (isObj(rule)) rule.scope ??= '*';
    const svc = isObj(hook.clientConfig) ? hook.clientConfig.service : undefined;
    if (isObj(svc)) svc.port ??= 443;
  }
  return cfg;
}
