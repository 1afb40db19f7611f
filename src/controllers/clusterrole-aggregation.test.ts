/** The clusterrole-aggregation controller fills view, edit and admin from the bootstrap policy. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resourceInfo } from '../api/registry.js';
import { LocalClient } from '../client/local.js';
import { memoryRegistry, until } from '../registry/registry.test-util.js';
import { ClusterRoleAggregationController } from './clusterrole-aggregation.js';

const CR = resourceInfo('clusterroles', 'rbac.authorization.k8s.io')!;

describe('clusterrole aggregation', () => {
  it('view flows into edit into admin, and a new labelled role joins', async () => {
    const reg = await memoryRegistry();
    await reg.bootstrapPolicy();
    const ctl = new ClusterRoleAggregationController(new LocalClient(reg));
    await ctl.start();
    try {
      const has = async (role: string, res: string, verb: string) => ((await reg.get(CR, undefined, role)).rules ?? []).some((r: any) => r.resources?.includes(res) && r.verbs.includes(verb));
      await until('view can list pods', () => has('view', 'pods', 'list'));
      await until('edit can list pods and delete them', async () => (await has('edit', 'pods', 'list')) && (await has('edit', 'pods', 'delete')));
      await until('admin has it all', async () => (await has('admin', 'pods', 'list')) && (await has('admin', 'roles', 'create')));
      assert.equal(await has('view', 'secrets', 'get'), false, 'view does not read secrets');
      await reg.create(CR, undefined, { metadata: { name: 'widgets-view', labels: { 'rbac.authorization.k8s.io/aggregate-to-view': 'true' } }, rules: [{ verbs: ['get'], apiGroups: ['example.com'], resources: ['widgets'] }] });
      await until('the widgets rule reaches admin', () => has('admin', 'widgets', 'get'));
    } finally {
      await ctl.stop();
    }
  });
});
