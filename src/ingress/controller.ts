/**
 * The built-in ingress controller, an API client: informers on Ingresses, IngressClasses,
 * Services, EndpointSlices and Secrets; every change schedules one sync (coalesced). A sync
 * renders the Ingresses of this controller's classes into nginx.conf (nginx-conf.ts), writes
 * the TLS Secrets they name (0600, under the run dir), and when the text changed, has nginx
 * check the new file (`nginx -t`) and reload (`nginx -s reload`: the old workers finish their
 * requests, new ones take new connections, nothing is dropped). A file nginx refuses leaves
 * the old one serving and becomes a Warning event (RELOAD) on the Ingresses. A Service an
 * Ingress names that does not exist is a Warning event on that Ingress, its paths answer 503,
 * the others keep serving. status.loadBalancer.ingress carries the node's address.
 *
 * nginx (Debian's) runs as podbay's child: master in the foreground (`daemon off`), its pid,
 * lock, temp files and config under RUN/ingress, never /etc/nginx or /var/log/nginx (errors go
 * to stderr, which podbay logs). At stop it is told to quit, waited for, and its files removed;
 * one left by a podbay that was killed is found by its pid file at the next start and stopped.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { chown, mkdir, readdir, readFile, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { resourceInfo } from '../api/registry.js';
import type { Obj } from '../api/types.js';
import { DEFAULT_CLASS_ANNOTATION, INGRESS_CLASS_ANNOTATION } from '../api/validation/ingress.js';
import { EventRecorder } from '../client/events.js';
import { Informer } from '../client/informer.js';
import type { Client } from '../client/types.js';
import { run } from '../sys/exec.js';
import { CoalescedSync } from '../sys/coalesced-sync.js';
import { renderNginxConf, type ListenConfig, type NginxFiles, type TLSFiles } from './nginx-conf.js';

const INGRESSES = resourceInfo('ingresses', 'networking.k8s.io')!;
const CLASSES = resourceInfo('ingressclasses', 'networking.k8s.io')!;
const SERVICES = resourceInfo('services')!;
const SLICES = resourceInfo('endpointslices', 'discovery.k8s.io')!;
const SECRETS = resourceInfo('secrets')!;

/** spec.controller of the classes this controller serves */
export const CONTROLLER_NAME = 'podbay.io/ingress-nginx';
/** the IngressClass created at start, marked default */
export const DEFAULT_CLASS_NAME = 'podbay';
export const NGINX = '/usr/sbin/nginx';

export interface IngressControllerOptions {
  listen: ListenConfig;
  /** podbay's run dir: nginx's files go to RUN/ingress */
  runDir: string;
  /** what status.loadBalancer.ingress[].ip says */
  statusAddress?: string;
  log?: (line: string) => void;
  /** coalescing delay of syncs, ms */
  minSyncMs?: number;
  nginxPath?: string;
}

/** the Ingresses `classes` (names of this controller's IngressClasses) claim */
export function ownedIngresses(ingresses: Obj[], classes: Set<string>): Obj[] {
  return ingresses.filter((i) => {
    const named = i.spec?.ingressClassName ?? i.metadata?.annotations?.[INGRESS_CLASS_ANNOTATION];
    return typeof named === 'string' && classes.has(named) && !i.metadata?.deletionTimestamp;
  });
}

/** a Secret's kubernetes.io/tls pair, checked (PEM that parses), or why it cannot be used */
export function tlsPair(secret: Obj | undefined, ns: string, name: string): { cert: Buffer; key: Buffer } | string {
  if (!secret) return `TLS Secret "${ns}/${name}" not found: its hosts are served over HTTP only`;
  if (secret.type !== 'kubernetes.io/tls') return `Secret "${ns}/${name}" is of type ${JSON.stringify(secret.type ?? 'Opaque')}, not kubernetes.io/tls: its hosts are served over HTTP only`;
  const cert = Buffer.from(String(secret.data?.['tls.crt'] ?? ''), 'base64');
  const key = Buffer.from(String(secret.data?.['tls.key'] ?? ''), 'base64');
  try {
    new X509Certificate(cert);
    createPrivateKey(key);
  } catch (e) {
    return `TLS Secret "${ns}/${name}": tls.crt/tls.key do not hold a PEM certificate and key (${(e as Error).message}): its hosts are served over HTTP only`;
  }
  return { cert, key };
}

/** the worker processes' user and group: nobody, and the group Debian names nogroup */
function workerUser(): { user: string; group: string } {
  let group = 'nobody';
  try {
    if (/^nogroup:/m.test(readFileSync('/etc/group', 'utf8'))) group = 'nogroup';
  } catch {
    /* no /etc/group: nginx will say so */
  }
  return { user: 'nobody', group };
}

export class IngressController {
  private readonly informers: Record<'ingresses' | 'classes' | 'services' | 'slices' | 'secrets', Informer>;
  private readonly log: (line: string) => void;
  private readonly events: EventRecorder;
  private readonly dir: string;
  private readonly files: NginxFiles;
  private readonly conf: string;
  private readonly nginx: string;
  private child?: ChildProcess;
  private exited?: Promise<void>;
  private readonly syncer: CoalescedSync;
  private stopped = false;
  private current = '';
  /** problems already reported, so a sync that finds them again does not repeat the event */
  private reported = new Set<string>();
  private stderrTail: string[] = [];

  constructor(
    private readonly client: Client,
    private readonly opts: IngressControllerOptions,
  ) {
    this.log = opts.log ?? (() => {});
    this.events = new EventRecorder(client, 'podbay-ingress-controller', '', this.log);
    const informer = (r: typeof INGRESSES) => new Informer(client, r, { resyncPeriodMs: 0, log: this.log });
    this.informers = { ingresses: informer(INGRESSES), classes: informer(CLASSES), services: informer(SERVICES), slices: informer(SLICES), secrets: informer(SECRETS) };
    this.syncer = new CoalescedSync(() => this.syncOnce(), opts.minSyncMs ?? 100, (e) => this.log(`ingress: sync failed: ${e.message}`));
    const kick = () => this.syncer.schedule();
    for (const i of Object.values(this.informers)) i.addEventHandler({ add: kick, update: kick, delete: kick });
    this.dir = join(opts.runDir, 'ingress');
    this.conf = join(this.dir, 'nginx.conf');
    this.nginx = opts.nginxPath ?? NGINX;
    this.files = { pid: join(this.dir, 'nginx.pid'), lock: join(this.dir, 'nginx.lock'), temp: join(this.dir, 'tmp'), ...workerUser() };
  }

  /** nginx's own flags: everything under RUN/ingress, errors to stderr */
  private args(conf = this.conf): string[] {
    return ['-p', `${this.dir}/`, '-c', conf, '-e', 'stderr'];
  }

  async start(): Promise<void> {
    await this.removeLeftovers();
    await mkdir(join(this.dir, 'tls'), { recursive: true, mode: 0o700 });
    await mkdir(this.files.temp, { recursive: true, mode: 0o700 });
    // the workers write request bodies and buffered responses there
    const nobody = await this.workerIds();
    if (nobody) await chown(this.files.temp, nobody.uid, nobody.gid);
    await this.ensureDefaultClass();
    for (const i of Object.values(this.informers)) await i.start();
    const text = await this.render();
    await writeFile(this.conf, text, { mode: 0o600 });
    await this.check(this.conf);
    this.current = text;
    await this.spawnNginx();
    await this.updateStatus();
  }

  private async workerIds(): Promise<{ uid: number; gid: number } | undefined> {
    const passwd = await readFile('/etc/passwd', 'utf8').catch(() => '');
    const line = passwd.split('\n').find((l) => l.startsWith(`${this.files.user}:`));
    if (!line) return undefined;
    const [, , uid, gid] = line.split(':');
    return { uid: Number(uid), gid: Number(gid) };
  }

  /** an nginx a killed podbay left (its pid file names a live nginx): stopped, then its files removed */
  private async removeLeftovers(): Promise<void> {
    const pid = Number((await readFile(this.files.pid, 'utf8').catch(() => '')).trim());
    if (pid > 0) {
      const comm = (await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '')).trim();
      if (comm === 'nginx') {
        this.log(`ingress: stopping the nginx (pid ${pid}) an earlier run left`);
        process.kill(pid, 'SIGTERM');
        for (let i = 0; i < 50 && (await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '')); i++) await new Promise((r) => setTimeout(r, 100));
      }
    }
    await rm(this.dir, { recursive: true, force: true });
  }

  private async ensureDefaultClass(): Promise<void> {
    const classes = this.client.resource(CLASSES);
    if (await classes.tryGet(undefined, DEFAULT_CLASS_NAME)) return;
    try {
      await classes.create(undefined, {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'IngressClass',
        metadata: { name: DEFAULT_CLASS_NAME, annotations: { [DEFAULT_CLASS_ANNOTATION]: 'true' }, labels: { 'app.kubernetes.io/managed-by': 'podbay' } },
        spec: { controller: CONTROLLER_NAME },
      });
    } catch (e) {
      if ((e as { code?: number }).code !== 409) throw e;
    }
  }

  private owned(): Obj[] {
    const classes = new Set(this.informers.classes.cache.list().filter((c) => c.spec?.controller === CONTROLLER_NAME).map((c) => c.metadata.name as string));
    return ownedIngresses(this.informers.ingresses.cache.list(), classes);
  }

  /** the config for what the informers hold now; TLS files written, problems reported */
  private async render(): Promise<string> {
    const ingresses = this.owned();
    const tls = new Map<string, TLSFiles | string>();
    const keep = new Set<string>();
    for (const ing of ingresses) {
      const ns = ing.metadata.namespace;
      for (const t of (ing.spec?.tls ?? []) as Obj[]) {
        if (!t.secretName || tls.has(`${ns}/${t.secretName}`)) continue;
        const pair = tlsPair(this.informers.secrets.cache.get(`${ns}/${t.secretName}`), ns, t.secretName);
        if (typeof pair === 'string') {
          tls.set(`${ns}/${t.secretName}`, pair);
          continue;
        }
        // named by content: the config nginx runs now keeps its files until the next one replaces it
        const base = `${ns}_${t.secretName}_${createHash('sha256').update(pair.cert).update(pair.key).digest('hex').slice(0, 12)}`;
        const files = { cert: join(this.dir, 'tls', `${base}.crt`), key: join(this.dir, 'tls', `${base}.key`) };
        await writeFile(files.cert, pair.cert, { mode: 0o600 });
        await writeFile(files.key, pair.key, { mode: 0o600 });
        keep.add(`${base}.crt`).add(`${base}.key`);
        tls.set(`${ns}/${t.secretName}`, files);
      }
    }
    this.keepTLS = keep;
    const out = renderNginxConf({ ingresses, services: this.informers.services.cache.list(), slices: this.informers.slices.cache.list(), tls, listen: this.opts.listen, files: this.files });
    const now = new Set<string>();
    for (const p of out.problems) {
      const key = `${p.ingress.metadata.uid}\0${p.reason}\0${p.message}`;
      now.add(key);
      if (!this.reported.has(key)) {
        this.log(`ingress: ${p.ingress.metadata.namespace}/${p.ingress.metadata.name}: ${p.message}`);
        this.events.record(p.ingress, 'Warning', p.reason, p.message);
      }
    }
    this.reported = now;
    return out.text;
  }

  private keepTLS = new Set<string>();

  /** TLS files no config names any more */
  private async pruneTLS(): Promise<void> {
    for (const f of await readdir(join(this.dir, 'tls')).catch(() => [] as string[])) if (!this.keepTLS.has(f)) await unlink(join(this.dir, 'tls', f)).catch(() => {});
  }

  /** `nginx -t` on a file: throws with nginx's words when it refuses it */
  private async check(conf: string): Promise<void> {
    const r = await run(this.nginx, [...this.args(conf), '-t', '-q'], { allowFailure: true, timeoutMs: 20_000 });
    if (r.code !== 0) throw new Error((r.stderr || r.stdout).trim().split('\n').filter((l) => !/test failed/.test(l)).slice(-3).join('; '));
  }

  private async spawnNginx(): Promise<void> {
    this.stderrTail = [];
    const child = spawn(this.nginx, [...this.args(), '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    let buf = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        this.stderrTail = [...this.stderrTail.slice(-9), line];
        // reload notices are routine; the rest (bind failures, crashes) matter
        if (!/\[notice\]/.test(line)) this.log(`ingress nginx: ${line}`);
      }
    });
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.once('exit', (code, signal) => {
      if (this.child !== child) return;
      this.child = undefined;
      if (this.stopped) return;
      this.log(`ingress: nginx exited (${signal ?? `code ${code}`}) unexpectedly: ${this.stderrTail.slice(-3).join('; ')}; starting it again`);
      // the next sync finds no config applied and no child: it checks the file and starts nginx
      this.current = '';
      setTimeout(() => this.syncer.schedule(), 1000).unref();
    });
    await this.waitListening(child);
  }

  /** nginx answers on its HTTP port, or the error it died with */
  private async waitListening(child: ChildProcess): Promise<void> {
    const { address, http } = this.opts.listen;
    const host = address === '0.0.0.0' ? '127.0.0.1' : address === '::' ? '::1' : address;
    for (let i = 0; i < 200; i++) {
      if (child.exitCode !== null || child.signalCode !== null) break;
      const ok = await new Promise<boolean>((resolve) => {
        const s = connect({ host, port: http }, () => {
          s.destroy();
          resolve(true);
        });
        s.on('error', () => resolve(false));
      });
      if (ok && (await readFile(this.files.pid, 'utf8').catch(() => ''))) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill('SIGKILL');
    throw new Error(`the ingress controller's nginx did not start on ${address}:${http}: ${this.stderrTail.slice(-3).join('; ') || 'no output'}`);
  }

  /** one sync: render, reload when the text changed, drop unused TLS files, fill status */
  private async syncOnce(): Promise<void> {
    const text = await this.render();
    if (text !== this.current && !this.stopped) await this.reload(text);
    await this.pruneTLS();
    await this.updateStatus();
  }

  /** check the new file, then swap it in and reload; a refused file keeps the old config serving */
  private async reload(text: string): Promise<void> {
    const next = `${this.conf}.next`;
    await writeFile(next, text, { mode: 0o600 });
    try {
      await this.check(next);
    } catch (e) {
      const message = `nginx refused the new configuration, the previous one keeps serving: ${(e as Error).message}`;
      this.log(`ingress: ${message}`);
      for (const ing of this.owned()) this.events.record(ing, 'Warning', 'RELOAD', message);
      await unlink(next).catch(() => {});
      this.current = text; // not retried until something changes again
      return;
    }
    await rename(next, this.conf);
    this.current = text;
    if (!this.child) {
      await this.spawnNginx();
      return;
    }
    await run(this.nginx, [...this.args(), '-s', 'reload'], { timeoutMs: 20_000 });
  }

  /** status.loadBalancer.ingress of every owned Ingress: the node's address */
  private async updateStatus(): Promise<void> {
    const ip = this.opts.statusAddress;
    if (!ip) return;
    const want = [{ ip }];
    for (const ing of this.owned()) {
      if (JSON.stringify(ing.status?.loadBalancer?.ingress ?? []) === JSON.stringify(want)) continue;
      try {
        await this.client.resource(INGRESSES).update({ ...ing, status: { ...(ing.status ?? {}), loadBalancer: { ingress: want } } }, { sub: 'status' });
      } catch (e) {
        // a conflict or a deleted Ingress: the informer's next event brings another sync
        this.log(`ingress: status of ${ing.metadata.namespace}/${ing.metadata.name}: ${(e as Error).message}`);
      }
    }
  }

  /** stop syncing, let nginx quit (SIGQUIT: graceful, SIGKILL after 10 s), remove its files */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const i of Object.values(this.informers)) i.stop();
    await this.syncer.stop();
    const child = this.child;
    if (child) {
      child.kill('SIGQUIT');
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await this.exited;
      clearTimeout(killer);
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}
