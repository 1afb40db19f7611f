/**
 * LocalImageService: the image store on this machine (see types.ts for the layout).
 *
 * Concurrency. Every change of index.json, of snapshots/ and every garbage collection runs
 * under the index lock (an in-process Mutex, then the cross-process FileLock `index.lock`),
 * and index.json is replaced atomically (temp file + fsync + rename), so readers (`get`,
 * `list`) need no lock. Loading is slow (hashing, unpacking) and runs outside the lock; what
 * a load is about to create is first written, under the lock, to a lease (ingest/<id>.json)
 * that garbage collection honours while the loading process lives (containerd's leases).
 *
 * What it keeps in memory: the parsed index (checked against the file with one stat: it is
 * only ever replaced by a rename), every snapshot's meta (only the server makes and removes
 * snapshots), and, while more operations of this process queue, the file lock itself.
 *
 * Every temporary file or directory lives under tmp/ on the same file system and is named
 * `<kind>-<pid>-<random>`, so that a crashed process's debris is recognised and swept.
 *
 *   load:     extract archive to tmp/ -> hash + verify -> lease -> blobs/ -> layers/ -> commit
 *   snapshot: (lock) resolve image -> snapshots/<key>/{upper,work} + meta.json -> Mount[]
 */
import { promises as fsp, constants as fsc, type BigIntStats } from 'node:fs';
import { join, basename } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { ReadEntry } from 'tar';
import { normalizeRef, type ImageConfig, type ImageRecord, type ImageService, type Mount } from './types.js';
import { Mutex, FileLock, ownerAlive, selfOwner, type LockOwner } from './lock.js';
import { chainIds as computeChainIds, digestHex, isDigest, layerDigests, sha256, type LayerDigests } from './digest.js';
import { unpackLayer } from './unpack.js';
import { readArchiveDir, goArch, MEDIA, type ArchiveImage } from './archive-read.js';
import { currentMountinfo, mountsUsing, type MountInfo } from '../sys/mountinfo.js';
import { createModeExact, removeTree } from '../sys/fs.js';
import { AmbiguousImageError, ImageNotFoundError, InvalidArchiveError, MissingToolError, SnapshotError } from './errors.js';

export { ImageNotFoundError, AmbiguousImageError, InvalidArchiveError, SnapshotError, MissingToolError } from './errors.js';

export interface StoredLayer {
  /** digest of the blob as stored (compressed or not) */
  digest: string;
  /** digest of the uncompressed tar */
  diffId: string;
  size: number;
  mediaType: string;
}

/** What index.json keeps per image: the record plus what a push would need. */
export interface StoredImage extends ImageRecord {
  manifestDigest: string;
  manifestMediaType: string;
  layers: StoredLayer[];
}

/** An image fetched from a registry, ready to store (see ingestPulled). */
export interface PulledImage {
  /** normalized tags ("docker.io/library/busybox:1.36"); empty when pulled by digest only */
  names: string[];
  /** "docker.io/library/busybox@sha256:<manifest>" */
  repoDigest: string;
  manifestDigest: string;
  manifestMediaType: string;
  manifestBytes: Buffer;
  configBytes: Buffer;
  /** bottom first; `file` is a verified download under tmp/, absent when the blob is already stored */
  layers: { digest: string; mediaType: string; size: number; diffId?: string; file?: string }[];
}

interface IndexFile {
  version: 1;
  images: StoredImage[];
}

export interface SnapshotMeta {
  key: string;
  imageId: string;
  /** the reference the snapshot was prepared for */
  ref: string;
  /** bottom first, as in ImageRecord */
  chainIds: string[];
  created: string;
}

interface LeaseFile {
  owner: LockOwner;
  blobs: string[];
  chainIds: string[];
}

export interface LocalImageServiceOptions {
  /** how long to wait for another process holding index.lock (default 120 s) */
  lockTimeoutMs?: number;
}

/** Docker/OCI image config JSON (the parts read or written here). */
interface ConfigJson {
  created?: string;
  architecture?: string;
  os?: string;
  config?: {
    Entrypoint?: string[] | null;
    Cmd?: string[] | null;
    Env?: string[] | null;
    WorkingDir?: string;
    User?: string;
    ExposedPorts?: Record<string, object> | null;
    Labels?: Record<string, string> | null;
  } | null;
  rootfs?: { type?: string; diff_ids?: string[] };
  history?: unknown[];
}

const KEY_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,253}$/;

export function imageConfigFromJson(c: ConfigJson['config']): ImageConfig {
  const out: ImageConfig = {};
  if (!c) return out;
  if (Array.isArray(c.Entrypoint) && c.Entrypoint.length) out.entrypoint = c.Entrypoint;
  if (Array.isArray(c.Cmd) && c.Cmd.length) out.cmd = c.Cmd;
  if (Array.isArray(c.Env) && c.Env.length) out.env = c.Env;
  if (c.WorkingDir) out.workingDir = c.WorkingDir;
  if (c.User) out.user = c.User;
  if (c.ExposedPorts && Object.keys(c.ExposedPorts).length) out.exposedPorts = Object.keys(c.ExposedPorts);
  if (c.Labels && Object.keys(c.Labels).length) out.labels = c.Labels;
  return out;
}

export function imageConfigToJson(c: ImageConfig): NonNullable<ConfigJson['config']> {
  const out: NonNullable<ConfigJson['config']> = {};
  if (c.entrypoint) out.Entrypoint = c.entrypoint;
  if (c.cmd) out.Cmd = c.cmd;
  if (c.env) out.Env = c.env;
  if (c.workingDir) out.WorkingDir = c.workingDir;
  if (c.user) out.User = c.user;
  if (c.exposedPorts) out.ExposedPorts = Object.fromEntries(c.exposedPorts.map((p) => [p.includes('/') ? p : `${p}/tcp`, {}]));
  if (c.labels) out.Labels = c.labels;
  return out;
}

/** "docker.io/library/busybox:1.36" -> "docker.io/library/busybox" */
export function repoOf(name: string): string {
  const at = name.indexOf('@');
  if (at >= 0) name = name.slice(0, at);
  const slash = name.lastIndexOf('/');
  const colon = name.lastIndexOf(':');
  return colon > slash ? name.slice(0, colon) : name;
}

/** mount(2) copies its options (data) as one page: a longer lowerdir list is cut short */
export const MOUNT_DATA_MAX = 4095;

/**
 * The overlay mount's options; an image with so many layers that their paths do not fit in the
 * page mount(2) takes (about 60 here; Docker allows 127) is refused with a message saying so,
 * instead of mount's 6 KB command line and "special device overlay does not exist".
 */
export function overlayOptions(key: string, ref: string, lower: string[], upper: string, work: string): string[] {
  const options = [`lowerdir=${lower.join(':')}`, `upperdir=${upper}`, `workdir=${work}`];
  const bytes = Buffer.byteLength(options.join(','));
  if (bytes > MOUNT_DATA_MAX) {
    throw new SnapshotError(
      key,
      `image ${ref} has ${lower.length} layers: the overlay mount's list of their directories (${bytes} bytes) is longer than the ${MOUNT_DATA_MAX + 1}-byte page mount(2) takes, so its root filesystem cannot be mounted; rebuild the image with fewer layers (or squash it)`,
    );
  }
  return options;
}

function tmpName(kind: string): string {
  return `${kind}-${process.pid}-${randomBytes(6).toString('hex')}`;
}

/** Write `path` and flush it to disk before returning. */
async function writeFileSynced(path: string, data: string | Buffer): Promise<void> {
  const fh = await fsp.open(path, 'wx', 0o644);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function writeFileAtomic(path: string, data: string | Buffer, dir: string): Promise<void> {
  const tmp = join(dir, tmpName('write'));
  await writeFileSynced(tmp, data);
  try {
    await fsp.rename(tmp, path);
  } catch (e) {
    await fsp.rm(tmp, { force: true });
    throw e;
  }
}

/** How long the index file lock is handed from one queued operation to the next before it is let go. */
const HANDOVER_MS = 1000;

function indexVersion(st: BigIntStats): string {
  return `${st.ino}:${st.size}:${st.mtimeNs}`;
}

async function pathExists(p: string): Promise<boolean> {
  return fsp.lstat(p).then(
    () => true,
    () => false,
  );
}

export class LocalImageService implements ImageService {
  readonly blobsDir: string;
  readonly layersDir: string;
  readonly snapshotsDir: string;
  readonly tmpDir: string;
  readonly ingestDir: string;
  readonly indexPath: string;
  readonly lockPath: string;
  private readonly mutex = new Mutex();
  private readonly lockTimeoutMs: number;
  private dirsReady = false;
  /** operations waiting for the mutex: while there are any, the file lock is handed on */
  private waiting = 0;
  /** the cross-process lock, while this process holds it (handed from one operation to the next) */
  private fileLock?: { lock: FileLock; since: number };
  /** the parsed index.json and what identified its version on disk (inode, size, mtime) */
  private indexCache?: { version: string; idx: IndexFile };
  /**
   * Every snapshot's meta (null: a directory without a readable meta.json), read from disk once
   * and kept up to date after that: this process is the only one that makes or removes
   * snapshots (one server per data dir; `podbay image` commands never do), so it never reads
   * back what it wrote. Read and changed only under the lock.
   */
  private snapshots?: Map<string, SnapshotMeta | null>;
  /** a snapshot removal left layers to collect, deferred to the last queued operation */
  private gcPending = false;

  constructor(
    readonly root: string,
    opts: LocalImageServiceOptions = {},
  ) {
    this.blobsDir = join(root, 'blobs', 'sha256');
    this.layersDir = join(root, 'layers');
    this.snapshotsDir = join(root, 'snapshots');
    this.tmpDir = join(root, 'tmp');
    this.ingestDir = join(root, 'ingest');
    this.indexPath = join(root, 'index.json');
    this.lockPath = join(root, 'index.lock');
    this.lockTimeoutMs = opts.lockTimeoutMs ?? 120_000;
  }

  // ---- paths -------------------------------------------------------------------------------

  blobPath(digest: string): string {
    return join(this.blobsDir, digestHex(digest));
  }

  layerPath(chainId: string): string {
    return join(this.layersDir, digestHex(chainId));
  }

  snapshotPath(key: string): string {
    if (!KEY_RE.test(key) || key === '.' || key === '..') {
      throw new SnapshotError(key, 'invalid key: use letters, digits, ".", "_" and "-" (at most 254), starting with a letter or digit');
    }
    return join(this.snapshotsDir, key);
  }

  private async ensureDirs(): Promise<void> {
    if (this.dirsReady) return;
    for (const d of [this.root, this.blobsDir, this.layersDir, this.snapshotsDir, this.tmpDir, this.ingestDir]) {
      await fsp.mkdir(d, { recursive: true, mode: 0o700 });
    }
    this.dirsReady = true;
  }

  /**
   * Run `fn` holding the index lock (in-process first, then across processes). While more
   * operations of this process wait (a burst of containers), the file lock is handed on to the
   * next instead of being released and taken again, for at most HANDOVER_MS; then it is let go
   * between two operations, as it always was before, where a `podbay image` command polling
   * for it can take it.
   */
  private locked<T>(fn: () => Promise<T>): Promise<T> {
    this.waiting++;
    return this.mutex.run(async () => {
      this.waiting--;
      try {
        await this.ensureDirs();
        if (!this.fileLock) {
          const lock = new FileLock(this.lockPath, this.lockTimeoutMs);
          await lock.acquire();
          this.fileLock = { lock, since: Date.now() };
        }
        const out = await fn();
        // a failed deferred collection stays pending (it only ever removes what nothing uses)
        if (this.gcPending && this.waiting === 0) await this.collectGarbage(await this.currentIndex()).catch(() => undefined);
        return out;
      } finally {
        const held = this.fileLock;
        if (held && (this.waiting === 0 || Date.now() - held.since > HANDOVER_MS)) {
          this.fileLock = undefined;
          await held.lock.release();
        }
      }
    });
  }

  // ---- index ---------------------------------------------------------------------------------

  /** The index as stored now, the caller's own copy (to change and write back). */
  private async readIndex(): Promise<IndexFile> {
    return structuredClone(await this.currentIndex());
  }

  /**
   * The index as stored now, shared: not to be changed. index.json is only ever replaced by a
   * rename (a new inode), by this process or a `podbay image` command, so one stat tells
   * whether the copy parsed last is still the one on disk.
   */
  private async currentIndex(): Promise<IndexFile> {
    let st;
    try {
      st = await fsp.stat(this.indexPath, { bigint: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, images: [] };
      throw e;
    }
    if (this.indexCache?.version === indexVersion(st)) return this.indexCache.idx;
    // read through one descriptor, so that the version kept is that of the text read
    let text: string;
    let version: string;
    try {
      const fh = await fsp.open(this.indexPath, 'r');
      try {
        version = indexVersion(await fh.stat({ bigint: true }));
        text = await fh.readFile('utf8');
      } finally {
        await fh.close();
      }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, images: [] };
      throw e;
    }
    let idx: IndexFile;
    try {
      idx = JSON.parse(text) as IndexFile;
      if (!Array.isArray(idx.images)) throw new Error('no "images" list');
    } catch (e) {
      throw new Error(`${this.indexPath} is damaged (${(e as Error).message}): move it aside and load the images again`);
    }
    this.indexCache = { version, idx };
    return idx;
  }

  private async writeIndex(idx: IndexFile): Promise<void> {
    this.indexCache = undefined;
    await writeFileAtomic(this.indexPath, JSON.stringify(idx, null, 1) + '\n', this.tmpDir);
  }

  private resolve(idx: IndexFile, ref: string): { image: StoredImage; by: 'tag' | 'id' | 'digest'; name?: string } | undefined {
    const r = ref.trim();
    if (!r) return undefined;
    if (isDigest(r)) {
      const image = idx.images.find((i) => i.id === r);
      return image && { image, by: 'id' };
    }
    const at = r.indexOf('@');
    if (at >= 0) {
      const digest = r.slice(at + 1);
      if (!isDigest(digest)) return undefined;
      let repo: string;
      try {
        repo = repoOf(normalizeRef(r.slice(0, at)));
      } catch {
        return undefined;
      }
      const want = `${repo}@${digest}`;
      const image = idx.images.find(
        (i) => i.repoDigests.includes(want) || ((i.manifestDigest === digest || i.id === digest) && i.repoTags.some((t) => repoOf(t) === repo)),
      );
      return image && { image, by: 'digest' };
    }
    let name: string | undefined;
    try {
      name = normalizeRef(r);
    } catch {
      name = undefined;
    }
    if (name) {
      const image = idx.images.find((i) => i.repoTags.includes(name!));
      if (image) return { image, by: 'tag', name };
    }
    const m = /^(?:sha256:)?([0-9a-f]{12,64})$/.exec(r);
    if (m) {
      const hits = idx.images.filter((i) => i.id.startsWith(`sha256:${m[1]}`));
      if (hits.length > 1) throw new AmbiguousImageError(r, hits.map((h) => h.id));
      if (hits.length === 1) return { image: hits[0], by: 'id' };
    }
    return undefined;
  }

  private notFound(ref: string): ImageNotFoundError {
    let shown = ref;
    if (!/^(?:sha256:)?[0-9a-f]{12,64}$/.test(ref)) {
      try {
        shown = normalizeRef(ref);
      } catch {
        /* keep as given */
      }
    }
    return new ImageNotFoundError(shown);
  }

  /** Add or merge `rec`; its tags move away from other images (which go when none is left). */
  private addImage(idx: IndexFile, rec: StoredImage): StoredImage {
    const untagged = new Set<StoredImage>();
    for (const other of idx.images) {
      if (other.id === rec.id || !other.repoTags.some((t) => rec.repoTags.includes(t))) continue;
      other.repoTags = other.repoTags.filter((t) => !rec.repoTags.includes(t));
      other.repoDigests = other.repoDigests.filter((d) => other.repoTags.some((t) => repoOf(t) === repoOf(d)));
      if (other.repoTags.length === 0) untagged.add(other);
    }
    idx.images = idx.images.filter((i) => !untagged.has(i));
    const existing = idx.images.find((i) => i.id === rec.id);
    if (!existing) {
      idx.images.push(rec);
      return rec;
    }
    existing.repoTags = [...new Set([...existing.repoTags, ...rec.repoTags])];
    existing.repoDigests = [...new Set([...existing.repoDigests, ...rec.repoDigests])];
    return existing;
  }

  // ---- leases and garbage collection ----------------------------------------------------------

  private async newLease(): Promise<Lease> {
    await this.ensureDirs();
    return new Lease(join(this.ingestDir, `${tmpName('lease')}.json`), this.tmpDir, (fn) => this.locked(fn));
  }

  private async readLeases(): Promise<LeaseFile[]> {
    const out: LeaseFile[] = [];
    for (const name of await fsp.readdir(this.ingestDir).catch(() => [] as string[])) {
      const p = join(this.ingestDir, name);
      try {
        const l = JSON.parse(await fsp.readFile(p, 'utf8')) as LeaseFile;
        if (ownerAlive(l.owner)) out.push(l);
        else await fsp.rm(p, { force: true });
      } catch {
        /* being replaced right now (we hold the lock, so not by a live writer) or debris */
        await fsp.rm(p, { force: true });
      }
    }
    return out;
  }

  /** Every snapshot's meta (see `snapshots`): read from disk the first time only. Call holding the lock. */
  private async snapshotMetas(): Promise<Map<string, SnapshotMeta | null>> {
    if (this.snapshots) return this.snapshots;
    const out = new Map<string, SnapshotMeta | null>();
    for (const key of await this.listSnapshotKeys()) {
      try {
        out.set(key, JSON.parse(await fsp.readFile(join(this.snapshotsDir, key, 'meta.json'), 'utf8')) as SnapshotMeta);
      } catch {
        out.set(key, null); // a snapshot without meta pins nothing
      }
    }
    this.snapshots = out;
    return out;
  }

  private async readSnapshotMetas(): Promise<SnapshotMeta[]> {
    return [...(await this.snapshotMetas()).values()].filter((m): m is SnapshotMeta => m !== null);
  }

  /** Remove a directory tree without ever leaving it half-deleted under its own name. */
  private async removeTree(path: string): Promise<void> {
    const aside = join(this.tmpDir, tmpName('gc'));
    try {
      await fsp.rename(path, aside);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw e;
    }
    await removeTree(aside);
  }

  /** Drop layers and blobs nothing refers to. Call holding the lock, with the index about to be written. */
  private async collectGarbage(idx: IndexFile): Promise<void> {
    this.gcPending = false;
    // list first, then read the leases: anything placed after the listing was leased before it
    const blobNames = await fsp.readdir(this.blobsDir);
    const layerNames = await fsp.readdir(this.layersDir);
    const leases = await this.readLeases();
    const snaps = await this.readSnapshotMetas();

    const blobs = new Set<string>();
    const chains = new Set<string>();
    for (const i of idx.images) {
      blobs.add(i.id);
      blobs.add(i.manifestDigest);
      for (const l of i.layers) blobs.add(l.digest);
      for (const c of i.chainIds) chains.add(c);
    }
    for (const s of snaps) for (const c of s.chainIds ?? []) chains.add(c);
    for (const l of leases) {
      for (const b of l.blobs) blobs.add(b);
      for (const c of l.chainIds) chains.add(c);
    }
    let mounts: MountInfo[] | undefined;
    for (const name of layerNames) {
      if (!/^[0-9a-f]{64}$/.test(name) || chains.has(`sha256:${name}`)) continue;
      const dir = join(this.layersDir, name);
      // the mount table is read once, and only when some layer is about to go
      mounts ??= await currentMountinfo().catch(() => [] /* no /proc: nothing to protect */);
      if (mountsUsing(dir, mounts).length) continue; // still a lowerdir of something
      await this.removeTree(dir);
    }
    for (const name of blobNames) {
      if (!/^[0-9a-f]{64}$/.test(name) || blobs.has(`sha256:${name}`)) continue;
      await fsp.rm(join(this.blobsDir, name), { force: true });
    }
    // debris of crashed processes
    for (const name of await fsp.readdir(this.tmpDir)) {
      const m = /^[a-z]+-(\d+)-[0-9a-f]+/.exec(name);
      if (m && Number(m[1]) !== process.pid && !ownerAlive({ pid: Number(m[1]) })) await fsp.rm(join(this.tmpDir, name), { recursive: true, force: true });
    }
  }

  // ---- ingest ---------------------------------------------------------------------------------

  /** Put `src` into the content store as `digest` (moved when `move`, else copied). */
  private async placeBlob(digest: string, src: { file: string; move: boolean } | { data: Buffer }): Promise<void> {
    const dest = this.blobPath(digest);
    if (await pathExists(dest)) return;
    const tmp = join(this.tmpDir, tmpName('blob'));
    try {
      if ('data' in src) await fsp.writeFile(tmp, src.data, { mode: 0o644 });
      else if (src.move && !(await fsp.lstat(src.file)).isSymbolicLink()) await fsp.rename(src.file, tmp);
      else await fsp.copyFile(src.file, tmp, fsc.COPYFILE_FICLONE);
      await fsp.chmod(tmp, 0o644);
      await fsp.rename(tmp, dest);
    } finally {
      await fsp.rm(tmp, { force: true });
    }
  }

  /** Unpack the layers not unpacked yet; errors name `source` (the archive or tarball) and the layer. */
  private async ensureLayerDirs(layers: StoredLayer[], chainIds: string[], source: string): Promise<void> {
    for (let i = 0; i < layers.length; i++) {
      try {
        await unpackLayer(this.blobPath(layers[i].digest), this.layerPath(chainIds[i]), { tmpDir: this.tmpDir });
      } catch (e) {
        if (e instanceof MissingToolError) throw e;
        const detail = e instanceof InvalidArchiveError ? e.message.slice(e.file.length + 2) : (e as Error).message;
        throw new InvalidArchiveError(source, `layer ${i} (${layers[i].digest}): ${detail}`);
      }
    }
  }

  /**
   * Hash, verify and store one image of an unpacked archive; returns its record (not yet in the index).
   */
  private async ingestImage(img: ArchiveImage, file: string, move: boolean, lease: Lease, seen: Map<string, LayerDigests>): Promise<StoredImage> {
    let configBytes: Buffer;
    try {
      configBytes = await fsp.readFile(img.configPath);
    } catch {
      throw new InvalidArchiveError(file, `image config ${basename(img.configPath)} is missing from the archive`);
    }
    const id = sha256(configBytes);
    if (img.configDigest && img.configDigest !== id) throw new InvalidArchiveError(file, `image config ${img.configDigest} does not match its digest: the archive is damaged`);
    let config: ConfigJson;
    try {
      config = JSON.parse(configBytes.toString('utf8')) as ConfigJson;
    } catch (e) {
      throw new InvalidArchiveError(file, `image config ${id} is not valid JSON (${(e as Error).message})`);
    }
    const layers: StoredLayer[] = [];
    for (const [n, l] of img.layers.entries()) {
      let d = seen.get(l.path);
      if (!d) {
        if (!(await pathExists(l.path))) throw new InvalidArchiveError(file, `layer ${n} (${l.digest ?? basename(l.path)}) is missing from the archive`);
        d = await layerDigests(l.path, `${file}: layer ${n} (${l.digest ?? l.path})`);
        seen.set(l.path, d);
      }
      if (l.digest && l.digest !== d.digest) throw new InvalidArchiveError(file, `layer ${l.digest} does not match its digest (${d.digest}): the archive is damaged`);
      layers.push({
        digest: d.digest,
        diffId: d.diffId,
        size: d.size,
        mediaType: l.mediaType ?? (d.compression === 'gzip' ? MEDIA.ociLayerGzip : MEDIA.ociLayer),
      });
    }
    const diffIds = layers.map((l) => l.diffId);
    const declared = config.rootfs?.diff_ids;
    if (Array.isArray(declared) && (declared.length !== diffIds.length || declared.some((d, i) => d !== diffIds[i]))) {
      throw new InvalidArchiveError(
        file,
        `image ${id}: the layers' content (diffIDs ${diffIds.join(', ') || 'none'}) does not match the config's rootfs.diff_ids (${declared.join(', ') || 'none'}): the archive is damaged`,
      );
    }
    if (layers.length === 0) throw new InvalidArchiveError(file, `image ${id} has no layers`);
    const chains = computeChainIds(diffIds);

    let manifestBytes: Buffer;
    let manifestDigest: string;
    let manifestMediaType: string;
    if (img.manifest) {
      manifestBytes = await fsp.readFile(img.manifest.path);
      manifestDigest = img.manifest.digest;
      manifestMediaType = img.manifest.mediaType;
    } else {
      manifestBytes = Buffer.from(JSON.stringify(ociManifest(configBytes.length, id, layers)));
      manifestDigest = sha256(manifestBytes);
      manifestMediaType = MEDIA.ociManifest;
    }

    await lease.add([id, manifestDigest, ...layers.map((l) => l.digest)], chains);
    await this.placeBlob(id, { data: configBytes });
    await this.placeBlob(manifestDigest, { data: manifestBytes });
    for (const [n, l] of layers.entries()) {
      if (await pathExists(this.blobPath(l.digest))) continue;
      const src = img.layers[n].path;
      // a layer file shared by two images of one archive is moved once, then copied from the store
      if (await pathExists(src)) await this.placeBlob(l.digest, { file: src, move });
    }
    await this.ensureLayerDirs(layers, chains, file);

    return this.record(id, config, img.names, manifestDigest, manifestMediaType, layers, chains);
  }

  private record(id: string, config: ConfigJson, names: string[], manifestDigest: string, manifestMediaType: string, layers: StoredLayer[], chains: string[]): StoredImage {
    const repoTags = [...new Set(names)];
    return {
      id,
      repoTags,
      repoDigests: [...new Set(repoTags.map((t) => `${repoOf(t)}@${manifestDigest}`))],
      size: layers.reduce((s, l) => s + l.size, 0),
      config: imageConfigFromJson(config.config),
      chainIds: chains,
      ...(config.created ? { created: config.created } : {}),
      manifestDigest,
      manifestMediaType,
      layers,
    };
  }

  private async commit(records: StoredImage[]): Promise<StoredImage[]> {
    return this.locked(async () => {
      const idx = await this.readIndex();
      const out = records.map((r) => this.addImage(idx, r));
      await this.collectGarbage(idx);
      await this.writeIndex(idx);
      return out.map((r) => structuredClone(r));
    });
  }

  /** A failed load or import: drop what it stored and nothing else refers to (best effort). */
  private async sweepAfterFailure(lease: Lease): Promise<void> {
    await lease.release();
    await this.locked(async () => this.collectGarbage(await this.readIndex())).catch(() => undefined);
  }

  // ---- pulled images (src/image/pull.ts) ------------------------------------------------------

  /** A fresh path under tmp/ for a download (swept with the process's other debris). */
  async tempPath(kind: string): Promise<string> {
    await this.ensureDirs();
    return join(this.tmpDir, tmpName(kind));
  }

  async hasBlob(digest: string): Promise<boolean> {
    return pathExists(this.blobPath(digest));
  }

  /** The image whose manifest is `manifestDigest`, if stored. */
  async findByManifest(manifestDigest: string): Promise<StoredImage | undefined> {
    const image = (await this.currentIndex()).images.find((i) => i.manifestDigest === manifestDigest);
    return image && structuredClone(image);
  }

  /** Give a stored image more names (tags move away from other images, as with a load). */
  async addNames(id: string, names: string[], repoDigests: string[]): Promise<StoredImage> {
    return this.locked(async () => {
      const idx = await this.readIndex();
      const image = idx.images.find((i) => i.id === id);
      if (!image) throw new ImageNotFoundError(id);
      const rec = this.addImage(idx, { ...structuredClone(image), repoTags: names, repoDigests });
      await this.collectGarbage(idx);
      await this.writeIndex(idx);
      return structuredClone(rec);
    });
  }

  /**
   * Store an image fetched from a registry. Every blob handed in was verified against its digest
   * by the caller and sits in a tmp/ file that is moved into the content store; layers without
   * a file must already be stored. The layers' diffIDs must match the config's rootfs.diff_ids.
   */
  async ingestPulled(p: PulledImage): Promise<StoredImage> {
    const what = p.repoDigest;
    let config: ConfigJson;
    try {
      config = JSON.parse(p.configBytes.toString('utf8')) as ConfigJson;
    } catch (e) {
      throw new InvalidArchiveError(what, `image config is not valid JSON (${(e as Error).message})`);
    }
    const id = sha256(p.configBytes);
    const declared = config.rootfs?.diff_ids ?? [];
    if (declared.length !== p.layers.length) throw new InvalidArchiveError(what, `the manifest lists ${p.layers.length} layers but the config's rootfs.diff_ids ${declared.length}`);
    const known = new Map<string, StoredLayer>();
    for (const i of (await this.currentIndex()).images) for (const l of i.layers) known.set(l.digest, { ...l });
    // a layer listed twice comes with its file once
    const incoming = new Set(p.layers.filter((l) => l.file).map((l) => l.digest));
    const lease = await this.newLease();
    try {
      await lease.add([id, p.manifestDigest, ...p.layers.map((l) => l.digest)], []);
      const layers: StoredLayer[] = [];
      for (const [n, l] of p.layers.entries()) {
        let diffId = l.diffId ?? known.get(l.digest)?.diffId;
        if (!l.file && !incoming.has(l.digest) && !(await pathExists(this.blobPath(l.digest)))) throw new InvalidArchiveError(what, `layer ${l.digest} vanished from the store during the pull: pull again`);
        diffId ??= (await layerDigests(this.blobPath(l.digest), `${what}: layer ${n} (${l.digest})`)).diffId;
        if (diffId !== declared[n]) throw new InvalidArchiveError(what, `layer ${n} (${l.digest}) unpacks to ${diffId}, but the config says ${declared[n]}: the image is damaged`);
        layers.push({ digest: l.digest, diffId, size: l.size, mediaType: l.mediaType });
      }
      const chains = computeChainIds(layers.map((l) => l.diffId));
      await lease.add([], chains);
      await this.placeBlob(id, { data: p.configBytes });
      await this.placeBlob(p.manifestDigest, { data: p.manifestBytes });
      for (const l of p.layers) if (l.file) await this.placeBlob(l.digest, { file: l.file, move: true });
      await this.ensureLayerDirs(layers, chains, what);
      const rec = this.record(id, config, p.names, p.manifestDigest, p.manifestMediaType, layers, chains);
      rec.repoDigests = [...new Set([...rec.repoDigests, p.repoDigest])];
      const [out] = await this.commit([rec]);
      return out;
    } catch (e) {
      await this.sweepAfterFailure(lease);
      throw e;
    } finally {
      await lease.release();
    }
  }

  // ---- ImageService ---------------------------------------------------------------------------

  async list(): Promise<StoredImage[]> {
    return (await this.readIndex()).images;
  }

  async get(ref: string): Promise<StoredImage | undefined> {
    const image = this.resolve(await this.currentIndex(), ref)?.image;
    return image && structuredClone(image);
  }

  /** Like get, but throws ImageNotFoundError. */
  async require(ref: string): Promise<StoredImage> {
    const image = await this.get(ref);
    if (!image) throw this.notFound(ref);
    return image;
  }

  async loadArchive(file: string): Promise<StoredImage[]> {
    let st;
    try {
      st = await fsp.stat(file);
    } catch {
      throw new InvalidArchiveError(file, 'no such file: give the path of a `docker save` or OCI image archive');
    }
    const lease = await this.newLease();
    const work = join(this.tmpDir, tmpName('load'));
    try {
      let dir = file;
      let move = false;
      if (!st.isDirectory()) {
        await fsp.mkdir(work, { mode: 0o700 });
        await extractArchive(file, work);
        dir = work;
        move = true;
      }
      const { images } = await readArchiveDir(dir, file);
      // one record per image ID; tags of entries that point at the same image are merged
      const byId = new Map<string, StoredImage>();
      const seen = new Map<string, LayerDigests>();
      for (const img of images) {
        const rec = await this.ingestImage(img, file, move, lease, seen);
        const prev = byId.get(rec.id);
        if (prev) {
          prev.repoTags = [...new Set([...prev.repoTags, ...rec.repoTags])];
          prev.repoDigests = [...new Set([...prev.repoDigests, ...rec.repoDigests])];
        } else byId.set(rec.id, rec);
      }
      return await this.commit([...byId.values()]);
    } catch (e) {
      await this.sweepAfterFailure(lease);
      throw e;
    } finally {
      await fsp.rm(work, { recursive: true, force: true });
      await lease.release();
    }
  }

  async importRootfs(file: string, ref: string, config?: ImageConfig): Promise<StoredImage> {
    if (ref.includes('@')) throw new Error(`cannot import as ${JSON.stringify(ref)}: give a NAME[:TAG], not a digest`);
    const name = normalizeRef(ref);
    try {
      await fsp.stat(file);
    } catch {
      throw new InvalidArchiveError(file, 'no such file: give the path of a root filesystem tarball (tar or tar.gz)');
    }
    const hasSh = await tarHasShell(file);
    const d = await layerDigests(file, file);
    const layer: StoredLayer = { digest: d.digest, diffId: d.diffId, size: d.size, mediaType: d.compression === 'gzip' ? MEDIA.ociLayerGzip : MEDIA.ociLayer };
    const created = new Date().toISOString();
    const cfg: ImageConfig = config ?? (hasSh ? { cmd: ['sh'] } : {});
    const configJson: ConfigJson = {
      created,
      architecture: goArch(),
      os: 'linux',
      config: imageConfigToJson(cfg),
      rootfs: { type: 'layers', diff_ids: [d.diffId] },
      history: [{ created, created_by: `podbay image import ${basename(file)}` }],
    };
    const configBytes = Buffer.from(JSON.stringify(configJson));
    const id = sha256(configBytes);
    const manifestBytes = Buffer.from(JSON.stringify(ociManifest(configBytes.length, id, [layer])));
    const manifestDigest = sha256(manifestBytes);
    const chains = computeChainIds([d.diffId]);

    const lease = await this.newLease();
    try {
      await lease.add([id, manifestDigest, layer.digest], chains);
      await this.placeBlob(layer.digest, { file, move: false });
      await this.placeBlob(id, { data: configBytes });
      await this.placeBlob(manifestDigest, { data: manifestBytes });
      await this.ensureLayerDirs([layer], chains, file);
      const [rec] = await this.commit([this.record(id, configJson, [name], manifestDigest, MEDIA.ociManifest, [layer], chains)]);
      return rec;
    } catch (e) {
      await this.sweepAfterFailure(lease);
      throw e;
    } finally {
      await lease.release();
    }
  }

  async remove(ref: string): Promise<void> {
    await this.locked(async () => {
      const idx = await this.readIndex();
      const hit = this.resolve(idx, ref);
      if (!hit) throw this.notFound(ref);
      const { image } = hit;
      if (hit.by === 'tag' && image.repoTags.length > 1) {
        image.repoTags = image.repoTags.filter((t) => t !== hit.name);
        image.repoDigests = image.repoDigests.filter((d) => image.repoTags.some((t) => repoOf(t) === repoOf(d)));
      } else {
        idx.images = idx.images.filter((i) => i !== image);
      }
      await this.collectGarbage(idx);
      await this.writeIndex(idx);
    });
  }

  /**
   * Remove every image no snapshot (container) uses, as `crictl rmi --prune`; their layers and
   * blobs go with them. Returns the removed images.
   */
  async prune(): Promise<StoredImage[]> {
    return this.locked(async () => {
      const idx = await this.readIndex();
      const used = new Set((await this.readSnapshotMetas()).map((m) => m.imageId));
      const removed = idx.images.filter((i) => !used.has(i.id));
      idx.images = idx.images.filter((i) => used.has(i.id));
      await this.collectGarbage(idx);
      await this.writeIndex(idx);
      return removed;
    });
  }

  async prepareSnapshot(key: string, ref: string): Promise<Mount[]> {
    const dir = this.snapshotPath(key);
    return this.locked(async () => {
      const metaPath = join(dir, 'meta.json');
      const snapshots = await this.snapshotMetas();
      let meta = snapshots.get(key) ?? undefined;
      const fresh = !snapshots.has(key);
      let layers: StoredLayer[] | undefined;
      if (!meta) {
        const hit = this.resolve(await this.currentIndex(), ref);
        if (!hit) throw this.notFound(ref);
        layers = hit.image.layers;
        meta = { key, imageId: hit.image.id, ref, chainIds: [...hit.image.chainIds], created: new Date().toISOString() };
      }
      for (const [i, c] of meta.chainIds.entries()) {
        if (await pathExists(this.layerPath(c))) continue;
        // self-heal from the blob when the image is still known
        const blob = layers?.[i]?.digest;
        if (!blob || !(await pathExists(this.blobPath(blob)))) {
          throw new SnapshotError(key, `layer ${c} of image ${meta.imageId} is missing from ${this.layersDir}: remove the snapshot and load the image again`);
        }
        await unpackLayer(this.blobPath(blob), this.layerPath(c), { tmpDir: this.tmpDir });
      }
      const text = JSON.stringify(meta, null, 1) + '\n';
      if (fresh) {
        // built under tmp/ and renamed into place: the snapshot appears whole, meta and all
        // (a crash leaves debris in tmp/, swept), and nothing is written twice
        const build = join(this.tmpDir, tmpName('snap'));
        try {
          await fsp.mkdir(build, { mode: 0o700 });
          await fsp.mkdir(join(build, 'upper'), { mode: 0o755 });
          await fsp.mkdir(join(build, 'work'), { mode: 0o700 });
          if (!createModeExact(0o755)) await fsp.chmod(join(build, 'upper'), 0o755);
          await writeFileSynced(join(build, 'meta.json'), text);
          await fsp.rename(build, dir);
        } catch (e) {
          await fsp.rm(build, { recursive: true, force: true });
          throw e;
        }
      } else {
        await fsp.mkdir(join(dir, 'upper'), { recursive: true, mode: 0o755 });
        await fsp.mkdir(join(dir, 'work'), { recursive: true, mode: 0o700 });
        await fsp.chmod(join(dir, 'upper'), 0o755);
        await writeFileAtomic(metaPath, text, this.tmpDir);
      }
      snapshots.set(key, meta);
      return [this.overlayMount(meta, dir)];
    });
  }

  /** The overlay for a snapshot: lowerdir lists the top layer first, as mount(8) wants. */
  private overlayMount(meta: SnapshotMeta, dir: string): Mount {
    const lower = [...meta.chainIds].reverse().map((c) => this.layerPath(c));
    return { type: 'overlay', source: 'overlay', options: overlayOptions(meta.key, meta.ref, lower, join(dir, 'upper'), join(dir, 'work')) };
  }

  async snapshotMeta(key: string): Promise<SnapshotMeta | undefined> {
    const known = this.snapshots?.get(key);
    if (known) return structuredClone(known);
    try {
      return JSON.parse(await fsp.readFile(join(this.snapshotPath(key), 'meta.json'), 'utf8')) as SnapshotMeta;
    } catch {
      return undefined;
    }
  }

  async snapshotUpperDir(key: string): Promise<string | undefined> {
    // snapshotMeta answers undefined for an invalid key too
    return (await this.snapshotMeta(key)) ? join(this.snapshotPath(key), 'upper') : undefined;
  }

  async removeSnapshot(key: string): Promise<void> {
    const dir = this.snapshotPath(key);
    await this.locked(async () => {
      const snapshots = await this.snapshotMetas();
      if (!snapshots.has(key)) return;
      const busy = mountsUsing(dir, await currentMountinfo());
      if (busy.length) {
        const where = busy.map((m) => m.mountPoint).join(', ');
        throw new SnapshotError(key, `still mounted at ${where}: unmount it first (umount ${busy[0].mountPoint}); not deleting through a live mount`);
      }
      const meta = snapshots.get(key);
      await this.removeTree(dir);
      snapshots.delete(key);
      // the snapshot may have been the last user of a removed image's layers: collect them
      // (after the last queued operation) unless every one of them belongs to a stored image
      const kept = new Set((await this.currentIndex()).images.flatMap((i) => i.chainIds));
      if (!meta || meta.chainIds.some((c) => !kept.has(c))) this.gcPending = true;
    });
  }

  private async listSnapshotKeys(): Promise<string[]> {
    const ents = await fsp.readdir(this.snapshotsDir, { withFileTypes: true }).catch(() => []);
    return ents.filter((e) => e.isDirectory() && KEY_RE.test(e.name)).map((e) => e.name).sort();
  }

  async listSnapshots(): Promise<string[]> {
    return this.listSnapshotKeys();
  }
}

/** What a load or import holds against garbage collection while it works (see the header). */
class Lease {
  private readonly data: LeaseFile = { owner: selfOwner(), blobs: [], chainIds: [] };

  constructor(
    readonly path: string,
    private readonly tmpDir: string,
    private readonly locked: <T>(fn: () => Promise<T>) => Promise<T>,
  ) {}

  add(blobs: string[], chainIds: string[]): Promise<void> {
    return this.locked(async () => {
      this.data.blobs = [...new Set([...this.data.blobs, ...blobs])];
      this.data.chainIds = [...new Set([...this.data.chainIds, ...chainIds])];
      await writeFileAtomic(this.path, JSON.stringify(this.data), this.tmpDir);
    });
  }

  async release(): Promise<void> {
    await fsp.rm(this.path, { force: true });
  }
}

function ociManifest(configSize: number, configDigest: string, layers: StoredLayer[]) {
  return {
    schemaVersion: 2,
    mediaType: MEDIA.ociManifest,
    config: { mediaType: MEDIA.ociConfig, digest: configDigest, size: configSize },
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
  };
}

/** Extract an image archive (tar or tar.gz) into `dir`, refusing anything odd. */
async function extractArchive(file: string, dir: string): Promise<void> {
  const problems: string[] = [];
  try {
    // tar loads with the first archive, not at start
    await (await import('tar')).x({
      file,
      cwd: dir,
      preserveOwner: false,
      strict: false,
      onwarn: (code, message) => {
        if (code !== 'TAR_ENTRY_INFO') problems.push(`${code}: ${message}`);
      },
      // archives hold only files and directories; nothing else is needed from them
      filter: (_p, e) => {
        const t = (e as ReadEntry).type;
        return t === 'File' || t === 'OldFile' || t === 'ContiguousFile' || t === 'Directory' || t === 'SymbolicLink';
      },
    });
  } catch (e) {
    throw new InvalidArchiveError(file, `cannot read the archive (${(e as Error).message}): is it a tar file?`);
  }
  if (problems.length) throw new InvalidArchiveError(file, `not a readable tar archive: ${problems.slice(0, 3).join('; ')}`);
}

/** Whether a root filesystem tarball has /bin/sh (directly, or through a /bin -> usr/bin link). */
async function tarHasShell(file: string): Promise<boolean> {
  const paths = new Set<string>();
  let binLink: string | undefined;
  const problems: string[] = [];
  try {
    await (await import('tar')).t({
      file,
      strict: false,
      onwarn: (code, message) => {
        if (code !== 'TAR_ENTRY_INFO') problems.push(`${code}: ${message}`);
      },
      onReadEntry: (e) => {
        const p = e.path.split('/').filter((s) => s && s !== '.').join('/');
        paths.add(p);
        if (p === 'bin' && e.type === 'SymbolicLink') binLink = (e.linkpath ?? '').replace(/^\/+/, '').replace(/\/+$/, '');
      },
    });
  } catch (e) {
    throw new InvalidArchiveError(file, `not a tar archive (plain or gzip) (${(e as Error).message})`);
  }
  if (problems.length || paths.size === 0) {
    throw new InvalidArchiveError(file, `not a tar archive (plain or gzip)${problems.length ? `: ${problems.slice(0, 3).join('; ')}` : ': it is empty'}`);
  }
  return paths.has('bin/sh') || (binLink !== undefined && paths.has(`${binLink}/sh`));
}
