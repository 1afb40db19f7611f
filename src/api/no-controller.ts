/**
 * Kinds podbay stores and serves but whose controller does not run yet (issue 15 builds them).
 * Creating one answers with a Warning header, so nobody takes a stored Deployment for a running
 * one. When a controller lands, its kind leaves this table, and that is all.
 */
import type { ResourceInfo } from './registry.js';

const WITHOUT_CONTROLLER: Record<string, string> = {
};

/** the Warning a create of this kind answers with, or undefined when a controller runs it */
export function noControllerWarning(r: ResourceInfo): string | undefined {
  const text = WITHOUT_CONTROLLER[r.kind];
  return text ? `podbay: ${text}` : undefined;
}

/** the kinds stored without a controller, for documentation and tests */
export const KINDS_WITHOUT_CONTROLLER: readonly string[] = Object.keys(WITHOUT_CONTROLLER);
