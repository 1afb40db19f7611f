/**
 * The image room's contract. Images live under DATA/images:
 *
 *   blobs/sha256/<hex>          content store: manifests, configs, layer tarballs, by digest
 *   layers/<chainid-hex>/       each layer unpacked once (OCI whiteouts applied), read-only
 *   index.json                  name -> image record (tags and digests)
 *   snapshots/<key>/{upper,work} per-container writable layers
 *
 * A snapshot is returned as data (Mount[]), never mounted here: the runtime applies it (the
 * containerd habit: "pass data, not side effects").
 */

/** One mount, as an OCI runtime spec or mount(8) takes it. */
export interface Mount {
  type: string;
  source: string;
  /** where it goes, relative to the container root; undefined for the rootfs itself */
  target?: string;
  options: string[];
}

/** The part of an OCI/Docker image config the runtime applies. */
export interface ImageConfig {
  entrypoint?: string[];
  cmd?: string[];
  env?: string[];
  workingDir?: string;
  user?: string;
  exposedPorts?: string[];
  labels?: Record<string, string>;
}

export interface ImageRecord {
  /** the config digest, "sha256:..." (what `imageID` shows, as in containerd) */
  id: string;
  /** fully qualified names, e.g. "docker.io/library/busybox:1.36" */
  repoTags: string[];
  /** "docker.io/library/busybox@sha256:..." when known (manifest digest) */
  repoDigests: string[];
  /** bytes of the compressed layers */
  size: number;
  config: ImageConfig;
  /** chain IDs of the layers, bottom first */
  chainIds: string[];
  created?: string;
}

export interface ImageService {
  list(): Promise<ImageRecord[]>;
  /** resolve a reference as Kubernetes users write it ("busybox:1.36", "nginx", "localhost:5000/x@sha256:...") */
  get(ref: string): Promise<ImageRecord | undefined>;
  /** `docker save` (docker-archive) or OCI image-layout tarballs; returns the images loaded */
  loadArchive(file: string): Promise<ImageRecord[]>;
  /** a root filesystem tarball as a one-layer image named `ref` */
  importRootfs(file: string, ref: string, config?: ImageConfig): Promise<ImageRecord>;
  /** untag `ref`; the image goes when no tag is left */
  remove(ref: string): Promise<void>;
  /** a writable overlay over the image's layers for container `key` (idempotent) */
  prepareSnapshot(key: string, ref: string): Promise<Mount[]>;
  /** the snapshot's writable (upper) dir, where a container's writes land; undefined when there is no such snapshot */
  snapshotUpperDir(key: string): Promise<string | undefined>;
  /** forget a snapshot (after the runtime unmounted it); idempotent */
  removeSnapshot(key: string): Promise<void>;
  /** keys of existing snapshots (for garbage collection) */
  listSnapshots(): Promise<string[]>;
}

/** "busybox:1.36" -> "docker.io/library/busybox:1.36"; "nginx" -> "docker.io/library/nginx:latest" */
export function normalizeRef(ref: string): string {
  let name = ref;
  let suffix = '';
  const at = name.indexOf('@');
  if (at >= 0) {
    suffix = name.slice(at);
    name = name.slice(0, at);
  }
  const lastSlash = name.lastIndexOf('/');
  const colon = name.lastIndexOf(':');
  if (colon > lastSlash) {
    suffix = name.slice(colon) + suffix;
    name = name.slice(0, colon);
  } else if (!suffix) {
    suffix = ':latest';
  }
  const first = name.split('/')[0];
  const hasDomain = name.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  if (!hasDomain) name = name.includes('/') ? `docker.io/${name}` : `docker.io/library/${name}`;
  return name + suffix;
}
