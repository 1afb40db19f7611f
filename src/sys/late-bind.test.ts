import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { LateBinder } from './late-bind.js';

const listenOn = (srv: net.Server, host: string) =>
  () =>
    new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(0, host, () => {
        srv.off('error', reject);
        resolve();
      });
    });

describe('LateBinder', () => {
  it('an address not on this host stays pending quietly; a bound listener leaves the list; another failure is logged once', async () => {
    const logs: string[] = [];
    const b = new LateBinder((l) => logs.push(l));
    const ok = net.createServer();
    const absent = net.createServer();
    let tries = 0;
    b.add({ what: 'on loopback', bind: listenOn(ok, '127.0.0.1') });
    // TEST-NET-1: never an address of this machine (EADDRNOTAVAIL)
    b.add({ what: 'on 192.0.2.1', bind: listenOn(absent, '192.0.2.1') });
    b.add({
      what: 'broken',
      bind: async () => {
        tries++;
        throw Object.assign(new Error('port taken'), { code: 'EADDRINUSE' });
      },
    });
    await b.ensure();
    await b.ensure();
    assert.deepEqual(b.waiting, ['on 192.0.2.1', 'broken']);
    assert.equal(tries, 2, 'tried again on every pass');
    assert.deepEqual(logs, ['podbay: listening: on loopback', 'podbay: cannot listen (broken): port taken; will try again when a pod\'s network is set up']);
    assert.ok(ok.listening);
    ok.close();
  });
});
