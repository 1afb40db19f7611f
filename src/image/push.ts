/**
 * Pushing a stored image to a registry (the distribution API's upload flow):
 *
 *   per blob (config, layers):  HEAD exists? -> skip
 *                               POST uploads/?mount=D&from=R (when the image came from another
 *                               repository of the same registry) -> 201 mounted
 *                               else POST uploads/ -> 202 Location -> PUT Location?digest=D
 *                               (monolithic, streamed from the content store)
 *   manifest:                   PUT manifests/<tag> with the stored manifest bytes
 *
 * The target host is contacted directly (mirrors are for pulls): https, or plain HTTP for a
 * loopback registry or an http:// endpoint named for that host in registries.yaml.
 */
import { createReadStream, promises as fsp } from 'node:fs';
import type { LocalImageService, StoredImage } from './store.js';
import { RegistryError } from './errors.js';
import { formatReference, parseReference, repositoryOf } from './reference.js';
import { RegistryClient } from './registry-client.js';
import { endpointsFor, type CredentialStore, type RegistriesConfig } from './registries.js';

export interface PushProgress {
  digest: string;
  phase: 'exists' | 'mounted' | 'uploading' | 'pushed';
  size: number;
}

export interface PushOptions {
  registries: RegistriesConfig;
  credentials?: CredentialStore[];
  onProgress?: (p: PushProgress) => void;
  timeoutMs?: number;
}

export interface PushResult {
  /** "host/repo:tag" as pushed */
  ref: string;
  /** the manifest digest the registry now serves */
  digest: string;
  endpoint: string;
  uploaded: number;
}

/** Push image `source` (a local name or ID) as `target` (default: the source's name). */
export async function pushImage(store: LocalImageService, source: string, target: string | undefined, opts: PushOptions): Promise<PushResult> {
  const image = await store.require(source);
  const dest = parseReference(target ?? image.repoTags.find((t) => t === formatReference(parseReference(source))) ?? source);
  if (dest.digest) throw new Error(`cannot push to ${JSON.stringify(formatReference(dest))}: give a NAME[:TAG] to push to, not a digest`);
  const tag = dest.tag ?? 'latest';
  // pushes go to the registry itself, never to a pull mirror
  const endpoints = (await endpointsFor(dest.domain, { ...opts.registries, mirrors: {} }, { credentials: opts.credentials })).filter((e) => !/registry-1\.docker\.io/.test(e.url) || dest.domain === 'docker.io');
  let last: Error | undefined;
  for (const ep of endpoints) {
    const client = new RegistryClient(ep, opts.timeoutMs);
    try {
      // a registry that is not there over this scheme: the next endpoint (https -> http on loopback)
      const ping = await client.request('/', {}).catch((e: Error) => e);
      if (ping instanceof RegistryError && ping.status) throw ping;
      if (ping instanceof Error) {
        last = ping;
        continue;
      }
      ping.body.resume();
      return await pushTo(client, store, image, dest.path, tag, opts, `${repositoryOf(dest)}:${tag}`);
    } finally {
      client.close();
    }
  }
  throw new Error(`cannot push to ${repositoryOf(dest)}:${tag}: ${last?.message ?? 'no endpoint'}`);
}

async function pushTo(client: RegistryClient, store: LocalImageService, image: StoredImage, repo: string, tag: string, opts: PushOptions, shown: string): Promise<PushResult> {
  const scope = `repository:${repo}:pull,push`;
  const progress = opts.onProgress ?? (() => {});
  // repositories of the same registry this image is known in: candidates for a cross-repo mount
  const mountFrom = image.repoDigests.map((d) => parseReference(d)).filter((r) => r.domain === client.host && r.path !== repo).map((r) => r.path);
  let uploaded = 0;
  const blobs = [{ digest: image.id, size: (await fsp.stat(store.blobPath(image.id))).size }, ...image.layers.map((l) => ({ digest: l.digest, size: l.size }))];
  for (const b of blobs) {
    if (await client.blobExists(repo, b.digest, scope)) {
      progress({ digest: b.digest, phase: 'exists', size: b.size });
      continue;
    }
    const q = mountFrom.length ? `?mount=${encodeURIComponent(b.digest)}&from=${encodeURIComponent(mountFrom[0])}` : '';
    const start = await client.request(`/${repo}/blobs/uploads/${q}`, { method: 'POST', headers: { 'content-length': '0' }, scope });
    start.body.resume();
    if (start.status === 201) {
      progress({ digest: b.digest, phase: 'mounted', size: b.size });
      continue;
    }
    if (start.status !== 202) throw await client.failure(start, `starting the upload of ${b.digest} to ${repo}`);
    const location = start.headers.location;
    if (!location) throw new RegistryError(client.host, `${client.host}: the upload of ${b.digest} got no Location`);
    const put = new URL(location, client.base);
    put.searchParams.set('digest', b.digest);
    progress({ digest: b.digest, phase: 'uploading', size: b.size });
    const path = store.blobPath(b.digest);
    const done = await client.request(put.href, {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(b.size) },
      body: () => createReadStream(path),
      scope,
    });
    if (done.status !== 201) throw await client.failure(done, `uploading ${b.digest} to ${repo}`);
    done.body.resume();
    uploaded += b.size;
    progress({ digest: b.digest, phase: 'pushed', size: b.size });
  }
  const manifest = await fsp.readFile(store.blobPath(image.manifestDigest));
  const res = await client.request(`/${repo}/manifests/${tag}`, { method: 'PUT', headers: { 'content-type': image.manifestMediaType }, body: manifest, scope });
  if (res.status !== 201) throw await client.failure(res, `the manifest of ${shown}`);
  res.body.resume();
  const dcd = res.headers['docker-content-digest'];
  return { ref: shown, digest: typeof dcd === 'string' ? dcd : image.manifestDigest, endpoint: client.endpoint.url, uploaded };
}
