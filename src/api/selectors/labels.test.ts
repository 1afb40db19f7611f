import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError } from '../errors.js';
import { labelKeyErrors, labelSelectorFromObject, labelValueErrors, LabelSelector, parseLabelSelector } from './labels.js';

function bad(text: string, message: string): void {
  try {
    parseLabelSelector(text);
  } catch (e) {
    assert.ok(e instanceof ApiError, String(e));
    assert.equal(e.code, 400);
    assert.equal(e.reason, 'BadRequest');
    assert.equal(e.message, message, `selector ${JSON.stringify(text)}`);
    return;
  }
  assert.fail(`expected ${JSON.stringify(text)} to be rejected`);
}

const KEY_RE_MSG =
  "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const VALUE_RE_MSG =
  "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

test('all operators parse and match', () => {
  const s = parseLabelSelector('a=b,c!=d,e in (x,y),f notin (z),g,!h');
  assert.equal(s.toString(), 'a=b,c!=d,e in (x,y),f notin (z),g,!h');
  const ok = { a: 'b', c: 'q', e: 'y', f: 'w', g: '' };
  assert.equal(s.matches(ok), true);
  assert.equal(s.matches({ ...ok, a: 'x' }), false);
  assert.equal(s.matches({ ...ok, c: 'd' }), false);
  assert.equal(s.matches({ ...ok, e: 'z' }), false);
  assert.equal(s.matches({ ...ok, f: 'z' }), false);
  assert.equal(s.matches({ a: 'b', c: 'q', e: 'y', f: 'w' }), false); // g missing
  assert.equal(s.matches({ ...ok, h: '1' }), false);
  // != and notin match a missing key
  const { c: _c, f: _f, ...noCF } = ok;
  assert.equal(s.matches(noCF), true);
});

test('== is accepted; whitespace is ignored', () => {
  const s = parseLabelSelector('  app == web ,  tier  in(a , b)');
  assert.equal(s.matches({ app: 'web', tier: 'b' }), true);
  assert.equal(s.toString(), 'app==web,tier in (a,b)');
});

test('empty selector matches everything; empty values', () => {
  assert.equal(parseLabelSelector('').matches({}), true);
  assert.equal(parseLabelSelector('').empty(), true);
  assert.equal(parseLabelSelector('a=').matches({ a: '' }), true);
  assert.equal(parseLabelSelector('a=').matches({}), false);
  const s = parseLabelSelector('x in (foo,,baz),y,z notin ()');
  assert.equal(s.toString(), 'x in (,baz,foo),y,z notin ()');
  assert.equal(s.matches({ x: '', y: '1' }), true);
  assert.equal(s.matches({ x: 'foo', y: '1', z: '' }), false);
});

test('in / notin may be used as keys and values', () => {
  const s = parseLabelSelector('in in (in,notin)');
  assert.equal(s.matches({ in: 'notin' }), true);
});

test('gt / lt compare integers', () => {
  const s = parseLabelSelector('n>5,m<10');
  assert.equal(s.matches({ n: '6', m: '9' }), true);
  assert.equal(s.matches({ n: '5', m: '9' }), false);
  assert.equal(s.matches({ n: 'x', m: '9' }), false);
  assert.equal(s.matches({ m: '9' }), false);
});

test('prefixed keys', () => {
  assert.equal(parseLabelSelector('app.kubernetes.io/name=web').matches({ 'app.kubernetes.io/name': 'web' }), true);
});

test('requirements are sorted by key; requiresExactMatch', () => {
  const s = parseLabelSelector('z=1,a in (x),m');
  assert.deepEqual(
    s.requirements.map((r) => r.key),
    ['a', 'm', 'z'],
  );
  assert.equal(s.requiresExactMatch('z'), '1');
  assert.equal(s.requiresExactMatch('a'), 'x');
  assert.equal(s.requiresExactMatch('m'), undefined);
});

test('syntax errors use upstream wording', () => {
  bad('a===', "unable to parse requirement: found '=', expected: identifier");
  bad('a b', "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt");
  bad('a=b,', "found '', expected: identifier after ','");
  bad(',a', "found ',', expected: !, identifier, or 'end of string'");
  bad('a in x', "unable to parse requirement: found 'x' expected: '('");
  bad('a in (b', "unable to parse requirement: found '', expected: ',' or ')'");
  bad('a in (b c)', "unable to parse requirement: found 'c', expected: ',' or ')'");
  bad('a in (=)', "unable to parse requirement: found '=', expected: ',', ')' or identifier");
  bad('!a=b', "found '=', expected: ',' or 'end of string'");
  bad('!', "unable to parse requirement: found '', expected: identifier");
  bad('a=b c', "found 'c', expected: ',' or 'end of string'");
});

test('invalid keys and values -> upstream validation messages', () => {
  bad('-a', `unable to parse requirement: <nil>: Invalid value: "-a": name part ${KEY_RE_MSG}`);
  bad('a=-b', `unable to parse requirement: values[0][a]: Invalid value: "-b": ${VALUE_RE_MSG}`);
  bad('a in (ok,-x)', `unable to parse requirement: values[0][a]: Invalid value: "-x": ${VALUE_RE_MSG}`);
  bad(
    'a/b/c',
    `unable to parse requirement: <nil>: Invalid value: "a/b/c": a qualified name ${KEY_RE_MSG} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`,
  );
  bad(`${'k'.repeat(64)}`, `unable to parse requirement: <nil>: Invalid value: "${'k'.repeat(64)}": name part must be no more than 63 characters`);
  bad(
    'a>x',
    `unable to parse requirement: values[0]: Invalid value: "x": for 'Gt', 'Lt' operators, the value must be an integer`,
  );
  bad(
    'Example.com/a',
    "unable to parse requirement: <nil>: Invalid value: \"Example.com/a\": prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
  );
});

test('label key / value validators', () => {
  assert.deepEqual(labelKeyErrors('app'), []);
  assert.deepEqual(labelKeyErrors('/a'), ['prefix part must be non-empty']);
  assert.deepEqual(labelKeyErrors('a/'), ['name part must be non-empty', `name part ${KEY_RE_MSG}`]);
  assert.deepEqual(labelValueErrors(''), []);
  assert.deepEqual(labelValueErrors('v'.repeat(64)), ['must be no more than 63 characters']);
});

test('metav1.LabelSelector objects', () => {
  const s = labelSelectorFromObject({
    matchLabels: { app: 'web' },
    matchExpressions: [
      { key: 'tier', operator: 'In', values: ['a', 'b'] },
      { key: 'env', operator: 'NotIn', values: ['prod'] },
      { key: 'team', operator: 'Exists' },
      { key: 'legacy', operator: 'DoesNotExist' },
    ],
  });
  assert.equal(s.matches({ app: 'web', tier: 'a', team: 'x' }), true);
  assert.equal(s.matches({ app: 'web', tier: 'a', team: 'x', env: 'prod' }), false);
  assert.equal(s.matches({ app: 'web', tier: 'a', team: 'x', legacy: '1' }), false);
  assert.equal(s.matches({ app: 'web', tier: 'c', team: 'x' }), false);
  assert.equal(s.toString(), 'app=web,env notin (prod),!legacy,team,tier in (a,b)');

  assert.equal(labelSelectorFromObject(null).matches({}), false); // nil selector: nothing
  assert.equal(labelSelectorFromObject({}).matches({ any: 'x' }), true); // empty: everything
  assert.ok(labelSelectorFromObject({ matchLabels: {} }).empty());
  assert.ok(LabelSelector.nothing().matches({}) === false);
});

test('metav1.LabelSelector errors', () => {
  const msg = (fn: () => unknown): string => {
    try {
      fn();
    } catch (e) {
      assert.ok(e instanceof ApiError);
      assert.equal(e.code, 400);
      return e.message;
    }
    return '';
  };
  assert.equal(msg(() => labelSelectorFromObject({ matchExpressions: [{ key: 'a', operator: 'Foo' }] })), '"Foo" is not a valid label selector operator');
  assert.equal(
    msg(() => labelSelectorFromObject({ matchExpressions: [{ key: 'a', operator: 'In', values: [] }] })),
    'values: Invalid value: null: for \'in\', \'notin\' operators, values set can\'t be empty',
  );
  assert.equal(
    msg(() => labelSelectorFromObject({ matchExpressions: [{ key: 'a', operator: 'Exists', values: ['x'] }] })),
    'values: Invalid value: ["x"]: values set must be empty for exists and does not exist',
  );
  assert.equal(msg(() => labelSelectorFromObject({ matchLabels: { a: '-x' } })), `values[0][a]: Invalid value: "-x": ${VALUE_RE_MSG}`);
  assert.equal(
    msg(() => labelSelectorFromObject({ matchLabels: { '-k': '-x' } })),
    `[key: Invalid value: "-k": name part ${KEY_RE_MSG}, values[0][-k]: Invalid value: "-x": ${VALUE_RE_MSG}]`,
  );
});
