/**
 * A chain of one bridge's own, hooked into a built-in chain: how podbay keeps its per-bridge
 * iptables rules (the localnet guard, the pods' masquerade) apart from every other user of the
 * host's tables. Two podbay servers with different bridges never touch each other's chains.
 *
 *   ensure:  -N chain (exists: fine), each rule -C || -A, hook -C || -I <builtin> 1
 *   remove:  -D hook until none is left, -F chain, -X chain
 *
 * Ensures of one chain are serialized (check-then-add must not interleave, or rules double) and
 * coalesced: a call while one runs, or within `freshMs` (5 s) of one that succeeded, shares it. Pod
 * set-up calls ensure every time (so a chain flushed by someone else comes back), and a burst of
 * 100 pods then costs a few iptables runs instead of hundreds.
 */
import { run, which } from '../sys/exec.js';

export interface HookedChain {
  table: 'filter' | 'nat';
  chain: string;
  /** rules of the chain, in order, as iptables arguments after `-A chain` */
  rules: string[][];
  /** the built-in chain that jumps to it, and the jump's match arguments (without -j) */
  hook: { chain: string; match: string[] };
  /** ip6tables instead of iptables */
  v6?: boolean;
}

const DEFAULT_FRESH_MS = 5000;

function bin(v6?: boolean): string {
  const name = v6 ? 'ip6tables' : 'iptables';
  const b = which(name);
  if (!b) throw new Error(`${name} is not installed: install the Debian package iptables`);
  return b;
}

const hookArgs = (c: HookedChain) => [...c.hook.match, '-j', c.chain];
const key = (c: HookedChain) => `${c.v6 ? 6 : 4}/${c.table}/${c.chain}`;

/** per chain: the tail of its queue of changes, and when an ensure last succeeded */
const queues = new Map<string, Promise<unknown>>();
const ensuredAt = new Map<string, number>();
const inflight = new Map<string, Promise<void>>();

function serialized(k: string, fn: () => Promise<void>): Promise<void> {
  const next = (queues.get(k) ?? Promise.resolve()).then(fn, fn);
  const tail = next.catch(() => {});
  queues.set(k, tail);
  void tail.then(() => queues.get(k) === tail && queues.delete(k));
  return next;
}

export function ensureHookedChain(c: HookedChain, freshMs = DEFAULT_FRESH_MS): Promise<void> {
  const k = key(c);
  const at = ensuredAt.get(k);
  if (at !== undefined && performance.now() - at < freshMs) return Promise.resolve();
  const running = inflight.get(k);
  if (running) return running;
  const p = serialized(k, async () => {
    const ipt = bin(c.v6);
    await run(ipt, ['-w', '-t', c.table, '-N', c.chain], { allowFailure: true }); // exists: fine
    for (const rule of c.rules) {
      if ((await run(ipt, ['-w', '-t', c.table, '-C', c.chain, ...rule], { allowFailure: true })).code !== 0) {
        await run(ipt, ['-w', '-t', c.table, '-A', c.chain, ...rule]);
      }
    }
    if ((await run(ipt, ['-w', '-t', c.table, '-C', c.hook.chain, ...hookArgs(c)], { allowFailure: true })).code !== 0) {
      await run(ipt, ['-w', '-t', c.table, '-I', c.hook.chain, '1', ...hookArgs(c)]);
    }
    ensuredAt.set(k, performance.now());
  }).finally(() => inflight.delete(k));
  inflight.set(k, p);
  return p;
}

/** Remove the hook and the chain; a missing one is fine. */
export function removeHookedChain(c: HookedChain): Promise<void> {
  const k = key(c);
  ensuredAt.delete(k);
  return serialized(k, async () => {
    const b = which(c.v6 ? 'ip6tables' : 'iptables');
    if (!b) return;
    // a hook inserted twice (by two podbay processes racing) is deleted until none is left
    for (let i = 0; i < 8; i++) {
      if ((await run(b, ['-w', '-t', c.table, '-D', c.hook.chain, ...hookArgs(c)], { allowFailure: true })).code !== 0) break;
    }
    await run(b, ['-w', '-t', c.table, '-F', c.chain], { allowFailure: true });
    const del = await run(b, ['-w', '-t', c.table, '-X', c.chain], { allowFailure: true });
    if (del.code !== 0 && (await run(b, ['-w', '-t', c.table, '-S', c.chain], { allowFailure: true })).code === 0) {
      throw new Error(`removing iptables chain ${c.chain}: ${del.stderr.trim()}`);
    }
  });
}

/** Forget that chains were ensured (tests that remove them behind podbay's back). */
export function forgetEnsuredChains(): void {
  ensuredAt.clear();
}
