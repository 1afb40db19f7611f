import { test } from 'node:test';
import assert from 'node:assert/strict';
import { booleanFlag, parseArgs } from './args.js';

test('flags with values, inline values, booleans and positionals', () => {
  const p = parseArgs(['--data-dir', '/d', '--listen=127.0.0.1:1', '--no-kubelet', 'extra'], ['no-kubelet']);
  assert.equal(p.flags.get('data-dir'), '/d');
  assert.equal(p.flags.get('listen'), '127.0.0.1:1');
  assert.equal(p.flags.get('no-kubelet'), 'true');
  assert.deepEqual(p.positionals, ['extra']);
});

test('an unknown flag is named at once instead of swallowing the next argument', () => {
  assert.throws(() => parseArgs(['--bogus', '--data-dir', 'x'], [], ['data-dir'], 'server'), /unknown flag: --bogus \(podbay server accepts: --data-dir\)/);
  assert.throws(() => parseArgs(['--data-dir'], [], ['data-dir']), /flag --data-dir needs a value/);
});

test('boolean flags with a value: true or false as Go reads them, a default when absent, anything else named', () => {
  const p = parseArgs(['--anonymous-auth=false', '--on'], ['anonymous-auth', 'on']);
  assert.equal(booleanFlag(p.flags.get('anonymous-auth'), 'anonymous-auth', true), false);
  assert.equal(booleanFlag(p.flags.get('on'), 'on', false), true);
  assert.equal(booleanFlag(undefined, 'x', true), true);
  assert.equal(booleanFlag('0', 'x', true), false);
  assert.throws(() => booleanFlag('no', 'anonymous-auth', true), /invalid argument "no" for "--anonymous-auth" flag: want true or false/);
});
