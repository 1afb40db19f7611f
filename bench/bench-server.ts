/**
 * What the pod benches share: a keep-alive API client for a PodbayServer, and the busybox
 * image (httpd serving /www/index.html) built locally and loaded as `busybox:bench`.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import https from 'node:https';
import { ROOT, type PodbayServer } from '../test/e2e/harness.js';
import { buildBusyboxRootfs, writeDockerArchive } from '../src/image/archive-build.js';

export type BenchApi = ((method: string, path: string, body?: unknown) => Promise<{ status: number; json: any }>) & { close(): void };

export function benchApi(s: PodbayServer, maxSockets = 16): BenchApi {
  const agent = new https.Agent({ keepAlive: true, ca: s.caPem, maxSockets });
  const api = (method: string, path: string, body?: unknown) =>
    new Promise<{ status: number; json: any }>((res, rej) => {
      const text = body === undefined ? undefined : JSON.stringify(body);
      const r = https.request(
        { host: '127.0.0.1', port: s.port, path, method, agent, headers: { authorization: `Bearer ${s.token}`, ...(text ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) } : {}) } },
        (resp) => {
          let b = '';
          resp.on('data', (d) => (b += d));
          resp.on('end', () => {
            let json: unknown;
            try {
              json = b ? JSON.parse(b) : undefined;
            } catch {
              json = b; // /readyz and friends answer text
            }
            res({ status: resp.statusCode ?? 0, json });
          });
        },
      );
      r.on('error', rej);
      if (text) r.write(text);
      r.end();
    });
  return Object.assign(api, { close: () => agent.destroy() });
}

export const BENCH_PAGE = 'hello from busybox httpd in a pod\n';

/** build the busybox image under `work` and load it into the server's data dir as busybox:bench */
export async function loadBenchImage(work: string, s: PodbayServer): Promise<string> {
  const rootfs = join(work, 'rootfs');
  await buildBusyboxRootfs(rootfs);
  mkdirSync(join(rootfs, 'www'), { recursive: true });
  writeFileSync(join(rootfs, 'www/index.html'), BENCH_PAGE);
  await writeDockerArchive(join(work, 'bb.tar'), { repoTags: ['busybox:bench'], layers: [rootfs] });
  const load = spawnSync(join(ROOT, 'bin/podbay'), ['image', 'load', '-i', join(work, 'bb.tar'), '--data-dir', s.dataDir], { encoding: 'utf8' });
  if (load.status !== 0) throw new Error(load.stderr);
  return 'busybox:bench';
}
