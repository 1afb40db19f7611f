/**
 * The kubelet server over real TLS on loopback with a fake node: who may call it (the API
 * server's kubelet client certificate, not a node's, not anonymous), its paths, and a log
 * relayed through kubelet-relay.ts as the API server relays it.
 */
import assert from 'node:assert/strict';
import https from 'node:https';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PassThrough } from 'node:stream';
import net from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ensureCredentials, makeCertificateRequest, signCertificate, type Credentials } from './pki.js';
import { KubeletServer, kubeletRoute } from './kubelet-server.js';
import { kubeletAddress, kubeletPath, relayLogs, DEFAULT_KUBELET_PORT } from './kubelet-relay.js';
import type { Obj } from '../api/types.js';

describe('kubelet server paths and addresses', () => {
  it('reads the kubelet paths', () => {
    assert.deepEqual(kubeletRoute('/containerLogs/default/web/c'), { kind: 'log', namespace: 'default', pod: 'web', container: 'c' });
    assert.deepEqual(kubeletRoute('/exec/ns/p/c'), { kind: 'exec', namespace: 'ns', pod: 'p', container: 'c' });
    assert.deepEqual(kubeletRoute('/exec/ns/p'), { kind: 'exec', namespace: 'ns', pod: 'p', container: undefined });
    assert.deepEqual(kubeletRoute('/portForward/ns/p'), { kind: 'portforward', namespace: 'ns', pod: 'p', container: undefined });
    assert.equal(kubeletRoute('/portForward/ns/p/c'), undefined);
    assert.equal(kubeletRoute('/run/ns/p/c'), undefined);
  });

  it('finds a node kubelet as kube-apiserver does: InternalIP, daemonEndpoints port', () => {
    const node = { status: { addresses: [{ type: 'Hostname', address: 'n1' }, { type: 'InternalIP', address: '10.0.0.11' }], daemonEndpoints: { kubeletEndpoint: { Port: 18725 } } } };
    assert.deepEqual(kubeletAddress(node), { host: '10.0.0.11', port: 18725 });
    assert.deepEqual(kubeletAddress({ status: { addresses: [{ type: 'InternalIP', address: '10.0.0.11' }], daemonEndpoints: { kubeletEndpoint: { Port: 0 } } } }), { host: '10.0.0.11', port: DEFAULT_KUBELET_PORT });
    assert.throws(() => kubeletAddress({ status: {} }), /no preferred addresses found/);
    const pod = { metadata: { namespace: 'default', name: 'web' } };
    assert.equal(kubeletPath('log', pod, 'c'), '/containerLogs/default/web/c');
    assert.equal(kubeletPath('exec', pod, undefined), '/exec/default/web');
    assert.equal(kubeletPath('portforward', pod, 'c'), '/portForward/default/web');
  });
});

describe('kubelet server over TLS', () => {
  let dir = '';
  let creds: Credentials;
  let server: KubeletServer;
  let port = 0;
  let nodeCert: { certPem: string; keyPem: string };
  const asked: Obj[] = [];
  const pods: Record<string, Obj> = {
    'default/web': { metadata: { namespace: 'default', name: 'web' }, spec: { nodeName: 'n1', containers: [{ name: 'c' }] } },
    'default/elsewhere': { metadata: { namespace: 'default', name: 'elsewhere' }, spec: { nodeName: 'n2', containers: [{ name: 'c' }] } },
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'podbay-kubelet-server-'));
    creds = await ensureCredentials(dir, ['127.0.0.1']);
    const { keyPem, requestPem } = await makeCertificateRequest('CN=system:node:n2,O=system:nodes');
    nodeCert = { keyPem, certPem: await signCertificate(creds.caPem, creds.caKeyPem, requestPem, ['digital signature', 'client auth'], 3_600_000) };
    server = new KubeletServer({
      nodeName: 'n1',
      host: '127.0.0.1',
      port: 0,
      certPem: creds.certPem,
      keyPem: creds.keyPem,
      clientCaPem: creds.caPem,
      getPod: async (ns, name) => pods[`${ns}/${name}`],
      listPods: async () => Object.values(pods).filter((p) => p.spec.nodeName === 'n1'),
      node: {
        async containerLogs(pod, container, opts, write) {
          asked.push({ pod: pod.metadata.name, container, opts });
          write('line 1\n');
          write('line 2\n');
        },
      },
    });
    port = await server.listen();
  });
  after(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const get = (path: string, cert?: { certPem: string; keyPem: string }) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = https.get({ host: '127.0.0.1', port, path, ca: creds.caPem, cert: cert?.certPem, key: cert?.keyPem, agent: false }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
    });
  const apiserver = () => ({ certPem: creds.kubeletClientCertPem, keyPem: creds.kubeletClientKeyPem });

  it('refuses anonymous callers (401) and nodes (403, as the kubelet words it)', async () => {
    assert.equal((await get('/containerLogs/default/web/c')).status, 401);
    const r = await get('/containerLogs/default/web/c', nodeCert);
    assert.equal(r.status, 403);
    assert.equal(JSON.parse(r.body).message, 'Forbidden (user=system:node:n2, verb=get, resource=nodes, subresource=proxy)');
  });

  it("serves the API server a pod's log with its options, and only its own node's pods", async () => {
    const r = await get('/containerLogs/default/web/c?tailLines=5&timestamps=true', apiserver());
    assert.equal(r.status, 200);
    assert.equal(r.body, 'line 1\nline 2\n');
    assert.deepEqual(asked.at(-1), { pod: 'web', container: 'c', opts: { follow: undefined, previous: undefined, timestamps: true, tailLines: 5, sinceSeconds: undefined, sinceTime: undefined, limitBytes: undefined } });
    assert.equal((await get('/containerLogs/default/elsewhere/c', apiserver())).status, 404);
    assert.equal((await get('/containerLogs/default/web/c?tailLines=-1', apiserver())).status, 422);
    assert.equal((await get('/exec/default/web/c?command=true', apiserver())).status, 400, 'exec needs an upgrade');
    assert.equal((await get('/healthz', apiserver())).body, 'ok');
    assert.deepEqual(JSON.parse((await get('/pods', apiserver())).body).items.map((p: Obj) => p.metadata.name), ['web']);
    assert.equal((await get('/stats/summary', apiserver())).status, 404);
  });

  it('a log relayed by the API server reads as the kubelet wrote it', async () => {
    const chunks: string[] = [];
    let status = 0;
    const sink = Object.assign(new PassThrough(), {
      writeHead(code: number) {
        status = code;
        return sink;
      },
    });
    sink.on('data', (d) => chunks.push(d.toString()));
    const req = new PassThrough() as unknown as IncomingMessage;
    await relayLogs({ host: '127.0.0.1', port, cred: { ...apiserver(), caPem: creds.caPem } }, pods['default/web'], 'c', '?follow=false', req, sink as unknown as ServerResponse);
    await new Promise((r) => setImmediate(r));
    assert.equal(status, 200);
    assert.equal(chunks.join(''), 'line 1\nline 2\n');
  });

  it('a kubelet that cannot be reached is "error dialing backend", as kube-apiserver words it', async () => {
    const closed = await new Promise<number>((resolve) => {
      const srv = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (srv.address() as net.AddressInfo).port;
        srv.close(() => resolve(p));
      });
    });
    const sink = Object.assign(new PassThrough(), { writeHead: () => sink });
    const req = new PassThrough() as unknown as IncomingMessage;
    await assert.rejects(relayLogs({ host: '127.0.0.1', port: closed, cred: { ...apiserver(), caPem: creds.caPem } }, pods['default/web'], 'c', '', req, sink as unknown as ServerResponse), {
      code: 500,
      message: `error dialing backend: dial tcp 127.0.0.1:${closed}: connect: connection refused`,
    });
  });
});
