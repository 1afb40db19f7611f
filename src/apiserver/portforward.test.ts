import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Duplex } from 'node:stream';
import { servePortForwardChannels, type ChannelSocket } from './portforward.js';

/** a ChannelSocket recording what is sent, and whether the session was closed */
function fakeSocket() {
  const sent: Buffer[] = [];
  let onMsg: (c: number, d: Buffer) => void = () => {};
  let onClose = () => {};
  let closed = 0;
  const ws: ChannelSocket = {
    send: (d) => void sent.push(d),
    onMessage: (cb) => (onMsg = cb),
    onClose: (cb) => (onClose = cb),
    close: () => {
      closed++;
      onClose();
    },
  };
  return { ws, sent, closed: () => closed, message: (c: number, d: Buffer) => onMsg(c, d) };
}

const tick = () => new Promise((r) => setImmediate(r));

test('channel port-forward: the session ends once every port is done (the pod ended its connection, or it could not be made), as the kubelet ends it', async () => {
  // the pod's connection: what the client wrote, and what the pod says (pushed by the test)
  const written: string[] = [];
  const pod = new Duplex({ read() {}, write(chunk, _enc, cb) { written.push(String(chunk)); cb(); } });
  const f = fakeSocket();
  servePortForwardChannels(f.ws, [80, 81], {
    dial: (port) => (port === 80 ? Promise.resolve(pod as Duplex) : Promise.reject(new Error('dial tcp4 127.0.0.1:81: connect: connection refused'))),
  });
  await tick();
  // each channel starts with its port; the closed port's error on channel 3
  assert.deepEqual(f.sent.slice(0, 4).map((b) => [b[0], b.readUInt16LE(1)]), [[0, 80], [1, 80], [2, 81], [3, 81]]);
  assert.match(f.sent.find((b) => b[0] === 3 && b.length > 3)!.subarray(1).toString(), /connection refused/);
  assert.equal(f.closed(), 0, 'port 80 is still open: the session stays');
  f.message(0, Buffer.from('GET /'));
  assert.deepEqual(written, ['GET /']);
  pod.push('answer');
  pod.push(null);
  await tick();
  assert.equal(f.sent.filter((b) => b[0] === 0 && b.length > 3).map((b) => b.subarray(1).toString()).join(''), 'answer');
  assert.equal(f.closed(), 1, 'every port done: the session is closed once');
});
