import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gunzipSync } from 'node:zlib';
import { acceptsGzip, gzipOnce } from './gzip-cache.js';

const req = (ae?: string) => ({ headers: ae === undefined ? {} : { 'accept-encoding': ae } });

test('acceptsGzip reads Accept-Encoding as Go and curl send it', () => {
  assert.equal(acceptsGzip(req('gzip')), true);
  assert.equal(acceptsGzip(req('deflate, gzip;q=0.5')), true);
  assert.equal(acceptsGzip(req('*')), true);
  assert.equal(acceptsGzip(req('gzip;q=0')), false);
  assert.equal(acceptsGzip(req('identity')), false);
  assert.equal(acceptsGzip(req()), false);
});

test('gzipOnce compresses a body once and returns the same copy after', async () => {
  const body = Buffer.from(JSON.stringify({ big: 'x'.repeat(200_000) }));
  const a = await gzipOnce(body);
  const b = await gzipOnce(body);
  assert.equal(a, b, 'the second call reuses the first copy');
  assert.ok(a.length < body.length / 50);
  assert.deepEqual(gunzipSync(a), body);
  const other = Buffer.from(body);
  assert.notEqual(await gzipOnce(other), a, 'a different Buffer (a changed document) gets its own copy');
});
