/**
 * The server side of a SPDY/3 connection as Kubernetes' streaming protocols use it: the client
 * (kubectl's spdystream) opens every stream with SYN_STREAM, the server answers each with an
 * empty SYN_REPLY, both sides send DATA and half-close with FIN; PINGs from the client are
 * echoed. The transport is any byte stream: the socket after an `Upgrade: SPDY/3.1`, or a
 * WebSocket carrying SPDY frames in binary messages (kubectl's port-forward tunnel).
 *
 *   stream: open --FIN from client--> remote closed --end() by us--> closed (destroyed)
 *           any state --RST either way, or the connection ends--> destroyed
 *
 * Each stream is a Node Duplex, so relays can pipe with backpressure. SPDY/3 flow control is
 * not used by spdystream; backpressure towards the client is done by pausing the transport while
 * a stream's reader is full (spdystream blocks its frame reader the same way).
 */
import { Duplex } from 'node:stream';
import { EventEmitter } from 'node:events';
import { HeaderCompressor, HeaderDecompressor } from './compression.js';
import {
  FLAG_FIN,
  FrameReader,
  FrameType,
  RstStatus,
  dataFrame,
  decodeHeaderBlock,
  encodeHeaderBlock,
  goAwayFrame,
  parsePing,
  parseStreamHeaders,
  parseSynStream,
  parseTwoWords,
  pingFrame,
  rstStreamFrame,
  synReplyFrame,
  type Frame,
  type SpdyHeaders,
} from './frames.js';

/** Streams open at once on one connection; more are refused (port-forward opens two per TCP connection). */
export const MAX_STREAMS = 512;
/** DATA frames we send carry at most this much, as Go's io.Copy would. */
const MAX_DATA = 32 * 1024;

export class SpdyStream extends Duplex {
  /** the client reset the stream (RST_STREAM) or the connection went away */
  aborted = false;
  private finSent = false;

  constructor(
    private readonly conn: SpdyServerConnection,
    readonly id: number,
    readonly headers: SpdyHeaders,
  ) {
    super({ allowHalfOpen: true });
  }

  /** A header's first value (names are case-insensitive). */
  header(name: string): string | undefined {
    return this.headers.get(name.toLowerCase())?.[0];
  }

  override _read(): void {
    this.conn.resumeTransport();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    if (this.aborted || this.conn.closed) return cb();
    this.conn.sendData(this.id, chunk, cb);
  }

  override _final(cb: (e?: Error | null) => void): void {
    if (!this.aborted && !this.conn.closed && !this.finSent) {
      this.finSent = true;
      this.conn.write(dataFrame(this.id, FLAG_FIN, Buffer.alloc(0)));
    }
    cb();
  }

  override _destroy(err: Error | null, cb: (e?: Error | null) => void): void {
    // torn down before both sides said FIN: tell the client so its reader does not wait forever
    if (!this.aborted && !this.conn.closed && !(this.finSent && this.readableEnded)) {
      this.conn.write(rstStreamFrame(this.id, RstStatus.Cancel));
    }
    this.aborted = true;
    this.conn.forget(this.id);
    // a full reader may have paused the transport; nobody will read this stream any more
    this.conn.resumeTransport();
    cb(err);
  }

  /** called by the connection */
  remoteData(data: Buffer, fin: boolean): boolean {
    let more = true;
    if (data.length > 0 && !this.readableEnded) more = this.push(data);
    if (fin && !this.readableEnded) this.push(null);
    return more;
  }

  remoteAbort(): void {
    if (this.aborted) return;
    this.aborted = true;
    this.destroy();
  }
}

export interface SpdyServerConnectionEvents {
  stream: [SpdyStream];
  close: [];
}

export class SpdyServerConnection extends EventEmitter<SpdyServerConnectionEvents> {
  closed = false;
  private readonly reader = new FrameReader();
  private readonly deflate = new HeaderCompressor();
  private readonly inflate = new HeaderDecompressor();
  private readonly streams = new Map<number, SpdyStream>();
  private lastStreamId = 0;
  private paused = false;
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly transport: Duplex,
    head?: Buffer,
  ) {
    super();
    transport.on('data', (chunk: Buffer) => this.onBytes(chunk));
    transport.on('end', () => this.shutdown());
    transport.on('close', () => this.shutdown());
    transport.on('error', () => this.shutdown());
    if (head && head.length > 0) queueMicrotask(() => this.onBytes(head));
  }

  /** Open streams (for tests and leak checks). */
  get streamCount(): number {
    return this.streams.size;
  }

  write(frame: Buffer, cb?: (e?: Error | null) => void): void {
    if (this.closed || this.transport.destroyed) {
      cb?.();
      return;
    }
    if (this.transport.write(frame)) cb?.();
    else if (cb) this.transport.once('drain', () => cb());
  }

  sendData(id: number, chunk: Buffer, cb: (e?: Error | null) => void): void {
    for (let off = 0; off < chunk.length; off += MAX_DATA) {
      const last = off + MAX_DATA >= chunk.length;
      this.write(dataFrame(id, 0, chunk.subarray(off, off + MAX_DATA)), last ? cb : undefined);
    }
    if (chunk.length === 0) cb();
  }

  resumeTransport(): void {
    if (this.paused) {
      this.paused = false;
      this.transport.resume();
    }
  }

  forget(id: number): void {
    this.streams.delete(id);
  }

  /** Say GOAWAY and end the transport; every open stream is aborted. */
  close(): void {
    if (this.closed) return;
    this.write(goAwayFrame(this.lastStreamId));
    this.transport.end();
    this.shutdown();
  }

  private shutdown(): void {
    if (this.closed) return;
    this.closed = true;
    for (const s of [...this.streams.values()]) s.remoteAbort();
    this.streams.clear();
    this.inflate.close();
    // the transport may still be flushing the GOAWAY; a peer that never reads it must not keep the socket
    setTimeout(() => this.transport.destroy(), 5_000).unref();
    this.emit('close');
  }

  private onBytes(chunk: Buffer): void {
    if (this.closed) return;
    let frames: Frame[];
    try {
      frames = this.reader.push(chunk);
    } catch (e) {
      return this.protocolError(e);
    }
    // frames are handled strictly in order; header blocks inflate asynchronously
    for (const f of frames) this.queue = this.queue.then(() => (this.closed ? undefined : this.onFrame(f))).catch((e) => this.protocolError(e));
  }

  /** a malformed frame or header block: the connection cannot be trusted any more */
  private protocolError(e: unknown): void {
    // (anything else thrown while handling a frame is a bug here, but still ends only this connection)
    void e;
    if (this.closed) return;
    this.write(goAwayFrame(this.lastStreamId, RstStatus.ProtocolError));
    this.transport.end();
    this.shutdown();
  }

  private async onFrame(f: Frame): Promise<void> {
    if (f.kind === 'data') {
      const s = this.streams.get(f.streamId);
      if (!s) return; // data for a stream already gone: dropped, as spdystream does
      if (!s.remoteData(f.data, (f.flags & FLAG_FIN) !== 0) && !this.paused) {
        this.paused = true;
        this.transport.pause();
      }
      return;
    }
    switch (f.type) {
      case FrameType.SynStream:
        return this.onSynStream(f.flags, f.payload);
      case FrameType.RstStream: {
        const [id] = parseTwoWords(f.payload);
        this.streams.get(id)?.remoteAbort();
        return;
      }
      case FrameType.Ping: {
        // a client's pings have odd ids; echo them (ours would be even, and we send none)
        const id = parsePing(f.payload);
        if (id % 2 === 1) this.write(pingFrame(id));
        return;
      }
      case FrameType.Headers:
      case FrameType.SynReply:
        // never expected from a client, but the block must be inflated to keep zlib in step
        await this.inflate.decompress(parseStreamHeaders(f.payload).headerBlock);
        return;
      case FrameType.GoAway:
        // the client is done opening streams; it closes the transport when its streams end
        return;
      default:
        // SETTINGS, WINDOW_UPDATE and unknown types: nothing to do (no flow control)
        return;
    }
  }

  private async onSynStream(flags: number, payload: Buffer): Promise<void> {
    const syn = parseSynStream(payload);
    const headers = decodeHeaderBlock(await this.inflate.decompress(syn.headerBlock));
    if (this.closed) return;
    if (syn.streamId % 2 !== 1 || syn.streamId <= this.lastStreamId) {
      this.write(rstStreamFrame(syn.streamId, RstStatus.ProtocolError));
      return;
    }
    this.lastStreamId = syn.streamId;
    if (this.streams.size >= MAX_STREAMS) {
      this.write(rstStreamFrame(syn.streamId, RstStatus.RefusedStream));
      return;
    }
    const stream = new SpdyStream(this, syn.streamId, headers);
    this.streams.set(syn.streamId, stream);
    this.write(synReplyFrame(syn.streamId, 0, this.deflate.compress(encodeHeaderBlock(new Map()))));
    if (flags & FLAG_FIN) stream.remoteData(Buffer.alloc(0), true);
    this.emit('stream', stream);
  }
}
