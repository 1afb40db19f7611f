import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { HeaderCompressor, HeaderDecompressor } from './compression.js';
import { SPDY3_DICTIONARY } from './dictionary.js';
import {
  FLAG_FIN,
  FrameReader,
  FrameType,
  dataFrame,
  decodeHeaderBlock,
  encodeHeaderBlock,
  parseStreamHeaders,
  parseTwoWords,
  pingFrame,
  rstStreamFrame,
  synStreamFrame,
  SpdyProtocolError,
  type Frame,
} from './frames.js';
import { SpdyServerConnection, type SpdyStream } from './connection.js';

test('the SPDY/3 dictionary is the 1423 bytes of the draft, from "options" to "enq=0."', () => {
  assert.equal(SPDY3_DICTIONARY.length, 1423);
  assert.equal(SPDY3_DICTIONARY.subarray(0, 11).toString('latin1'), '\0\0\0\x07options');
  assert.ok(SPDY3_DICTIONARY.toString('latin1').endsWith(',enq=0.'));
});

test('FrameReader splits a byte stream cut anywhere into the same frames', () => {
  const bytes = Buffer.concat([dataFrame(1, 0, Buffer.from('hello')), pingFrame(7), dataFrame(3, FLAG_FIN, Buffer.alloc(0)), rstStreamFrame(5, 5)]);
  for (let cut = 0; cut <= bytes.length; cut++) {
    const r = new FrameReader();
    const frames = [...r.push(bytes.subarray(0, cut)), ...r.push(bytes.subarray(cut))];
    assert.equal(frames.length, 4, `cut at ${cut}`);
    assert.deepEqual(frames[0], { kind: 'data', streamId: 1, flags: 0, data: Buffer.from('hello') });
    assert.equal(frames[1]!.kind === 'control' && frames[1]!.type, FrameType.Ping);
    assert.deepEqual(frames[2], { kind: 'data', streamId: 3, flags: FLAG_FIN, data: Buffer.alloc(0) });
    const rst = frames[3] as Extract<Frame, { kind: 'control' }>;
    assert.deepEqual(parseTwoWords(rst.payload), [5, 5]);
  }
});

test('FrameReader refuses another SPDY version and oversized frames', () => {
  const v2 = pingFrame(1);
  v2.writeUInt16BE(0x8002, 0);
  assert.throws(() => new FrameReader().push(v2), SpdyProtocolError);
  const huge = dataFrame(1, 0, Buffer.alloc(0));
  huge.writeUIntBE(0xffffff, 5, 3);
  assert.throws(() => new FrameReader().push(huge), /larger than/);
});

test('header blocks round-trip through one compression context per direction, in order', async () => {
  const c = new HeaderCompressor();
  const d = new HeaderDecompressor();
  for (let i = 0; i < 5; i++) {
    const h = new Map([
      ['streamtype', [i % 2 ? 'data' : 'error']],
      ['port', ['8080']],
      ['requestid', [String(i)]],
      ['multi', ['a', 'b']],
    ]);
    const packed = c.compress(encodeHeaderBlock(h));
    assert.deepEqual(decodeHeaderBlock(await d.decompress(packed)), h);
  }
  // later blocks refer back to earlier ones: a fresh decompressor cannot read the 5th alone
  const c2 = new HeaderCompressor();
  c2.compress(encodeHeaderBlock(new Map([['streamtype', ['error']]])));
  const second = c2.compress(encodeHeaderBlock(new Map([['streamtype', ['error']]])));
  await assert.rejects(new HeaderDecompressor().decompress(second), SpdyProtocolError);
  d.close();
});

test('the zlib stream written is one Python\'s zlib (and so Go\'s) reads with the dictionary', async () => {
  const c = new HeaderCompressor();
  const blocks = [new Map([['a', ['1']]]), new Map(), new Map([['streamtype', ['data']]])].map((h) => c.compress(encodeHeaderBlock(h)));
  const d = new HeaderDecompressor();
  for (const b of blocks) await d.decompress(b);
  d.close();
  const { spawnSync } = await import('node:child_process');
  const py = spawnSync('python3', ['-c', 'import sys,zlib,base64; d=zlib.decompressobj(zdict=base64.b64decode(sys.argv[1])); sys.stdout.write(d.decompress(base64.b64decode(sys.argv[2])).hex())', SPDY3_DICTIONARY.toString('base64'), Buffer.concat(blocks).toString('base64')], { encoding: 'utf8' });
  assert.equal(py.status, 0, py.stderr);
  assert.equal(py.stdout, Buffer.concat([new Map([['a', ['1']]]), new Map(), new Map([['streamtype', ['data']]])].map((h) => encodeHeaderBlock(h))).toString('hex'));
});

test('a header block that inflates past the limit is refused', async () => {
  const bomb = (await import('node:zlib')).deflateSync(Buffer.alloc(4 << 20), { dictionary: SPDY3_DICTIONARY });
  await assert.rejects(new HeaderDecompressor().decompress(bomb), /more than/);
});

test('a truncated header block is a protocol error, not a crash', () => {
  assert.throws(() => decodeHeaderBlock(Buffer.from([0, 0, 0, 1, 0, 0, 0, 9, 0x61])), SpdyProtocolError);
});

/** A minimal client: the other end of a socket pair, with its own compression context. */
async function pair(): Promise<{ server: SpdyServerConnection; client: net.Socket; frames: Frame[]; deflate: HeaderCompressor; inflate: HeaderDecompressor; close(): void }> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const accepted = new Promise<net.Socket>((r) => srv.once('connection', r));
  const client = net.connect((srv.address() as net.AddressInfo).port, '127.0.0.1');
  const sock = await accepted;
  const server = new SpdyServerConnection(sock);
  const frames: Frame[] = [];
  const reader = new FrameReader();
  client.on('data', (d) => frames.push(...reader.push(d)));
  return {
    server,
    client,
    frames,
    deflate: new HeaderCompressor(),
    inflate: new HeaderDecompressor(),
    close: () => {
      client.destroy();
      srv.close();
    },
  };
}

const until = async (what: string, f: () => boolean) => {
  for (let i = 0; i < 200 && !f(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(f(), what);
};

test('server connection: SYN_REPLY per stream, data both ways, FIN, ping echo, RST', async () => {
  const p = await pair();
  const streams: SpdyStream[] = [];
  p.server.on('stream', (s) => streams.push(s));
  const hdr = (m: Record<string, string>) => p.deflate.compress(encodeHeaderBlock(new Map(Object.entries(m).map(([k, v]) => [k, [v]]))));
  p.client.write(synStreamFrame(1, 0, hdr({ streamtype: 'data', port: '80', requestid: '0' })));
  p.client.write(synStreamFrame(3, 0, hdr({ streamtype: 'error', port: '80', requestid: '0' })));
  p.client.write(pingFrame(1));
  await until('two streams', () => streams.length === 2);
  assert.equal(streams[0]!.header('streamType'), 'data');
  assert.equal(streams[1]!.header('requestid'), '0');
  const got: Buffer[] = [];
  streams[0]!.on('data', (d: Buffer) => got.push(d));
  p.client.write(dataFrame(1, FLAG_FIN, Buffer.from('from client')));
  await until('client data', () => Buffer.concat(got).toString() === 'from client');
  streams[0]!.end('from server');
  await until('replies, ping, data and FIN', () => p.frames.length >= 5);
  const replies = p.frames.filter((f) => f.kind === 'control' && f.type === FrameType.SynReply) as Extract<Frame, { kind: 'control' }>[];
  assert.deepEqual(replies.map((f) => parseStreamHeaders(f.payload).streamId), [1, 3]);
  for (const r of replies) assert.equal(decodeHeaderBlock(await p.inflate.decompress(parseStreamHeaders(r.payload).headerBlock)).size, 0);
  assert.ok(p.frames.some((f) => f.kind === 'control' && f.type === FrameType.Ping));
  const data = p.frames.filter((f) => f.kind === 'data' && f.streamId === 1) as Extract<Frame, { kind: 'data' }>[];
  assert.equal(Buffer.concat(data.map((f) => f.data)).toString(), 'from server');
  assert.equal(data[data.length - 1]!.flags & FLAG_FIN, FLAG_FIN);
  // both halves closed: the stream is gone without a RST
  await until('stream 1 forgotten', () => p.server.streamCount === 1);
  assert.ok(!p.frames.some((f) => f.kind === 'control' && f.type === FrameType.RstStream));
  // the client resets stream 3: it is destroyed
  let closed = false;
  streams[1]!.on('close', () => (closed = true));
  p.client.write(rstStreamFrame(3, 5));
  await until('stream 3 closed', () => closed && p.server.streamCount === 0);
  // a stream id that does not increase is refused with RST_STREAM
  p.client.write(synStreamFrame(1, 0, hdr({ streamtype: 'data' })));
  await until('refused', () => p.frames.some((f) => f.kind === 'control' && f.type === FrameType.RstStream));
  p.close();
  await until('connection closed', () => p.server.closed);
});

test('server connection: garbage ends the connection with GOAWAY instead of throwing', async () => {
  const p = await pair();
  p.client.write(Buffer.from([0x80, 0x03, 0x00, 0x01, 0, 0, 0, 12, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xde, 0xad]));
  await until('closed', () => p.server.closed);
  await until('goaway', () => p.frames.some((f) => f.kind === 'control' && f.type === FrameType.GoAway));
  p.close();
});
