/**
 * SPDY/3 header compression: one zlib stream per direction for the whole connection, primed
 * with the SPDY dictionary; each header block ends on a sync flush so the peer can decode it on
 * its own, while later blocks may refer back to earlier ones.
 *
 * Outgoing: podbay only ever sends tiny blocks (the empty SYN_REPLY headers), so it writes them
 * as zlib "stored" blocks by hand: a valid zlib stream (header with the dictionary's id, then one
 * uncompressed, non-final block per header block, then the empty block of a sync flush), produced synchronously, so a SYN_REPLY is
 * always on the wire before that stream's first DATA frame. Node's zlib cannot do this
 * synchronously while keeping one context (its *Sync calls close the context afterwards).
 *
 * Incoming: a real inflate stream, fed one block at a time and flushed; callers process frames
 * in order through a promise chain.
 */
import zlib from 'node:zlib';
import { SPDY3_DICTIONARY } from './dictionary.js';
import { SpdyProtocolError } from './frames.js';

/** An inflated header block bigger than this ends the connection (a compression bomb). */
export const MAX_HEADER_BLOCK = 256 * 1024;

export function adler32(buf: Buffer): number {
  let a = 1;
  let b = 0;
  for (const byte of buf) {
    a = (a + byte) % 65521;
    b = (b + a) % 65521;
  }
  return ((b << 16) | a) >>> 0;
}

export class HeaderCompressor {
  private started = false;

  compress(block: Buffer): Buffer {
    const parts: Buffer[] = [];
    if (!this.started) {
      this.started = true;
      // CMF 0x78 (deflate, 32K window), FLG with FDICT, FCHECK making the pair a multiple of 31
      const cmf = 0x78;
      let flg = 0x20;
      flg += 31 - ((cmf * 256 + flg) % 31);
      const id = Buffer.alloc(4);
      id.writeUInt32BE(adler32(SPDY3_DICTIONARY), 0);
      parts.push(Buffer.from([cmf, flg]), id);
    }
    for (let off = 0; off < block.length; off += 0xffff) {
      const piece = block.subarray(off, off + 0xffff);
      const h = Buffer.alloc(5);
      h[0] = 0x00; // BFINAL 0, BTYPE 00 (stored), padded to the byte
      h.writeUInt16LE(piece.length, 1);
      h.writeUInt16LE(~piece.length & 0xffff, 3);
      parts.push(h, piece);
    }
    // and the empty stored block a sync flush ends with: Go's inflater hands out what it has
    // only on seeing it; without it, it reads on into the next frame's bytes and fails
    parts.push(Buffer.from([0x00, 0x00, 0x00, 0xff, 0xff]));
    return Buffer.concat(parts);
  }
}

export class HeaderDecompressor {
  private z = zlib.createInflate({ dictionary: SPDY3_DICTIONARY });
  private failed: Error | undefined;

  constructor() {
    this.z.on('error', (e) => {
      this.failed = e;
    });
  }

  decompress(block: Buffer): Promise<Buffer> {
    if (this.failed) return Promise.reject(new SpdyProtocolError(`bad header block: ${this.failed.message}`));
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const onData = (d: Buffer) => {
        size += d.length;
        chunks.push(d);
        if (size > MAX_HEADER_BLOCK && !this.failed) {
          // stop inflating at once: a bomb must not fill memory before the flush returns
          this.failed = new Error(`header block inflates to more than ${MAX_HEADER_BLOCK} bytes`);
          this.z.destroy();
          reject(new SpdyProtocolError(this.failed.message));
        }
      };
      const onError = (e: Error) => {
        this.z.off('data', onData);
        reject(new SpdyProtocolError(`bad header block: ${e.message}`));
      };
      this.z.on('data', onData);
      this.z.once('error', onError);
      this.z.write(block);
      this.z.flush(zlib.constants.Z_SYNC_FLUSH, () => {
        this.z.off('data', onData);
        this.z.off('error', onError);
        if (this.failed) return reject(new SpdyProtocolError(`bad header block: ${this.failed.message}`));
        resolve(Buffer.concat(chunks));
      });
    });
  }

  close(): void {
    this.z.destroy();
  }
}
