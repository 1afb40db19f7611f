/**
 * The bad-input corpus (test/corpus/*.http): one request per file and what podbay must answer.
 * The format is documented in test/corpus/README.md; this module only reads it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { ROOT } from '../fixtures/seed.js';

export const CORPUS_DIR = join(ROOT, 'test/corpus');

export interface CorpusCase {
  /** the file name without .http */
  name: string;
  /** the comment lines at the top */
  about: string;
  method: string;
  path: string;
  contentType?: string;
  body?: Buffer;
  expect: { status?: number; reason?: string; field?: string; message?: string };
}

/**
 * Body templates, so that huge and deep bodies stay small files:
 *   {{repeat N "text"}}   the JSON string "text", N times
 *   {{indent-map N}}      a YAML block mapping N levels deep ("a:\n b:\n  b:\n ...")
 */
export function expandBody(body: string): string {
  return body
    .replace(/\{\{repeat (\d+) ("(?:[^"\\]|\\.)*")\}\}/g, (_m, n: string, s: string) => (JSON.parse(s) as string).repeat(Number(n)))
    .replace(/\{\{indent-map (\d+)\}\}/g, (_m, n: string) => ['a:', ...Array.from({ length: Number(n) }, (_v, i) => `${' '.repeat(i + 1)}b:`)].join('\n') + ' x\n');
}

export function parseCase(name: string, text: string): CorpusCase {
  const split = text.indexOf('\n\n');
  const head = (split < 0 ? text : text.slice(0, split)).split('\n');
  const rawBody = split < 0 ? undefined : text.slice(split + 2).replace(/\n$/, '');
  const about = head.filter((l) => l.startsWith('#')).map((l) => l.replace(/^#\s?/, '')).join(' ');
  const lines = head.filter((l) => !l.startsWith('#') && l.trim());
  const m = /^([A-Z]+) (\S+)$/.exec(lines[0] ?? '');
  if (!m) throw new Error(`${name}: the first line after the comments must be "METHOD /path", not ${JSON.stringify(lines[0])}`);
  const headers = new Map<string, string>();
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    if (i < 0) throw new Error(`${name}: not a header: ${JSON.stringify(l)}`);
    headers.set(l.slice(0, i).trim().toLowerCase(), l.slice(i + 1).trim());
  }
  const known = ['content-type', 'body-encoding', 'expect-status', 'expect-reason', 'expect-field', 'expect-message'];
  for (const k of headers.keys()) if (!known.includes(k)) throw new Error(`${name}: unknown header ${k} (known: ${known.join(', ')})`);
  let body: Buffer | undefined;
  if (rawBody !== undefined && headers.has('content-type')) {
    const expanded = expandBody(rawBody);
    body = headers.get('body-encoding') === 'base64' ? Buffer.from(expanded, 'base64') : Buffer.from(expanded, 'utf8');
  }
  const status = headers.get('expect-status');
  return {
    name,
    about,
    method: m[1],
    path: m[2],
    contentType: headers.get('content-type'),
    body,
    expect: {
      status: status === undefined ? undefined : Number(status),
      reason: headers.get('expect-reason'),
      field: headers.get('expect-field'),
      message: headers.get('expect-message'),
    },
  };
}

export function loadCorpus(dir = CORPUS_DIR): CorpusCase[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.http'))
    .sort()
    .map((f) => parseCase(f.slice(0, -'.http'.length), readFileSync(join(dir, f), 'utf8')));
}
