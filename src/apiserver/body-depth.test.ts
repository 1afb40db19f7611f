import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import YAML from 'yaml';

import { jsonTooDeep, MAX_NESTING_DEPTH, yamlTooDeep } from './body-depth.js';

const nest = (n: number, open: string, close: string, inner = '1') => open.repeat(n) + inner + close.repeat(n);

describe('nesting limits', () => {
  it('JSON: counts brackets outside strings', () => {
    assert.equal(jsonTooDeep(nest(MAX_NESTING_DEPTH, '[', ']')), false);
    assert.equal(jsonTooDeep(nest(MAX_NESTING_DEPTH + 1, '[', ']')), true);
    assert.equal(jsonTooDeep(nest(MAX_NESTING_DEPTH + 1, '{"a":', '}')), true);
    // brackets inside strings (and escaped quotes) are not nesting
    assert.equal(jsonTooDeep(JSON.stringify({ a: '['.repeat(5000), b: '\\"[[[['.repeat(100) })), false);
    // a body at the limit is still something V8 can stringify and clone
    const v = JSON.parse(nest(MAX_NESTING_DEPTH, '[', ']'));
    JSON.stringify(v);
    structuredClone(v);
  });

  it('YAML: flow, block sequences on one line, block mappings by indentation', () => {
    assert.equal(yamlTooDeep('apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - name: c\n    command: [a, {b: [c]}]\n'), false);
    assert.equal(yamlTooDeep(nest(MAX_NESTING_DEPTH - 2, '[', ']')), false);
    assert.equal(yamlTooDeep('['.repeat(MAX_NESTING_DEPTH + 5)), true);
    assert.equal(yamlTooDeep('- '.repeat(MAX_NESTING_DEPTH + 5) + 'x'), true);
    const indented = ['a:', ...Array.from({ length: MAX_NESTING_DEPTH + 5 }, (_v, i) => `${' '.repeat(i + 1)}b:`)].join('\n') + ' x\n';
    assert.equal(yamlTooDeep(indented), true);
    // what passes the check parses without overflowing the yaml package's stack
    YAML.parse(nest(MAX_NESTING_DEPTH - 2, '[', ']'));
    YAML.parse('- '.repeat(MAX_NESTING_DEPTH - 2) + 'x');
  });

  it('a huge body is refused in one linear pass', () => {
    const t = Date.now();
    assert.equal(yamlTooDeep('['.repeat(3 * 1024 * 1024)), true);
    assert.equal(jsonTooDeep('['.repeat(3 * 1024 * 1024)), true);
    assert.ok(Date.now() - t < 2000, `took ${Date.now() - t} ms`);
  });
});
