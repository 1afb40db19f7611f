/** Hashing and content-type sniffing for blobs. */
import { createHash } from 'node:crypto';
import { createReadStream, promises as fsp } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { createGunzip } from 'node:zlib';

export type Compression = 'gzip' | 'zstd' | 'none';

export function sha256(data: string | Buffer): string {
  return 'sha256:' + createHash('sha256').update(data).digest('hex');
}

/** "sha256:<hex>" -> "<hex>", refusing anything else (digests become file names). */
export function digestHex(digest: string): string {
  const m = /^sha256:([0-9a-f]{64})$/.exec(digest);
  if (!m) throw new Error(`unsupported or malformed digest ${JSON.stringify(digest)}: only sha256:<64 hex> is supported`);
  return m[1];
}

export function isDigest(s: string): boolean {
  return /^sha256:[0-9a-f]{64}$/.test(s);
}

export async function sniffCompression(file: string): Promise<Compression> {
  const fh = await fsp.open(file, 'r');
  try {
    const buf = Buffer.alloc(4);
    const { bytesRead } = await fh.read(buf, 0, 4, 0);
    if (bytesRead >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) return 'gzip';
    if (bytesRead >= 4 && buf.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
    return 'none';
  } finally {
    await fh.close();
  }
}

function hashSink(hash: ReturnType<typeof createHash>): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      cb();
    },
  });
}

/** sha256 of a file's bytes. */
export async function fileDigest(file: string): Promise<string> {
  const h = createHash('sha256');
  await pipeline(createReadStream(file), hashSink(h));
  return 'sha256:' + h.digest('hex');
}

/** sha256 of a file's bytes after gunzip (the diffID of a gzip layer). */
export async function gunzipDigest(file: string): Promise<string> {
  const h = createHash('sha256');
  await pipeline(createReadStream(file), createGunzip(), hashSink(h));
  return 'sha256:' + h.digest('hex');
}

export interface LayerDigests {
  /** digest of the bytes as stored */
  digest: string;
  /** digest of the uncompressed tar */
  diffId: string;
  size: number;
  compression: Compression;
}

export async function layerDigests(file: string, what: string): Promise<LayerDigests> {
  const compression = await sniffCompression(file);
  if (compression === 'zstd') throw new Error(`${what} is zstd-compressed, which podbay cannot read yet: re-save the image with gzip or uncompressed layers`);
  const size = (await fsp.stat(file)).size;
  const digest = await fileDigest(file);
  let diffId = digest;
  if (compression === 'gzip') {
    try {
      diffId = await gunzipDigest(file);
    } catch (e) {
      throw new Error(`${what} is not a valid gzip stream (${(e as Error).message}): the archive is damaged`);
    }
  }
  return { digest, diffId, size, compression };
}

/** OCI chain IDs: chainID(L0) = diffID(L0), chainID(Ln) = sha256(chainID(Ln-1) + " " + diffID(Ln)). */
export function chainIds(diffIds: string[]): string[] {
  const out: string[] = [];
  for (const d of diffIds) out.push(out.length === 0 ? d : sha256(`${out[out.length - 1]} ${d}`));
  return out;
}
