/**
 * rbac.authorization.k8s.io/v1 validation, after pkg/apis/rbac/validation: names are path
 * segments (system:basic-user), every rule has verbs and either resources (with API groups) or
 * (cluster roles only) non-resource URLs, a binding's roleRef names a Role or ClusterRole of the
 * RBAC group and never changes, and its subjects are well-formed.
 */
import { type Obj, type ValidationError, arr, invalid, notSupported, obj, required, semanticEqual, str } from './field.js';
import { validateObjectMeta, validateObjectMetaUpdate } from './meta.js';

type Errs = ValidationError[];
const GROUP = 'rbac.authorization.k8s.io';

function policyRuleErrors(rule: Obj, namespaced: boolean, path: string): Errs {
  const errs: Errs = [];
  if (!arr(rule.verbs).length) errs.push(required(`${path}.verbs`, 'verbs must contain at least one value'));
  const urls = arr(rule.nonResourceURLs);
  if (urls.length) {
    if (namespaced) errs.push(invalid(`${path}.nonResourceURLs`, urls, 'namespaced rules cannot apply to non-resource URLs'));
    if (arr(rule.apiGroups).length || arr(rule.resources).length || arr(rule.resourceNames).length) {
      errs.push(invalid(`${path}.nonResourceURLs`, urls, 'rules cannot apply to both regular resources and non-resource URLs'));
    }
    return errs;
  }
  if (!arr(rule.apiGroups).length) errs.push(required(`${path}.apiGroups`, 'resource rules must supply at least one api group'));
  if (!arr(rule.resources).length) errs.push(required(`${path}.resources`, 'resource rules must supply at least one resource'));
  return errs;
}

function roleErrors(role: Obj, namespaced: boolean): Errs {
  const errs = validateObjectMeta(role.metadata, namespaced, 'path-segment');
  arr(role.rules).forEach((r, i) => errs.push(...policyRuleErrors(obj(r), namespaced, `rules[${i}]`)));
  return errs;
}

function bindingErrors(b: Obj, namespaced: boolean): Errs {
  const errs = validateObjectMeta(b.metadata, namespaced, 'path-segment');
  const ref = obj(b.roleRef);
  if (str(ref.apiGroup) !== GROUP) errs.push(notSupported('roleRef.apiGroup', str(ref.apiGroup), [GROUP]));
  const kinds = namespaced ? ['Role', 'ClusterRole'] : ['ClusterRole'];
  if (!kinds.includes(str(ref.kind))) errs.push(notSupported('roleRef.kind', str(ref.kind), kinds));
  if (!str(ref.name)) errs.push(required('roleRef.name'));
  arr(b.subjects).forEach((raw, i) => {
    const s = obj(raw);
    const p = `subjects[${i}]`;
    if (!str(s.name)) errs.push(required(`${p}.name`));
    switch (s.kind) {
      case 'ServiceAccount':
        if (str(s.apiGroup)) errs.push(notSupported(`${p}.apiGroup`, s.apiGroup, ['']));
        if (!namespaced && !str(s.namespace)) errs.push(required(`${p}.namespace`));
        break;
      case 'User':
      case 'Group':
        if (str(s.apiGroup) !== GROUP) errs.push(notSupported(`${p}.apiGroup`, str(s.apiGroup), [GROUP]));
        break;
      default:
        errs.push(notSupported(`${p}.kind`, str(s.kind), ['ServiceAccount', 'User', 'Group']));
    }
  });
  return errs;
}

function bindingUpdateErrors(n: Obj, o: Obj, namespaced: boolean): Errs {
  const errs = [...validateObjectMetaUpdate(n.metadata, o.metadata), ...bindingErrors(n, namespaced)];
  if (!semanticEqual(n.roleRef, o.roleRef)) errs.push(invalid('roleRef', n.roleRef, 'cannot change roleRef'));
  return errs;
}

export const validateRole = (r: Obj) => roleErrors(r, true);
export const validateClusterRole = (r: Obj) => roleErrors(r, false);
export const validateRoleUpdate = (n: Obj, o: Obj) => [...validateObjectMetaUpdate(n.metadata, o.metadata), ...roleErrors(n, true)];
export const validateClusterRoleUpdate = (n: Obj, o: Obj) => [...validateObjectMetaUpdate(n.metadata, o.metadata), ...roleErrors(n, false)];
export const validateRoleBinding = (b: Obj) => bindingErrors(b, true);
export const validateClusterRoleBinding = (b: Obj) => bindingErrors(b, false);
export const validateRoleBindingUpdate = (n: Obj, o: Obj) => bindingUpdateErrors(n, o, true);
export const validateClusterRoleBindingUpdate = (n: Obj, o: Obj) => bindingUpdateErrors(n, o, false);
