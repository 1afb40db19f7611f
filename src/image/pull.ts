/**
 * Pulling an image from a registry into the local store (store.ts ingestPulled).
 *
 *   resolve   endpoints of the host (mirrors first, registries.ts) -> GET manifest by tag/digest
 *             (an index / manifest list -> the linux/<this arch> manifest, fetched by digest)
 *   unchanged the manifest digest is already stored: only names are added (a pull with
 *             imagePullPolicy Always that finds nothing new costs one manifest request)
 *   fetch     config + every layer not stored yet, at most `concurrency` at a time; each blob is
 *             streamed to a tmp/ file while hashed, and handed to the store only once its size
 *             and digest match (no partial blob is ever visible); a dropped connection is retried
 *   store     ingestPulled: diffIDs checked against the config, layers unpacked, index updated
 *
 * Two callers asking for the same reference (and the same credentials) share one pull.
 */
import { createHash } from 'node:crypto';
import { createWriteStream, promises as fsp } from 'node:fs';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { LocalImageService, StoredImage } from './store.js';
import { MEDIA, goArch } from './archive-read.js';
import { gunzipDigest, isDigest, sha256, sniffCompression } from './digest.js';
import { DigestMismatchError, RegistryError } from './errors.js';
import { formatReference, manifestRefOf, parseReference, repositoryOf, type ImageReference } from './reference.js';
import { RegistryClient } from './registry-client.js';
import { endpointsFor, type CredentialStore, type RegistriesConfig } from './registries.js';
import { byString } from '../api/order.js';

export const MANIFEST_TYPES = [MEDIA.ociIndex, MEDIA.ociManifest, MEDIA.dockerList, MEDIA.dockerManifest];
const SCHEMA1 = ['application/vnd.docker.distribution.manifest.v1+json', 'application/vnd.docker.distribution.manifest.v1+prettyjws'];

export interface Descriptor {
  mediaType?: string;
  digest: string;
  size: number;
  platform?: { os?: string; architecture?: string; variant?: string };
}

export interface ImageManifest {
  schemaVersion?: number;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
}

export type PullPhase = 'resolved' | 'waiting' | 'downloading' | 'retrying' | 'verifying' | 'done' | 'exists';

export interface PullProgress {
  /** the layer (or config) digest; undefined for the image-level 'resolved' step */
  digest?: string;
  phase: PullPhase;
  current: number;
  total: number;
  detail?: string;
}

export interface PullOptions {
  /** credentials by host, first match wins (pod imagePullSecrets, then docker config) */
  credentials?: CredentialStore[];
  onProgress?: (p: PullProgress) => void;
}

export interface PullResult {
  image: StoredImage;
  /** "docker.io/library/busybox@sha256:..." */
  repoDigest: string;
  /** bytes of the image's compressed layers (what the kubelet's Pulled event reports) */
  size: number;
  /** bytes actually downloaded (0 when only the manifest was fetched) */
  fetched: number;
  /** the endpoint that served it */
  endpoint: string;
}

export interface ImagePullerOptions {
  registries: () => RegistriesConfig;
  /** k3s --disable-default-registry-endpoint: a mirrored host is never contacted itself */
  disableDefaultEndpoint?: boolean;
  /** layers downloaded at once (default 3) */
  concurrency?: number;
  /** attempts per blob on a dropped connection or 5xx (default 3) */
  attempts?: number;
  /** delay before retry n (n = 1, 2, ...); default 300 ms * n */
  retryDelayMs?: (n: number) => number;
  timeoutMs?: number;
}

/** Pick the manifest for this platform from an index / manifest list. */
export function pickPlatform(manifests: Descriptor[], arch = goArch(), os = 'linux'): Descriptor | undefined {
  const fits = manifests.filter((m) => m.platform?.os === os && m.platform?.architecture === arch);
  // arm64 images may say variant v8 or nothing; prefer the exact v8, else the first fit
  return fits.find((m) => !m.platform?.variant || (arch === 'arm64' && m.platform.variant === 'v8')) ?? fits[0];
}

function parseJson<T>(bytes: Buffer, what: string, host: string): T {
  try {
    return JSON.parse(bytes.toString('utf8')) as T;
  } catch (e) {
    throw new RegistryError(host, `${host}: ${what} is not valid JSON (${(e as Error).message})`);
  }
}

/** How a pull failed, the way containerd words it (the kubelet quotes this in ErrImagePull). */
export class PullError extends Error {
  constructor(
    readonly ref: string,
    override readonly cause: Error,
    readonly status?: number,
  ) {
    super(`failed to pull and unpack image ${JSON.stringify(ref)}: ${cause.message}`);
    this.name = 'PullError';
  }
}

export class ImagePuller {
  private readonly inflight = new Map<string, Promise<PullResult>>();
  private readonly concurrency: number;
  private readonly attempts: number;

  constructor(
    private readonly store: LocalImageService,
    private readonly opts: ImagePullerOptions,
  ) {
    this.concurrency = Math.max(1, opts.concurrency ?? 3);
    this.attempts = Math.max(1, opts.attempts ?? 3);
  }

  /** Pull `ref`; a second caller with the same reference and credentials joins the running pull. */
  pull(ref: string, opts: PullOptions = {}): Promise<PullResult> {
    const parsed = parseReference(ref);
    const name = formatReference(parsed);
    const key = `${name} ${credentialsFingerprint(opts.credentials)}`;
    const running = this.inflight.get(key);
    if (running) return running;
    const p = this.doPull(parsed, opts).finally(() => this.inflight.delete(key));
    this.inflight.set(key, p);
    return p;
  }

  /** How many pulls are running (tests, and the kubelet's view of "already pulling"). */
  get running(): number {
    return this.inflight.size;
  }

  private async doPull(ref: ImageReference, opts: PullOptions): Promise<PullResult> {
    const name = formatReference(ref);
    const endpoints = await endpointsFor(ref.domain, this.opts.registries(), { disableDefaultEndpoint: this.opts.disableDefaultEndpoint, credentials: opts.credentials });
    if (endpoints.length === 0) throw new PullError(name, new Error(`no endpoint for ${ref.domain}`));
    const errors: RegistryError[] = [];
    for (const ep of endpoints) {
      const client = new RegistryClient(ep, this.opts.timeoutMs);
      try {
        let resolved: Awaited<ReturnType<ImagePuller['resolve']>>;
        try {
          resolved = await this.resolve(client, ref);
        } catch (e) {
          // the next endpoint may have it (a mirror that lacks the image, or one that is down)
          if (e instanceof RegistryError) {
            errors.push(e);
            continue;
          }
          throw e;
        }
        return await this.fetch(client, ref, resolved, opts);
      } catch (e) {
        const err = e as Error;
        throw new PullError(name, err, err instanceof RegistryError ? err.status : undefined);
      } finally {
        client.close();
      }
    }
    // the most telling failure: a registry's answer beats "connection refused"
    const best = errors.find((e) => e.status === 401 || e.status === 403) ?? errors.find((e) => e.status === 404) ?? errors[errors.length - 1];
    const tried = endpoints.map((e) => e.url).join(', ');
    const msg = errors.length > 1 ? `${best.message} (tried ${tried})` : best.message;
    throw new PullError(name, new RegistryError(best.registry, msg, best.status), best.status);
  }

  /** The manifest for this platform, its digest and bytes. */
  private async resolve(client: RegistryClient, ref: ImageReference): Promise<{ digest: string; mediaType: string; bytes: Buffer; manifest: ImageManifest }> {
    const repo = ref.path;
    const got = await client.getManifest(repo, manifestRefOf(ref), MANIFEST_TYPES);
    let digest = sha256(got.bytes);
    if (ref.digest && ref.digest !== digest) throw new DigestMismatchError(ref.digest, digest, `manifest of ${formatReference(ref)} from ${client.host}`);
    if (got.digest && isDigest(got.digest) && got.digest !== digest) throw new DigestMismatchError(got.digest, digest, `manifest of ${formatReference(ref)} from ${client.host} (Docker-Content-Digest)`);
    let bytes = got.bytes;
    let doc = parseJson<ImageManifest & { manifests?: Descriptor[] }>(bytes, 'the manifest', client.host);
    let mediaType = got.mediaType && got.mediaType !== 'application/json' ? got.mediaType : doc.mediaType ?? '';
    if (!mediaType) mediaType = doc.manifests ? MEDIA.ociIndex : MEDIA.ociManifest;
    if (SCHEMA1.includes(mediaType) || doc.schemaVersion === 1) {
      throw new RegistryError(client.host, `${client.host}: ${formatReference(ref)} is a Docker schema 1 manifest, which podbay does not read: push the image again with a current client`);
    }
    if (mediaType === MEDIA.ociIndex || mediaType === MEDIA.dockerList) {
      const pick = pickPlatform(doc.manifests ?? []);
      if (!pick) {
        const have = (doc.manifests ?? []).map((m) => `${m.platform?.os ?? '?'}/${m.platform?.architecture ?? '?'}${m.platform?.variant ? `/${m.platform.variant}` : ''}`).join(', ');
        throw new RegistryError(client.host, `${client.host}: ${formatReference(ref)} has no image for linux/${goArch()} (it has: ${have || 'none'})`, 404);
      }
      const child = await client.getManifest(repo, pick.digest, MANIFEST_TYPES);
      const childDigest = sha256(child.bytes);
      if (childDigest !== pick.digest) throw new DigestMismatchError(pick.digest, childDigest, `manifest for linux/${goArch()} of ${formatReference(ref)}`);
      bytes = child.bytes;
      digest = childDigest;
      doc = parseJson(bytes, 'the platform manifest', client.host);
      mediaType = child.mediaType && child.mediaType !== 'application/json' ? child.mediaType : doc.mediaType ?? pick.mediaType ?? MEDIA.ociManifest;
    }
    if (mediaType !== MEDIA.ociManifest && mediaType !== MEDIA.dockerManifest) {
      throw new RegistryError(client.host, `${client.host}: ${formatReference(ref)}: unsupported manifest type ${JSON.stringify(mediaType)}`);
    }
    if (!doc.config || !isDigest(doc.config.digest) || !Array.isArray(doc.layers) || doc.layers.some((l) => !l || !isDigest(l.digest) || typeof l.size !== 'number')) {
      throw new RegistryError(client.host, `${client.host}: the manifest of ${formatReference(ref)} is malformed (config and layers need sha256 digests and sizes)`);
    }
    for (const l of doc.layers) {
      if (/zstd/.test(l.mediaType ?? '')) throw new RegistryError(client.host, `${formatReference(ref)}: layer ${l.digest} is zstd-compressed, which podbay cannot read yet`);
    }
    return { digest, mediaType, bytes, manifest: doc };
  }

  private async fetch(client: RegistryClient, ref: ImageReference, r: Awaited<ReturnType<ImagePuller['resolve']>>, opts: PullOptions): Promise<PullResult> {
    const repoDigest = `${repositoryOf(ref)}@${r.digest}`;
    const names = ref.tag ? [`${repositoryOf(ref)}:${ref.tag}`] : [];
    const size = r.manifest.layers.reduce((s, l) => s + l.size, 0);
    const progress = opts.onProgress ?? (() => {});
    progress({ phase: 'resolved', current: 0, total: size, detail: r.digest });
    const known = await this.store.findByManifest(r.digest);
    if (known) {
      for (const l of r.manifest.layers) progress({ digest: l.digest, phase: 'exists', current: l.size, total: l.size });
      const image = await this.store.addNames(known.id, names, [repoDigest]);
      return { image, repoDigest, size, fetched: 0, endpoint: client.endpoint.url };
    }
    const temps: string[] = [];
    let fetched = 0;
    try {
      const configFile = await this.download(client, ref.path, r.manifest.config, 4 << 20, temps, () => undefined);
      const configBytes = await fsp.readFile(configFile);
      fetched += configBytes.length;
      const layers = r.manifest.layers.map((l) => ({ digest: l.digest, mediaType: l.mediaType ?? MEDIA.ociLayerGzip, size: l.size, file: undefined as string | undefined, diffId: undefined as string | undefined }));
      const queue = [...layers.entries()];
      const seen = new Set<string>();
      const worker = async () => {
        for (let next = queue.shift(); next; next = queue.shift()) {
          const [, l] = next;
          // claimed before any await, so two workers never fetch one digest listed twice
          const dup = seen.has(l.digest);
          seen.add(l.digest);
          if (dup || (await this.store.hasBlob(l.digest))) {
            progress({ digest: l.digest, phase: 'exists', current: l.size, total: l.size });
            continue;
          }
          l.file = await this.download(client, ref.path, l, undefined, temps, (current, phase) => progress({ digest: l.digest, phase, current, total: l.size }));
          fetched += l.size;
          progress({ digest: l.digest, phase: 'verifying', current: l.size, total: l.size });
          const compression = await sniffCompression(l.file);
          if (compression === 'zstd') throw new RegistryError(client.host, `${formatReference(ref)}: layer ${l.digest} is zstd-compressed, which podbay cannot read yet`);
          l.diffId = compression === 'gzip' ? await gunzipDigest(l.file).catch((e: Error) => {
            throw new RegistryError(client.host, `${formatReference(ref)}: layer ${l.digest} is not a valid gzip stream (${e.message})`);
          }) : l.digest;
          progress({ digest: l.digest, phase: 'done', current: l.size, total: l.size });
        }
      };
      for (const l of layers) progress({ digest: l.digest, phase: 'waiting', current: 0, total: l.size });
      await Promise.all(Array.from({ length: Math.min(this.concurrency, layers.length) }, worker));
      // a layer listed twice is downloaded once; the later entries share the first's file
      const byDigest = new Map(layers.filter((l) => l.file).map((l) => [l.digest, l]));
      const image = await this.store.ingestPulled({
        names,
        repoDigest,
        manifestDigest: r.digest,
        manifestMediaType: r.mediaType,
        manifestBytes: r.bytes,
        configBytes,
        layers: layers.map((l, i) => {
          const first = byDigest.get(l.digest);
          const owns = first === l && layers.findIndex((x) => x.digest === l.digest) === i;
          return { digest: l.digest, mediaType: l.mediaType, size: l.size, diffId: first?.diffId ?? l.diffId, ...(owns && l.file ? { file: l.file } : {}) };
        }),
      });
      return { image, repoDigest, size, fetched, endpoint: client.endpoint.url };
    } finally {
      await Promise.all(temps.map((t) => fsp.rm(t, { force: true })));
    }
  }

  /**
   * One blob into a tmp/ file, verified (size and digest) before the path is returned;
   * retried on a dropped connection. `limit` caps what is accepted beyond the declared size.
   */
  private async download(client: RegistryClient, repo: string, desc: Descriptor, limit: number | undefined, temps: string[], onProgress: (current: number, phase: PullPhase) => void): Promise<string> {
    const max = limit !== undefined ? Math.min(limit, desc.size) : desc.size;
    let lastError: Error | undefined;
    for (let attempt = 1; attempt <= this.attempts; attempt++) {
      if (attempt > 1) {
        onProgress(0, 'retrying');
        await new Promise((r) => setTimeout(r, this.opts.retryDelayMs?.(attempt - 1) ?? 300 * (attempt - 1)));
      }
      const tmp = await this.store.tempPath('pull');
      temps.push(tmp);
      try {
        const res = await client.getBlob(repo, desc.digest);
        const hash = createHash('sha256');
        let n = 0;
        let lastReport = 0;
        const meter = new Transform({
          transform(chunk: Buffer, _enc, cb) {
            n += chunk.length;
            if (n > max) return cb(new DigestMismatchError(desc.digest, `(more than ${max} bytes)`, `blob ${desc.digest} of ${repo} from ${client.host}: larger than its declared size ${desc.size}`));
            hash.update(chunk);
            if (n - lastReport >= 256 * 1024 || n === max) {
              lastReport = n;
              onProgress(n, 'downloading');
            }
            cb(null, chunk);
          },
        });
        await pipeline(res.body, meter, createWriteStream(tmp, { flags: 'wx', mode: 0o600 }));
        const got = 'sha256:' + hash.digest('hex');
        if (n !== desc.size) throw new RegistryError(client.host, `${client.host}: blob ${desc.digest} of ${repo} ended after ${n} of ${desc.size} bytes`, undefined, true);
        if (got !== desc.digest) throw new DigestMismatchError(desc.digest, got, `blob of ${repo} from ${client.host}`);
        return tmp;
      } catch (e) {
        await fsp.rm(tmp, { force: true });
        lastError = e as Error;
        const transient = e instanceof RegistryError ? e.transient : !(e instanceof DigestMismatchError) && isConnectionError(e as NodeJS.ErrnoException);
        if (!transient) throw e;
      }
    }
    throw new RegistryError(client.host, `${client.host}: blob ${desc.digest} of ${repo}: ${lastError?.message ?? 'failed'} (gave up after ${this.attempts} attempts)`, undefined, true);
  }
}

function isConnectionError(e: NodeJS.ErrnoException): boolean {
  return ['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'ERR_STREAM_PREMATURE_CLOSE', 'ECONNABORTED'].includes(e.code ?? '') || /aborted|socket hang up|premature close|no answer/i.test(e.message);
}

/** Pulls with different credentials for the host are different pulls (one may be refused). */
function credentialsFingerprint(stores: CredentialStore[] | undefined): string {
  const all = (stores ?? []).map((s) => [...s.entries()].sort((a, b) => byString(a[0], b[0])));
  return all.some((s) => s.length) ? sha256(JSON.stringify(all)).slice(7, 23) : 'anonymous';
}
