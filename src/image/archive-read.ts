/**
 * Reading an unpacked image archive into a neutral description the store can ingest.
 *
 *   docker-archive (`docker save`)   manifest.json: [{Config, RepoTags, Layers}]
 *   OCI image layout                 oci-layout + index.json -> manifest (or index -> manifest
 *                                    for this platform) -> config + layers, under blobs/<alg>/<hex>
 *
 * Newer `docker save` writes both; the OCI side is read then (it has real manifest digests) and
 * manifest.json only lends its RepoTags when index.json carries no names.
 */
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { normalizeRef } from './types.js';
import { cleanEntryPath } from './unpack.js';
import { digestHex, sha256 } from './digest.js';
import { InvalidArchiveError } from './errors.js';

export const MEDIA = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
} as const;

export const ANNOTATION_REF_NAME = 'org.opencontainers.image.ref.name';
export const ANNOTATION_CONTAINERD_NAME = 'io.containerd.image.name';

export interface ArchiveLayer {
  /** file inside the unpacked archive */
  path: string;
  /** the digest the archive claims (OCI); verified by the store */
  digest?: string;
  mediaType?: string;
}

export interface ArchiveImage {
  /** normalized names ("docker.io/library/busybox:1.36") */
  names: string[];
  configPath: string;
  /** the digest the archive claims for the config (OCI) */
  configDigest?: string;
  /** an existing manifest (OCI): its file, claimed digest and media type */
  manifest?: { path: string; digest: string; mediaType: string };
  layers: ArchiveLayer[];
}

export type ArchiveFormat = 'docker-archive' | 'oci-layout';

/** This machine's platform as OCI writes it. */
export function goArch(arch: string = process.arch): string {
  const map: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };
  return map[arch] ?? arch;
}

async function exists(p: string): Promise<boolean> {
  return fsp.stat(p).then(
    () => true,
    () => false,
  );
}

async function readJson<T>(path: string, file: string, what: string): Promise<T> {
  let text: string;
  try {
    text = await fsp.readFile(path, 'utf8');
  } catch {
    throw new InvalidArchiveError(file, `${what} is missing from the archive`);
  }
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new InvalidArchiveError(file, `${what} is not valid JSON (${(e as Error).message})`);
  }
}

function inside(dir: string, rel: string, file: string, what: string): string {
  const clean = typeof rel === 'string' ? cleanEntryPath(rel) : undefined;
  if (!clean) throw new InvalidArchiveError(file, `${what} names an invalid path ${JSON.stringify(rel)}`);
  return join(dir, clean);
}

/** A name as the archive gives it, normalized; undefined if it is not a usable reference. */
export function archiveName(name: unknown): string | undefined {
  if (typeof name !== 'string' || !name || /\s/.test(name) || name.includes('@')) return undefined;
  try {
    return normalizeRef(name);
  } catch {
    return undefined;
  }
}

export async function detectFormat(dir: string, file: string): Promise<ArchiveFormat> {
  if ((await exists(join(dir, 'oci-layout'))) && (await exists(join(dir, 'index.json')))) return 'oci-layout';
  if (await exists(join(dir, 'manifest.json'))) return 'docker-archive';
  throw new InvalidArchiveError(
    file,
    `neither a docker-archive (no manifest.json) nor an OCI image layout (no oci-layout + index.json); ` +
      `to make an image from a root filesystem tarball use 'podbay image import FILE NAME:TAG'`,
  );
}

interface DockerManifestEntry {
  Config?: string;
  RepoTags?: string[] | null;
  Layers?: string[];
}

async function readDockerArchive(dir: string, file: string): Promise<ArchiveImage[]> {
  const entries = await readJson<DockerManifestEntry[]>(join(dir, 'manifest.json'), file, 'manifest.json');
  if (!Array.isArray(entries) || entries.length === 0) throw new InvalidArchiveError(file, 'manifest.json lists no images');
  return entries.map((e, i) => {
    if (typeof e.Config !== 'string' || !Array.isArray(e.Layers)) throw new InvalidArchiveError(file, `manifest.json entry ${i} has no Config or Layers`);
    return {
      names: (e.RepoTags ?? []).map(archiveName).filter((n): n is string => !!n),
      configPath: inside(dir, e.Config, file, `manifest.json entry ${i} Config`),
      layers: e.Layers.map((l) => ({ path: inside(dir, l, file, `manifest.json entry ${i} Layers`) })),
    };
  });
}

interface Descriptor {
  mediaType?: string;
  digest: string;
  size?: number;
  annotations?: Record<string, string>;
  platform?: { os?: string; architecture?: string; variant?: string };
}

interface OciIndex {
  manifests?: Descriptor[];
}

interface OciManifest {
  mediaType?: string;
  config?: Descriptor;
  layers?: Descriptor[];
  manifests?: Descriptor[];
}

function blobPath(dir: string, digest: string, file: string): string {
  try {
    return join(dir, 'blobs', 'sha256', digestHex(digest));
  } catch (e) {
    throw new InvalidArchiveError(file, (e as Error).message);
  }
}

async function readOciLayout(dir: string, file: string): Promise<ArchiveImage[]> {
  const index = await readJson<OciIndex>(join(dir, 'index.json'), file, 'index.json');
  if (!Array.isArray(index.manifests) || index.manifests.length === 0) throw new InvalidArchiveError(file, 'index.json lists no manifests');
  // names docker's manifest.json gives, by config digest, for archives that carry both
  const dockerTags = new Map<string, string[]>();
  if (await exists(join(dir, 'manifest.json'))) {
    try {
      for (const e of await readDockerArchive(dir, file)) {
        const m = /blobs\/sha256\/([0-9a-f]{64})$/.exec(e.configPath);
        if (m) dockerTags.set(`sha256:${m[1]}`, e.names);
      }
    } catch {
      /* the OCI side is authoritative */
    }
  }
  const out: ArchiveImage[] = [];
  for (const top of index.manifests) {
    const names = new Set<string>();
    const cn = archiveName(top.annotations?.[ANNOTATION_CONTAINERD_NAME]);
    const rn = archiveName(top.annotations?.[ANNOTATION_REF_NAME]);
    if (cn) names.add(cn);
    else if (rn) names.add(rn);
    const img = await resolveManifest(dir, file, top, 0);
    if (!img) continue;
    if (names.size === 0) for (const n of dockerTags.get(img.configDigest ?? '') ?? []) names.add(n);
    img.names = [...names];
    out.push(img);
  }
  if (out.length === 0) throw new InvalidArchiveError(file, `index.json has no image for linux/${goArch()}`);
  return out;
}

async function readBlobJson<T>(dir: string, file: string, desc: Descriptor, what: string): Promise<{ value: T; path: string }> {
  const path = blobPath(dir, desc.digest, file);
  let bytes: Buffer;
  try {
    bytes = await fsp.readFile(path);
  } catch {
    throw new InvalidArchiveError(file, `${what} ${desc.digest} is missing from the archive`);
  }
  if (sha256(bytes) !== desc.digest) throw new InvalidArchiveError(file, `${what} ${desc.digest} does not match its digest: the archive is damaged`);
  try {
    return { value: JSON.parse(bytes.toString('utf8')) as T, path };
  } catch (e) {
    throw new InvalidArchiveError(file, `${what} ${desc.digest} is not valid JSON (${(e as Error).message})`);
  }
}

const isIndexType = (t?: string) => t === MEDIA.ociIndex || t === MEDIA.dockerList;

async function resolveManifest(dir: string, file: string, desc: Descriptor, depth: number): Promise<ArchiveImage | undefined> {
  if (depth > 4) throw new InvalidArchiveError(file, 'index nesting is too deep');
  const { value: m, path } = await readBlobJson<OciManifest>(dir, file, desc, 'manifest');
  const mediaType = desc.mediaType ?? m.mediaType;
  if (isIndexType(mediaType) || (Array.isArray(m.manifests) && !m.config)) {
    const candidates = (m.manifests ?? []).filter((d) => d.annotations?.['vnd.docker.reference.type'] !== 'attestation-manifest');
    const arch = goArch();
    const pick =
      candidates.find((d) => d.platform?.os === 'linux' && d.platform?.architecture === arch) ??
      (candidates.length === 1 && !candidates[0].platform ? candidates[0] : undefined);
    if (!pick) {
      const have = candidates.map((d) => `${d.platform?.os ?? '?'}/${d.platform?.architecture ?? '?'}`).join(', ');
      throw new InvalidArchiveError(file, `image index ${desc.digest} has no manifest for linux/${arch} (it has: ${have || 'none'})`);
    }
    return resolveManifest(dir, file, pick, depth + 1);
  }
  if (!m.config || !Array.isArray(m.layers)) throw new InvalidArchiveError(file, `manifest ${desc.digest} has no config or layers`);
  return {
    names: [],
    configPath: blobPath(dir, m.config.digest, file),
    configDigest: m.config.digest,
    manifest: { path, digest: desc.digest, mediaType: mediaType ?? MEDIA.ociManifest },
    layers: m.layers.map((l) => ({ path: blobPath(dir, l.digest, file), digest: l.digest, mediaType: l.mediaType })),
  };
}

/** Describe the images in an unpacked archive directory (`file` names it in errors). */
export async function readArchiveDir(dir: string, file: string): Promise<{ format: ArchiveFormat; images: ArchiveImage[] }> {
  const format = await detectFormat(dir, file);
  const images = format === 'oci-layout' ? await readOciLayout(dir, file) : await readDockerArchive(dir, file);
  return { format, images };
}
