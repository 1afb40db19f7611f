/**
 * Where podbay's commands are started from. Node starts a child with fork + exec from the
 * engine's own process, and the fork's cost grows with the engine's memory (page tables to
 * copy, pages to write-protect and fault back): ~7 ms of the engine's event loop per command
 * at 100 MB, against ~1.5 ms from a bare node. A pod's life runs ~20 commands, so in a burst the
 * engine spent most of its CPU starting processes (docs/performance.md).
 *
 * `useSpawner()` (the server and the agent call it) moves those starts to a small helper
 * process (spawner-child.ts): requests go over its IPC channel, each answered with the exit
 * code and output, in order. What cannot go through it is started here as before: a child that
 * must inherit file descriptors of the engine's (`extraFds`), and everything when the helper is off
 * (CLI verbs, tests, PODBAY_SPAWNER=0). If the helper dies, the commands in flight fail with an
 * error that says so (none is retried: it may have run), and the next command starts a new one.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { spawnCollect, type SpawnOutcome, type SpawnRequest } from './exec-spawn.js';

let enabled = false;
let helper: ChildProcess | undefined;
let seq = 0;
const pending = new Map<number, (out: SpawnOutcome) => void>();

/** start later commands from the spawner process (idempotent; PODBAY_SPAWNER=0 keeps them here) */
export function useSpawner(on = process.env.PODBAY_SPAWNER !== '0'): void {
  enabled = on;
}

/** the spawner's pid while it runs (footprint figures, tests) */
export function spawnerPid(): number | undefined {
  return helper?.pid;
}

let missing = false;

/** next to this module: dist/src/sys from tsc, dist/bundle from the bundle (an entry of its own) */
function childPath(): string | undefined {
  if (missing) return undefined;
  const p = fileURLToPath(new URL('./spawner-child.js', import.meta.url));
  missing = !existsSync(p);
  return missing ? undefined : p;
}

/** keep this process alive while commands are in flight (and only then: the engine may exit while the helper idles) */
function hold(h: ChildProcess, on: boolean): void {
  if (on) {
    h.ref();
    h.channel?.ref();
  } else {
    h.unref();
    h.channel?.unref();
  }
}

function start(): ChildProcess | undefined {
  const path = childPath();
  if (!path) return undefined;
  const h = fork(path, [], { execArgv: ['--max-semi-space-size=1'], serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  h.on('message', (m: { id: number; out: SpawnOutcome }) => {
    const done = pending.get(m.id);
    pending.delete(m.id);
    if (pending.size === 0) hold(h, false);
    done?.(m.out);
  });
  const gone = (why: string) => {
    if (helper === h) helper = undefined;
    for (const [id, done] of pending) {
      pending.delete(id);
      done({ code: null, stdout: '', stderr: '', error: `podbay's spawner process ${why} before the command's result came back` });
    }
  };
  h.on('exit', (code, signal) => gone(`exited (${signal ?? code})`));
  h.on('error', (e) => gone(`failed (${e.message})`));
  hold(h, false);
  return h;
}

/** run one command to its end, from the spawner when it is on */
export function spawnVia(req: SpawnRequest): Promise<SpawnOutcome> {
  if (!enabled || req.extraFds?.length) return spawnCollect(req);
  helper ??= start();
  const h = helper;
  if (!h || !h.connected) return spawnCollect(req);
  const id = ++seq;
  return new Promise((resolve) => {
    pending.set(id, resolve);
    hold(h, true);
    h.send({ id, req: { ...req, input: typeof req.input === 'string' || req.input === undefined ? req.input : Buffer.from(req.input) } }, (err) => {
      if (err && pending.delete(id)) {
        if (pending.size === 0) hold(h, false);
        resolve({ code: null, stdout: '', stderr: '', error: `podbay's spawner could not take the command: ${err.message}` });
      }
    });
  });
}

/** stop the spawner (the engine's stop, after its last command) */
export function stopSpawner(): void {
  enabled = false;
  helper?.disconnect();
  helper = undefined;
}
