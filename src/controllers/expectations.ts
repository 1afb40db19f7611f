/**
 * Expectations, as kube-controller-manager's ControllerExpectations: a controller that has just
 * created or deleted pods must not act on its informer's cache until the cache has seen those
 * writes, or it would create the same pods twice (the cache still shows too few) or count a pod
 * twice. Per controller key, how many pod creations and which pod deletions (uids) the cache has
 * not shown yet, raised before the writes are sent (an in-process watch may deliver the event
 * before the write returns); `satisfied` once none are left, or
 * after a timeout (5 min, as kube's ExpectationsTimeout) so a lost event cannot wedge a key.
 */

const TIMEOUT_MS = 5 * 60_000;

interface Pending {
  /** pod creations not yet seen in the cache */
  adds: number;
  /** uids of pods deleted, not yet seen gone (or marked) in the cache */
  dels: Set<string>;
  since: number;
}

export class Expectations {
  private readonly byKey = new Map<string, Pending>();
  /** uids of pods the cache has shown, so that an add is counted once against the creations */
  private readonly seen = new Set<string>();

  constructor(private readonly now: () => number = Date.now) {}

  private entry(key: string): Pending {
    let p = this.byKey.get(key);
    if (!p) this.byKey.set(key, (p = { adds: 0, dels: new Set(), since: this.now() }));
    return p;
  }

  /** `n` creations are about to be sent */
  expectCreations(key: string, n: number): void {
    const p = this.entry(key);
    p.adds += n;
    p.since = this.now();
  }

  expectDelete(key: string, uid: string): void {
    const p = this.entry(key);
    p.dels.add(uid);
    p.since = this.now();
  }

  /** the cache shows a new pod (or a creation failed: nothing will come) */
  observedCreate(key: string): void {
    const p = this.byKey.get(key);
    if (p && p.adds > 0) p.adds--;
  }

  /** the cache shows pod `uid` gone, or marked for deletion */
  observedDelete(key: string, uid: string): void {
    this.byKey.get(key)?.dels.delete(uid);
  }

  /** an informer event of a pod the controller `key` owns: counts its creation once, and its deletion */
  observePod(key: string, uid: string, deleted: boolean, marked: boolean): void {
    if (deleted) this.seen.delete(uid);
    else if (!this.seen.has(uid)) {
      this.seen.add(uid);
      this.observedCreate(key);
    }
    if (deleted || marked) this.observedDelete(key, uid);
  }

  satisfied(key: string): boolean {
    const p = this.byKey.get(key);
    if (!p || (p.adds === 0 && p.dels.size === 0)) return true;
    if (this.now() - p.since > TIMEOUT_MS) {
      this.byKey.delete(key);
      return true;
    }
    return false;
  }

  forget(key: string): void {
    this.byKey.delete(key);
  }
}
