import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { ApiError } from '../api/errors.js';
import { checkQueryEscapes, decodePathSegment, MAX_TIMER_SECONDS, parseGoInt64, parseQueryBool, parseResourceVersion, queryBool, watchTimeoutSeconds } from './query.js';

function badRequestMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ApiError);
    assert.equal(e.code, 400);
    assert.equal(e.reason, 'BadRequest');
    return e.message;
  }
  assert.fail('expected a 400');
}

describe('query parameters, as Go parses them', () => {
  it('integers: strconv.ParseInt wording', () => {
    assert.equal(parseGoInt64('500'), 500);
    assert.equal(parseGoInt64('-1'), -1);
    assert.equal(parseGoInt64('+7'), 7);
    assert.equal(badRequestMessage(() => parseGoInt64('1e20')), 'strconv.ParseInt: parsing "1e20": invalid syntax');
    assert.equal(badRequestMessage(() => parseGoInt64('1.5')), 'strconv.ParseInt: parsing "1.5": invalid syntax');
    assert.equal(badRequestMessage(() => parseGoInt64(' 1')), 'strconv.ParseInt: parsing " 1": invalid syntax');
    assert.equal(badRequestMessage(() => parseGoInt64('9223372036854775808')), 'strconv.ParseInt: parsing "9223372036854775808": value out of range');
    assert.equal(parseGoInt64('9223372036854775807'), 2 ** 63);
  });

  it('a watch timeout longer than a Node timer can hold is capped, not overflowed', () => {
    assert.equal(watchTimeoutSeconds(new URLSearchParams('timeoutSeconds=30')), 30);
    assert.equal(watchTimeoutSeconds(new URLSearchParams('timeoutSeconds=9223372036854775807')), MAX_TIMER_SECONDS);
    assert.ok(MAX_TIMER_SECONDS * 1000 <= 2 ** 31 - 1);
    assert.equal(watchTimeoutSeconds(new URLSearchParams('')), undefined);
  });

  it('resourceVersion: an unsigned decimal, with the field named', () => {
    assert.equal(parseResourceVersion(undefined), undefined);
    assert.equal(parseResourceVersion(''), undefined);
    assert.equal(parseResourceVersion('0'), 0);
    assert.equal(parseResourceVersion('123'), 123);
    assert.equal(
      badRequestMessage(() => parseResourceVersion('abc')),
      'invalid resource version: resourceVersion: Invalid value: "abc": strconv.ParseUint: parsing "abc": invalid syntax',
    );
    assert.match(badRequestMessage(() => parseResourceVersion('-1', 'metadata.resourceVersion')), /^invalid resource version: metadata\.resourceVersion: Invalid value: "-1"/);
    assert.match(badRequestMessage(() => parseResourceVersion('18446744073709551616')), /value out of range$/);
  });

  it('%-escapes: url.EscapeError wording', () => {
    assert.equal(decodePathSegment('a%2Fb'), 'a/b');
    assert.equal(badRequestMessage(() => decodePathSegment('%zz')), 'invalid URL escape "%zz"');
    assert.equal(badRequestMessage(() => decodePathSegment('ab%4')), 'invalid URL escape "%4"');
    assert.match(badRequestMessage(() => decodePathSegment('%ff')), /not UTF-8/);
    checkQueryEscapes('?labelSelector=a%3Db&limit=5');
    assert.equal(badRequestMessage(() => checkQueryEscapes('?labelSelector=%zz')), 'invalid URL escape "%zz"');
  });
});

describe('boolean query parameters, as runtime.Convert_Slice_string_To_bool reads them', () => {
  it('absent, "0" and "false" in any letter case are false; every other value is true', () => {
    // the values Go's strconv.ParseBool knows, and some it does not: kube-apiserver never refuses one
    const table: [string | null, boolean][] = [
      [null, false],
      ['0', false],
      ['false', false],
      ['False', false],
      ['FALSE', false],
      ['fAlSe', false],
      ['1', true],
      ['t', true],
      ['T', true],
      ['true', true],
      ['True', true],
      ['TRUE', true],
      ['', true],
      ['yes', true],
      ['f', true],
      ['F', true],
      ['no', true],
      ['00', true],
    ];
    for (const [v, want] of table) assert.equal(parseQueryBool(v), want, `value ${JSON.stringify(v)}`);
  });

  it('queryBool takes the first value and leaves an absent parameter undefined', () => {
    assert.equal(queryBool(new URLSearchParams('watch=True'), 'watch'), true);
    assert.equal(queryBool(new URLSearchParams('watch=false&watch=true'), 'watch'), false);
    assert.equal(queryBool(new URLSearchParams('watch'), 'watch'), true);
    assert.equal(queryBool(new URLSearchParams('follow=1'), 'watch'), undefined);
  });
});
