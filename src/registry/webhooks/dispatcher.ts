/**
 * The admission webhook dispatcher, as kube-apiserver's MutatingAdmissionWebhook and
 * ValidatingAdmissionWebhook plugins run: the generic registry calls mutate() after defaulting
 * and the built-in admission, before validation, and validate() after validation.
 *
 * Mutating webhooks run one after another, configurations in name order and webhooks in their
 * order, each seeing what the ones before returned (JSONPatch applied); a webhook with
 * reinvocationPolicy IfNeeded is called once more when a later one changed the object.
 * Validating webhooks run in parallel; the first denial (or failure under failurePolicy Fail)
 * answers the request. What kube-apiserver writes to its audit log for each mutating call
 * (mutation.webhook.admission.k8s.io/round_N_index_M) goes to the server log: podbay keeps
 * no audit log, and kube never writes these into the object.
 */
import { ApiError, badRequest } from '../../api/errors.js';
import { evaluateMatchConditions } from '../../api/match-conditions.js';
import { applyPatch } from '../../api/patch/index.js';
import { schemas } from '../../api/schema.js';
import type { ResourceInfo } from '../../api/registry.js';
import type { AdmissionRequestContext, Obj } from '../../api/types.js';
import { exempt, matchingKind, namespaceSelected, objectSelected } from './match.js';
import { buildReview, denial, reviewResponse, WebhookCallError } from './review.js';
import type { AdmissionAttributes, ConfiguredWebhook, WebhookDispatcherDeps, WebhookTarget } from './types.js';
import { ACCEPTED_REVIEW_VERSIONS } from '../../api/validation/webhooks.js';

const byName = (a: Obj, b: Obj) => (a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0);

function hooksOf(configs: Obj[], mutating: boolean): ConfiguredWebhook[] {
  return [...configs].sort(byName).flatMap((c) => (Array.isArray(c.webhooks) ? c.webhooks : []).map((hook: Obj, index: number) => ({ configuration: c.metadata.name, index, hook, mutating })));
}

/** the object as the version the webhook is called with; a subresource's own kind (Scale, PodExecOptions) is sent as it is */
function withApiVersion(o: Obj | null, r: ResourceInfo, a: AdmissionAttributes): Obj | null {
  if (!o || a.kind) return o;
  return { ...o, apiVersion: r.group ? `${r.group}/${r.version}` : r.version };
}

export class WebhookDispatcher {
  constructor(private readonly deps: WebhookDispatcherDeps) {}

  /** the webhooks of one kind (mutating or validating) that this request goes to, with the kind each sees */
  private async selected(a: AdmissionAttributes, configs: Obj[], mutating: boolean): Promise<{ w: ConfiguredWebhook; as: ResourceInfo }[]> {
    if (exempt(a.r) || configs.length === 0) return [];
    let nsLabels: Record<string, string> | undefined;
    let nsLoaded = false;
    const out: { w: ConfiguredWebhook; as: ResourceInfo }[] = [];
    for (const w of hooksOf(configs, mutating)) {
      const as = matchingKind(w.hook, a, this.deps.servedKinds());
      if (!as) continue;
      if (!nsLoaded && (a.r.namespaced || a.r.kind === 'Namespace')) {
        nsLoaded = true;
        nsLabels = a.r.kind === 'Namespace' ? (a.object ?? a.oldObject)?.metadata?.labels ?? {} : await this.deps.namespaceLabels(a.namespace);
      }
      if (!namespaceSelected(w.hook, a, nsLabels)) continue;
      if (!objectSelected(w.hook, a)) continue;
      if (!this.conditionsMatch(w, as, a)) continue;
      out.push({ w, as });
    }
    return out;
  }

  /**
   * matchConditions (CEL) over the request as this webhook would be sent it: any false skips
   * it; an error (and no false) fails the request under failurePolicy Fail (403, as
   * kube-apiserver's ShouldCallHook answers it) and skips the webhook under Ignore.
   */
  private conditionsMatch(w: ConfiguredWebhook, as: ResourceInfo, a: AdmissionAttributes): boolean {
    const conditions: Obj[] = Array.isArray(w.hook.matchConditions) ? w.hook.matchConditions : [];
    if (conditions.length === 0) return true;
    const { request } = buildReview(a, as, 'v1', (o) => withApiVersion(o, as, a));
    const { object, oldObject, ...rest } = request;
    const result = evaluateMatchConditions(conditions, { object, oldObject, request: rest });
    if (result.matches) return true;
    if (!('error' in result)) return false;
    if (w.hook.failurePolicy === 'Ignore') {
      this.deps.log?.(`admission: webhook "${w.hook.name}": match conditions failed to evaluate (${result.error}); failurePolicy Ignore skips it`);
      return false;
    }
    const resource = a.r.group ? `${a.r.resource}.${a.r.group}` : a.r.resource;
    throw new ApiError(403, 'Forbidden', `${resource}${a.name ? ` ${JSON.stringify(a.name)}` : ''} is forbidden: ${result.error}`, { name: a.name, group: a.r.group, kind: a.r.resource });
  }

  private async target(hook: Obj): Promise<WebhookTarget> {
    const cc = hook.clientConfig ?? {};
    const ca = cc.caBundle ? Buffer.from(String(cc.caBundle), 'base64') : undefined;
    if (cc.url) return { url: String(cc.url), ca };
    const s = cc.service;
    return {
      url: await this.deps.resolveService(s.namespace, s.name, s.port ?? 443, s.path ?? '/'),
      ca,
      serverName: `${s.name}.${s.namespace}.svc`,
    };
  }

  /** one call: the checked response, or a WebhookCallError / the denial */
  private async call(w: ConfiguredWebhook, as: ResourceInfo, a: AdmissionAttributes, ctx: AdmissionRequestContext): Promise<Obj> {
    const name = String(w.hook.name);
    if (a.dryRun && !['None', 'NoneOnDryRun'].includes(w.hook.sideEffects)) {
      // webhookerrors.NewDryRunUnsupportedErr
      throw badRequest(`admission webhook "${name}" does not support dry run`);
    }
    const version = (w.hook.admissionReviewVersions as string[] | undefined)?.find((v) => ACCEPTED_REVIEW_VERSIONS.includes(v)) ?? 'v1';
    const review = buildReview(a, as, version, (o) => withApiVersion(o, as, a));
    let body: Obj;
    try {
      const target = await this.target(w.hook);
      body = await this.deps.call(target, review, (w.hook.timeoutSeconds ?? 10) * 1000);
    } catch (e) {
      throw new WebhookCallError(name, (e as Error).message);
    }
    const resp = reviewResponse(name, review, body, w.mutating);
    if (Array.isArray(resp.warnings)) ctx.warnings?.push(...resp.warnings.map(String));
    if (resp.allowed !== true) throw denial(name, resp.status);
    return resp;
  }

  /** failurePolicy: Ignore lets the request on past a failed call, Fail answers it */
  private failed(w: ConfiguredWebhook, e: unknown): void {
    if (e instanceof WebhookCallError) {
      if (w.hook.failurePolicy === 'Ignore') {
        this.deps.log?.(`admission: ${e.message}; failurePolicy Ignore lets the request pass`);
        return;
      }
      throw e.toApiError();
    }
    throw e;
  }

  /**
   * Run the mutating webhooks; answers the object as they left it (the same object when none
   * changed it). Throws the denial or failure that stops the request.
   */
  async mutate(a: AdmissionAttributes, ctx: AdmissionRequestContext): Promise<Obj | null> {
    const { mutating } = await this.deps.configurations();
    const hooks = await this.selected(a, mutating, true);
    if (hooks.length === 0) return a.object;
    let object = a.object;
    /** per webhook called: the number of changes made before its call */
    let changes = 0;
    const seenAt = new Map<number, number>();
    const round = async (n: number, which: number[]) => {
      for (const i of which) {
        const { w, as } = hooks[i]!;
        seenAt.set(i, changes);
        let mutated = false;
        try {
          const resp = await this.call(w, as, { ...a, object }, ctx);
          if (resp.patch !== undefined && object) {
            const text = Buffer.from(String(resp.patch), 'base64').toString('utf8');
            let patched: Obj;
            try {
              patched = applyPatch('application/json-patch+json', withApiVersion(structuredClone(object), as, a)!, text, as.typeName, schemas) as Obj;
            } catch (e) {
              throw new WebhookCallError(String(w.hook.name), `JSON patch error: ${(e as Error).message}`);
            }
            if (object.apiVersion !== undefined) patched.apiVersion = object.apiVersion;
            if (object.kind !== undefined) patched.kind = object.kind;
            if (JSON.stringify(patched) !== JSON.stringify(object)) {
              object = patched;
              changes++;
              mutated = true;
            }
          }
        } catch (e) {
          this.failed(w, e);
        }
        // what kube-apiserver records in its audit log (not in the object)
        this.deps.log?.(`admission: mutation.webhook.admission.k8s.io/round_${n}_index_${i}=${JSON.stringify({ configuration: w.configuration, webhook: w.hook.name, mutated })}`);
      }
    };
    await round(0, hooks.map((_, i) => i));
    // reinvocation: IfNeeded webhooks that saw an object a later webhook changed are called once more
    const again = hooks.map((h, i) => i).filter((i) => hooks[i]!.w.hook.reinvocationPolicy === 'IfNeeded' && (seenAt.get(i) ?? changes) < changes);
    if (again.length) {
      const before = changes;
      const lastSeen = new Map(seenAt);
      await round(1, again.filter((i) => (lastSeen.get(i) ?? before) < before));
    }
    return object;
  }

  /**
   * A CONNECT (pods/exec, attach, portforward and proxy, nodes/proxy), as kube-apiserver's
   * connect handler admits it: the mutating webhooks, then the validating ones, on the
   * request's options object (PodExecOptions ...). Answers the options as the mutating
   * webhooks left them: the connection is made with those.
   */
  async connect(a: AdmissionAttributes, ctx: AdmissionRequestContext): Promise<Obj> {
    const object = (await this.mutate(a, ctx)) ?? a.object!;
    await this.validate({ ...a, object }, ctx);
    return object;
  }

  /** Run the validating webhooks in parallel; the first refusal in webhook order answers the request. */
  async validate(a: AdmissionAttributes, ctx: AdmissionRequestContext): Promise<void> {
    const { validating } = await this.deps.configurations();
    const hooks = await this.selected(a, validating, false);
    if (hooks.length === 0) return;
    const results = await Promise.allSettled(hooks.map(({ w, as }) => this.call(w, as, a, ctx)));
    results.forEach((res, i) => {
      if (res.status === 'rejected') this.failed(hooks[i]!.w, res.reason);
    });
  }
}

