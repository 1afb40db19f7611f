import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { ApiError, badRequest, conflict, invalid, notFound, pathNotFound, statusBody } from './errors.js';

describe('Status bodies, byte for byte as kube-apiserver writes them', () => {
  it('a 404 of a missing object names it and its resource, fields in metav1.Status order, newline-terminated', () => {
    assert.equal(
      statusBody(notFound('pods', 'web')),
      '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"pods \\"web\\" not found","reason":"NotFound","details":{"name":"web","kind":"pods"},"code":404}\n',
    );
  });

  it('a non-core resource carries its group between name and kind', () => {
    assert.equal(
      statusBody(notFound('deployments', 'web', 'apps')),
      '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"deployments.apps \\"web\\" not found","reason":"NotFound","details":{"name":"web","group":"apps","kind":"deployments"},"code":404}\n',
    );
  });

  it('a path nothing serves has empty details (present, so clients can read details.name)', () => {
    assert.deepEqual(JSON.parse(statusBody(pathNotFound('the server could not find the requested resource'))).details, {});
  });

  it('errors without details omit the field', () => {
    assert.equal(
      statusBody(badRequest('bad')),
      '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"bad","reason":"BadRequest","code":400}\n',
    );
  });

  it('details are ordered name, group, kind, uid, causes, retryAfterSeconds whatever order they were built in', () => {
    const e = new ApiError(422, 'Invalid', 'x', { causes: [{ field: 'f', message: 'm', reason: 'FieldValueInvalid' }], kind: 'Pod', name: 'p' });
    assert.equal(JSON.stringify(e.toStatus().details), '{"name":"p","kind":"Pod","causes":[{"reason":"FieldValueInvalid","message":"m","field":"f"}]}');
    assert.deepEqual(Object.keys(invalid('Pod', 'p', [{ type: 'FieldValueRequired', field: 'spec', detail: '' }]).toStatus()), ['kind', 'apiVersion', 'metadata', 'status', 'message', 'reason', 'details', 'code']);
    assert.deepEqual(Object.keys(conflict('pods', 'p', 'why').toStatus().details!), ['name', 'kind']);
  });
});
