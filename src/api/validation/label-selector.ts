/**
 * metav1.LabelSelector in object validation: ValidateLabelSelector (apimachinery
 * pkg/apis/meta/v1/validation), whether a selector selects a pod template's labels, and the
 * values as field.Error prints them (Go's %#v, since neither type is a fmt.Stringer):
 *
 *   spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: `selector` does not match template `labels`
 *   spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"x"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable
 */
import { labelSelectorFromObject, type LabelSelectorObject } from '../selectors/labels.js';
import { type Obj, type ValidationError, arr, forbidden, invalid, isObj, obj, required, semanticEqual, str } from './field.js';
import { validateLabels } from './meta.js';
import { isQualifiedName, isValidLabelValue } from './names.js';

const OPERATORS = ['In', 'NotIn', 'Exists', 'DoesNotExist'];

function goString(s: string): string {
  return JSON.stringify(s);
}

/** %#v of a map[string]string: keys sorted, as Go's fmt prints maps */
export function goStringMap(m: unknown): string {
  if (!isObj(m)) return 'map[string]string(nil)';
  const body = Object.keys(m)
    .sort()
    .map((k) => `${goString(k)}:${goString(str(m[k]))}`)
    .join(', ');
  return `map[string]string{${body}}`;
}

function goStrings(a: unknown): string {
  if (!Array.isArray(a)) return '[]string(nil)';
  return `[]string{${a.map((s) => goString(str(s))).join(', ')}}`;
}

/** %#v of a v1.LabelSelector */
export function goLabelSelector(sel: unknown): string {
  const s = obj(sel);
  const exprs = Array.isArray(s.matchExpressions)
    ? `[]v1.LabelSelectorRequirement{${s.matchExpressions
        .map(obj)
        .map((e) => `v1.LabelSelectorRequirement{Key:${goString(str(e.key))}, Operator:${goString(str(e.operator))}, Values:${goStrings(e.values)}}`)
        .join(', ')}}`
    : '[]v1.LabelSelectorRequirement(nil)';
  return `v1.LabelSelector{MatchLabels:${goStringMap(s.matchLabels)}, MatchExpressions:${exprs}}`;
}

/** ValidateLabelSelector: matchLabels as labels, each expression's key, operator and values. */
export function validateLabelSelector(sel: unknown, fldPath: string): ValidationError[] {
  if (!isObj(sel)) return [];
  const errs: ValidationError[] = [];
  arr(sel.matchExpressions).forEach((e0, i) => {
    const e = obj(e0);
    const p = `${fldPath}.matchExpressions[${i}]`;
    const op = str(e.operator);
    const values = arr(e.values);
    if (op === 'In' || op === 'NotIn') {
      if (values.length === 0) errs.push(required(`${p}.values`, "must be specified when `operator` is 'In' or 'NotIn'"));
    } else if (op === 'Exists' || op === 'DoesNotExist') {
      if (values.length > 0) errs.push(forbidden(`${p}.values`, "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"));
    } else {
      errs.push(invalid(`${p}.operator`, op, 'not a valid selector operator'));
    }
    for (const m of isQualifiedName(str(e.key))) errs.push(invalid(`${p}.key`, str(e.key), m));
    values.forEach((v, j) => {
      for (const m of isValidLabelValue(str(v))) errs.push(invalid(`${p}.values[${j}]`, str(v), m));
    });
  });
  errs.push(...validateLabels(sel.matchLabels, `${fldPath}.matchLabels`));
  return errs;
}

/** whether a selector has no requirement at all (an empty selector selects everything) */
export function selectorEmpty(sel: unknown): boolean {
  const s = obj(sel);
  return Object.keys(obj(s.matchLabels)).length + arr(s.matchExpressions).length === 0;
}

/** whether `sel` (a valid metav1.LabelSelector) selects `labels`; undefined when it is not valid */
export function selectorMatches(sel: unknown, labels: unknown): boolean | undefined {
  if (arr(obj(sel).matchExpressions).some((e) => !OPERATORS.includes(str(obj(e).operator)))) return undefined;
  try {
    return labelSelectorFromObject(sel as LabelSelectorObject).matches(isObj(labels) ? (labels as Record<string, string>) : {});
  } catch {
    return undefined;
  }
}

/** The template's labels must be selected: `spec.template.metadata.labels: Invalid value: map...`. */
export function selectorMatchesTemplate(sel: unknown, template: Obj, templatePath: string): ValidationError[] {
  if (selectorEmpty(sel)) return [];
  const labels = obj(template.metadata).labels;
  if (selectorMatches(sel, labels) !== false) return [];
  return [{ type: 'FieldValueInvalid', field: `${templatePath}.metadata.labels`, value: labels ?? null, rawValue: goStringMap(labels), detail: '`selector` does not match template `labels`' }];
}

/** ValidateImmutableField for a LabelSelector, printed as Go does */
export function immutableSelector(newSel: unknown, oldSel: unknown, fldPath: string): ValidationError[] {
  if (semanticEqual(newSel, oldSel)) return [];
  return [{ type: 'FieldValueInvalid', field: fldPath, value: newSel ?? null, rawValue: goLabelSelector(newSel), detail: 'field is immutable' }];
}
