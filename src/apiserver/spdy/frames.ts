/**
 * SPDY/3 framing (draft-mbelshe-httpbis-spdy-00), the part Kubernetes' streaming uses: kubectl's
 * moby/spdystream speaks SPDY/3 frames under the name "SPDY/3.1" and does no flow control, so
 * WINDOW_UPDATE and SETTINGS are parsed and ignored, never sent.
 *
 *   control frame: 1 | version(15) = 3 | type(16) | flags(8) | length(24) | payload
 *   data frame:    0 | stream id(31)               | flags(8) | length(24) | payload
 *
 * Pure code: bytes in, frames out, and the reverse. Header blocks are handled here in their
 * uncompressed form (count, then length-prefixed names and values, all 32-bit); compression is
 * in compression.ts because it carries state across the whole connection.
 */

export const SPDY_VERSION = 3;

export const FrameType = {
  SynStream: 1,
  SynReply: 2,
  RstStream: 3,
  Settings: 4,
  Ping: 6,
  GoAway: 7,
  Headers: 8,
  WindowUpdate: 9,
} as const;

export const FLAG_FIN = 0x01;
export const FLAG_UNIDIRECTIONAL = 0x02;

/** RST_STREAM status codes */
export const RstStatus = { ProtocolError: 1, InvalidStream: 2, RefusedStream: 3, Cancel: 5, InternalError: 6 } as const;

/** Frames longer than this end the connection: the 24-bit length allows 16 MiB, Go writes at most 32 KiB per DATA frame. */
export const MAX_FRAME_PAYLOAD = 1 << 20;

export type Frame =
  | { kind: 'data'; streamId: number; flags: number; data: Buffer }
  | { kind: 'control'; type: number; flags: number; payload: Buffer };

export class SpdyProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SpdyProtocolError';
  }
}

/** Splits a byte stream into frames; push() returns every frame completed by the new bytes. */
export class FrameReader {
  private buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Frame[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const out: Frame[] = [];
    while (this.buf.length >= 8) {
      const length = this.buf.readUIntBE(5, 3);
      if (length > MAX_FRAME_PAYLOAD) throw new SpdyProtocolError(`frame of ${length} bytes is larger than ${MAX_FRAME_PAYLOAD}`);
      if (this.buf.length < 8 + length) break;
      const flags = this.buf[4];
      const payload = this.buf.subarray(8, 8 + length);
      if (this.buf[0] & 0x80) {
        const version = this.buf.readUInt16BE(0) & 0x7fff;
        if (version !== SPDY_VERSION) throw new SpdyProtocolError(`unsupported SPDY version ${version}`);
        out.push({ kind: 'control', type: this.buf.readUInt16BE(2), flags, payload });
      } else {
        out.push({ kind: 'data', streamId: this.buf.readUInt32BE(0) & 0x7fffffff, flags, data: payload });
      }
      this.buf = this.buf.subarray(8 + length);
    }
    return out;
  }
}

function controlFrame(type: number, flags: number, payload: Buffer): Buffer {
  if (payload.length > 0xffffff) throw new SpdyProtocolError('control frame too large');
  const h = Buffer.alloc(8);
  h.writeUInt16BE(0x8000 | SPDY_VERSION, 0);
  h.writeUInt16BE(type, 2);
  h[4] = flags;
  h.writeUIntBE(payload.length, 5, 3);
  return Buffer.concat([h, payload]);
}

export function dataFrame(streamId: number, flags: number, data: Buffer): Buffer {
  if (data.length > 0xffffff) throw new SpdyProtocolError('data frame too large');
  const h = Buffer.alloc(8);
  h.writeUInt32BE(streamId & 0x7fffffff, 0);
  h[4] = flags;
  h.writeUIntBE(data.length, 5, 3);
  return Buffer.concat([h, data]);
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0, 0);
  return b;
}

/** SYN_REPLY with an already compressed header block. */
export function synReplyFrame(streamId: number, flags: number, compressedHeaders: Buffer): Buffer {
  return controlFrame(FrameType.SynReply, flags, Buffer.concat([u32(streamId & 0x7fffffff), compressedHeaders]));
}

/** SYN_STREAM with an already compressed header block (used by tests playing the client). */
export function synStreamFrame(streamId: number, flags: number, compressedHeaders: Buffer, associatedTo = 0, priority = 0): Buffer {
  const fixed = Buffer.alloc(10);
  fixed.writeUInt32BE(streamId & 0x7fffffff, 0);
  fixed.writeUInt32BE(associatedTo & 0x7fffffff, 4);
  fixed[8] = (priority & 7) << 5;
  return controlFrame(FrameType.SynStream, flags, Buffer.concat([fixed, compressedHeaders]));
}

export function rstStreamFrame(streamId: number, status: number): Buffer {
  return controlFrame(FrameType.RstStream, 0, Buffer.concat([u32(streamId & 0x7fffffff), u32(status)]));
}

export function pingFrame(id: number): Buffer {
  return controlFrame(FrameType.Ping, 0, u32(id));
}

export function goAwayFrame(lastGoodStreamId: number, status = 0): Buffer {
  return controlFrame(FrameType.GoAway, 0, Buffer.concat([u32(lastGoodStreamId & 0x7fffffff), u32(status)]));
}

export interface SynStream {
  streamId: number;
  associatedTo: number;
  priority: number;
  /** the compressed header block */
  headerBlock: Buffer;
}

export function parseSynStream(payload: Buffer): SynStream {
  if (payload.length < 10) throw new SpdyProtocolError('SYN_STREAM shorter than 10 bytes');
  return {
    streamId: payload.readUInt32BE(0) & 0x7fffffff,
    associatedTo: payload.readUInt32BE(4) & 0x7fffffff,
    priority: payload[8] >> 5,
    headerBlock: payload.subarray(10),
  };
}

/** SYN_REPLY and HEADERS: stream id, then the compressed header block. */
export function parseStreamHeaders(payload: Buffer): { streamId: number; headerBlock: Buffer } {
  if (payload.length < 4) throw new SpdyProtocolError('header frame shorter than 4 bytes');
  return { streamId: payload.readUInt32BE(0) & 0x7fffffff, headerBlock: payload.subarray(4) };
}

/** RST_STREAM, GOAWAY, WINDOW_UPDATE: two 32-bit words. */
export function parseTwoWords(payload: Buffer): [number, number] {
  if (payload.length < 8) throw new SpdyProtocolError('frame shorter than 8 bytes');
  return [payload.readUInt32BE(0) & 0x7fffffff, payload.readUInt32BE(4)];
}

export function parsePing(payload: Buffer): number {
  if (payload.length < 4) throw new SpdyProtocolError('PING shorter than 4 bytes');
  return payload.readUInt32BE(0);
}

/** Header names as SPDY requires them (lower case); a name seen twice keeps every value. */
export type SpdyHeaders = Map<string, string[]>;

/** The uncompressed header block: count, then (name, value) pairs; several values of one name are joined by NUL. */
export function encodeHeaderBlock(headers: SpdyHeaders): Buffer {
  const parts: Buffer[] = [u32(headers.size)];
  for (const [name, values] of headers) {
    const n = Buffer.from(name.toLowerCase());
    const v = Buffer.from(values.join('\0'));
    parts.push(u32(n.length), n, u32(v.length), v);
  }
  return Buffer.concat(parts);
}

export function decodeHeaderBlock(block: Buffer): SpdyHeaders {
  const out: SpdyHeaders = new Map();
  let off = 0;
  const need = (n: number) => {
    if (off + n > block.length) throw new SpdyProtocolError('truncated header block');
  };
  need(4);
  const count = block.readUInt32BE(off);
  off += 4;
  for (let i = 0; i < count; i++) {
    need(4);
    const nl = block.readUInt32BE(off);
    off += 4;
    need(nl);
    const name = block.toString('latin1', off, off + nl).toLowerCase();
    off += nl;
    need(4);
    const vl = block.readUInt32BE(off);
    off += 4;
    need(vl);
    const value = block.toString('utf8', off, off + vl);
    off += vl;
    if (name === '') throw new SpdyProtocolError('empty header name');
    out.set(name, [...(out.get(name) ?? []), ...value.split('\0')]);
  }
  return out;
}
