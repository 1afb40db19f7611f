import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { ContainerLogManager, decideRotation, excessRotatedLogs, logRotationFlags, parseDurationMs, rotatedLogName, DEFAULT_LOG_ROTATION } from './log-rotation.js';
import { groupLogRuns, logRuns, openCursor, streamLog, successor } from './logs.js';
import type { ContainerStatus } from '../runtime/types.js';

const policy = { maxSize: 100, maxFiles: 3, intervalMs: 1000 };
const at = new Date('2026-11-29T18:30:00Z');

describe('rotation decisions', () => {
  test('rotated names are the kubelet\'s: <log>.YYYYMMDD-hhmmss', () => {
    assert.equal(rotatedLogName('/l/c/0.log', at), '/l/c/0.log.20261129-183000');
    assert.equal(rotatedLogName('3.log', new Date('2027-01-02T03:04:05.999Z')), '3.log.20270102-030405');
  });

  test('runs group live and rotated files, oldest first; other names are ignored', () => {
    assert.deepEqual(groupLogRuns(['1.log', '0.log.20261129-183005', '0.log', '0.log.20261129-183000', '0.log.tmp', 'x', '1.log.20261129-190000', '10.log']), [
      { restart: 0, names: ['0.log.20261129-183000', '0.log.20261129-183005', '0.log'] },
      { restart: 1, names: ['1.log.20261129-190000', '1.log'] },
      { restart: 10, names: ['10.log'] },
    ]);
    assert.deepEqual(groupLogRuns(['2.log.20261129-183000']), [{ restart: 2, names: ['2.log.20261129-183000'] }], 'a run whose live file is being reopened');
  });

  test('excess: keep maxFiles-2 rotated files, delete the oldest', () => {
    assert.deepEqual(excessRotatedLogs(['0.log.20261129-183002', '0.log.20261129-183000', '0.log.20261129-183001'], 3), ['0.log.20261129-183000', '0.log.20261129-183001']);
    assert.deepEqual(excessRotatedLogs(['a'], 3), []);
    assert.deepEqual(excessRotatedLogs(['a', 'b'], 2), ['a', 'b']);
  });

  test('rotate at the max size, not before; never over an existing name; only this run\'s files removed', () => {
    assert.deepEqual(decideRotation('/d/0.log', 99, ['0.log'], policy, at), { rotate: false });
    assert.deepEqual(decideRotation('/d/0.log', 100, ['0.log'], policy, at), { rotate: true, remove: [], rotatedTo: '0.log.20261129-183000' });
    assert.deepEqual(decideRotation('/d/1.log', 500, ['0.log', '0.log.20261129-170000', '1.log', '1.log.20261129-182000', '1.log.20261129-182500'], policy, at), {
      rotate: true,
      remove: ['1.log.20261129-182000'],
      rotatedTo: '1.log.20261129-183000',
    });
    assert.deepEqual(decideRotation('/d/0.log', 500, ['0.log', '0.log.20261129-183000'], policy, at), { rotate: false }, 'two rotations in one second: wait a round');
  });

  test('flags: quantities, counts, durations; bad values name the flag', () => {
    assert.deepEqual(logRotationFlags(new Map()), DEFAULT_LOG_ROTATION);
    assert.deepEqual(logRotationFlags(new Map([['container-log-max-size', '64Ki'], ['container-log-max-files', '3'], ['container-log-monitor-interval', '500ms']])), { maxSize: 65536, maxFiles: 3, intervalMs: 500 });
    assert.equal(logRotationFlags(new Map([['container-log-max-size', '1M']])).maxSize, 1_000_000);
    assert.throws(() => logRotationFlags(new Map([['container-log-max-size', 'lots']])), /--container-log-max-size "lots"/);
    assert.throws(() => logRotationFlags(new Map([['container-log-max-size', '0']])), /--container-log-max-size/);
    assert.throws(() => logRotationFlags(new Map([['container-log-max-files', '1']])), /--container-log-max-files "1": want a whole number of at least 2/);
    assert.throws(() => logRotationFlags(new Map([['container-log-monitor-interval', '10']])), /--container-log-monitor-interval/);
    assert.equal(parseDurationMs('1m30s'), 90_000);
    assert.equal(parseDurationMs(''), undefined);
  });
});

/** CRI lines n..m-1, as conmon writes them. */
function criLines(from: number, to: number): string {
  let s = '';
  for (let i = from; i < to; i++) s += `2026-11-29T18:30:00.${String(i).padStart(9, '0')}+00:00 stdout F line ${i}\n`;
  return s;
}

/** A stand-in for conmon: appends to its open file; "reopen" makes a new file under the path. */
class FakeWriter {
  private fh?: fsp.FileHandle;
  constructor(readonly path: string) {}
  async open() {
    this.fh = await fsp.open(this.path, 'a');
  }
  async append(s: string) {
    await this.fh!.write(s);
  }
  async reopen() {
    await this.fh!.close();
    await fsp.writeFile(this.path + '.tmp', '');
    this.fh = await fsp.open(this.path + '.tmp', 'a');
    await fsp.rename(this.path + '.tmp', this.path);
  }
  async close() {
    await this.fh?.close();
  }
}

async function collect(dir: string, opts: Parameters<typeof streamLog>[1], running = async () => false): Promise<string> {
  let out = '';
  await streamLog(dir, opts, (s) => void (out += s), running, () => false, { container: 'c', pod: 'p' });
  return out;
}

/** Run `fn` in a fresh temp dir, removed afterwards. */
async function inTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await fsp.mkdtemp(join(tmpdir(), 'podbay-logrot-'));
  try {
    await fn(dir);
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
}

const expected = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `line ${from + i}\n`).join('');

describe('rotating and reading across rotations (files on disk, a fake conmon)', () => {
  test('the manager rotates past the size, keeps maxFiles, and logs read back whole and in order', () =>
    inTempDir(async (dir) => {
      const log = join(dir, '0.log');
      const w = new FakeWriter(log);
      await w.open();
      let second = 0;
      const status = { id: 'c1', state: 'running', config: { logPath: log } } as unknown as ContainerStatus;
      const reopened: string[] = [];
      const mgr = new ContainerLogManager(policy, {
        listContainers: async () => [status, { ...status, id: 'gone', state: 'exited' } as ContainerStatus],
        reopenContainerLog: async (id) => {
          reopened.push(id);
          await w.reopen();
        },
        log: () => {},
        now: () => new Date(at.getTime() + 1000 * second++),
      });
      let n = 0;
      for (let round = 0; round < 6; round++) {
        await w.append(criLines(n, n + 3)); // ~ 160 bytes: past the 100-byte max every round
        n += 3;
        await mgr.rotateAll();
        const names = (await fsp.readdir(dir)).sort();
        assert.ok(names.length <= policy.maxFiles, `at most ${policy.maxFiles} files, got ${names.join(' ')}`);
      }
      assert.deepEqual(reopened, ['c1', 'c1', 'c1', 'c1', 'c1', 'c1'], 'only the running container is reopened');
      const names = (await fsp.readdir(dir)).sort();
      assert.deepEqual(names, ['0.log', '0.log.20261129-183004', '0.log.20261129-183005']);
      assert.equal((await fsp.stat(log)).size, 0, 'a fresh live file after the rotation');
      await w.append(criLines(n, n + 2));
      n += 2;
      // the two rotated files hold lines 12..17, the live one 18..19
      assert.equal(await collect(dir, {}), expected(12, n));
      assert.equal(await collect(dir, { tailLines: 4 }), expected(n - 4, n), 'the tail reaches into rotated files');
      assert.equal(await collect(dir, { tailLines: 1 }), expected(n - 1, n));
      assert.equal(await collect(dir, { tailLines: 0 }), '');
      assert.equal(await collect(dir, { tailLines: 100 }), expected(12, n));
      await w.close();
    }));

  test('a rotation that fails to reopen puts the file back', () =>
    inTempDir(async (dir) => {
      const log = join(dir, '0.log');
      await fsp.writeFile(log, criLines(0, 5));
      const errors: string[] = [];
      const mgr = new ContainerLogManager(policy, {
        listContainers: async () => [{ id: 'c1', state: 'running', config: { logPath: log } } as unknown as ContainerStatus],
        reopenContainerLog: async () => {
          throw new Error('conmon is gone');
        },
        log: (l) => errors.push(l),
        now: () => at,
      });
      await mgr.rotateAll();
      assert.deepEqual(await fsp.readdir(dir), ['0.log']);
      assert.match(errors.join('\n'), /rotating the log of container c1 failed: conmon is gone/);
    }));

  test('--previous reads the previous run across its rotated files', () =>
    inTempDir(async (dir) => {
      await fsp.writeFile(join(dir, '0.log.20261129-180000'), criLines(0, 3));
      await fsp.writeFile(join(dir, '0.log'), criLines(3, 5));
      await fsp.writeFile(join(dir, '1.log'), criLines(100, 101));
      assert.equal(await collect(dir, { previous: true }), expected(0, 5));
      assert.equal(await collect(dir, {}), expected(100, 101));
    }));

  test('follow continues across rotations (even several between two reads): no line lost or repeated', () =>
    inTempDir(async (dir) => {
      const log = join(dir, '0.log');
      const w = new FakeWriter(log);
      await w.open();
      await w.append(criLines(0, 5));
      let alive = true;
      let out = '';
      const follower = streamLog(dir, { follow: true, tailLines: 2 }, (s) => void (out += s), async () => alive, () => false, { container: 'c', pod: 'p' });
      // (generous: on a loaded machine the follower may take seconds to start, and the test means
      // it to be following before the first rotation)
      const waitFor = async (pred: () => boolean) => {
        for (let i = 0; i < 750 && !pred(); i++) await new Promise((r) => setTimeout(r, 20));
        assert.ok(pred(), 'the follower kept up');
      };
      await waitFor(() => out.includes('line 4\n'));
      let n = 5;
      let stamp = 0;
      const rotate = async () => {
        await fsp.rename(log, rotatedLogName(log, new Date(at.getTime() + 1000 * stamp++)));
        await w.reopen();
      };
      for (let round = 0; round < 4; round++) {
        await w.append(criLines(n, n + 3));
        n += 3;
        await rotate();
        // a window where the live name is missing-then-new: lines go to the new file
        await w.append(criLines(n, n + 1));
        n += 1;
        if (round % 2 === 0) await new Promise((r) => setTimeout(r, 250)); // sometimes let the follower see each one
      }
      await w.append(criLines(n, n + 2));
      n += 2;
      await waitFor(() => out.includes(`line ${n - 1}\n`));
      alive = false;
      await follower;
      assert.equal(out, expected(3, n));
      await w.close();
    }));

  test('the next file after a rotation: never an older one from a listing read before the rotation', () =>
    inTempDir(async (dir) => {
      const log = join(dir, '0.log');
      const older = join(dir, '0.log.20261129-180000');
      await fsp.writeFile(older, criLines(0, 3));
      await fsp.writeFile(log, criLines(3, 5));
      const ours = await openCursor(log);
      try {
        assert.equal(await successor(dir, 0, ours), undefined, 'ours is still the live file');
        const stale = await logRuns(dir);
        // a rotation: ours renamed, a new live file
        const rotated = join(dir, '0.log.20261129-180001');
        await fsp.rename(log, rotated);
        await fsp.writeFile(log, criLines(5, 6));
        const liveIno = (await fsp.stat(log)).ino;
        assert.equal(await successor(dir, 0, ours, async () => stale), undefined, 'ours is missing from the stale listing: look again, not back at the oldest file');
        assert.deepEqual(await successor(dir, 0, ours), { path: log, ino: liveIno });
        // ours deleted with everything older (the oldest go first): the oldest file left is next
        const third = join(dir, '0.log.20261129-180002');
        await fsp.rename(log, third);
        await fsp.writeFile(log, '');
        await fsp.rm(older);
        await fsp.rm(rotated);
        assert.deepEqual(await successor(dir, 0, ours), { path: third, ino: (await fsp.stat(third)).ino });
      } finally {
        await ours.fh.close();
      }
    }));
});
