/**
 * WebSockets through pods/proxy: the `ws` client (as a dashboard or a browser would) opens
 * wss://podbay/api/v1/namespaces/default/pods/NAME:PORT/proxy/PATH, and the upgrade reaches the
 * pod, whose 101 comes back; then frames flow both ways.
 *
 * The pod: busybox has no WebSocket server, so it runs a tiny one in shell, `nc -ll -e` per
 * connection (the script comes from a ConfigMap): it reads the request head, answers 101 with
 * the Sec-WebSocket-Accept computed from the key (sha1sum, xxd, base64), sends a greeting text
 * frame, then echoes each (masked) client frame back unmasked. The `ws` client checks the
 * accept value, so a 101 the proxy mangled fails the test. It also writes the request line and
 * headers it got to its log, so the test sees what the pod received (no Authorization).
 *
 * World: bridge pbephem0, pod CIDR 10.242.0.0/24, ports 18400-18419 (none used): the world of
 * ephemeral-containers.test.ts, never run at the same time as it (suites run one at a time).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { PodSuite, kubectlBinaries, kubectlHelpers, podOf, waitFor, watchReadyz, type PodbayServer } from './harness.js';

/** one WebSocket connection on stdin/stdout: the handshake, a greeting, then an echo of short frames */
const WS_ECHO = String.raw`#!/bin/sh
key=""
while IFS= read -r line; do
  line=$(printf '%s' "$line" | tr -d '\r')
  [ -z "$line" ] && break
  echo "got: $line" >&2
  case "$line" in [Ss]ec-[Ww]eb[Ss]ocket-[Kk]ey:*) key=$(printf '%s' "${"$"}{line#*:}" | tr -d ' ') ;; esac
done
accept=$(printf '%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11' "$key" | sha1sum | cut -d' ' -f1 | xxd -r -p | base64)
printf 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n' "$accept"
printf '\201\016hello-from-pod'
while :; do
  hdr=$(dd bs=1 count=2 2>/dev/null | xxd -p)
  [ ${"$"}{#hdr} -eq 4 ] || exit 0
  b0=$((0x$(echo "$hdr" | cut -c1-2))); b1=$((0x$(echo "$hdr" | cut -c3-4)))
  len=$((b1 & 127))
  mask=$(dd bs=1 count=4 2>/dev/null | xxd -p)
  data=$(dd bs=1 count=$len 2>/dev/null | xxd -p -c 256)
  out=""; i=0
  while [ $i -lt $len ]; do
    d=$((0x$(echo "$data" | cut -c$((i * 2 + 1))-$((i * 2 + 2)))))
    m=$((0x$(echo "$mask" | cut -c$((i % 4 * 2 + 1))-$((i % 4 * 2 + 2)))))
    out="$out$(printf '%02x' $((d ^ m)))"
    i=$((i + 1))
  done
  op=$((b0 & 15))
  [ $op -eq 8 ] && exit 0
  printf '%02x%02x%s' $((128 | op)) $len "$out" | xxd -r -p
done
`;

describe('WebSockets through pods/proxy', () => {
  const suite = new PodSuite('pbephem0', '10.242.0.0/24', /^184[01]\d$/);
  let s: PodbayServer;
  const [newest] = kubectlBinaries().slice(-1);
  const { ok, pod, create } = kubectlHelpers(() => s, newest!.path);

  before(async () => {
    s = await suite.start('podbay-e2e-proxyws-');
    await suite.loadBusybox();
    create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'ws' }, data: { 'ws.sh': WS_ECHO } });
    create(
      podOf('wsecho', {
        containers: [
          {
            name: 'ws',
            image: 'busybox:1.36',
            command: ['nc', '-ll', '-p', '8080', '-e', '/ws/ws.sh'],
            ports: [{ containerPort: 8080, name: 'ws' }],
            volumeMounts: [{ name: 'ws', mountPath: '/ws' }],
            readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 },
          },
        ],
        volumes: [{ name: 'ws', configMap: { name: 'ws', defaultMode: 0o755 } }],
      }),
    );
    await waitFor('wsecho ready', () => ((pod('wsecho').status.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True') ? true : undefined), 60_000);
  });

  after(() => suite.finish(newest!.path));

  const open = (path: string) => new WebSocket(`wss://127.0.0.1:${s.port}${path}`, { ca: s.caPem, headers: { authorization: `Bearer ${s.token}` } });

  it('the upgrade reaches the pod, its 101 comes back, and frames flow both ways', async () => {
    const readyz = watchReadyz(s);
    const ws = open('/api/v1/namespaces/default/pods/wsecho:ws/proxy/chat?room=1');
    const got: string[] = [];
    let status = 0;
    ws.on('upgrade', (res) => (status = res.statusCode ?? 0));
    ws.on('message', (d) => got.push(d.toString()));
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`answered ${res.statusCode}`)));
    });
    assert.equal(status, 101);
    await waitFor('the greeting', () => (got.includes('hello-from-pod') ? true : undefined), 10_000);
    ws.send('ping-through-the-proxy');
    await waitFor('the echo', () => (got.includes('ping-through-the-proxy') ? true : undefined), 15_000);
    ws.send('and again');
    await waitFor('the second echo', () => (got.includes('and again') ? true : undefined), 15_000);
    const closed = new Promise((r) => ws.once('close', r));
    ws.close();
    await closed;
    const { worstMs, failures } = await readyz.stop();
    assert.deepEqual(failures, []);
    assert.ok(worstMs < 1000, `readyz worst ${worstMs} ms`);
    // what the pod received: the path after /proxy with its query, the upgrade, no credentials
    const log = ok('logs', 'wsecho');
    assert.match(log, /^got: GET \/chat\?room=1 HTTP\/1\.1$/m, log);
    assert.match(log, /^got: Upgrade: websocket$/im, log);
    assert.match(log, /^got: Connection: Upgrade$/im, log);
    assert.match(log, /^got: x-forwarded-uri: \/api\/v1\/namespaces\/default\/pods\/wsecho:ws\/proxy\/chat$/im, log);
    assert.doesNotMatch(log, /authorization/i, 'the token never reaches the pod');
  });

  it('a port nothing listens on is a 503 worded as kube-apiserver\'s; without a token, 403 (system:anonymous)', async () => {
    const refused = await new Promise<{ code: number; body: string }>((resolve, reject) => {
      const ws = open('/api/v1/namespaces/default/pods/wsecho:9/proxy/');
      ws.once('open', () => reject(new Error('opened')));
      ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (d) => (body += d)).on('end', () => resolve({ code: res.statusCode ?? 0, body }));
      });
      ws.once('error', () => {});
    });
    assert.equal(refused.code, 503);
    assert.match(JSON.parse(refused.body).message, /^error trying to reach service: dial tcp 10\.242\.0\.\d+:9: connect: connection refused$/);
    const anon = await new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(`wss://127.0.0.1:${s.port}/api/v1/namespaces/default/pods/wsecho:ws/proxy/`, { ca: s.caPem });
      ws.once('open', () => reject(new Error('opened without a token')));
      ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.once('error', () => {});
    });
    assert.equal(anon, 403);
  });
});
