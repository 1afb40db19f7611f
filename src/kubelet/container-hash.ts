/**
 * The kubelet's container hash (pkg/kubelet/container HashContainer): FNV-32a over the fields
 * of a container that can change on a running pod and require a restart when they do: its name
 * and image (the only mutable one; resources resize in place elsewhere). Each run carries the
 * hash of the spec it was made from in a label; a running container whose label differs from
 * the current spec's hash is killed ("Container X definition changed, will be restarted") and
 * a new run started from the new spec, as the kubelet's computePodActions does.
 */
type Obj = Record<string, any>;

export const LABEL_CONTAINER_HASH = 'io.kubernetes.container.hash';

/** FNV-1a, 32 bits */
export function fnv32a(s: string): number {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(s, 'utf8')) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** hex hash of the container's restart-relevant fields (json keys sorted, as Go marshals a map) */
export function containerHash(spec: Obj): string {
  return fnv32a(JSON.stringify({ image: spec.image, name: spec.name })).toString(16);
}

/**
 * Whether a run was made from a different definition than `spec` now says. A run from before
 * podbay labelled runs compares by image.
 */
export function definitionChanged(spec: Obj, run: { config: { image: string; labels: Record<string, string> } }): boolean {
  const h = run.config.labels[LABEL_CONTAINER_HASH];
  return h === undefined ? run.config.image !== spec.image : h !== containerHash(spec);
}

/** The Killing event's message for a changed definition (kubelet's computePodActions). */
export function definitionChangedMessage(name: string): string {
  return `Container ${name} definition changed, will be restarted`;
}
