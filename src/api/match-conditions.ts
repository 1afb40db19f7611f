/**
 * matchConditions of admission webhooks (admissionregistration.k8s.io/v1, GA in 1.30): CEL
 * expressions over `object`, `oldObject` and `request` that decide whether a webhook the
 * rules and selectors picked is called, evaluated with the CEL library CRD validation rules
 * use (@marcbachmann/cel-js, see crd/cel.ts).
 *
 * As kube-apiserver's matchconditions.matcher: every condition is evaluated; any false ->
 * the webhook is skipped; all true -> called; an error and no false -> the failurePolicy
 * decides (Fail: the request is refused, Ignore: the webhook is skipped).
 *
 * `authorizer` (authorization checks from CEL) is not available in podbay: an expression
 * naming it is refused when the configuration is written, never evaluated as false.
 */
import type { Environment } from '@marcbachmann/cel-js';
import { lazyValue } from '../lazy-module.js';
import { cel, toCel } from './crd/cel.js';

type Obj = Record<string, any>;

/** upstream's limit on matchConditions per webhook */
export const MAX_MATCH_CONDITIONS = 64;

// built on first use: the CEL library is not loaded at start (crd/cel.ts)
const env = lazyValue(() =>
  new (cel().Environment)({ unlistedVariablesAreDyn: false, homogeneousAggregateLiterals: false })
    .registerVariable('object', 'dyn')
    .registerVariable('oldObject', 'dyn')
    .registerVariable('request', 'dyn'),
);

type Program = ReturnType<Environment['parse']>;
const programs = new Map<string, Program>();

function firstLine(e: unknown): string {
  return String((e as Error)?.message ?? e).split('\n')[0]!;
}

/** why an expression cannot be a match condition, or undefined when it compiles to a bool */
export function compileMatchCondition(expr: string): string | undefined {
  if (/\bauthorizer\b/.test(expr)) {
    return 'podbay does not evaluate authorizer checks in match conditions; select the requests with object, oldObject and request';
  }
  let p: Program;
  try {
    p = env().parse(expr);
  } catch (e) {
    return `compilation failed: ${firstLine(e)}`;
  }
  const checked = env().check(expr) as { valid: boolean; type?: string; error?: Error };
  if (!checked.valid) return `compilation failed: ${firstLine(checked.error)}`;
  if (checked.type !== 'bool' && checked.type !== 'dyn') return `must evaluate to bool, not ${checked.type}`;
  programs.set(expr, p);
  return undefined;
}

export interface MatchConditionInput {
  object: Obj | null;
  oldObject: Obj | null;
  /** the AdmissionRequest the webhook would be sent */
  request: Obj;
}

export type MatchResult = { matches: true } | { matches: false; failed?: string } | { matches: false; error: string };

/**
 * The conditions against one request. `error` is the aggregate of the evaluation errors
 * (`expression 'X' resulted in error: ...`) when none was false: the caller's failurePolicy
 * decides what it means.
 */
export function evaluateMatchConditions(conditions: Obj[], input: MatchConditionInput): MatchResult {
  const vars = { object: toCel(undefined, input.object), oldObject: toCel(undefined, input.oldObject), request: toCel(undefined, input.request) };
  const errors: string[] = [];
  for (const c of conditions) {
    const expr = String(c.expression ?? '');
    let out: unknown;
    try {
      let p = programs.get(expr);
      if (!p) {
        const why = compileMatchCondition(expr);
        if (why) throw new Error(why);
        p = programs.get(expr)!;
      }
      out = p(vars);
    } catch (e) {
      errors.push(`expression '${expr}' resulted in error: ${firstLine(e)}`);
      continue;
    }
    if (out === false) return { matches: false, failed: String(c.name ?? '') };
    if (out !== true) errors.push(`expression '${expr}' resulted in error: expected a bool, got ${out === null ? 'null' : typeof out}`);
  }
  // utilerrors.NewAggregate: one error as itself, several as [a, b]
  if (errors.length) return { matches: false, error: errors.length === 1 ? errors[0]! : `[${errors.join(', ')}]` };
  return { matches: true };
}
