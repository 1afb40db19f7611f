import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Script } from 'node:vm';
import { uiFile } from './serve.js';

test('the web view files: a login page, its script and style, under a strict CSP; nothing else', () => {
  const page = uiFile('/ui')!;
  assert.match(page.headers['Content-Type']!, /^text\/html/);
  assert.match(page.body, /<form id="login-form">/);
  assert.match(page.body, /<script src="\/ui\/app\.js"><\/script>/);
  assert.doesNotMatch(page.body, /https?:\/\//, 'no CDN: the page works offline');
  assert.match(page.headers['Content-Security-Policy']!, /script-src 'self';.*connect-src 'self'/);
  assert.equal(page.headers['X-Content-Type-Options'], 'nosniff');
  assert.equal(uiFile('/ui/app.css')!.headers['Content-Type'], 'text/css; charset=utf-8');
  assert.equal(uiFile('/ui/secrets'), undefined);
  assert.equal(uiFile('/api/v1/pods'), undefined);
});

test('the script compiles, sends the token in a header and puts data in with textContent only', () => {
  const js = uiFile('/ui/app.js')!.body;
  new Script(js); // throws on a syntax error
  assert.match(js, /Authorization: 'Bearer ' \+ token/);
  assert.doesNotMatch(js, /innerHTML|outerHTML|insertAdjacentHTML|document\.write/);
  assert.doesNotMatch(js, /[?&]token=/, 'never a token in a URL');
});
