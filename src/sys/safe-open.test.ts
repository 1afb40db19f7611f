import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync, existsSync, lstatSync, readlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDirHandle, readFileUnder, resolveUnder, UnsafePathError, type ResolveOptions } from './safe-open.js';

/** a volume under `root/vol`, a host dir beside it (`root/host`) the volume must never reach */
function world(): { root: string; vol: string; host: string } {
  const root = mkdtempSync(join(tmpdir(), 'podbay-safeopen-'));
  const vol = join(root, 'vol');
  const host = join(root, 'host');
  mkdirSync(join(vol, 'a', 'b'), { recursive: true });
  writeFileSync(join(vol, 'a', 'b', 'f'), 'in the volume');
  mkdirSync(host);
  writeFileSync(join(host, 'secret'), 'host file');
  return { root, vol, host };
}

async function resolve(vol: string, rel: string, opts: ResolveOptions): Promise<string[]> {
  const h = await openDirHandle(vol, false);
  try {
    const r = await resolveUnder(h, rel, opts);
    await r.handle.close();
    return r.components;
  } finally {
    await h.close();
  }
}

test('resolveUnder walks plain paths and follows links that stay inside (within)', async () => {
  const { root, vol } = world();
  try {
    symlinkSync('a/b', join(vol, 'inner'));
    symlinkSync('../b/f', join(vol, 'a', 'b', 'rel'));
    symlinkSync('..data/x', join(vol, 'x'));
    symlinkSync('a', join(vol, '..data'));
    mkdirSync(join(vol, 'a', 'x'));
    assert.deepEqual(await resolve(vol, 'a/b/f', { links: 'within' }), ['a', 'b', 'f']);
    assert.deepEqual(await resolve(vol, 'inner/f', { links: 'within' }), ['a', 'b', 'f']);
    assert.deepEqual(await resolve(vol, 'a/b/rel', { links: 'within' }), ['a', 'b', 'f']);
    assert.deepEqual(await resolve(vol, 'x', { links: 'within' }), ['a', 'x'], 'the configMap layout: name -> ..data/name');
    assert.deepEqual(await resolve(vol, '', { links: 'within' }), []);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('resolveUnder refuses links out of the root, `..` above it and absolute paths', async () => {
  const { root, vol, host } = world();
  try {
    symlinkSync(host, join(vol, 'abs'));
    symlinkSync('/', join(vol, 'slash'));
    symlinkSync('../host', join(vol, 'climb'));
    symlinkSync('../../../host', join(vol, 'a', 'b', 'deep'));
    symlinkSync('loop', join(vol, 'loop'));
    for (const p of ['abs', 'abs/secret', 'slash', 'slash/etc', 'climb/secret', 'a/b/deep', '../host', 'a/../../host', '/etc']) {
      await assert.rejects(resolve(vol, p, { links: 'within' }), UnsafePathError, p);
    }
    await assert.rejects(resolve(vol, 'loop', { links: 'within' }), (e: unknown) => e instanceof UnsafePathError && /too many levels/.test((e as Error).message));
    await assert.rejects(resolve(vol, 'a/b/f/g', { links: 'within' }), (e: unknown) => e instanceof UnsafePathError && (e as UnsafePathError).code === 'ENOTDIR');
    symlinkSync('a', join(vol, 'ok'));
    await assert.rejects(resolve(vol, 'ok', { links: 'refuse' }), UnsafePathError, 'refuse: even an inner link');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('resolveUnder creates missing directories, but not through a link', async () => {
  const { root, vol, host } = world();
  try {
    assert.deepEqual(await resolve(vol, 'new/deeper', { links: 'within', createDirsMode: 0o777 }), ['new', 'deeper']);
    assert.equal(statSync(join(vol, 'new', 'deeper')).mode & 0o777, 0o777, 'the mode asked for, not cut by the umask');
    symlinkSync(host, join(vol, 'out'));
    await assert.rejects(resolve(vol, 'out/made', { links: 'within', createDirsMode: 0o755 }), UnsafePathError);
    assert.equal(existsSync(join(host, 'made')), false, 'nothing was created on the host');
    await assert.rejects(resolve(vol, 'missing', { links: 'within' }), (e: unknown) => (e as NodeJS.ErrnoException).code === 'ENOENT');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('chroot links resolve inside the root: /etc/passwd -> /usr/share/passwd reads the rootfs file', async () => {
  const { root, vol, host } = world();
  try {
    mkdirSync(join(vol, 'etc'));
    mkdirSync(join(vol, 'usr', 'share'), { recursive: true });
    writeFileSync(join(vol, 'usr', 'share', 'passwd'), 'root:x:0:0::/root:/bin/sh\n');
    symlinkSync('/usr/share/passwd', join(vol, 'etc', 'passwd'));
    symlinkSync(join(host, 'secret'), join(vol, 'etc', 'group'));
    assert.equal((await readFileUnder(vol, 'etc/passwd', { links: 'chroot', maxBytes: 1024 })).toString(), 'root:x:0:0::/root:/bin/sh\n');
    // the same absolute link names a file inside the root, not the host's
    await assert.rejects(readFileUnder(vol, 'etc/group', { links: 'chroot', maxBytes: 1024 }), (e: unknown) => (e as NodeJS.ErrnoException).code === 'ENOENT');
    symlinkSync('../../../../../../host/secret', join(vol, 'etc', 'shadow'));
    await assert.rejects(readFileUnder(vol, 'etc/shadow', { links: 'chroot', maxBytes: 1024 }), (e: unknown) => (e as NodeJS.ErrnoException).code === 'ENOENT');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('readFileUnder: a FIFO is refused at once (no hang), a big file is refused', async () => {
  const { root, vol } = world();
  try {
    execFileSync('mkfifo', [join(vol, 'fifo')]);
    writeFileSync(join(vol, 'big'), Buffer.alloc(2048));
    const t0 = Date.now();
    await assert.rejects(readFileUnder(vol, 'fifo', { links: 'refuse', maxBytes: 1024 }), /not a regular file/);
    await assert.rejects(readFileUnder(vol, 'big', { links: 'refuse', maxBytes: 1024 }), /larger than 1024 bytes/);
    assert.equal((await readFileUnder(vol, 'a/b/f', { links: 'refuse', maxBytes: 1024 })).toString(), 'in the volume');
    assert.ok(Date.now() - t0 < 1000, 'answered at once');
    assert.ok(lstatSync(join(vol, 'fifo')).isFIFO());
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('resolveUnder while another process keeps swapping a component between a dir and a link to the host: never outside', async () => {
  const { root, vol, host } = world();
  mkdirSync(join(vol, 'real'));
  writeFileSync(join(vol, 'real', 'f'), 'inside');
  writeFileSync(join(host, 'f'), 'outside');
  symlinkSync(host, join(vol, 'lnk'));
  // the container's side of the race: `x` is the real dir one moment, the link the next
  const swapper = spawn('sh', ['-c', 'cd "$1" && while :; do mv -T real x; mv -T x real; mv -T lnk x; mv -T x lnk; done', 'swap', vol], { stdio: 'ignore', detached: true });
  const exited = new Promise((r) => swapper.once('exit', r));
  const h = await openDirHandle(vol, false);
  let resolved = 0;
  try {
    for (let i = 0; i < 300; i++) {
      try {
        const r = await resolveUnder(h, 'x/f', { links: 'within' });
        const where = readlinkSync(`/proc/self/fd/${r.handle.fd}`);
        await r.handle.close();
        assert.ok(where.startsWith(vol + '/'), `resolved to ${where}, outside the volume`);
        resolved++;
      } catch (e) {
        if (e instanceof assert.AssertionError) throw e;
        // refused (a link) or gone (between renames): both fine
      }
    }
  } finally {
    // the loop and any mv it is running: the whole process group
    process.kill(-swapper.pid!, 'SIGKILL');
    await exited;
    await new Promise((r) => setTimeout(r, 50));
    await h.close();
    rmSync(root, { recursive: true, force: true });
  }
  console.log(`race: ${resolved} of 300 resolved inside the volume, the rest refused`);
});
