/**
 * The HTTPS client with several servers (an agent of an HA cluster): real TLS servers on
 * loopback, stopped, refusing or hanging, as a dead or wedged `podbay server` would be.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { resourceInfo } from '../api/registry.js';
import { ensureCredentials } from '../apiserver/pki.js';
import { HttpsClient } from './https.js';
import { parseServers } from '../cli/agent.js';

const CONFIGMAPS = resourceInfo('configmaps')!;

interface Fake {
  url: string;
  hits: string[];
  stop(): Promise<void>;
}

/** a TLS server answering like an API server: lists, creates, and a watch that stays open */
async function fakeApi(creds: { certPem: string; keyPem: string }, name: string, wedged = false): Promise<Fake> {
  const hits: string[] = [];
  const sockets = new Set<net.Socket>();
  const srv = https.createServer({ cert: creds.certPem, key: creds.keyPem }, (req, res) => {
    hits.push(`${req.method} ${req.url}`);
    if (wedged) return;
    if (req.url?.includes('watch=true')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(JSON.stringify({ type: 'ADDED', object: { kind: 'ConfigMap', metadata: { name: `from-${name}` } } }) + '\n');
      return;
    }
    req.resume();
    req.on('end', () => {
      res.writeHead(req.method === 'POST' ? 201 : 200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kind: 'ConfigMapList', metadata: { resourceVersion: '1' }, items: [{ metadata: { name: `from-${name}` } }] }));
    });
  });
  srv.on('secureConnection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  return {
    url: `https://127.0.0.1:${port}`,
    hits,
    // as a killed process: every connection dropped, the port closed
    stop: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        srv.close(() => r());
      }),
  };
}

/** a port that takes connections and never answers (a wedged server) */
async function silent(): Promise<{ url: string; stop(): Promise<void> }> {
  const socks = new Set<net.Socket>();
  const srv = net.createServer((s) => socks.add(s));
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return { url: `https://127.0.0.1:${(srv.address() as net.AddressInfo).port}`, stop: () => new Promise<void>((r) => (socks.forEach((s) => s.destroy()), srv.close(() => r()))) };
}

/** a loopback port nothing listens on */
async function closedPort(): Promise<string> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return `https://127.0.0.1:${port}`;
}

describe('the HTTPS client fails over between servers', () => {
  let dir: string;
  let creds: Awaited<ReturnType<typeof ensureCredentials>>;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'podbay-failover-'));
    creds = await ensureCredentials(dir, ['127.0.0.1']);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('reads and writes go to the next server when one refuses connections, and stay there', async () => {
    const a = await fakeApi(creds, 'a');
    const b = await fakeApi(creds, 'b');
    const client = new HttpsClient({ server: a.url, servers: [a.url, b.url], caPem: creds.caPem, token: 't' });
    try {
      assert.equal((await client.resource(CONFIGMAPS).list('default')).items[0].metadata.name, 'from-a');
      await a.stop();
      assert.equal((await client.resource(CONFIGMAPS).list('default')).items[0].metadata.name, 'from-b');
      assert.equal(client.server, b.url);
      await client.resource(CONFIGMAPS).create('default', { metadata: { name: 'x' } });
      assert.deepEqual(b.hits.filter((h) => h.startsWith('POST')), ['POST /api/v1/namespaces/default/configmaps']);
    } finally {
      client.close();
      await b.stop();
    }
  });

  it('a write to a server that is down at the first try is sent to the next one', async () => {
    const dead = await closedPort();
    const b = await fakeApi(creds, 'b');
    const client = new HttpsClient({ server: dead, servers: [dead, b.url], caPem: creds.caPem, token: 't' });
    try {
      await client.resource(CONFIGMAPS).create('default', { metadata: { name: 'y' } });
      assert.equal(b.hits.length, 1);
    } finally {
      client.close();
      await b.stop();
    }
  });

  it('a watch whose server dies ends; the next watch opens on another server', async () => {
    const a = await fakeApi(creds, 'a');
    const b = await fakeApi(creds, 'b');
    const client = new HttpsClient({ server: a.url, servers: [b.url], caPem: creds.caPem, token: 't' });
    try {
      const seen: string[] = [];
      let ended!: () => void;
      const end = new Promise<void>((r) => (ended = r));
      await client.resource(CONFIGMAPS).watch('default', {}, { event: (ev) => seen.push(ev.object.metadata.name), end: () => ended() });
      await a.stop();
      await end;
      const again = await client.resource(CONFIGMAPS).watch('default', {}, { event: (ev) => seen.push(ev.object.metadata.name) });
      await new Promise((r) => setTimeout(r, 100));
      again.cancel();
      assert.deepEqual(seen, ['from-a', 'from-b']);
    } finally {
      client.close();
      await b.stop();
    }
  });

  it('a port that takes the connection but no TLS handshake: any request goes on to the next server', async () => {
    const hung = await silent();
    const b = await fakeApi(creds, 'b');
    const client = new HttpsClient({ server: hung.url, servers: [b.url], caPem: creds.caPem, token: 't', timeoutMs: 5000, connectTimeoutMs: 300 });
    try {
      await client.resource(CONFIGMAPS).create('default', { metadata: { name: 'z' } });
      assert.equal(client.server, b.url);
      assert.equal(b.hits.length, 1);
    } finally {
      client.close();
      await hung.stop();
      await b.stop();
    }
  });

  it('a server that took a request and does not answer: a read goes on to the next; a write fails once (it may have been done) and the next goes elsewhere', async () => {
    const wedged = await fakeApi(creds, 'wedged', true);
    const b = await fakeApi(creds, 'b');
    const client = new HttpsClient({ server: wedged.url, servers: [b.url], caPem: creds.caPem, token: 't', timeoutMs: 300 });
    try {
      assert.equal((await client.resource(CONFIGMAPS).list('default')).items[0].metadata.name, 'from-b');
      assert.deepEqual(wedged.hits, ['GET /api/v1/namespaces/default/configmaps']);
      // back on the wedged one
      const client2 = new HttpsClient({ server: wedged.url, servers: [b.url], caPem: creds.caPem, token: 't', timeoutMs: 300 });
      await assert.rejects(client2.resource(CONFIGMAPS).create('default', { metadata: { name: 'w' } }), /no answer in 300 ms/);
      assert.equal(client2.server, b.url);
      await client2.resource(CONFIGMAPS).create('default', { metadata: { name: 'w' } });
      assert.deepEqual(b.hits.filter((h) => h.startsWith('POST')), ['POST /api/v1/namespaces/default/configmaps']);
      client2.close();
    } finally {
      client.close();
      await wedged.stop();
      await b.stop();
    }
  });

  it('with one server, errors are what they were', async () => {
    const dead = await closedPort();
    const client = new HttpsClient({ server: dead, caPem: creds.caPem, token: 't' });
    await assert.rejects(client.resource(CONFIGMAPS).list('default'), /ECONNREFUSED/);
    client.close();
  });

  it('--server takes a comma-separated list of https URLs', () => {
    assert.deepEqual(parseServers('https://10.0.0.1:6443, https://10.0.0.2:6443,https://10.0.0.1:6443'), ['https://10.0.0.1:6443', 'https://10.0.0.2:6443']);
    assert.throws(() => parseServers('https://a:1,http://b:2'), /--server http:\/\/b:2: want https:\/\/HOST:PORT/);
    assert.throws(() => parseServers(','), /--server https:\/\/HOST:PORT is required/);
  });
});
