import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, symlinkSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fallsBackToLogs, joinMessage, logTail, prepareTerminationMessage, readMessageFile, TerminationMessages, MAX_MESSAGE_BYTES } from './termination-message.js';
import { streamLog } from './logs.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'podbay-tm-'));

test('the message file: empty, mode 0666, mounted at the default /dev/termination-log', async () => {
  const d = tmp();
  try {
    const m = await prepareTerminationMessage(d, { name: 'app' }, 3);
    assert.equal(m.containerPath, '/dev/termination-log');
    assert.equal(m.readOnly, false);
    assert.equal(statSync(m.hostPath).mode & 0o777, 0o666);
    assert.equal(statSync(m.hostPath).size, 0);
    const custom = await prepareTerminationMessage(d, { name: 'app', terminationMessagePath: '/tmp/msg' }, 4);
    assert.equal(custom.containerPath, '/tmp/msg');
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test('reading a container-written message: capped at 4096 bytes, never through a link, never blocking on a FIFO', async () => {
  const d = tmp();
  try {
    writeFileSync(join(d, 'big'), 'x'.repeat(10_000));
    assert.equal((await readMessageFile(join(d, 'big'))).length, MAX_MESSAGE_BYTES);
    writeFileSync(join(d, 'secret'), 'host secret');
    symlinkSync(join(d, 'secret'), join(d, 'link'));
    assert.equal(await readMessageFile(join(d, 'link')), '');
    execFileSync('mkfifo', [join(d, 'fifo')]);
    assert.equal(await readMessageFile(join(d, 'fifo')), '');
    mkdirSync(join(d, 'dir'));
    assert.equal(await readMessageFile(join(d, 'dir')), '');
    assert.equal(await readMessageFile(join(d, 'missing')), '');
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test('FallbackToLogsOnError: only with a non-zero exit of a container that ran; the runtime message first', () => {
  assert.equal(fallsBackToLogs('FallbackToLogsOnError', 1, 'Error'), true);
  assert.equal(fallsBackToLogs('FallbackToLogsOnError', 0, 'Completed'), false);
  assert.equal(fallsBackToLogs('File', 1, 'Error'), false);
  assert.equal(fallsBackToLogs('FallbackToLogsOnError', 128, 'StartError'), false);
  assert.equal(joinMessage(undefined, 'bye'), 'bye');
  assert.equal(joinMessage('runc said', 'bye'), 'runc said: bye');
  assert.equal(joinMessage('runc said', ''), 'runc said');
});

const cri = (lines: [string, string][]) => lines.map(([tag, text]) => `2026-11-29T10:00:00.000000000Z stdout ${tag} ${text}\n`).join('');

test('the log fallback: last 80 lines, at most 2048 bytes, the final partial line kept without a newline', async () => {
  const d = tmp();
  try {
    const lines: [string, string][] = [];
    for (let i = 1; i <= 100; i++) lines.push(['F', `line ${i}`]);
    lines.push(['P', 'no newline']);
    writeFileSync(join(d, '0.log'), cri(lines));
    const out = await logTail(d, 0);
    assert.ok(out.startsWith('line 22\n'), out.slice(0, 20));
    assert.ok(out.endsWith('line 100\nno newline'), out.slice(-30));
    writeFileSync(join(d, '1.log'), cri(Array.from({ length: 80 }, (_, i) => ['F', `${i} ${'y'.repeat(60)}`] as [string, string])));
    assert.equal(Buffer.byteLength(await logTail(d, 1)), 2048);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test('kubectl logs keeps partial lines (CRI P) joined and the final line without a newline', async () => {
  const d = tmp();
  try {
    writeFileSync(join(d, '0.log'), cri([['P', 'hel'], ['F', 'lo'], ['P', 'last']]));
    let out = '';
    await streamLog(d, {}, (s) => void (out += s), async () => false, () => false, { container: 'c', pod: 'p' });
    assert.equal(out, 'hello\nlast');
    out = '';
    await streamLog(d, { tailLines: 1 }, (s) => void (out += s), async () => false, () => false, { container: 'c', pod: 'p' });
    assert.equal(out, 'last');
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test('an exited run gets its message from the file it mounted, once', async () => {
  const d = tmp();
  try {
    const m = await prepareTerminationMessage(d, { name: 'app' }, 0);
    writeFileSync(m.hostPath, 'goodbye');
    const run: any = {
      id: 'c1',
      state: 'exited',
      exitCode: 1,
      reason: 'Error',
      config: { name: 'app', restartCount: 0, mounts: [m], annotations: { 'io.kubernetes.container.terminationMessagePath': '/dev/termination-log', 'io.kubernetes.container.terminationMessagePolicy': 'File' } },
    };
    const tm = new TerminationMessages();
    const [r] = await tm.enrich([run], () => d);
    assert.equal(r.message, 'goodbye');
    writeFileSync(m.hostPath, 'changed');
    assert.equal((await tm.enrich([run], () => d))[0].message, 'goodbye');
    const [running] = await tm.enrich([{ ...run, id: 'c2', state: 'running' }], () => d);
    assert.equal(running.message, undefined);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});
