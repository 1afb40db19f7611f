import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { ApiError } from '../api/errors.js';
import { parseExecQuery, parseResize, parseStreamFlags } from './exec.js';
import { portForwardQueryPorts } from './portforward.js';
import { negotiate } from './streaming.js';

const req = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;

test('negotiate: WebSocket by subprotocol, SPDY by X-Stream-Protocol-Version, best server choice first', () => {
  assert.deepEqual(negotiate(req({ upgrade: 'websocket', 'sec-websocket-protocol': 'v4.channel.k8s.io, v5.channel.k8s.io' }), 'x', ['v5.channel.k8s.io', 'v4.channel.k8s.io'], []), { kind: 'websocket', protocol: 'v5.channel.k8s.io' });
  const spdy = req({ upgrade: 'SPDY/3.1', connection: 'Upgrade', 'x-stream-protocol-version': 'v4.channel.k8s.io, v3.channel.k8s.io, channel.k8s.io' });
  assert.deepEqual(negotiate(spdy, 'x', [], ['v4.channel.k8s.io']), { kind: 'spdy', protocol: 'v4.channel.k8s.io' });
  // a client from before negotiation offers nothing and gets the newest
  assert.deepEqual(negotiate(req({ upgrade: 'SPDY/3.1', connection: 'Upgrade' }), 'x', [], ['portforward.k8s.io']), { kind: 'spdy', protocol: 'portforward.k8s.io' });
});

test('negotiate: nothing in common is a 403 naming both sides; a missing Connection or unknown upgrade a 400', () => {
  assert.throws(
    () => negotiate(req({ upgrade: 'SPDY/3.1', connection: 'Upgrade', 'x-stream-protocol-version': 'v9' }), 'x', [], ['portforward.k8s.io']),
    (e: unknown) => e instanceof ApiError && e.code === 403 && /client supports \["v9"\], server supports \["portforward.k8s.io"\]/.test(e.message),
  );
  assert.throws(() => negotiate(req({ upgrade: 'SPDY/3.1' }), 'x', [], ['p']), (e: unknown) => e instanceof ApiError && e.code === 400);
  assert.throws(() => negotiate(req({ upgrade: 'h2c' }), 'pods/exec', [], ['p']), /pods\/exec needs an upgrade/);
  assert.throws(() => negotiate(req({ upgrade: 'websocket', 'sec-websocket-protocol': 'base64.channel.k8s.io' }), 'x', ['v5.channel.k8s.io'], []), (e: unknown) => e instanceof ApiError && e.code === 400);
});

test('stream flags are read as kube-apiserver reads booleans (only absent, 0 and false are false); a TTY session has no stderr, as the kubelet decides', () => {
  const q = new URLSearchParams('command=sh&stdin=T&stdout=1&stderr=True&tty=false');
  assert.deepEqual(parseExecQuery(q), { command: ['sh'], container: undefined, stdin: true, stdout: true, stderr: true, tty: false });
  assert.equal(parseStreamFlags(new URLSearchParams('stderr=true&tty=true')).stderr, false);
  assert.equal(parseStreamFlags(new URLSearchParams('stdin=yes')).stdin, true);
  assert.equal(parseStreamFlags(new URLSearchParams('stdin=FALSE&stdout=0')).stdin, false);
  assert.equal(parseStreamFlags(new URLSearchParams('stdout=0')).stdout, false);
  assert.throws(() => parseExecQuery(new URLSearchParams('stdin=true')), /at least 1 command/);
});

test('resize messages: concatenated JSON objects, split anywhere; nonsense ignored', () => {
  const seen: [number, number][] = [];
  const apply = (w: number, h: number) => seen.push([w, h]);
  let rest = parseResize('{"Width":80,"Height":24}\n{"Width":1', apply);
  rest = parseResize(`${rest}20,"Height":40}{"Width":-1,"Height":2}{"Width":70000,"Height":2}{bad}`, apply);
  assert.deepEqual(seen, [
    [80, 24],
    [120, 40],
  ]);
  assert.equal(rest, '');
});

test('WebSocket port-forward ports: repeated or comma-separated, each 1-65535', () => {
  assert.deepEqual(portForwardQueryPorts(new URLSearchParams('ports=80&ports=8080,9090')), [80, 8080, 9090]);
  assert.deepEqual(portForwardQueryPorts(new URLSearchParams('port=5000')), [5000]);
  assert.throws(() => portForwardQueryPorts(new URLSearchParams('')), /"port" is required/);
  assert.throws(() => portForwardQueryPorts(new URLSearchParams('ports=0')), /between 1 and 65535/);
  assert.throws(() => portForwardQueryPorts(new URLSearchParams('ports=http')), /unable to parse "http"/);
});
