/**
 * Run by attacks-network.test.ts inside a scratch network namespace (`unshare --net`), where
 * route_localnet can be 0 host-wide whatever the real host has: does a hostPort answer on
 * 127.0.0.1 with route_localnet only on podbay's bridge (portmap sets it there), and not without it? Prints one JSON
 * object with what it saw; the test asserts on it. Argument: a temp dir for runDir/confDir.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../../src/sys/exec.js';
import { CniPodNetwork } from '../../src/network/pod-network.js';
import { httpGet, until } from './harness.js';

const T = process.argv[2]!;
const BRIDGE = 'pbnetsec0';
const PORT = 19730;
const sysctl = (dev: string) => `/proc/sys/net/ipv4/conf/${dev}/route_localnet`;
const read = (dev: string) => readFileSync(sysctl(dev), 'utf8').trim();
const get = () => httpGet(`http://127.0.0.1:${PORT}/`, 1500).then((r) => r.body, (e: Error) => `error: ${e.message}`);

async function main(): Promise<Record<string, unknown>> {
  await run('ip', ['link', 'set', 'lo', 'up']);
  writeFileSync(sysctl('all'), '0');
  writeFileSync(sysctl('default'), '0');
  const network = new CniPodNetwork({
    runDir: join(T, 'run'),
    confDir: join(T, 'conf'),
    binDirs: ['/usr/lib/cni', '/opt/cni/bin'],
    networkName: 'pbnetsec-scope',
    bridge: BRIDGE,
    podCidr: '10.212.0.0/24',
  });
  const out: Record<string, unknown> = {};
  const www = join(T, 'www');
  mkdirSync(www, { recursive: true });
  writeFileSync(join(www, 'index.html'), 'pod answers\n');
  try {
    const att = await network.setUp({ sandboxId: 'scope', podName: 'scope', podNamespace: 'netsec', podUid: 'uid-scope', portMappings: [{ hostPort: PORT, containerPort: 8080, protocol: 'tcp' }] });
    const httpd = spawn('nsenter', [`--net=${att.netnsPath}`, 'busybox', 'httpd', '-f', '-p', '8080', '-h', www], { stdio: 'ignore' });
    try {
      out.all = read('all');
      out.bridge = read(BRIDGE);
      out.withBridge = await until('hostPort on 127.0.0.1', async () => {
        const body = await get();
        if (body.startsWith('error')) throw new Error(body);
        return body;
      }, 5000).catch((e: Error) => `error: ${e.message}`);
      out.filterWhileUp = (await run('iptables-save', ['-t', 'filter'])).stdout;
      writeFileSync(sysctl(BRIDGE), '0');
      out.withoutBridge = await get();
      writeFileSync(sysctl(BRIDGE), '1');
      out.bridgeAgain = await get();
    } finally {
      const gone = new Promise((r) => httpd.once('exit', r));
      httpd.kill('SIGKILL');
      await gone;
    }
  } finally {
    for (const id of await network.list()) await network.tearDown(id).catch((e: Error) => (out.tearDownError = e.message));
    await network.destroy().catch((e: Error) => (out.destroyError = e.message));
  }
  out.filterAfterDestroy = (await run('iptables-save', ['-t', 'filter'])).stdout;
  out.bridgeAfterDestroy = existsSync(`/sys/class/net/${BRIDGE}`);
  out.allAfterDestroy = read('all');
  return out;
}

main().then(
  (out) => process.stdout.write(JSON.stringify(out) + '\n'),
  (e: Error) => {
    process.stdout.write(JSON.stringify({ error: e.stack ?? e.message }) + '\n');
    process.exitCode = 1;
  },
);
