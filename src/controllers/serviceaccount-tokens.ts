/**
 * kube-controller-manager's serviceaccount-token controller (pkg/controller/serviceaccount/
 * tokens_controller.go): it fills and removes Secrets of type kubernetes.io/service-account-token,
 * the documented way to a long-lived token for a ServiceAccount.
 *
 *   secret informer (token Secrets) ─> queue ─> syncSecret(ns/name, its uid and account):
 *       account (by the name annotation, and the uid annotation when set) missing -> delete the Secret
 *       gone -> drop it from its account's .secrets
 *       else: ca.crt (the cluster CA), namespace, token (a legacy JWT, signed by `legacyToken`,
 *             injected: the controllers reach the service-account key only through the
 *             composition root) filled when missing or, for ca.crt, different; the account's
 *             name and uid annotated
 *   serviceaccount informer ─────────> queue ─> syncAccount(ns/name, uid): gone -> delete its token Secrets
 *
 * A token once written stays (a Secret whose token is changed by hand keeps that token, which
 * the API then refuses: it matches no signed claim). The API server takes the token while the
 * Secret holds it (src/apiserver/authn.ts).
 */
import { ApiError } from '../api/errors.js';
import { resourceInfo } from '../api/registry.js';
import { SERVICE_ACCOUNT_NAME_ANNOTATION, SERVICE_ACCOUNT_TOKEN_SECRET_TYPE, SERVICE_ACCOUNT_UID_ANNOTATION } from '../api/service-account.js';
import { Informer, NAMESPACE_INDEX } from '../client/informer.js';
import type { Client, Obj } from '../client/types.js';
import { runWorkers, WorkQueue } from './workqueue.js';

const SECRETS = resourceInfo('secrets')!;
const SERVICEACCOUNTS = resourceInfo('serviceaccounts')!;

/** a legacy token for the account, to be held by the Secret named */
export type LegacyTokenSigner = (account: { namespace: string; name: string; uid: string }, secretName: string) => Promise<string>;

export interface TokensControllerOptions {
  /** --root-ca-file: the CA every token Secret carries as ca.crt */
  caPem: string;
  legacyToken: LegacyTokenSigner;
  log?: (line: string) => void;
}

/** what a queued key names: a Secret (with the account it named when queued) or an account */
type Key = { secret: { ns: string; name: string; uid: string; sa: string; saUid: string } } | { account: { ns: string; name: string; uid: string } };

const isTokenSecret = (s: Obj) => s.type === SERVICE_ACCOUNT_TOKEN_SECRET_TYPE;
const annotation = (s: Obj, k: string): string => s.metadata?.annotations?.[k] ?? '';
const decoded = (s: Obj, k: string): string => Buffer.from(String(s.data?.[k] ?? ''), 'base64').toString('utf8');

/** apiserverserviceaccount.IsServiceAccountToken: a token Secret naming this account (and its uid, when it names one) */
export function isTokenOf(secret: Obj, account: Obj): boolean {
  if (!isTokenSecret(secret) || annotation(secret, SERVICE_ACCOUNT_NAME_ANNOTATION) !== account.metadata.name) return false;
  const uid = annotation(secret, SERVICE_ACCOUNT_UID_ANNOTATION);
  return !uid || uid === account.metadata.uid;
}

export class ServiceAccountTokensController {
  private readonly secrets: Informer<Obj>;
  private readonly accounts: Informer<Obj>;
  private readonly queue = new WorkQueue({ baseMs: 5, maxMs: 60_000 });
  private readonly log: (line: string) => void;
  private running?: Promise<void>;

  constructor(
    private readonly client: Client,
    private readonly opts: TokensControllerOptions,
  ) {
    this.log = opts.log ?? (() => {});
    this.secrets = new Informer<Obj>(client, SECRETS, { log: this.log });
    this.accounts = new Informer<Obj>(client, SERVICEACCOUNTS, { log: this.log });
    const secret = (s: Obj) => {
      if (!isTokenSecret(s)) return;
      const m = s.metadata;
      this.queue.add(JSON.stringify({ secret: { ns: m.namespace, name: m.name, uid: m.uid, sa: annotation(s, SERVICE_ACCOUNT_NAME_ANNOTATION), saUid: annotation(s, SERVICE_ACCOUNT_UID_ANNOTATION) } } satisfies Key));
    };
    this.secrets.addEventHandler({ add: secret, update: (_o, s) => secret(s), delete: secret });
    const account = (a: Obj) => this.queue.add(JSON.stringify({ account: { ns: a.metadata.namespace, name: a.metadata.name, uid: a.metadata.uid } } satisfies Key));
    this.accounts.addEventHandler({ add: account, update: (_o, a) => account(a), delete: account });
  }

  async start(): Promise<void> {
    await Promise.all([this.secrets.start(), this.accounts.start()]);
    this.running = runWorkers(this.queue, 1, (key) => this.sync(JSON.parse(key) as Key), (l) => this.log(`serviceaccount-token controller: ${l}`));
  }

  async stop(): Promise<void> {
    this.secrets.stop();
    this.accounts.stop();
    this.queue.shutDown();
    await this.running;
  }

  private sync(key: Key): Promise<void> {
    return 'secret' in key ? this.syncSecret(key.secret) : this.syncAccount(key.account);
  }

  /** the account named, when it exists with `uid` (any uid when none is given); from the cache, or the API when `live` */
  private async account(ns: string, name: string, uid: string, live: boolean): Promise<Obj | undefined> {
    const matches = (a: Obj | undefined) => (a && (!uid || a.metadata.uid === uid) ? a : undefined);
    const cached = matches(this.accounts.cache.getByName(ns, name));
    if (cached || !live) return cached;
    return matches(await this.client.resource(SERVICEACCOUNTS).tryGet(ns, name));
  }

  private async syncAccount(k: { ns: string; name: string; uid: string }): Promise<void> {
    if (await this.account(k.ns, k.name, k.uid, false)) return;
    // the account is gone: so are its tokens
    const gone = { metadata: { namespace: k.ns, name: k.name, uid: k.uid } };
    for (const s of this.secrets.cache.byIndex(NAMESPACE_INDEX, k.ns)) if (isTokenOf(s, gone)) await this.deleteToken(s.metadata.namespace, s.metadata.name, s.metadata.uid);
  }

  private async syncSecret(k: { ns: string; name: string; uid: string; sa: string; saUid: string }): Promise<void> {
    const cached = this.secrets.cache.getByName(k.ns, k.name);
    const secret = cached && cached.metadata.uid === k.uid ? cached : undefined;
    if (!secret) {
      // deleted: its account no longer lists it
      if (await this.account(k.ns, k.sa, k.saUid, false)) await this.removeReference(k.ns, k.sa, k.saUid, k.name);
      return;
    }
    const account = await this.account(k.ns, k.sa, k.saUid, true);
    if (!account) return this.deleteToken(k.ns, k.name, k.uid);
    await this.fill(account, secret);
  }

  /** what of ca.crt, namespace and token the Secret lacks (secretUpdateNeeded) */
  private needs(s: Obj): { ca: boolean; namespace: boolean; token: boolean } {
    return { ca: this.opts.caPem !== '' && decoded(s, 'ca.crt') !== this.opts.caPem, namespace: !s.data?.namespace, token: !s.data?.token };
  }

  /** generateTokenIfNeeded: on the live Secret, unless it moved on since the cache saw it */
  private async fill(account: Obj, cached: Obj): Promise<void> {
    if (!Object.values(this.needs(cached)).some(Boolean)) return;
    const secrets = this.client.resource(SECRETS);
    const live = await secrets.tryGet(cached.metadata.namespace, cached.metadata.name);
    // gone, or changed since: its next event brings it back here
    if (!live || live.metadata.resourceVersion !== cached.metadata.resourceVersion) return;
    const needs = this.needs(live);
    if (!Object.values(needs).some(Boolean)) return;
    const b64 = (v: string) => Buffer.from(v, 'utf8').toString('base64');
    const data: Record<string, string> = { ...(live.data ?? {}) };
    if (needs.ca) data['ca.crt'] = b64(this.opts.caPem);
    if (needs.namespace) data.namespace = b64(live.metadata.namespace);
    if (needs.token) {
      const m = account.metadata;
      data.token = b64(await this.opts.legacyToken({ namespace: m.namespace, name: m.name, uid: m.uid }, live.metadata.name));
    }
    const annotations = { ...(live.metadata.annotations ?? {}), [SERVICE_ACCOUNT_NAME_ANNOTATION]: account.metadata.name, [SERVICE_ACCOUNT_UID_ANNOTATION]: account.metadata.uid };
    try {
      await secrets.update({ ...live, metadata: { ...live.metadata, annotations }, data });
    } catch (e) {
      // changed meanwhile (its event comes) or deleted: nothing to do
      if (e instanceof ApiError && (e.reason === 'Conflict' || e.reason === 'NotFound')) return;
      throw e;
    }
  }

  /** deleteToken: with the uid as precondition; gone already or another Secret by now is fine */
  private async deleteToken(ns: string, name: string, uid: string): Promise<void> {
    try {
      await this.client.resource(SECRETS).delete(ns, name, uid ? { preconditions: { uid } } : {});
    } catch (e) {
      if (e instanceof ApiError && (e.reason === 'NotFound' || e.reason === 'Conflict')) return;
      throw e;
    }
  }

  /** removeSecretReference: the account's .secrets without the deleted Secret */
  private async removeReference(ns: string, name: string, uid: string, secretName: string): Promise<void> {
    const accounts = this.client.resource(SERVICEACCOUNTS);
    for (let attempt = 0; ; attempt++) {
      const sa = await accounts.tryGet(ns, name);
      if (!sa || (uid && sa.metadata.uid !== uid)) return;
      const refs: Obj[] = sa.secrets ?? [];
      if (!refs.some((r) => r.name === secretName)) return;
      try {
        await accounts.update({ ...sa, secrets: refs.filter((r) => r.name !== secretName) });
        return;
      } catch (e) {
        if (e instanceof ApiError && e.reason === 'NotFound') return;
        if (!(e instanceof ApiError && e.reason === 'Conflict') || attempt >= 4) throw e;
      }
    }
  }
}
