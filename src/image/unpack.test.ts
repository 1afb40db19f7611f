/**
 * Hostile layers against the unpacker (escape 6 of issue 6). Links inside a layer are kept exactly
 * as written — they are resolved inside the container's root, never on the host — and the
 * unpacker itself never writes through one: no file, device, whiteout, opaque mark or hardlink
 * reaches a canary directory outside the layer, however the layer points at it.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { run } from '../sys/exec.js';
import { tarDirectory, type RawEntry, type DeviceEntry } from './archive-build.js';
import { unpackLayer } from './unpack.js';
import { InvalidArchiveError } from './errors.js';

if (process.getuid?.() !== 0) throw new Error('these tests unpack image layers (ownership, device nodes, xattrs): run them as root (sudo npm test)');

let work: string;
let empty: string;
let canary: string;
let n = 0;

/** The canary's whole state: names, types, modes, link counts, contents, the opaque xattr. */
async function snapshot(dir: string): Promise<string> {
  const out: string[] = [];
  const walk = async (d: string, rel: string) => {
    for (const name of (await fsp.readdir(d)).sort()) {
      const p = join(d, name);
      const st = await fsp.lstat(p);
      const kind = st.isDirectory() ? 'd' : st.isFile() ? 'f' : st.isSymbolicLink() ? 'l' : 'o';
      const body = st.isFile() ? await fsp.readFile(p, 'utf8') : st.isSymbolicLink() ? await fsp.readlink(p) : '';
      out.push(`${rel}${name} ${kind} ${(st.mode & 0o7777).toString(8)} nlink=${st.nlink} ${JSON.stringify(body)}`);
      if (st.isDirectory()) await walk(p, `${rel}${name}/`);
    }
  };
  await walk(dir, '');
  const opq = await run('getfattr', ['--only-values', '-n', 'trusted.overlay.opaque', dir], { allowFailure: true });
  out.push(`opaque=${opq.code === 0 ? opq.stdout : ''}`);
  return out.join('\n');
}

async function layer(raw: RawEntry[], devices: DeviceEntry[] = []): Promise<{ blob: string; dest: string }> {
  const i = n++;
  const blob = join(work, `layer-${i}.tar`);
  await fsp.writeFile(blob, (await tarDirectory({ dir: empty, raw, devices })).tar);
  return { blob, dest: join(work, 'layers', `l${i}`) };
}

async function unpack(l: { blob: string; dest: string }): Promise<void> {
  await unpackLayer(l.blob, l.dest, { tmpDir: join(work, 'tmp') });
}

let before_: string;

before(async () => {
  work = await fsp.mkdtemp(join(tmpdir(), 'podbay-unpack-test-'));
  empty = join(work, 'empty');
  await fsp.mkdir(empty);
  await fsp.mkdir(join(work, 'layers'));
  canary = join(work, 'canary');
  await fsp.mkdir(join(canary, 'sub'), { recursive: true });
  await fsp.writeFile(join(canary, 'passwd'), 'root:x:0:0:host\n', { mode: 0o644 });
  await fsp.writeFile(join(canary, 'x'), 'host file x\n', { mode: 0o600 });
  await fsp.writeFile(join(canary, 'secret'), 'host secret\n', { mode: 0o600 });
  before_ = await snapshot(canary);
});

after(async () => {
  await fsp.rm(work, { recursive: true, force: true });
});

async function assertCanaryUntouched(): Promise<void> {
  assert.equal(await snapshot(canary), before_, 'the canary directory outside the layer is untouched');
}

async function assertRefused(l: { blob: string; dest: string }, pattern: RegExp): Promise<void> {
  await assert.rejects(unpack(l), (e: Error) => {
    assert.ok(e instanceof InvalidArchiveError, `an InvalidArchiveError, got ${e.name}: ${e.message}`);
    assert.match(e.message, pattern);
    return true;
  });
  await assert.rejects(fsp.lstat(l.dest), { code: 'ENOENT' }, 'no half layer left under its final name');
  assert.deepEqual(await fsp.readdir(join(work, 'tmp')), [], 'the temporary unpack directory is removed');
}

describe('links are stored as written', () => {
  test('absolute and climbing symlinks are kept verbatim (they resolve inside the container root)', async () => {
    const l = await layer([
      { path: 'bin/', type: 'Directory' },
      { path: 'bin/busybox', type: 'File', data: '#!busybox\n', mode: 0o755 },
      { path: 'bin/sh', type: 'SymbolicLink', linkpath: '/bin/busybox' },
      { path: 'bin/ls', type: 'SymbolicLink', linkpath: 'busybox' },
      { path: 'a', type: 'SymbolicLink', linkpath: '../../../' },
      { path: 'usr/lib/up', type: 'SymbolicLink', linkpath: '../../../../etc/os-release' },
      { path: 'host', type: 'SymbolicLink', linkpath: canary },
      { path: 'twice', type: 'SymbolicLink', linkpath: '/first' },
      { path: 'twice', type: 'SymbolicLink', linkpath: '/second' },
    ]);
    await unpack(l);
    assert.equal(await fsp.readlink(join(l.dest, 'bin/sh')), '/bin/busybox');
    assert.equal(await fsp.readlink(join(l.dest, 'bin/ls')), 'busybox');
    assert.equal(await fsp.readlink(join(l.dest, 'a')), '../../../');
    assert.equal(await fsp.readlink(join(l.dest, 'usr/lib/up')), '../../../../etc/os-release');
    assert.equal(await fsp.readlink(join(l.dest, 'host')), canary);
    assert.equal(await fsp.readlink(join(l.dest, 'twice')), '/second', 'the later entry wins, as tar extracts');
    assert.deepEqual((await fsp.readdir(l.dest)).sort(), ['a', 'bin', 'host', 'twice', 'usr'], 'no placeholder or temporary name left behind');
    assert.deepEqual((await fsp.readdir(join(l.dest, 'bin'))).sort(), ['busybox', 'ls', 'sh']);
    await assertCanaryUntouched();
  });

  test('a file replaced by a symlink and a symlink replaced by a file', async () => {
    const l = await layer([
      { path: 'f', type: 'File', data: 'first\n' },
      { path: 'f', type: 'SymbolicLink', linkpath: '/etc/f' },
      { path: 'g', type: 'SymbolicLink', linkpath: canary + '/x' },
      { path: 'g', type: 'File', data: 'layer g\n' },
    ]);
    await unpack(l);
    assert.equal(await fsp.readlink(join(l.dest, 'f')), '/etc/f');
    const g = await fsp.lstat(join(l.dest, 'g'));
    assert.ok(g.isFile(), 'g is the layer\'s own regular file, not the file its link named');
    assert.equal(await fsp.readFile(join(l.dest, 'g'), 'utf8'), 'layer g\n');
    await assertCanaryUntouched();
  });
});

describe('nothing is written through a link', () => {
  test('etc -> /canary, then etc/passwd: refused, the canary keeps its passwd', async () => {
    const l = await layer([
      { path: 'etc', type: 'SymbolicLink', linkpath: canary },
      { path: 'etc/passwd', type: 'File', data: 'root::0:0:pwned\n' },
    ]);
    await assertRefused(l, /etc/);
    await assertCanaryUntouched();
  });

  test('a relative link that climbs to the canary, then a file under it: refused', async () => {
    const rel = join('..', '..', '..', '..', '..', '..', '..', '..', canary);
    const l = await layer([
      { path: 'etc', type: 'SymbolicLink', linkpath: rel },
      { path: 'etc/sub/new', type: 'File', data: 'pwned\n' },
    ]);
    await assertRefused(l, /etc/);
    await assertCanaryUntouched();
  });

  test('a link, then a whiteout under it: refused, no device node in the canary', async () => {
    const l = await layer([
      { path: 'd', type: 'SymbolicLink', linkpath: canary },
      { path: 'd/.wh.x', type: 'File' },
    ]);
    await assertRefused(l, /whiteout.*d\/x|d\/x.*whiteout/);
    await assertCanaryUntouched();
  });

  test('a link, then an opaque marker under it: refused, no xattr on the canary', async () => {
    const l = await layer([
      { path: 'd', type: 'SymbolicLink', linkpath: canary },
      { path: 'd/.wh..wh..opq', type: 'File' },
    ]);
    await assertRefused(l, /opaque/);
    await assertCanaryUntouched();
  });

  test('a link, then a device node under it: refused', async () => {
    // the builder writes devices before raw entries: splice the link's one header block in front
    const link = (await tarDirectory({ dir: empty, raw: [{ path: 'd', type: 'SymbolicLink', linkpath: canary }] })).tar.subarray(0, 512);
    const dev = (await tarDirectory({ dir: empty, devices: [{ path: 'd/null', type: 'char', major: 1, minor: 3 }] })).tar;
    const l = await layer([]);
    await fsp.writeFile(l.blob, Buffer.concat([link, dev]));
    await assertRefused(l, /d\/null/);
    await assertCanaryUntouched();
  });

  test('a hardlink to ../../canary/secret: refused, the canary\'s link count unchanged', async () => {
    const l = await layer([{ path: 'h', type: 'Link', linkpath: '../../canary/secret' }]);
    await assertRefused(l, /\.\./);
    await assertCanaryUntouched();
  });

  test('a hardlink to an absolute host path resolves inside the layer, never to the host file', async () => {
    const l = await layer([{ path: 'h', type: 'Link', linkpath: canary + '/secret' }]);
    // the target is read as an archive path (leading "/" stripped), which this layer does not have
    await assertRefused(l, /h/);
    await assertCanaryUntouched();
  });

  test('a hardlink through a symlinked directory: refused', async () => {
    const l = await layer([
      { path: 'l', type: 'SymbolicLink', linkpath: canary },
      { path: 'h', type: 'Link', linkpath: 'l/secret' },
    ]);
    await assertRefused(l, /l\/secret|symbolic link/);
    await assertCanaryUntouched();
  });

  test('a hardlink to a symlink that names the canary: refused', async () => {
    const l = await layer([
      { path: 'l', type: 'SymbolicLink', linkpath: canary + '/secret' },
      { path: 'h', type: 'Link', linkpath: 'l' },
    ]);
    await assertRefused(l, /symbolic link|\bl\b/);
    await assertCanaryUntouched();
  });

  test('a symlink replacing a directory that already holds entries, then a file under it: refused', async () => {
    const l = await layer([
      { path: 'd/', type: 'Directory' },
      { path: 'd/own', type: 'File', data: 'own\n' },
      { path: 'd', type: 'SymbolicLink', linkpath: canary },
      { path: 'd/passwd', type: 'File', data: 'pwned\n' },
    ]);
    await assert.rejects(unpack(l));
    await assertCanaryUntouched();
  });
});
