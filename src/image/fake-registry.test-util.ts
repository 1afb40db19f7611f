/**
 * A tiny in-process registry for unit tests of fault cases (a real one, Debian's
 * docker-registry, serves the e2e tests): manifests and blobs in memory, optional Basic or
 * Bearer auth, and faults: a blob served with wrong bytes, a connection dropped mid-blob.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { sha256 } from './digest.js';

export interface FakeRegistry {
  url: string;
  host: string;
  /** every request as "METHOD PATH" */
  log: string[];
  blobs: Map<string, Buffer>;
  /** "repo:ref" -> {bytes, mediaType} (ref is a tag or a digest) */
  manifests: Map<string, { bytes: Buffer; mediaType: string }>;
  faults: { corrupt?: string; dropAfter?: { digest: string; bytes: number; times: number }; delayBlobMs?: number };
  close(): Promise<void>;
  putManifest(repo: string, tags: string[], doc: object, mediaType: string): string;
}

export interface FakeRegistryOptions {
  basic?: { username: string; password: string };
  bearer?: { username: string; password: string; token: string };
}

export async function startFakeRegistry(opts: FakeRegistryOptions = {}): Promise<FakeRegistry> {
  const reg: FakeRegistry = {
    url: '',
    host: '',
    log: [],
    blobs: new Map(),
    manifests: new Map(),
    faults: {},
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
    putManifest(repo, tags, doc, mediaType) {
      const bytes = Buffer.from(JSON.stringify(doc));
      const digest = sha256(bytes);
      for (const t of [...tags, digest]) reg.manifests.set(`${repo}:${t}`, { bytes, mediaType });
      return digest;
    },
  };
  const basicOk = (h: string | undefined) => opts.basic && h === `Basic ${Buffer.from(`${opts.basic.username}:${opts.basic.password}`).toString('base64')}`;
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    reg.log.push(`${req.method} ${url.pathname}${url.search}`);
    if (url.pathname === '/token') {
      const b = opts.bearer!;
      if (req.headers.authorization !== `Basic ${Buffer.from(`${b.username}:${b.password}`).toString('base64')}`) {
        res.writeHead(401).end('{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: b.token }));
      return;
    }
    if (opts.basic && !basicOk(req.headers.authorization)) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="fake"' }).end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
      return;
    }
    if (opts.bearer && req.headers.authorization !== `Bearer ${opts.bearer.token}`) {
      res
        .writeHead(401, { 'www-authenticate': `Bearer realm="${reg.url}/token",service="fake",scope="repository:x:pull"` })
        .end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
      return;
    }
    const m = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(url.pathname);
    if (url.pathname === '/v2/' || url.pathname === '/v2') {
      res.writeHead(200).end('{}');
      return;
    }
    if (!m) {
      res.writeHead(404).end();
      return;
    }
    const [, repo, kind, ref] = m;
    if (kind === 'manifests') {
      const man = reg.manifests.get(`${repo}:${ref}`);
      if (!man) {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}');
        return;
      }
      res.writeHead(200, { 'content-type': man.mediaType, 'docker-content-digest': sha256(man.bytes), 'content-length': man.bytes.length });
      res.end(req.method === 'HEAD' ? undefined : man.bytes);
      return;
    }
    const blob = reg.blobs.get(ref);
    if (!blob) {
      res.writeHead(404).end('{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry"}]}');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': blob.length });
    if (req.method === 'HEAD') return void res.end();
    const drop = reg.faults.dropAfter;
    if (drop && drop.digest === ref && drop.times > 0) {
      drop.times--;
      res.write(blob.subarray(0, drop.bytes), () => setTimeout(() => res.destroy(), 20));
      return;
    }
    const body = reg.faults.corrupt === ref ? Buffer.from(blob.map((b, i) => (i === blob.length - 1 ? b ^ 1 : b))) : blob;
    if (reg.faults.delayBlobMs) setTimeout(() => res.end(body), reg.faults.delayBlobMs);
    else res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  reg.host = `127.0.0.1:${port}`;
  reg.url = `http://${reg.host}`;
  return reg;
}
