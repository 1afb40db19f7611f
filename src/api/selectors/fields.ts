/**
 * Kubernetes field selectors (`metadata.name=x,status.phase!=Running`, also `==`), parsed like
 * k8s.io/apimachinery/pkg/fields (backslash escapes `\,` `\=` `\\` in values) and checked
 * against the per-kind field label sets kube-apiserver registers (pkg/apis/core/v1
 * conversion.go), with the matching values taken as the registries' GetAttrs compute them.
 *
 * Errors are 400 BadRequest with upstream's wording: `field label not supported: foo` for kinds
 * with their own field label set, `"foo" is not a known field selector: only "metadata.name",
 * "metadata.namespace"` for the others, and the parser's own messages.
 */
import { badRequest } from '../errors.js';

export interface FieldRequirement {
  field: string;
  operator: '=' | '!=';
  value: string;
}

export interface FieldSelector {
  readonly requirements: readonly FieldRequirement[];
  /** whether the object's fields satisfy every requirement */
  matches(obj: unknown): boolean;
  /** fields pinned by `=`/`==` terms (e.g. `metadata.name` for a single-object list/watch) */
  readonly exact: Record<string, string>;
  /** true when the selector selects everything */
  empty(): boolean;
  toString(): string;
}

type Getter = (obj: any) => unknown;

interface KindFields {
  /** field label -> value getter */
  fields: Record<string, Getter>;
  /** label aliases, e.g. spec.host -> spec.nodeName for pods */
  aliases?: Record<string, string>;
  /** whether the kind registered its own conversion (decides the error wording) */
  custom: boolean;
}

const str = (v: unknown): string => (v === undefined || v === null ? '' : String(v));
const name: Getter = (o) => o?.metadata?.name;
const namespace: Getter = (o) => o?.metadata?.namespace;

const POD: KindFields = {
  custom: true,
  fields: {
    'metadata.name': name,
    'metadata.namespace': namespace,
    'spec.nodeName': (o) => o?.spec?.nodeName,
    'spec.restartPolicy': (o) => o?.spec?.restartPolicy,
    'spec.schedulerName': (o) => o?.spec?.schedulerName,
    'spec.serviceAccountName': (o) => o?.spec?.serviceAccountName,
    'spec.hostNetwork': (o) => (o?.spec?.hostNetwork === true ? 'true' : 'false'),
    'status.phase': (o) => o?.status?.phase,
    'status.podIP': (o) => {
      const ips = o?.status?.podIPs;
      if (Array.isArray(ips) && ips.length > 0) return ips[0]?.ip;
      return o?.status?.podIP;
    },
    // accepted as a label but not among the pod's selectable fields upstream: always ""
    'status.podIPs': () => '',
    'status.nominatedNodeName': (o) => o?.status?.nominatedNodeName,
  },
  aliases: { 'spec.host': 'spec.nodeName' },
};

const EVENT: KindFields = {
  custom: true,
  fields: {
    'involvedObject.kind': (o) => o?.involvedObject?.kind,
    'involvedObject.namespace': (o) => o?.involvedObject?.namespace,
    'involvedObject.name': (o) => o?.involvedObject?.name,
    'involvedObject.uid': (o) => o?.involvedObject?.uid,
    'involvedObject.apiVersion': (o) => o?.involvedObject?.apiVersion,
    'involvedObject.resourceVersion': (o) => o?.involvedObject?.resourceVersion,
    'involvedObject.fieldPath': (o) => o?.involvedObject?.fieldPath,
    reason: (o) => o?.reason,
    reportingComponent: (o) => o?.reportingComponent,
    source: (o) => o?.source?.component || o?.reportingComponent,
    type: (o) => o?.type,
    'metadata.namespace': namespace,
    'metadata.name': name,
  },
};

const KINDS: Record<string, KindFields> = {
  Pod: POD,
  Event: EVENT,
  Namespace: { custom: true, fields: { 'status.phase': (o) => o?.status?.phase, 'metadata.name': name } },
  Secret: { custom: true, fields: { type: (o) => o?.type, 'metadata.namespace': namespace, 'metadata.name': name } },
  Service: {
    custom: true,
    fields: {
      'metadata.namespace': namespace,
      'metadata.name': name,
      'spec.clusterIP': (o) => o?.spec?.clusterIP,
      'spec.type': (o) => o?.spec?.type,
    },
  },
  Node: {
    custom: true,
    fields: { 'metadata.name': name, 'spec.unschedulable': (o) => (o?.spec?.unschedulable === true ? 'true' : 'false') },
  },
  ReplicationController: {
    custom: true,
    fields: { 'metadata.name': name, 'metadata.namespace': namespace, 'status.replicas': (o) => o?.status?.replicas ?? 0 },
  },
};

const DEFAULT_KIND: KindFields = { custom: false, fields: { 'metadata.name': name, 'metadata.namespace': namespace } };

/** Resource names and lower-case kinds accepted for `kind`. */
const KIND_ALIASES: Record<string, string> = {
  pods: 'Pod',
  pod: 'Pod',
  events: 'Event',
  event: 'Event',
  namespaces: 'Namespace',
  namespace: 'Namespace',
  secrets: 'Secret',
  secret: 'Secret',
  services: 'Service',
  service: 'Service',
  nodes: 'Node',
  node: 'Node',
  replicationcontrollers: 'ReplicationController',
  replicationcontroller: 'ReplicationController',
};

function kindFields(kind: string): KindFields {
  const k = Object.prototype.hasOwnProperty.call(KINDS, kind) ? kind : KIND_ALIASES[kind.toLowerCase()];
  return (k && KINDS[k]) || DEFAULT_KIND;
}

/** The field labels a kind supports (for documentation / errors). */
export function supportedFieldLabels(kind: string): string[] {
  return Object.keys(kindFields(kind).fields);
}

// ---------------------------------------------------------------------------------------------
// Parsing (fields.ParseSelector)

/** splitTerms: split on unescaped commas (escapes are kept). */
function splitTerms(s: string): string[] {
  if (s.length === 0) return [];
  const terms: string[] = [];
  let start = 0;
  let inSlash = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (inSlash) inSlash = false;
    else if (c === '\\') inSlash = true;
    else if (c === ',') {
      terms.push(s.slice(start, i));
      start = i + 1;
    }
  }
  terms.push(s.slice(start));
  return terms;
}

const TERM_OPERATORS = ['!=', '==', '='] as const;

function splitTerm(term: string): [string, string, string] | undefined {
  for (let i = 0; i < term.length; i++) {
    for (const op of TERM_OPERATORS) {
      if (term.startsWith(op, i)) return [term.slice(0, i), op, term.slice(i + op.length)];
    }
  }
  return undefined;
}

/** fields.UnescapeValue */
export function unescapeFieldValue(s: string): string {
  if (!/[\\,=]/.test(s)) return s;
  let out = '';
  let inSlash = false;
  for (const c of s) {
    if (inSlash) {
      if (c === '\\' || c === ',' || c === '=') out += c;
      else throw badRequest(`invalid field selector: invalid escape sequence: \\${c}`);
      inSlash = false;
      continue;
    }
    if (c === '\\') inSlash = true;
    else if (c === ',' || c === '=') throw badRequest(`invalid field selector: unescaped character in value: ${c.codePointAt(0)}`);
    else out += c;
  }
  if (inSlash) throw badRequest('invalid field selector: invalid escape sequence: \\');
  return out;
}

/** fields.EscapeValue */
export function escapeFieldValue(s: string): string {
  return s.replace(/[\\,=]/g, (c) => `\\${c}`);
}

/** Parse a field selector without checking the field labels (fields.ParseSelector). */
export function parseFieldSelector(text: string): FieldRequirement[] {
  const parts = splitTerms(text).sort();
  const reqs: FieldRequirement[] = [];
  for (const part of parts) {
    if (part === '') continue;
    const split = splitTerm(part);
    if (!split) throw badRequest(`invalid selector: '${text}'; can't understand '${part}'`);
    const [lhs, op, rhs] = split;
    reqs.push({ field: lhs, operator: op === '!=' ? '!=' : '=', value: unescapeFieldValue(rhs) });
  }
  return reqs;
}

function convertLabel(kf: KindFields, label: string): string {
  const aliased = kf.aliases && Object.prototype.hasOwnProperty.call(kf.aliases, label) ? kf.aliases[label] : label;
  if (Object.prototype.hasOwnProperty.call(kf.fields, aliased)) return aliased;
  if (kf.custom) throw badRequest(`field label not supported: ${label}`);
  throw badRequest(`"${label}" is not a known field selector: only "metadata.name", "metadata.namespace"`);
}

/**
 * Parse `text` (the `fieldSelector` query parameter) for objects of `kind` ("Pod", or the
 * resource name "pods"). An empty string selects everything. Throws 400 BadRequest for
 * malformed selectors and unsupported field labels.
 */
export function fieldSelector(kind: string, text: string): FieldSelector {
  const kf = kindFields(kind);
  const reqs = parseFieldSelector(text).map((r) => ({ ...r, field: convertLabel(kf, r.field) }));
  const exact: Record<string, string> = {};
  for (const r of reqs) if (r.operator === '=' && !Object.prototype.hasOwnProperty.call(exact, r.field)) exact[r.field] = r.value;
  return {
    requirements: reqs,
    exact,
    matches(obj: unknown): boolean {
      return reqs.every((r) => {
        const v = str(kf.fields[r.field](obj));
        return r.operator === '=' ? v === r.value : v !== r.value;
      });
    },
    empty: () => reqs.length === 0,
    toString: () => reqs.map((r) => `${r.field}${r.operator}${escapeFieldValue(r.value)}`).join(','),
  };
}
