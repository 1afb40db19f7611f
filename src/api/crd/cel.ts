/**
 * x-kubernetes-validations: CEL rules on a schema node, evaluated with @marcbachmann/cel-js.
 *
 * `self` is the value at the node, `oldSelf` the stored value on an update (a rule that names
 * oldSelf is a transition rule: it runs only when there is an old value to compare with, as
 * upstream). Integers reach CEL as int (BigInt), numbers as double, per the schema.
 *
 * The library does not have every function of Kubernetes' CEL environment (quantity(), url(),
 * isURL(), the list library's isSorted()...): a rule using one is refused when the CRD is
 * written (compileRule), never skipped when an object is.
 */
import type { Environment } from '@marcbachmann/cel-js';
import { lazyModule, lazyValue } from '../../lazy-module.js';
import type { FieldError } from '../errors.js';
import type { JSONSchemaProps, ValidationRule } from './types.js';

type Obj = Record<string, any>;

// the CEL library loads with the first CRD that has rules or webhook with matchConditions, not
// at start (an ES module: loaded through require, which Node >= 20.19 does for modules without
// top-level await)
export const cel = lazyModule<typeof import('@marcbachmann/cel-js')>('@marcbachmann/cel-js');
const env = lazyValue(() =>
  new (cel().Environment)({ unlistedVariablesAreDyn: false, homogeneousAggregateLiterals: false }).registerVariable('self', 'dyn').registerVariable('oldSelf', 'dyn'),
);

type Program = ReturnType<Environment['parse']>;
const programs = new Map<string, Program>();

/** why a rule (or messageExpression) cannot be used, or undefined when it compiles and type-checks */
export function compileRule(expr: string): string | undefined {
  let p: Program;
  try {
    p = env().parse(expr);
  } catch (e) {
    return `compilation failed: ${firstLine(e)}`;
  }
  const checked = env().check(expr) as { valid: boolean; error?: Error };
  if (!checked.valid) {
    return `compilation failed: ${firstLine(checked.error)} (podbay evaluates rules with @marcbachmann/cel-js, which lacks this function or operand type)`;
  }
  programs.set(expr, p);
  return undefined;
}

function firstLine(e: unknown): string {
  return String((e as Error)?.message ?? e).split('\n')[0]!;
}

function program(expr: string): Program {
  let p = programs.get(expr);
  if (!p) programs.set(expr, (p = env().parse(expr)));
  return p;
}

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** a JSON value as CEL sees it: integers as int (BigInt) unless the schema says number */
export function toCel(s: JSONSchemaProps | undefined, v: unknown): unknown {
  if (typeof v === 'number') return Number.isInteger(v) && s?.type !== 'number' ? BigInt(v) : v;
  if (Array.isArray(v)) {
    const is = Array.isArray(s?.items) ? s?.items[0] : s?.items;
    return v.map((x) => toCel(is, x));
  }
  if (isObj(v)) {
    const out: Obj = {};
    const addl = isObj(s?.additionalProperties) ? (s!.additionalProperties as JSONSchemaProps) : undefined;
    for (const [k, x] of Object.entries(v)) out[k] = toCel(s?.properties?.[k] ?? addl, x);
    return out;
  }
  return v;
}

/** the name of a value's type in failure messages (`Invalid value: "object"`) */
function typeName(s: JSONSchemaProps): string {
  if (s['x-kubernetes-int-or-string']) return 'integer-or-string';
  return s.type ?? 'object';
}

const REASONS: Record<string, FieldError['type']> = {
  FieldValueInvalid: 'FieldValueInvalid',
  FieldValueForbidden: 'FieldValueForbidden',
  FieldValueRequired: 'FieldValueRequired',
  FieldValueDuplicate: 'FieldValueDuplicate',
};

function usesOldSelf(rule: ValidationRule): boolean {
  return /\boldSelf\b/.test(rule.rule);
}

/** Field errors of the rules at schema node `s` for value `v` at `path`. */
export function evaluateRules(s: JSONSchemaProps, v: unknown, old: unknown, path: string): FieldError[] {
  const errs: FieldError[] = [];
  const self = toCel(s, v);
  const oldSelf = old === undefined ? undefined : toCel(s, old);
  for (const rule of s['x-kubernetes-validations'] ?? []) {
    if (usesOldSelf(rule) && old === undefined) continue;
    const field = rule.fieldPath ? `${path === '<root>' ? '' : path}${rule.fieldPath}` : path;
    let ok: unknown;
    try {
      ok = program(rule.rule)({ self, oldSelf });
    } catch (e) {
      errs.push({ type: 'FieldValueInvalid', field, value: typeName(s), detail: `rule evaluation error: ${firstLine(e)}` } as FieldError);
      continue;
    }
    if (ok === true) continue;
    let message = rule.message || `failed rule: ${rule.rule}`;
    if (rule.messageExpression) {
      try {
        const m = program(rule.messageExpression)({ self, oldSelf });
        if (typeof m === 'string' && m.trim() !== '' && !m.includes('\n')) message = m;
      } catch {
        /* upstream falls back to message (or the rule) when messageExpression fails */
      }
    }
    const type = REASONS[rule.reason ?? 'FieldValueInvalid'] ?? 'FieldValueInvalid';
    if (type === 'FieldValueRequired' || type === 'FieldValueForbidden') errs.push({ type, field, detail: message });
    else errs.push({ type, field, value: typeName(s), detail: message } as FieldError);
  }
  return errs;
}
