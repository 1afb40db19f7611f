/** The image room's errors: plain Error subclasses whose messages name the file or ref and say what to do. */

export class ImageNotFoundError extends Error {
  constructor(readonly ref: string) {
    super(
      `image ${JSON.stringify(ref)} is not present: pull it with 'podbay image pull ${ref}', load it with ` +
        `'podbay image load -i FILE' or import a rootfs with 'podbay image import FILE NAME:TAG'`,
    );
    this.name = 'ImageNotFoundError';
  }
}

/** A reference that matches more than one image (a short ID prefix). */
export class AmbiguousImageError extends Error {
  constructor(
    readonly ref: string,
    readonly ids: string[],
  ) {
    super(`image reference ${JSON.stringify(ref)} matches ${ids.length} images (${ids.map((i) => i.slice(7, 19)).join(', ')}): give more characters of the ID or a name`);
    this.name = 'AmbiguousImageError';
  }
}

/** An archive or layer that cannot be read: names the file and what is wrong with it. */
export class InvalidArchiveError extends Error {
  constructor(
    readonly file: string,
    detail: string,
  ) {
    super(`${file}: ${detail}`);
    this.name = 'InvalidArchiveError';
  }
}

export class SnapshotError extends Error {
  constructor(
    readonly key: string,
    detail: string,
  ) {
    super(`snapshot ${JSON.stringify(key)}: ${detail}`);
    this.name = 'SnapshotError';
  }
}

/** A host tool the image room needs is missing. */
export class MissingToolError extends Error {
  constructor(tool: string, debianPackage: string, why: string) {
    super(`${tool} not found on PATH (needed to ${why}): install the Debian package '${debianPackage}' (apt-get install ${debianPackage})`);
    this.name = 'MissingToolError';
  }
}

/** An image reference that does not parse (Docker's reference grammar). */
export class InvalidReferenceError extends Error {
  constructor(
    readonly ref: string,
    detail: string,
  ) {
    super(`invalid image reference ${JSON.stringify(ref)}: ${detail}`);
    this.name = 'InvalidReferenceError';
  }
}

/**
 * A pull or push that failed talking to a registry: `registry` is the host (or endpoint) it
 * talked to, `status` the HTTP status when there was one (404 unknown, 401/403 credentials).
 */
export class RegistryError extends Error {
  constructor(
    readonly registry: string,
    message: string,
    readonly status?: number,
    /** a failure worth retrying (connection dropped, 5xx) */
    readonly transient = false,
  ) {
    super(message);
    this.name = 'RegistryError';
  }
}

/** Bytes that do not hash to the digest they were asked for: nothing is stored. */
export class DigestMismatchError extends Error {
  constructor(
    readonly expected: string,
    readonly actual: string,
    readonly what: string,
  ) {
    super(`${what}: content digest ${actual} does not match the expected ${expected}; nothing was stored`);
    this.name = 'DigestMismatchError';
  }
}
