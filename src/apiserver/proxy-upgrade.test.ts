import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { upgradeRequestHead } from './proxy-upgrade.js';

const req = (headers: Record<string, string | string[]>) => ({ method: 'GET', headers }) as unknown as IncomingMessage;

test('the head sent to the pod: path and query after /proxy, the upgrade kept, credentials and hop-by-hop headers dropped, no header injection', () => {
  const head = upgradeRequestHead(
    req({
      host: '127.0.0.1:6443',
      authorization: 'Bearer secret',
      connection: 'Upgrade, X-Drop',
      'x-drop': 'gone',
      upgrade: 'websocket',
      'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
      'sec-websocket-version': '13',
      'x-many': ['a', 'b'],
    }),
    '/chat',
    '?room=1',
    '/api/v1/namespaces/default/pods/p:80/proxy',
    '127.0.0.1:6443',
  );
  const lines = head.split('\r\n');
  assert.equal(lines[0], 'GET /chat?room=1 HTTP/1.1');
  assert.ok(head.endsWith('\r\n\r\n'));
  assert.ok(lines.includes('Host: 127.0.0.1:6443'));
  assert.ok(lines.includes('Connection: Upgrade'));
  assert.ok(lines.includes('Upgrade: websocket'));
  assert.ok(lines.includes('sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ=='));
  assert.ok(lines.includes('x-many: a') && lines.includes('x-many: b'));
  assert.ok(lines.includes('x-forwarded-uri: /api/v1/namespaces/default/pods/p:80/proxy/chat'));
  assert.ok(!/authorization|x-drop/i.test(head), head);
  const evil = upgradeRequestHead(req({ upgrade: 'websocket\r\nX-Evil: 1' }), '/', '', '/p', 'h');
  assert.ok(!/\r\nX-Evil/.test(evil), evil);
});
