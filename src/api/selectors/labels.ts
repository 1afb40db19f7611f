/**
 * Kubernetes label selectors: the query-string syntax (`a=b,c!=d,e in (x,y),f notin (z),g,!h`,
 * also `==`, `>`/`<` for integers) parsed exactly like k8s.io/apimachinery/pkg/labels
 * (same lexer, grammar, validation and error wording), and metav1.LabelSelector objects
 * (matchLabels / matchExpressions, as metav1.LabelSelectorAsSelector).
 *
 * Parse errors are 400 BadRequest with upstream's message, e.g.
 * `unable to parse requirement: values[0][app]: Invalid value: "-x": a valid label must be ...`.
 */
import { ApiError, badRequest } from '../errors.js';
import { isDNS1123Subdomain, isQualifiedName, isValidLabelValue } from '../validation/names.js';

/** selection.Operator values. */
export type Operator = '!' | '=' | '==' | 'in' | '!=' | 'notin' | 'exists' | 'gt' | 'lt';

export interface Requirement {
  key: string;
  operator: Operator;
  /** sorted and de-duplicated for in/notin (as the parser produces them) */
  values: string[];
}

export type Labels = Record<string, string> | null | undefined;

// ---------------------------------------------------------------------------------------------
// Validation (k8s.io/apimachinery/pkg/api/validate/content)

// Key and value rules are apimachinery's validation helpers, shared with object validation.
/** content.IsDNS1123Subdomain */
export const dns1123SubdomainErrors = isDNS1123Subdomain;
/** content.IsLabelKey (IsQualifiedName): empty when valid. */
export const labelKeyErrors = isQualifiedName;
/** content.IsLabelValue: empty when valid. */
export const labelValueErrors = isValidLabelValue;

// field.Error rendering, with paths as field.Path prints them (a nil path prints "<nil>").
function goQuote(s: string): string {
  return JSON.stringify(s);
}

function invalidText(path: string, value: unknown, detail: string): string {
  // Go renders non-string values with json.Marshal; the value lists here are nil when empty
  const v = typeof value === 'string' ? goQuote(value) : Array.isArray(value) && value.length === 0 ? 'null' : JSON.stringify(value);
  return `${path}: Invalid value: ${v}${detail ? `: ${detail}` : ''}`;
}

function aggregate(errs: string[]): string {
  const uniq = [...new Set(errs)];
  return uniq.length === 1 ? uniq[0] : `[${uniq.join(', ')}]`;
}

class SelectorError extends Error {}

const BINARY_OPERATORS: Operator[] = ['in', 'notin', '=', '==', '!=', 'gt', 'lt'];
const VALID_OPERATORS: Operator[] = [...BINARY_OPERATORS, 'exists', '!'];
const INT64 = /^[+-]?\d+$/;

function parseInt64(s: string): bigint | undefined {
  if (!INT64.test(s)) return undefined;
  const v = BigInt(s);
  if (v > 9223372036854775807n || v < -9223372036854775808n) return undefined;
  return v;
}

/**
 * labels.NewRequirement: validates and builds one requirement. `path` is the field path
 * prefix (none for query strings). Throws SelectorError with the aggregated message.
 */
function newRequirement(key: string, op: Operator, vals: string[], path = ''): Requirement {
  const errs: string[] = [];
  const child = (name: string): string => (path ? `${path}.${name}` : name);
  const keyErrs = labelKeyErrors(key);
  if (keyErrs.length) errs.push(invalidText(child('key'), key, keyErrs.join('; ')));
  const valuePath = child('values');
  switch (op) {
    case 'in':
    case 'notin':
      if (vals.length === 0) errs.push(invalidText(valuePath, vals, "for 'in', 'notin' operators, values set can't be empty"));
      break;
    case '=':
    case '==':
    case '!=':
      if (vals.length !== 1) errs.push(invalidText(valuePath, vals, 'exact-match compatibility requires one single value'));
      break;
    case 'exists':
    case '!':
      if (vals.length !== 0) errs.push(invalidText(valuePath, vals, 'values set must be empty for exists and does not exist'));
      break;
    case 'gt':
    case 'lt':
      if (vals.length !== 1) errs.push(invalidText(valuePath, vals, "for 'Gt', 'Lt' operators, exactly one value is required"));
      vals.forEach((v, i) => {
        if (parseInt64(v) === undefined) errs.push(invalidText(`${valuePath}[${i}]`, v, "for 'Gt', 'Lt' operators, the value must be an integer"));
      });
      break;
    default:
      errs.push(
        `${child('operator')}: Unsupported value: ${goQuote(String(op))}: supported values: ${VALID_OPERATORS.map(goQuote).join(', ')}`,
      );
  }
  vals.forEach((v, i) => {
    const ve = labelValueErrors(v);
    if (ve.length) errs.push(invalidText(`${valuePath}[${i}][${key}]`, v, ve.join('; ')));
  });
  if (errs.length) throw new SelectorError(aggregate(errs));
  return { key, operator: op, values: vals };
}

function requirementMatches(r: Requirement, labels: Labels): boolean {
  const has = labels != null && Object.prototype.hasOwnProperty.call(labels, r.key);
  const val = has ? String(labels![r.key]) : undefined;
  switch (r.operator) {
    case 'in':
    case '=':
    case '==':
      return has && r.values.includes(val!);
    case 'notin':
    case '!=':
      return !has || !r.values.includes(val!);
    case 'exists':
      return has;
    case '!':
      return !has;
    case 'gt':
    case 'lt': {
      if (!has) return false;
      const lv = parseInt64(val!);
      if (lv === undefined || r.values.length !== 1) return false;
      const rv = parseInt64(r.values[0]);
      if (rv === undefined) return false;
      return r.operator === 'gt' ? lv > rv : lv < rv;
    }
    default:
      return false;
  }
}

/** Requirement.String() */
export function requirementString(r: Requirement): string {
  const parts: string[] = [];
  if (r.operator === '!') parts.push('!');
  parts.push(r.key);
  switch (r.operator) {
    case '=':
      parts.push('=');
      break;
    case '==':
      parts.push('==');
      break;
    case 'in':
      parts.push(' in ');
      break;
    case 'notin':
      parts.push(' notin ');
      break;
    case '!=':
      parts.push('!=');
      break;
    case 'gt':
      parts.push('>');
      break;
    case 'lt':
      parts.push('<');
      break;
    case 'exists':
    case '!':
      return parts.join('');
  }
  const vals = [...r.values].sort();
  if (r.operator === 'in' || r.operator === 'notin') parts.push('(', vals.join(','), ')');
  else parts.push(vals.join(','));
  return parts.join('');
}

/** A parsed label selector (AND of requirements). */
export class LabelSelector {
  private constructor(
    readonly requirements: readonly Requirement[],
    /** labels.Nothing(): matches no object (a nil metav1.LabelSelector) */
    readonly matchesNothing = false,
  ) {}

  static of(reqs: Requirement[]): LabelSelector {
    const sorted = reqs.map((r, i) => ({ r, i })).sort((a, b) => (a.r.key < b.r.key ? -1 : a.r.key > b.r.key ? 1 : a.i - b.i));
    return new LabelSelector(sorted.map((e) => e.r));
  }

  static everything(): LabelSelector {
    return new LabelSelector([]);
  }

  static nothing(): LabelSelector {
    return new LabelSelector([], true);
  }

  matches(labels: Labels): boolean {
    if (this.matchesNothing) return false;
    return this.requirements.every((r) => requirementMatches(r, labels));
  }

  /** true for the selector that selects everything */
  empty(): boolean {
    return !this.matchesNothing && this.requirements.length === 0;
  }

  /** The value `key` must equal for a match, if the selector pins it (`key=v`, `key==v`, `key in (v)`). */
  requiresExactMatch(key: string): string | undefined {
    for (const r of this.requirements) {
      if (r.key !== key) continue;
      if ((r.operator === '=' || r.operator === '==' || r.operator === 'in') && r.values.length === 1) return r.values[0];
    }
    return undefined;
  }

  toString(): string {
    return this.requirements.map(requirementString).join(',');
  }
}

// ---------------------------------------------------------------------------------------------
// Lexer and parser (labels.Lexer / labels.Parser)

const enum Tok {
  Error,
  EndOfString,
  ClosedPar,
  Comma,
  DoesNotExist,
  DoubleEquals,
  Equals,
  GreaterThan,
  Identifier,
  In,
  LessThan,
  NotEquals,
  NotIn,
  OpenPar,
}

const STRING_TO_TOKEN: Record<string, Tok> = {
  ')': Tok.ClosedPar,
  ',': Tok.Comma,
  '!': Tok.DoesNotExist,
  '==': Tok.DoubleEquals,
  '=': Tok.Equals,
  '>': Tok.GreaterThan,
  in: Tok.In,
  '<': Tok.LessThan,
  '!=': Tok.NotEquals,
  notin: Tok.NotIn,
  '(': Tok.OpenPar,
};

const tokenFor = (s: string): Tok | undefined => (Object.prototype.hasOwnProperty.call(STRING_TO_TOKEN, s) ? STRING_TO_TOKEN[s] : undefined);
const isWhitespace = (ch: string): boolean => ch === ' ' || ch === '\t' || ch === '\r' || ch === '\n';
const isSpecialSymbol = (ch: string): boolean => '=!(),><'.includes(ch) && ch.length === 1;
const END = '\0';

interface Item {
  tok: Tok;
  lit: string;
}

function lex(s: string): Item[] {
  let pos = 0;
  const read = (): string => (pos < s.length ? s[pos++] : END);
  const unread = (): void => {
    pos--;
  };
  const items: Item[] = [];
  for (;;) {
    let ch = read();
    while (isWhitespace(ch)) ch = read();
    let item: Item;
    if (ch === END) {
      item = { tok: Tok.EndOfString, lit: '' };
    } else if (isSpecialSymbol(ch)) {
      unread();
      let buffer = '';
      let last: Item | undefined;
      for (;;) {
        const c = read();
        if (c === END) break;
        if (isSpecialSymbol(c)) {
          buffer += c;
          const t = tokenFor(buffer);
          if (t !== undefined) {
            last = { tok: t, lit: buffer };
          } else if (last) {
            unread();
            break;
          }
        } else {
          unread();
          break;
        }
      }
      item = last ?? { tok: Tok.Error, lit: `error expected: keyword found '${buffer}'` };
    } else {
      unread();
      let buffer = '';
      for (;;) {
        const c = read();
        if (c === END) break;
        if (isSpecialSymbol(c) || isWhitespace(c)) {
          unread();
          break;
        }
        buffer += c;
      }
      const t = tokenFor(buffer);
      item = { tok: t ?? Tok.Identifier, lit: buffer };
    }
    items.push(item);
    if (item.tok === Tok.EndOfString) return items;
  }
}

const enum Ctx {
  KeyAndOperator,
  Values,
}

class Parser {
  private position = 0;
  constructor(private readonly items: Item[]) {}

  private view(item: Item, ctx: Ctx): [Tok, string] {
    let tok = item.tok;
    if (ctx === Ctx.Values && (tok === Tok.In || tok === Tok.NotIn)) tok = Tok.Identifier;
    return [tok, item.lit];
  }

  private lookahead(ctx: Ctx): [Tok, string] {
    return this.view(this.items[this.position], ctx);
  }

  private consume(ctx: Ctx): [Tok, string] {
    return this.view(this.items[this.position++], ctx);
  }

  parse(): Requirement[] {
    const reqs: Requirement[] = [];
    for (;;) {
      const [tok, lit] = this.lookahead(Ctx.Values);
      switch (tok) {
        case Tok.Identifier:
        case Tok.DoesNotExist: {
          let r: Requirement;
          try {
            r = this.parseRequirement();
          } catch (e) {
            if (e instanceof SelectorError) throw new SelectorError(`unable to parse requirement: ${e.message}`);
            throw e;
          }
          reqs.push(r);
          const [t, l] = this.consume(Ctx.Values);
          if (t === Tok.EndOfString) return reqs;
          if (t === Tok.Comma) {
            const [t2, l2] = this.lookahead(Ctx.Values);
            if (t2 !== Tok.Identifier && t2 !== Tok.DoesNotExist) throw new SelectorError(`found '${l2}', expected: identifier after ','`);
          } else {
            throw new SelectorError(`found '${l}', expected: ',' or 'end of string'`);
          }
          break;
        }
        case Tok.EndOfString:
          return reqs;
        default:
          throw new SelectorError(`found '${lit}', expected: !, identifier, or 'end of string'`);
      }
    }
  }

  private parseRequirement(): Requirement {
    const [key, inferred] = this.parseKeyAndInferOperator();
    if (inferred === 'exists' || inferred === '!') return newRequirement(key, inferred, []);
    const op = this.parseOperator();
    const values = op === 'in' || op === 'notin' ? this.parseValues() : this.parseExactValue();
    return newRequirement(key, op, [...values].sort());
  }

  private parseKeyAndInferOperator(): [string, Operator | ''] {
    let op: Operator | '' = '';
    let [tok, lit] = this.consume(Ctx.Values);
    if (tok === Tok.DoesNotExist) {
      op = '!';
      [tok, lit] = this.consume(Ctx.Values);
    }
    if (tok !== Tok.Identifier) throw new SelectorError(`found '${lit}', expected: identifier`);
    const keyErrs = labelKeyErrors(lit);
    if (keyErrs.length) throw new SelectorError(invalidText('<nil>', lit, keyErrs.join('; ')));
    const [next] = this.lookahead(Ctx.Values);
    if ((next === Tok.EndOfString || next === Tok.Comma) && op !== '!') op = 'exists';
    return [lit, op];
  }

  private parseOperator(): Operator {
    const [tok, lit] = this.consume(Ctx.KeyAndOperator);
    switch (tok) {
      case Tok.In:
        return 'in';
      case Tok.Equals:
        return '=';
      case Tok.DoubleEquals:
        return '==';
      case Tok.GreaterThan:
        return 'gt';
      case Tok.LessThan:
        return 'lt';
      case Tok.NotIn:
        return 'notin';
      case Tok.NotEquals:
        return '!=';
      default:
        throw new SelectorError(`found '${lit}', expected: ${BINARY_OPERATORS.join(', ')}`);
    }
  }

  private parseValues(): Set<string> {
    let [tok, lit] = this.consume(Ctx.Values);
    if (tok !== Tok.OpenPar) throw new SelectorError(`found '${lit}' expected: '('`);
    [tok, lit] = this.lookahead(Ctx.Values);
    switch (tok) {
      case Tok.Identifier:
      case Tok.Comma: {
        const s = this.parseIdentifiersList();
        const [closing] = this.consume(Ctx.Values);
        if (closing !== Tok.ClosedPar) throw new SelectorError(`found '${lit}', expected: ')'`);
        return s;
      }
      case Tok.ClosedPar:
        this.consume(Ctx.Values);
        return new Set(['']);
      default:
        throw new SelectorError(`found '${lit}', expected: ',', ')' or identifier`);
    }
  }

  private parseIdentifiersList(): Set<string> {
    const s = new Set<string>();
    for (;;) {
      const [tok, lit] = this.consume(Ctx.Values);
      switch (tok) {
        case Tok.Identifier: {
          s.add(lit);
          const [tok2, lit2] = this.lookahead(Ctx.Values);
          if (tok2 === Tok.Comma) continue;
          if (tok2 === Tok.ClosedPar) return s;
          throw new SelectorError(`found '${lit2}', expected: ',' or ')'`);
        }
        case Tok.Comma: {
          if (s.size === 0) s.add('');
          const [tok2] = this.lookahead(Ctx.Values);
          if (tok2 === Tok.ClosedPar) {
            s.add('');
            return s;
          }
          if (tok2 === Tok.Comma) s.add('');
          break;
        }
        default:
          throw new SelectorError(`found '${lit}', expected: ',', or identifier`);
      }
    }
  }

  private parseExactValue(): Set<string> {
    const [ahead] = this.lookahead(Ctx.Values);
    if (ahead === Tok.EndOfString || ahead === Tok.Comma) return new Set(['']);
    const [tok, lit] = this.consume(Ctx.Values);
    if (tok === Tok.Identifier) return new Set([lit]);
    throw new SelectorError(`found '${lit}', expected: identifier`);
  }
}

/**
 * Parse a label selector in query-string form (the `labelSelector` parameter). An empty string
 * selects everything. Throws 400 BadRequest with upstream's message on invalid input.
 */
export function parseLabelSelector(text: string): LabelSelector {
  try {
    return LabelSelector.of(new Parser(lex(text)).parse());
  } catch (e) {
    if (e instanceof SelectorError) throw badRequest(e.message);
    throw e;
  }
}

/** The matcher for a label selector string: `labelSelector(text).matches(labels)`. */
export const labelSelector = parseLabelSelector;

/** metav1.LabelSelectorRequirement */
export interface LabelSelectorRequirementObject {
  key: string;
  operator: string;
  values?: string[] | null;
}

/** metav1.LabelSelector */
export interface LabelSelectorObject {
  matchLabels?: Record<string, string> | null;
  matchExpressions?: LabelSelectorRequirementObject[] | null;
}

const EXPRESSION_OPERATORS: Record<string, Operator> = { In: 'in', NotIn: 'notin', Exists: 'exists', DoesNotExist: '!' };

/**
 * metav1.LabelSelectorAsSelector: a nil selector matches nothing, an empty one everything.
 * Invalid keys, values or operators throw 400 BadRequest with upstream's message
 * (`"Foo" is not a valid label selector operator`, `key: Invalid value: ...`).
 */
export function labelSelectorFromObject(sel: LabelSelectorObject | null | undefined): LabelSelector {
  if (sel == null) return LabelSelector.nothing();
  const matchLabels = sel.matchLabels ?? {};
  const exprs = sel.matchExpressions ?? [];
  if (Object.keys(matchLabels).length + exprs.length === 0) return LabelSelector.everything();
  const reqs: Requirement[] = [];
  try {
    for (const [k, v] of Object.entries(matchLabels)) reqs.push(newRequirement(k, '=', [String(v)]));
    for (const expr of exprs) {
      const op = Object.prototype.hasOwnProperty.call(EXPRESSION_OPERATORS, expr.operator) ? EXPRESSION_OPERATORS[expr.operator] : undefined;
      if (!op) throw new SelectorError(`${goQuote(String(expr.operator))} is not a valid label selector operator`);
      reqs.push(newRequirement(expr.key, op, [...(expr.values ?? [])]));
    }
  } catch (e) {
    if (e instanceof SelectorError) throw badRequest(e.message);
    throw e;
  }
  return LabelSelector.of(reqs);
}

/** Whether `e` is the 400 this module throws (convenience for callers). */
export function isSelectorError(e: unknown): e is ApiError {
  return e instanceof ApiError && e.code === 400;
}
