/**
 * Times as Kubernetes writes them (metav1.Time): RFC 3339 in UTC, whole seconds.
 */
export function rfc3339(ms: number = Date.now()): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
