import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

import { ApiError, notFound } from '../api/errors.js';
import { forwardHeaders, podPort, rewriteHtml, proxyTarget, rewriteLocation, serveProxy, splitSchemeNamePort, statsSummary, type ProxyDeps } from './proxy.js';

describe('pods/proxy and nodes/proxy paths', () => {
  it('splits [scheme:]name[:port] as utilnet.SplitSchemeNamePort', () => {
    assert.deepEqual(splitSchemeNamePort('web'), { scheme: 'http', name: 'web', port: '' });
    assert.deepEqual(splitSchemeNamePort('web:8080'), { scheme: 'http', name: 'web', port: '8080' });
    assert.deepEqual(splitSchemeNamePort('https:web:443'), { scheme: 'https', name: 'web', port: '443' });
    assert.equal(splitSchemeNamePort('ftp:web:21'), undefined);
    assert.equal(splitSchemeNamePort('a:b:c:d'), undefined);
    assert.equal(splitSchemeNamePort(':web:80'), undefined);
  });

  it('keeps the path after /proxy as sent, trailing slash included', () => {
    assert.deepEqual(proxyTarget('/api/v1/namespaces/default/pods/web:80/proxy/a%20b/'), { kind: 'pod', prefix: '/api/v1/namespaces/default/pods/web:80/proxy', ns: 'default', id: 'web:80', rest: '/a%20b/' });
    assert.equal(proxyTarget('/api/v1/namespaces/default/pods/web/proxy')!.rest, '');
    assert.deepEqual(proxyTarget('/api/v1/nodes/vm/proxy/stats/summary'), { kind: 'node', prefix: '/api/v1/nodes/vm/proxy', id: 'vm', rest: '/stats/summary' });
    assert.equal(proxyTarget('/api/v1/namespaces/default/pods/web/log'), undefined);
    assert.equal(proxyTarget('/api/v1/namespaces/default/pods/web/proxyx'), undefined);
  });

  it('the port: given, a container port name, else the first declared', () => {
    const pod = { metadata: { name: 'web' }, spec: { containers: [{ name: 'a' }, { name: 'b', ports: [{ containerPort: 8080, name: 'http' }, { containerPort: 9090 }] }] } };
    assert.equal(podPort(pod, ''), 8080);
    assert.equal(podPort(pod, '81'), 81);
    assert.equal(podPort(pod, 'http'), 8080);
    assert.throws(() => podPort(pod, 'grpc'), /has no container port named "grpc"/);
    assert.throws(() => podPort(pod, '70000'), /out of range/);
    assert.equal(podPort({ spec: { containers: [{}] } }, ''), undefined);
  });

  it('the pod never sees the client\'s credentials; it learns where it is mounted', () => {
    const h = forwardHeaders({ headers: { authorization: 'Bearer secret', host: 'api:6443', accept: '*/*', connection: 'keep-alive, x-hop', 'x-hop': '1', 'proxy-authorization': 'x' } } as any, '/api/v1/namespaces/d/pods/w/proxy/x');
    assert.deepEqual(h, { host: 'api:6443', accept: '*/*', 'x-forwarded-uri': '/api/v1/namespaces/d/pods/w/proxy/x', 'x-forwarded-host': 'api:6443', 'x-forwarded-proto': 'https' });
  });

  it('page links into the pod go through the proxy; relative links, other hosts and already-prefixed links stay', () => {
    const prefix = '/api/v1/namespaces/d/pods/w:80/proxy';
    const page = `<a href="/a">a</a><img SRC='http://10.0.0.5:80/i.png'><a href=rel.html>r</a><script src="//cdn.example/x.js"></script><form action="/post"></form><a href="${prefix}/already">x</a><a href="https://example.org/">e</a>`;
    assert.equal(
      rewriteHtml(page, 'http://10.0.0.5:80', prefix),
      `<a href="${prefix}/a">a</a><img SRC='${prefix}/i.png'><a href=rel.html>r</a><script src="//cdn.example/x.js"></script><form action="${prefix}/post"></form><a href="${prefix}/already">x</a><a href="https://example.org/">e</a>`,
    );
  });

  it('a Location into the pod goes through the proxy again; elsewhere is left alone', () => {
    const prefix = '/api/v1/namespaces/d/pods/w:80/proxy';
    assert.equal(rewriteLocation('http://10.0.0.5:80/login', 'http://10.0.0.5:80', prefix), `${prefix}/login`);
    assert.equal(rewriteLocation('/login?x=1', 'http://10.0.0.5:80', prefix), `${prefix}/login?x=1`);
    assert.equal(rewriteLocation('https://example.org/', 'http://10.0.0.5:80', prefix), 'https://example.org/');
  });
});

/** A loopback "pod" that echoes what it got; deps whose pod has that address (or not). */
async function withPod(fn: (port: number, deps: (ip: string | undefined, made: string[]) => ProxyDeps) => Promise<void>) {
  const srv = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d)).on('end', () => {
      if (req.url === '/page') {
        res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': '20' });
        return res.end('<a href="/x">x</a>\n\n');
      }
      if (req.url === '/redirect') {
        res.writeHead(302, { Location: `http://127.0.0.1:${(srv.address() as AddressInfo).port}/there` });
        return res.end();
      }
      res.writeHead(201, { 'Content-Type': 'application/json', 'X-Pod': 'yes' });
      res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body }));
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as AddressInfo).port;
  const deps = (ip: string | undefined, made: string[]): ProxyDeps => ({
    getPod: async (_ns, name) => {
      if (name !== 'web') throw notFound('pods', name);
      return { metadata: { name: 'web', uid: 'u' }, spec: { containers: [{ ports: [{ containerPort: port }] }] }, status: ip ? { podIP: ip } : {} };
    },
    getNode: async (name) => ({ metadata: { name } }),
    podsOnNode: async () => [],
    podIPs: async () => made,
    usage: () => undefined,
  });
  try {
    await fn(port, deps);
  } finally {
    srv.close();
  }
}

/** An API server stand-in that serves only the proxy, rendering ApiErrors as Status. */
async function apiFront(deps: ProxyDeps, fn: (req: (method: string, path: string, body?: string) => Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>) => Promise<void>) {
  const front = http.createServer((req, res) => {
    const u = new URL(req.url!, 'http://x');
    serveProxy(proxyTarget(u.pathname)!, req, res, u.search, deps).catch((e: ApiError) => {
      res.writeHead(e.code, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(e.toStatus()));
    });
  });
  await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
  const fport = (front.address() as AddressInfo).port;
  const req = (method: string, path: string, body?: string) =>
    new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>((resolve, reject) => {
      const r = http.request({ host: '127.0.0.1', port: fport, method, path, headers: { authorization: 'Bearer admin-token' } }, (res) => {
        let b = '';
        res.on('data', (d) => (b += d)).on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: b }));
      });
      r.on('error', reject);
      r.end(body);
    });
  try {
    await fn(req);
  } finally {
    front.close();
  }
}

describe('pods/proxy relaying to a (loopback) pod', () => {
  it('passes method, path, query and body; the answer comes back with its status and headers', async () => {
    await withPod(async (_port, deps) => {
      await apiFront(deps('127.0.0.1', ['127.0.0.1']), async (req) => {
        const r = await req('POST', '/api/v1/namespaces/default/pods/web/proxy/a/b/?x=1&y=2', 'hello');
        assert.equal(r.status, 201);
        assert.equal(r.headers['x-pod'], 'yes');
        const seen = JSON.parse(r.body);
        assert.equal(seen.method, 'POST');
        assert.equal(seen.url, '/a/b/?x=1&y=2');
        assert.equal(seen.body, 'hello');
        assert.equal(seen.headers.authorization, undefined, 'the bearer token stays with the API server');
        assert.equal(seen.headers['x-forwarded-uri'], '/api/v1/namespaces/default/pods/web/proxy/a/b/');
        const page = await req('GET', '/api/v1/namespaces/default/pods/web/proxy/page');
        assert.equal(page.body, '<a href="/api/v1/namespaces/default/pods/web/proxy/x">x</a>\n\n');
        assert.equal(page.headers['content-length'], undefined, 'the length changed with the links');
        const redirect = await req('GET', '/api/v1/namespaces/default/pods/web/proxy/redirect');
        assert.equal(redirect.headers.location, '/api/v1/namespaces/default/pods/web/proxy/there');
        const root = await req('GET', '/api/v1/namespaces/default/pods/web/proxy?q=1');
        assert.equal(root.status, 301);
        assert.equal(root.headers.location, '/api/v1/namespaces/default/pods/web/proxy/?q=1');
      });
    });
  });

  it('no IP, or one podbay did not give the pod: 400 "address not allowed"; a closed port: 503 naming the dial', async () => {
    await withPod(async (port, deps) => {
      await apiFront(deps(undefined, []), async (req) => {
        const r = await req('GET', '/api/v1/namespaces/default/pods/web/proxy/');
        assert.equal(r.status, 400);
        assert.equal(JSON.parse(r.body).message, 'address not allowed');
      });
      await apiFront(deps('127.0.0.1', ['10.0.0.9']), async (req) => {
        assert.equal((await req('GET', '/api/v1/namespaces/default/pods/web/proxy/')).status, 400);
      });
      await apiFront(deps('127.0.0.1', ['127.0.0.1']), async (req) => {
        const closed = port === 1 ? 2 : 1;
        const r = await req('GET', `/api/v1/namespaces/default/pods/web:${closed}/proxy/`);
        assert.equal(r.status, 503);
        assert.equal(JSON.parse(r.body).message, `error trying to reach service: dial tcp 127.0.0.1:${closed}: connect: connection refused`);
        assert.equal((await req('GET', '/api/v1/namespaces/default/pods/ghost/proxy/')).status, 404);
      });
    });
  });

  it('nodes/proxy: healthz, stats/summary; /logs refused', async () => {
    await withPod(async (_port, deps) => {
      await apiFront(deps('127.0.0.1', []), async (req) => {
        const h = await req('GET', '/api/v1/nodes/vm/proxy/healthz');
        assert.equal(h.body, 'ok');
        const s = JSON.parse((await req('GET', '/api/v1/nodes/vm/proxy/stats/summary')).body);
        assert.equal(s.node.nodeName, 'vm');
        assert.equal((await req('GET', '/api/v1/nodes/vm/proxy/logs/')).status, 403);
        assert.equal((await req('GET', '/api/v1/nodes/vm/proxy/configz')).status, 404);
      });
    });
  });

  it('stats/summary sums each pod\'s containers', async () => {
    const at = Date.UTC(2026, 0, 1);
    const s = await statsSummary({ metadata: { name: 'vm' } }, [{ metadata: { name: 'p', namespace: 'd', uid: 'u' } }], {
      podUsage: async () => ({ at, windowMs: 1000, containers: [
        { name: 'a', cpuNanoCores: 10, memoryWorkingSetBytes: 100, cpuUsageCoreNanoSeconds: 1000 },
        { name: 'b', cpuNanoCores: 5, memoryWorkingSetBytes: 50, cpuUsageCoreNanoSeconds: 500 },
      ] }),
      nodeUsage: async () => undefined,
    });
    assert.deepEqual(s.pods[0].cpu, { time: '2026-01-01T00:00:00Z', usageNanoCores: 15, usageCoreNanoSeconds: 1500 });
    assert.equal(s.pods[0].memory.workingSetBytes, 150);
    assert.equal(s.pods[0].containers.length, 2);
  });
});
