/**
 * Image references as users write them, parsed and normalised the way Docker's
 * distribution/reference does it:
 *
 *   nginx                         -> docker.io/library/nginx:latest
 *   user/app:1.0                  -> docker.io/user/app:1.0
 *   host:5000/a/b:tag             -> host:5000/a/b:tag        (a first component with "." or ":" or
 *   localhost/x@sha256:<hex>      -> localhost/x@sha256:<hex>  "localhost" is a registry host)
 *
 * A reference with a digest is pinned: the tag (if any) is kept for naming only.
 */
import { InvalidReferenceError } from './errors.js';
import type { ImageRecord } from './types.js';

export const DOCKER_HUB = 'docker.io';

export interface ImageReference {
  /** registry host, with port when given: "docker.io", "127.0.0.1:5000" */
  domain: string;
  /** repository path inside the registry: "library/nginx" */
  path: string;
  tag?: string;
  digest?: string;
}

// the grammar of distribution/reference (regexp.go), anchored
const ALNUM = '[a-z0-9]+';
const SEPARATOR = '(?:[._]|__|[-]+)';
const PATH_COMPONENT = `${ALNUM}(?:${SEPARATOR}${ALNUM})*`;
const PATH_RE = new RegExp(`^${PATH_COMPONENT}(?:/${PATH_COMPONENT})*$`);
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const IPV6 = '\\[(?:[a-fA-F0-9:]+)\\]';
const DOMAIN_RE = new RegExp(`^(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|${IPV6})(?::[0-9]+)?$`);
const TAG_RE = /^[\w][\w.-]{0,127}$/;
const DIGEST_RE = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/;

/** Parse and normalise `ref`; throws InvalidReferenceError naming what is wrong. */
export function parseReference(ref: string): ImageReference {
  const bad = (why: string) => new InvalidReferenceError(ref, why);
  if (typeof ref !== 'string' || ref.length === 0) throw bad('empty');
  if (ref.length > 255 + 72 + 129) throw bad('too long');
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST_RE.test(digest)) throw bad(`invalid digest ${JSON.stringify(digest)}`);
    if (!/^sha256:[0-9a-f]{64}$/.test(digest)) throw bad(`unsupported digest ${JSON.stringify(digest)}: only sha256:<64 lowercase hex> is supported`);
  }
  let tag: string | undefined;
  const slash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > slash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG_RE.test(tag)) throw bad(`invalid tag ${JSON.stringify(tag)}`);
  }
  if (!rest) throw bad('no repository name');
  let domain = DOCKER_HUB;
  let path = rest;
  const first = rest.indexOf('/');
  if (first >= 0) {
    const head = rest.slice(0, first);
    if (head.includes('.') || head.includes(':') || head === 'localhost' || head.startsWith('[') || head !== head.toLowerCase()) {
      domain = head;
      path = rest.slice(first + 1);
      if (!DOMAIN_RE.test(domain)) throw bad(`invalid registry host ${JSON.stringify(domain)}`);
    }
  }
  if (domain === 'index.docker.io' || domain === 'registry-1.docker.io') domain = DOCKER_HUB;
  if (path !== path.toLowerCase()) throw bad('repository name must be lowercase');
  if (!PATH_RE.test(path)) throw bad(`invalid repository name ${JSON.stringify(path)}`);
  if (domain === DOCKER_HUB && !path.includes('/')) path = `library/${path}`;
  if (path.length + domain.length + 1 > 255) throw bad('repository name must not be more than 255 characters');
  if (!tag && !digest) tag = 'latest';
  return { domain, path, ...(tag ? { tag } : {}), ...(digest ? { digest } : {}) };
}

/** "docker.io/library/nginx" */
export function repositoryOf(r: ImageReference): string {
  return `${r.domain}/${r.path}`;
}

/** The full normalised string: "docker.io/library/nginx:latest", "host/x:1@sha256:..." */
export function formatReference(r: ImageReference): string {
  return repositoryOf(r) + (r.tag ? `:${r.tag}` : '') + (r.digest ? `@${r.digest}` : '');
}

/** What the registry is asked for: the digest when pinned, else the tag. */
export function manifestRefOf(r: ImageReference): string {
  return r.digest ?? r.tag ?? 'latest';
}

/** Whether `host` (with or without port) names this machine's loopback: plain HTTP is allowed there, as Docker allows. */
export function isLoopbackHost(host: string): boolean {
  let h = host;
  if (h.startsWith('[')) h = h.slice(1, h.indexOf(']'));
  else if (h.includes(':')) h = h.slice(0, h.lastIndexOf(':'));
  h = h.toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/** The key a credentials file uses for a registry: "https://index.docker.io/v1/" -> "docker.io", "http://h:5000/x" -> "h:5000". */
export function registryKey(s: string): string {
  let h = s.trim().replace(/^[a-z]+:\/\//i, '');
  const slash = h.indexOf('/');
  if (slash >= 0) h = h.slice(0, slash);
  h = h.toLowerCase();
  if (h === 'index.docker.io' || h === 'registry-1.docker.io' || h === 'registry.hub.docker.com') return DOCKER_HUB;
  return h;
}

/**
 * What a container status shows as imageID (CRI's imageRef, as containerd fills it): the repo
 * digest of the repository the container named ("docker.io/library/nginx@sha256:..."), else
 * any repo digest, else the image ID.
 */
export function imageRefOf(image: ImageRecord, ref: string): string {
  let repo: string | undefined;
  try {
    repo = repositoryOf(parseReference(ref));
  } catch {
    repo = undefined;
  }
  return image.repoDigests.find((d) => d.slice(0, d.indexOf('@')) === repo) ?? image.repoDigests[0] ?? image.id;
}
