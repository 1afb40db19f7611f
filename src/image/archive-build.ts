/**
 * Building images locally, without docker or a registry: a busybox root filesystem from the
 * host's busybox-static, and real `docker save` (docker-archive) and OCI image-layout archives
 * made from directories with node-tar. Used by this room's tests and by other rooms' test
 * suites to get an image into a store.
 *
 * Whiteouts in a layer directory are written in their OCI form and travel as plain files:
 * an empty file `.wh.NAME` deletes NAME of lower layers, `.wh..wh..opq` in a directory hides
 * the lower layers' contents of that directory.
 */
import { promises as fsp, existsSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { gzipSync } from 'node:zlib';
import * as tar from 'tar';
import type { ImageConfig } from './types.js';
import { normalizeRef } from './types.js';
import { sha256, chainIds, digestHex } from './digest.js';
import { goArch, MEDIA, ANNOTATION_REF_NAME, ANNOTATION_CONTAINERD_NAME } from './archive-read.js';
import { imageConfigToJson } from './store.js';

export const BUSYBOX_APPLETS = [
  'sh', 'httpd', 'sleep', 'cat', 'echo', 'ls', 'wget', 'nc', 'ps', 'id', 'hostname', 'true', 'false', 'env', 'mkdir', 'printf', 'ip',
] as const;

/**
 * A minimal root filesystem in `dir`: /bin/busybox (copied from `busybox`, default the host's
 * static /usr/bin/busybox) with applet symlinks, /etc/passwd and /etc/group (root, nobody),
 * and empty /tmp, /proc, /sys, /dev, /root.
 */
export async function buildBusyboxRootfs(dir: string, busybox = '/usr/bin/busybox'): Promise<void> {
  if (!existsSync(busybox)) throw new Error(`${busybox} not found: install the Debian package 'busybox-static' (apt-get install busybox-static)`);
  await fsp.mkdir(join(dir, 'bin'), { recursive: true, mode: 0o755 });
  await fsp.copyFile(busybox, join(dir, 'bin', 'busybox'));
  await fsp.chmod(join(dir, 'bin', 'busybox'), 0o755);
  for (const a of BUSYBOX_APPLETS) {
    await fsp.rm(join(dir, 'bin', a), { force: true });
    await fsp.symlink('busybox', join(dir, 'bin', a));
  }
  await fsp.mkdir(join(dir, 'etc'), { recursive: true, mode: 0o755 });
  await fsp.writeFile(join(dir, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n', { mode: 0o644 });
  await fsp.writeFile(join(dir, 'etc', 'group'), 'root:x:0:\nnobody:x:65534:\n', { mode: 0o644 });
  for (const d of ['proc', 'sys', 'dev', 'root']) await fsp.mkdir(join(dir, d), { recursive: true, mode: 0o755 });
  await fsp.mkdir(join(dir, 'tmp'), { recursive: true });
  await fsp.chmod(join(dir, 'tmp'), 0o1777);
  await fsp.chmod(join(dir, 'root'), 0o700);
}

/** A device node or FIFO to put into a layer tar (node-tar cannot read them from disk). */
export interface DeviceEntry {
  /** path inside the layer, e.g. "dev/null" */
  path: string;
  type: 'char' | 'block' | 'fifo';
  major?: number;
  minor?: number;
  mode?: number;
  uid?: number;
  gid?: number;
}

/** An entry written into a layer tar as given, path and all (for tests of hostile layers). */
export interface RawEntry {
  path: string;
  type: 'File' | 'SymbolicLink' | 'Link' | 'Directory';
  data?: string;
  linkpath?: string;
  mode?: number;
}

export interface LayerSpec {
  dir: string;
  devices?: DeviceEntry[];
  /** written before the directory's contents, in order */
  raw?: RawEntry[];
}

export type LayerInput = string | LayerSpec;

/** A tar of `dir`'s contents (paths without a leading "./"), optionally gzip'd, with extra device entries. */
/**
 * Entries made up by the builder (devices, raw entries) get a fixed mtime, so building the
 * same layer twice yields the same digest (and the same chain ID), whenever it runs.
 */
const SYNTHETIC_MTIME = new Date('2026-01-01T00:00:00Z');

export async function tarDirectory(layer: LayerInput, gzip = false): Promise<{ blob: Buffer; tar: Buffer }> {
  const spec = typeof layer === 'string' ? { dir: layer } : layer;
  const entries = (await fsp.readdir(spec.dir)).sort();
  const chunks: Buffer[] = [];
  for (const d of spec.devices ?? []) {
    const h = new tar.Header({
      path: d.path,
      type: d.type === 'char' ? 'CharacterDevice' : d.type === 'block' ? 'BlockDevice' : 'FIFO',
      mode: d.mode ?? 0o666,
      uid: d.uid ?? 0,
      gid: d.gid ?? 0,
      size: 0,
      mtime: SYNTHETIC_MTIME,
      devmaj: d.major ?? 0,
      devmin: d.minor ?? 0,
    });
    const block = Buffer.alloc(512);
    h.encode(block, 0);
    chunks.push(block);
  }
  for (const r of spec.raw ?? []) {
    const data = Buffer.from(r.data ?? '');
    const h = new tar.Header({
      path: r.path,
      type: r.type,
      linkpath: r.linkpath,
      mode: r.mode ?? (r.type === 'Directory' ? 0o755 : 0o644),
      uid: 0,
      gid: 0,
      size: r.type === 'File' ? data.length : 0,
      mtime: SYNTHETIC_MTIME,
    });
    const block = Buffer.alloc(512);
    h.encode(block, 0);
    chunks.push(block);
    if (r.type === 'File' && data.length) chunks.push(data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  if (entries.length) {
    // node-tar writes each file's atime and ctime into the header (in the prefix field): reading
    // the files (building the layer once) moves their atime, so pin both to the mtime, or a second
    // build of the same directory a second later would get another digest
    const stream = tar.c(
      {
        cwd: spec.dir,
        onWriteEntry: (e) => {
          if (e.stat) e.stat.atime = e.stat.ctime = e.stat.mtime;
        },
      },
      entries,
    );
    for await (const c of stream) chunks.push(Buffer.from(c as Buffer));
  } else {
    chunks.push(Buffer.alloc(1024)); // an empty archive: the two end blocks
  }
  const plain = Buffer.concat(chunks);
  return { tar: plain, blob: gzip ? gzipSync(plain) : plain };
}

export interface BuiltImage {
  /** config digest = image ID */
  id: string;
  diffIds: string[];
  chainIds: string[];
  /** OCI archives only */
  manifestDigest?: string;
}

function configJson(config: ImageConfig | undefined, diffIds: string[], created: string) {
  return {
    created,
    architecture: goArch(),
    os: 'linux',
    config: imageConfigToJson(config ?? {}),
    rootfs: { type: 'layers', diff_ids: diffIds },
    history: diffIds.map(() => ({ created, created_by: 'podbay archive-build' })),
  };
}

async function packDir(outFile: string, dir: string, gzip: boolean): Promise<void> {
  await tar.c({ file: outFile, cwd: dir, gzip }, (await fsp.readdir(dir)).sort());
}

export interface DockerArchiveOptions {
  repoTags: string[];
  layers: LayerInput[];
  config?: ImageConfig;
  /** gzip the layer tars inside the archive (docker writes them plain) */
  gzipLayers?: boolean;
  created?: string;
}

/** Write a `docker save` style archive: manifest.json, <config>.json, <layer>/layer.tar. */
export async function writeDockerArchive(outFile: string, opts: DockerArchiveOptions): Promise<BuiltImage> {
  const work = await fsp.mkdtemp(join(tmpdir(), 'podbay-docker-archive-'));
  try {
    const diffIds: string[] = [];
    const layerPaths: string[] = [];
    for (const l of opts.layers) {
      const { tar: plain, blob } = await tarDirectory(l, !!opts.gzipLayers);
      diffIds.push(sha256(plain));
      const hex = digestHex(sha256(blob));
      await fsp.mkdir(join(work, hex), { recursive: true });
      await fsp.writeFile(join(work, hex, 'layer.tar'), blob);
      await fsp.writeFile(join(work, hex, 'VERSION'), '1.0');
      layerPaths.push(`${hex}/layer.tar`);
    }
    const cfg = Buffer.from(JSON.stringify(configJson(opts.config, diffIds, opts.created ?? new Date().toISOString())));
    const id = sha256(cfg);
    await fsp.writeFile(join(work, `${digestHex(id)}.json`), cfg);
    await fsp.writeFile(join(work, 'manifest.json'), JSON.stringify([{ Config: `${digestHex(id)}.json`, RepoTags: opts.repoTags, Layers: layerPaths }]));
    const repos: Record<string, Record<string, string>> = {};
    for (const t of opts.repoTags) {
      const i = t.lastIndexOf(':');
      if (i > t.lastIndexOf('/')) (repos[t.slice(0, i)] ??= {})[t.slice(i + 1)] = digestHex(id);
    }
    await fsp.writeFile(join(work, 'repositories'), JSON.stringify(repos));
    await packDir(outFile, work, false);
    return { id, diffIds, chainIds: chainIds(diffIds) };
  } finally {
    await fsp.rm(work, { recursive: true, force: true });
  }
}

export interface OciArchiveOptions {
  /** becomes the `org.opencontainers.image.ref.name` annotation, e.g. "busybox:oci" */
  refName?: string;
  /** also write `io.containerd.image.name` (as containerd and docker 25+ do) */
  containerdName?: string;
  layers: LayerInput[];
  config?: ImageConfig;
  /** gzip layers (default true) */
  gzip?: boolean;
  /** put the manifest behind a multi-platform image index (with a foreign platform beside it) */
  platformIndex?: boolean;
  /** gzip the outer archive too */
  gzipArchive?: boolean;
  created?: string;
}

/** Write an OCI image-layout archive: oci-layout, index.json, blobs/sha256/*. */
export async function writeOciArchive(outFile: string, opts: OciArchiveOptions): Promise<BuiltImage> {
  const work = await fsp.mkdtemp(join(tmpdir(), 'podbay-oci-archive-'));
  try {
    const blobs = join(work, 'blobs', 'sha256');
    await fsp.mkdir(blobs, { recursive: true });
    const put = async (data: Buffer) => {
      const d = sha256(data);
      await fsp.writeFile(join(blobs, digestHex(d)), data);
      return { digest: d, size: data.length };
    };
    const gzip = opts.gzip ?? true;
    const diffIds: string[] = [];
    const layers = [];
    for (const l of opts.layers) {
      const { tar: plain, blob } = await tarDirectory(l, gzip);
      diffIds.push(sha256(plain));
      layers.push({ mediaType: gzip ? MEDIA.ociLayerGzip : MEDIA.ociLayer, ...(await put(blob)) });
    }
    const cfg = Buffer.from(JSON.stringify(configJson(opts.config, diffIds, opts.created ?? new Date().toISOString())));
    const config = { mediaType: MEDIA.ociConfig, ...(await put(cfg)) };
    const manifest = await put(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.ociManifest, config, layers })));
    const annotations: Record<string, string> = {};
    if (opts.refName) annotations[ANNOTATION_REF_NAME] = opts.refName;
    if (opts.containerdName) annotations[ANNOTATION_CONTAINERD_NAME] = normalizeRef(opts.containerdName);
    let top = { mediaType: MEDIA.ociManifest, ...manifest } as Record<string, unknown>;
    if (opts.platformIndex) {
      const foreign = goArch() === 'amd64' ? 's390x' : 'amd64';
      const foreignManifest = await put(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.ociManifest, config, layers: [] })));
      const idx = await put(
        Buffer.from(
          JSON.stringify({
            schemaVersion: 2,
            mediaType: MEDIA.ociIndex,
            manifests: [
              { mediaType: MEDIA.ociManifest, ...foreignManifest, platform: { os: 'linux', architecture: foreign } },
              { mediaType: MEDIA.ociManifest, ...manifest, platform: { os: 'linux', architecture: goArch() } },
            ],
          }),
        ),
      );
      top = { mediaType: MEDIA.ociIndex, ...idx };
    }
    if (Object.keys(annotations).length) top.annotations = annotations;
    await fsp.writeFile(join(work, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    await fsp.writeFile(join(work, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests: [top] }));
    await packDir(outFile, work, !!opts.gzipArchive);
    return { id: config.digest, diffIds, chainIds: chainIds(diffIds), manifestDigest: manifest.digest };
  } finally {
    await fsp.rm(work, { recursive: true, force: true });
  }
}

/** A root filesystem tarball of `dir` (for `importRootfs`). */
export async function writeRootfsTar(outFile: string, dir: string, gzip = false): Promise<void> {
  await fsp.writeFile(outFile, (await tarDirectory(dir, gzip)).blob);
}

/**
 * Two layer directories for tests, under `dir`:
 *
 *   base/  busybox rootfs + etc/motd, data/old.txt, data/sub/x, srv/owned (1000:1000, 0640,
 *          when root), srv/suid (04755), srv/ro/ (0555), srv/hard-a + srv/hard-b (one inode)
 *   top/   etc/.wh.motd (deletes etc/motd), data/.wh..wh..opq (hides data/*), data/new.txt,
 *          srv/added.txt
 *
 * Mounted as an overlay, the image shows bin/busybox, data/new.txt and srv/*, and neither
 * etc/motd nor data/old.txt.
 */
export async function buildTestImageLayers(dir: string): Promise<{ base: string; top: string }> {
  const base = join(dir, 'base');
  const top = join(dir, 'top');
  await buildBusyboxRootfs(base);
  await fsp.writeFile(join(base, 'etc', 'motd'), 'hello from the base layer\n');
  await fsp.mkdir(join(base, 'data', 'sub'), { recursive: true });
  await fsp.writeFile(join(base, 'data', 'old.txt'), 'old\n');
  await fsp.writeFile(join(base, 'data', 'sub', 'x'), 'x\n');
  await fsp.mkdir(join(base, 'srv', 'ro'), { recursive: true });
  await fsp.writeFile(join(base, 'srv', 'owned'), 'owned\n');
  await fsp.chmod(join(base, 'srv', 'owned'), 0o640);
  if (process.getuid?.() === 0) await fsp.chown(join(base, 'srv', 'owned'), 1000, 1000);
  await fsp.writeFile(join(base, 'srv', 'suid'), '#!/bin/sh\n');
  await fsp.chmod(join(base, 'srv', 'suid'), 0o4755);
  await fsp.writeFile(join(base, 'srv', 'hard-a'), 'one inode\n');
  await fsp.link(join(base, 'srv', 'hard-a'), join(base, 'srv', 'hard-b'));
  await fsp.chmod(join(base, 'srv', 'ro'), 0o555);

  await fsp.mkdir(join(top, 'etc'), { recursive: true });
  await fsp.writeFile(join(top, 'etc', '.wh.motd'), '');
  await fsp.mkdir(join(top, 'data'), { recursive: true });
  await fsp.writeFile(join(top, 'data', '.wh..wh..opq'), '');
  await fsp.writeFile(join(top, 'data', 'new.txt'), 'new\n');
  await fsp.mkdir(join(top, 'srv'), { recursive: true });
  await fsp.writeFile(join(top, 'srv', 'added.txt'), 'added\n');
  return { base, top };
}
