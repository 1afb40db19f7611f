/**
 * Nesting limits for request bodies, checked before anything recursive touches them.
 *
 * kube-apiserver's JSON decoder (sigs.k8s.io/json, a fork of encoding/json) stops at 10000
 * nested objects/arrays with "exceeded max depth". podbay cannot go that deep: V8's
 * JSON.stringify and structuredClone overflow the stack between 1000 and 5000 levels, and the
 * `yaml` package's composer near 800 — after which that package is left in a state where the
 * next parse can abort the whole process (RegExpCompiler out of memory, seen here). No object
 * of a served kind nests more than about 20 levels, so the limit is 200: a body deeper than
 * that is refused with 400 before it is parsed (YAML) or walked (JSON).
 *
 * Both scans are iterative: JSON by counting brackets outside strings, YAML by driving the
 * package's CST parser (a token loop with an explicit stack) and stopping as soon as its stack
 * is too deep, so a 3 MiB body of "[[[[..." costs one linear pass.
 */
import { yaml } from '../lazy-module.js';

export const MAX_NESTING_DEPTH = 200;

export function nestingMessage(max = MAX_NESTING_DEPTH): string {
  return `exceeded max depth: objects and arrays may nest at most ${max} levels deep in a podbay request body`;
}

/** true when the JSON text nests objects/arrays deeper than `max` (strings are skipped) */
export function jsonTooDeep(text: string, max = MAX_NESTING_DEPTH): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

/**
 * true when the YAML text nests deeper than `max`. The CST parser's stack holds one entry per
 * open collection (plus the document), so it is an upper bound of the nesting depth.
 */
export function yamlTooDeep(text: string, max = MAX_NESTING_DEPTH): boolean {
  const { Lexer, Parser } = yaml();
  const parser = new Parser();
  for (const lexeme of new Lexer().lex(text, false)) {
    for (const _token of parser.next(lexeme)) {
      /* documents are not needed, only the depth on the way */
    }
    if (parser.stack.length > max + 1) return true;
  }
  return false;
}
