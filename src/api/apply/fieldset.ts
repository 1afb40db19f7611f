/**
 * Field sets as structured-merge-diff (sigs.k8s.io/structured-merge-diff/fieldpath) defines
 * them: the sets of fields a manager owns, stored in `metadata.managedFields[].fieldsV1`.
 *
 * A path element is kept in its serialized form, the same text fieldsV1 uses as a key:
 *   f:NAME              a struct field or map key
 *   k:{"name":"nginx"}  an item of an associative list, by its key fields (sorted by name)
 *   v:"a"               an item of a set list, by its value
 *   i:3                 an item of a list by position (only for lists without identity)
 *
 * A set is a tree: `members` are paths that end here, `children` hold the paths that go on.
 * One path may be both (fieldsV1 writes that as ".": {} beside the children).
 */

export type PathElement = string;
export type Path = readonly PathElement[];

export class FieldSet {
  readonly members = new Set<PathElement>();
  readonly children = new Map<PathElement, FieldSet>();

  static of(...paths: Path[]): FieldSet {
    const s = new FieldSet();
    for (const p of paths) s.insert(p);
    return s;
  }

  insert(path: Path): void {
    if (path.length === 0) return;
    let node: FieldSet = this;
    for (let i = 0; i < path.length - 1; i++) node = node.child(path[i]);
    node.members.add(path[path.length - 1]);
  }

  has(path: Path): boolean {
    if (path.length === 0) return false;
    let node: FieldSet | undefined = this;
    for (let i = 0; i < path.length - 1 && node; i++) node = node.children.get(path[i]);
    return !!node && node.members.has(path[path.length - 1]);
  }

  /** the paths below `pe`, relative to it (an empty set when there are none) */
  withPrefix(pe: PathElement): FieldSet {
    return this.children.get(pe) ?? new FieldSet();
  }

  child(pe: PathElement): FieldSet {
    let c = this.children.get(pe);
    if (!c) {
      c = new FieldSet();
      this.children.set(pe, c);
    }
    return c;
  }

  empty(): boolean {
    if (this.members.size > 0) return false;
    for (const c of this.children.values()) if (!c.empty()) return false;
    return true;
  }

  union(other: FieldSet): FieldSet {
    const out = this.clone();
    out.addAll(other);
    return out;
  }

  private addAll(other: FieldSet): void {
    for (const m of other.members) this.members.add(m);
    for (const [pe, c] of other.children) this.child(pe).addAll(c);
  }

  difference(other: FieldSet): FieldSet {
    const out = new FieldSet();
    for (const m of this.members) if (!other.members.has(m)) out.members.add(m);
    for (const [pe, c] of this.children) {
      const oc = other.children.get(pe);
      const d = oc ? c.difference(oc) : c.clone();
      if (!d.empty()) out.children.set(pe, d);
    }
    return out;
  }

  intersection(other: FieldSet): FieldSet {
    const out = new FieldSet();
    for (const m of this.members) if (other.members.has(m)) out.members.add(m);
    for (const [pe, c] of this.children) {
      const oc = other.children.get(pe);
      if (!oc) continue;
      const i = c.intersection(oc);
      if (!i.empty()) out.children.set(pe, i);
    }
    return out;
  }

  clone(): FieldSet {
    const out = new FieldSet();
    for (const m of this.members) out.members.add(m);
    for (const [pe, c] of this.children) out.children.set(pe, c.clone());
    return out;
  }

  /** every member path, in fieldsV1 order */
  paths(): Path[] {
    const out: Path[] = [];
    const walk = (s: FieldSet, prefix: PathElement[]) => {
      for (const pe of sortedElements(s)) {
        if (s.members.has(pe)) out.push([...prefix, pe]);
        const c = s.children.get(pe);
        if (c) walk(c, [...prefix, pe]);
      }
    };
    walk(this, []);
    return out;
  }

  equals(other: FieldSet): boolean {
    return JSON.stringify(this.toFieldsV1()) === JSON.stringify(other.toFieldsV1());
  }

  /** the `fieldsV1` JSON of managedFields */
  toFieldsV1(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const pe of sortedElements(this)) {
      const c = this.children.get(pe);
      const inner: Record<string, unknown> = c && !c.empty() ? c.toFieldsV1() : {};
      out[pe] = this.members.has(pe) && c && !c.empty() ? { '.': {}, ...inner } : inner;
    }
    return out;
  }

  /** parse `fieldsV1`; throws on a key that is not a path element */
  static fromFieldsV1(json: unknown): FieldSet {
    const out = new FieldSet();
    if (json === null || json === undefined) return out;
    if (typeof json !== 'object' || Array.isArray(json)) throw new Error('fieldsV1 must be an object');
    for (const [pe, inner] of Object.entries(json as Record<string, unknown>)) {
      if (pe === '.') continue;
      if (!/^[fkvi]:/.test(pe)) throw new Error(`unknown path element type in ${JSON.stringify(pe)}`);
      if (inner === null || typeof inner !== 'object' || Array.isArray(inner)) throw new Error(`fieldsV1 value at ${pe} must be an object`);
      const keys = Object.keys(inner);
      const rest = keys.filter((k) => k !== '.');
      if (keys.length === 0 || keys.includes('.')) out.members.add(pe);
      if (rest.length > 0) {
        const c = FieldSet.fromFieldsV1(inner);
        if (!c.empty()) out.children.set(pe, c);
      }
    }
    return out;
  }
}

const RANK: Record<string, number> = { f: 0, k: 1, v: 2, i: 3 };

/** structured-merge-diff's PathElement order: fields, then keys, then values, then indexes */
export function comparePathElements(a: PathElement, b: PathElement): number {
  const ra = RANK[a[0]] ?? 9;
  const rb = RANK[b[0]] ?? 9;
  if (ra !== rb) return ra - rb;
  const sa = a.slice(2);
  const sb = b.slice(2);
  if (a[0] === 'i') return Number(sa) - Number(sb);
  if (a[0] === 'v') {
    const na = Number(sa);
    const nb = Number(sb);
    if (sa !== '' && sb !== '' && !Number.isNaN(na) && !Number.isNaN(nb)) return na - nb;
  }
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}

function sortedElements(s: FieldSet): PathElement[] {
  const all = new Set<PathElement>([...s.members, ...s.children.keys()]);
  return [...all].sort(comparePathElements);
}

export function fieldElement(name: string): PathElement {
  return `f:${name}`;
}

/** `k:` element of an associative-list item; key fields sorted by name, as fieldpath does */
export function keyElement(keys: Record<string, unknown>): PathElement {
  const sorted: Record<string, unknown> = {};
  for (const k of Object.keys(keys).sort()) sorted[k] = keys[k];
  return `k:${JSON.stringify(sorted)}`;
}

export function valueElement(v: unknown): PathElement {
  return `v:${JSON.stringify(v)}`;
}

export function indexElement(i: number): PathElement {
  return `i:${i}`;
}

/**
 * A path as fieldpath.Path.String() prints it in conflict messages:
 *   .spec.containers[name="nginx"].image   .metadata.finalizers[="a"]   .spec.args[0]
 */
export function pathString(path: Path): string {
  return path
    .map((pe) => {
      const body = pe.slice(2);
      switch (pe[0]) {
        case 'f':
          return `.${body}`;
        case 'k': {
          const keys = JSON.parse(body) as Record<string, unknown>;
          return `[${Object.entries(keys)
            .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
            .join(',')}]`;
        }
        case 'v':
          return `[=${body}]`;
        case 'i':
          return `[${body}]`;
        default:
          return '{{invalid path element}}';
      }
    })
    .join('');
}
