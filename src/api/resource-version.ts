/**
 * resourceVersion parameters are unsigned integers (APIObjectVersioner.ParseResourceVersion),
 * worded as strconv words a bad one:
 *   invalid resource version: resourceVersion: Invalid value: "abc": strconv.ParseUint: parsing "abc": invalid syntax
 * Here at the bottom because the registry (lists, watches, updates) and the HTTP edge both parse them.
 */
import { badRequest } from './errors.js';

const UINT64_MAX = 2n ** 64n - 1n;

/** APIObjectVersioner.ParseResourceVersion: "" and "0" are 0; else an unsigned decimal */
export function parseResourceVersion(rv: string | undefined, field = 'resourceVersion'): number | undefined {
  if (rv === undefined || rv === '') return undefined;
  let why: string | undefined;
  if (!/^[0-9]+$/.test(rv)) why = 'invalid syntax';
  else if (BigInt(rv) > UINT64_MAX) why = 'value out of range';
  if (why) {
    throw badRequest(`invalid resource version: ${field}: Invalid value: ${JSON.stringify(rv)}: strconv.ParseUint: parsing ${JSON.stringify(rv)}: ${why}`, [
      { reason: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(rv)}: strconv.ParseUint: parsing ${JSON.stringify(rv)}: ${why}`, field },
    ]);
  }
  return Number(rv);
}
