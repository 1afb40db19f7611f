/**
 * The in-process client: the client contract straight over the registry, no HTTP and no
 * serialization. The one bridge from the client rooms to the registry (scripts/check-layers.mjs
 * allows it and nothing else): the composition root hands it to the kubelet, the scheduler and
 * the controllers, which see only `Client`.
 */
import type { ResourceInfo } from '../api/registry.js';
import type { Registry } from '../registry/index.js';
import type { Client, ClientUpdateOptions, DeleteOptions, ListQuery, Obj, ObjList, PatchType, ResourceClient, Watch, WatchHandlers, WatchQuery, WriteOptions } from './types.js';

/**
 * The registry decodes a fresh object from the store for every answer and event, so a caller
 * may change what it gets (as over HTTP) without a copy here; the one exception is a watch whose
 * handlers say they are `readOnly` (the informers): its events' objects are shared and frozen.
 */
function own<T>(o: Obj): T {
  return o as T;
}

/**
 * Who the in-process client writes as. Over HTTP the server takes a write's manager from its
 * fieldManager, else from the first word of the User-Agent (client-go sends the binary's name:
 * "kube-controller-manager/v1.33.0 ..."), so kube-apiserver records the deployment controller's
 * status writes under `kube-controller-manager` and the kubelet's under `kubelet`; an
 * in-process client names itself here, or its writes would be owned by "" (which clients such
 * as Helm and kubectl show, and which no kube-apiserver ever records for its own components).
 */
export interface LocalClientOptions {
  /** the default metadata.managedFields manager of this client's writes (a write's own fieldManager wins) */
  fieldManager?: string;
}

class LocalResource<T> implements ResourceClient<T> {
  constructor(
    private readonly reg: Registry,
    private readonly r: ResourceInfo,
    private readonly manager: string | undefined,
  ) {}

  private as<O extends WriteOptions>(opts: O): O {
    return opts.fieldManager === undefined && this.manager !== undefined ? { ...opts, fieldManager: this.manager } : opts;
  }

  async get(ns: string | undefined, name: string): Promise<T> {
    return own(await this.reg.get(this.r, ns, name));
  }

  async tryGet(ns: string | undefined, name: string): Promise<T | undefined> {
    const o = await this.reg.tryGet(this.r, ns, name);
    return o && own(o);
  }

  async list(ns: string | undefined, q: ListQuery = {}): Promise<ObjList<T>> {
    return own(await this.reg.list(this.r, ns, q));
  }

  async watch(ns: string | undefined, q: WatchQuery, handlers: WatchHandlers): Promise<Watch> {
    let cancelled = false;
    const h = await this.reg.watch(
      this.r,
      ns,
      q,
      (ev) => {
        if (!cancelled) handlers.event(ev);
      },
      () => {
        // the registry calls this synchronously before watch() returns (a compacted start):
        // deliver after, as a stream's end would come
        queueMicrotask(() => {
          if (!cancelled) handlers.end?.();
        });
      },
      handlers.readOnly === true,
    );
    return {
      cancel() {
        cancelled = true;
        h.cancel();
      },
    };
  }

  async create(ns: string | undefined, obj: T | Obj, opts: WriteOptions = {}): Promise<T> {
    const o = obj as Obj;
    return own(await this.reg.create(this.r, this.r.namespaced ? ns ?? o.metadata?.namespace : undefined, o, this.as(opts)));
  }

  async update(obj: T | Obj, opts: ClientUpdateOptions = {}): Promise<T> {
    const o = obj as Obj;
    return own(await this.reg.update(this.r, o.metadata?.namespace, o.metadata?.name, o, this.as(opts)));
  }

  async patch(ns: string | undefined, name: string, type: PatchType, patch: unknown, opts: ClientUpdateOptions = {}): Promise<T> {
    const text = typeof patch === 'string' ? patch : JSON.stringify(patch);
    return own(await this.reg.patch(this.r, ns, name, type, text, this.as(opts)));
  }

  async delete(ns: string | undefined, name: string, opts: DeleteOptions = {}): Promise<Obj> {
    return own((await this.reg.delete(this.r, ns, name, opts)).object);
  }
}

export class LocalClient implements Client {
  constructor(
    private readonly reg: Registry,
    private readonly opts: LocalClientOptions = {},
  ) {}

  resource<T = Obj>(r: ResourceInfo): ResourceClient<T> {
    return new LocalResource<T>(this.reg, r, this.opts.fieldManager);
  }

  /** the same registry under another name (each component writes as itself) */
  as(fieldManager: string): LocalClient {
    return new LocalClient(this.reg, { ...this.opts, fieldManager });
  }

  createToken(ns: string, serviceAccount: string, request: Obj): Promise<Obj> {
    return this.reg.createToken(ns, serviceAccount, request);
  }

  bind(ns: string, pod: string, node: string): Promise<void> {
    return this.reg.bind(ns, pod, { metadata: { name: pod }, target: { kind: 'Node', name: node } });
  }
}
