/**
 * Services: a cluster IP and node ports allocated on create (and on a type change), kept when an
 * update leaves them out, released when the Service is gone (src/registry/service-allocators.ts).
 */
import { keepAllocatedValues } from '../service-allocators.js';
import type { Strategy } from './types.js';

export const serviceStrategy: Strategy = {
  prepareForUpdate(obj, old, part) {
    if (part === 'main') keepAllocatedValues(obj, old);
  },
  async allocate(obj, ctx) {
    return (await ctx.serviceAllocators()).allocate(obj, undefined);
  },
  async reallocate(obj, old, ctx) {
    return (await ctx.serviceAllocators()).allocate(obj, old);
  },
  async release(obj, ctx) {
    (await ctx.serviceAllocators()).release(obj);
  },
};
