/**
 * Compressed copies of the server's cached documents (OpenAPI, discovery): each body is gzipped
 * once, on the thread pool, and the copy lives as long as the body does (a document that changes
 * is a new Buffer, so a stale copy can never be served).
 */
import type { IncomingMessage } from 'node:http';
import { gzip } from 'node:zlib';
import { promisify } from 'node:util';

const gzipAsync = promisify(gzip);

/** kube-apiserver compresses answers from 128 KiB up (its defaultGzipThresholdBytes) */
export const GZIP_MIN_BYTES = 128 * 1024;

const copies = new WeakMap<Buffer, Promise<Buffer>>();

/** the gzip of `body`, computed at the first call and shared by every later one */
export function gzipOnce(body: Buffer): Promise<Buffer> {
  let p = copies.get(body);
  if (!p) {
    p = gzipAsync(body, { level: 9 });
    copies.set(body, p);
    p.catch(() => copies.delete(body));
  }
  return p;
}

/** whether the request's Accept-Encoding allows gzip (a `gzip;q=0` refuses it) */
export function acceptsGzip(req: Pick<IncomingMessage, 'headers'>): boolean {
  const ae = String(req.headers['accept-encoding'] ?? '');
  for (const part of ae.split(',')) {
    const [coding, ...params] = part.trim().toLowerCase().split(';');
    if (coding !== 'gzip' && coding !== '*') continue;
    const q = params.map((x) => x.trim()).find((x) => x.startsWith('q='));
    return !q || Number(q.slice(2)) > 0;
  }
  return false;
}
