/**
 * What the pod benches share: a keep-alive API client for a PodbayServer, and the busybox
 * image (httpd serving /www/index.html) built locally and loaded as `busybox:bench`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import https from 'node:https';
import { ROOT, type PodbayServer } from '../test/e2e/harness.js';
import { buildBusyboxRootfs, writeDockerArchive } from '../src/image/archive-build.js';

export type BenchApi = ((method: string, path: string, body?: unknown) => Promise<{ status: number; json: any }>) & { close(): void };

/**
 * The pods of namespace default matching `selector`, present and Ready, kept from a watch that
 * starts at the current list (one stream: a poll every 50 ms cost the server ~1 s of CPU, JSON
 * decode of every pod per poll, in a 50-pod burst). `onEvent` sees each event first. The
 * caller destroys `watch` when done.
 */
export async function watchPods(s: PodbayServer, api: BenchApi, selector: string, onEvent: (ev: any) => void = () => {}) {
  const seen = { present: new Set<string>(), ready: new Set<string>() };
  const list0 = await api('GET', `/api/v1/namespaces/default/pods?labelSelector=${encodeURIComponent(selector)}`);
  const watch = https.request(
    {
      host: '127.0.0.1',
      port: s.port,
      path: `/api/v1/namespaces/default/pods?watch=1&labelSelector=${encodeURIComponent(selector)}&resourceVersion=${list0.json.metadata.resourceVersion}`,
      ca: s.caPem,
      headers: { authorization: `Bearer ${s.token}` },
    },
    (resp) => {
      let buf = '';
      resp.on('data', (d) => {
        buf += d;
        for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
          const ev = JSON.parse(buf.slice(0, nl));
          buf = buf.slice(nl + 1);
          const name = ev.object?.metadata?.name as string | undefined;
          if (!name) continue;
          onEvent(ev);
          if (ev.type === 'DELETED') {
            seen.present.delete(name);
            seen.ready.delete(name);
            continue;
          }
          seen.present.add(name);
          if (ev.object.status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True')) seen.ready.add(name);
          else seen.ready.delete(name);
        }
      });
      resp.on('error', () => {});
    },
  );
  watch.on('error', () => {});
  watch.end();
  return { seen, watch };
}

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

/**
 * The peers (podman's CNI portmap, the floor script) leave host state behind that their own
 * clean-up keeps: portmap's shared CNI-HOSTPORT-* chains and their jumps, podman's
 * /dev/shm/libpod_lock and /run/containers, and the floor's `sysctl
 * net.ipv4.conf.all.route_localnet=1` (which lets every interface route 127/8: the
 * CVE-2020-8558 setting). Note what was there before the peers ran; the returned function
 * removes what they added, once no rule in those chains names a port, and puts the sysctl back.
 */
export function keepPeerLeftoversAsFound(): () => void {
  const natRules = () => spawnSync('iptables-save', ['-t', 'nat'], { encoding: 'utf8' }).stdout;
  const hadChains = /^:CNI-HOSTPORT-/m.test(natRules());
  const hadLock = existsSync('/dev/shm/libpod_lock');
  const hadRunContainers = existsSync('/run/containers');
  const LOCALNET = '/proc/sys/net/ipv4/conf/all/route_localnet';
  const localnet = readFileSync(LOCALNET, 'utf8').trim();
  return () => {
    if (readFileSync(LOCALNET, 'utf8').trim() !== localnet) writeFileSync(LOCALNET, `${localnet}\n`);
    const nat = natRules();
    if (!hadChains && /^:CNI-HOSTPORT-/m.test(nat) && !/^-A CNI-HOSTPORT-DNAT .*--dport/m.test(nat)) {
      for (const line of nat.split('\n').filter((l) => /^-A (PREROUTING|OUTPUT|POSTROUTING) .*-j CNI-HOSTPORT-/.test(l))) {
        // iptables-save quotes a comment as a shell would: let bash split the rule's words
        spawnSync('bash', ['-c', `iptables -t nat -D ${line.slice(3)}`]);
      }
      for (const chain of ['CNI-HOSTPORT-DNAT', 'CNI-HOSTPORT-SETMARK', 'CNI-HOSTPORT-MASQ']) {
        spawnSync('iptables', ['-t', 'nat', '-F', chain]);
        spawnSync('iptables', ['-t', 'nat', '-X', chain]);
      }
    }
    if (!hadLock) rmSync('/dev/shm/libpod_lock', { force: true });
    if (!hadRunContainers) rmSync('/run/containers', { recursive: true, force: true });
  };
}
