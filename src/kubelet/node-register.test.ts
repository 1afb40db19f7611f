import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { conflict } from '../api/errors.js';
import type { Client, Obj } from '../client/types.js';
import { registerNode } from './node.js';

/** a Node store where the first `conflicts` updates lose to another writer, as on a busy node */
function nodesWith(existing: Obj, conflicts: number): { client: Client; updates: () => number } {
  let stored = existing;
  let updates = 0;
  let left = conflicts;
  const nodes = {
    tryGet: async () => structuredClone(stored),
    get: async () => structuredClone(stored),
    create: async () => assert.fail('the Node exists'),
    update: async (o: Obj) => {
      updates++;
      if (left-- > 0) throw conflict('nodes', o.metadata.name, 'the object has been modified; please apply your changes to the latest version and try again');
      stored = structuredClone(o);
      return structuredClone(stored);
    },
  };
  return { client: { resource: () => nodes } as unknown as Client, updates: () => updates };
}

describe('registerNode', () => {
  const node = { metadata: { name: 'n1', resourceVersion: '5' }, spec: {}, status: { conditions: [] } };
  const id = { name: 'n1', addresses: ['10.0.0.2'] };

  it('retries an update another writer won (Conflict), as the kubelet does', async () => {
    const n = nodesWith(node, 2);
    const got = await registerNode(n.client, id);
    assert.equal(got.metadata.name, 'n1');
    assert.ok((got.status.conditions as Obj[]).some((c) => c.type === 'Ready' && c.status === 'True'));
    assert.equal(n.updates(), 4, 'two lost updates, then the labels and the status');
  });

  it('gives up after 5 conflicts with the Conflict itself', async () => {
    const n = nodesWith(node, 100);
    await assert.rejects(registerNode(n.client, id), (e: Error & { reason?: string }) => e.reason === 'Conflict');
    assert.equal(n.updates(), 5);
  });
});
