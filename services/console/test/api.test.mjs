// The API client: every failure is one ApiError with the API's code,
// message and field, and a form gets each message next to its field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError, createClient, errorFromResponse, fieldErrors, path } from '../src/lib/api.js';

test('an API error body keeps its code, message, field and extra keys', () => {
  const e = errorFromResponse(409, JSON.stringify({ error: { code: 'registry_in_use',
    message: 'used by 1 component(s)', field: '', components: ['c1'] } }));
  assert.ok(e instanceof ApiError);
  assert.equal(e.status, 409);
  assert.equal(e.code, 'registry_in_use');
  assert.equal(e.message, 'used by 1 component(s)');
  assert.equal(e.field, '');
  assert.deepEqual(e.extra.components, ['c1']);
});

test('an answer without an error body gets a message from its status', () => {
  const e = errorFromResponse(502, '<html>Bad Gateway</html>');
  assert.equal(e.code, 'http_502');
  assert.match(e.message, /not reachable/);
  assert.equal(errorFromResponse(401, '').code, 'unauthorized');
  const r = errorFromResponse(429, '', '3');
  assert.equal(r.extra.retryAfter, 3);
  assert.match(r.message, /retry after 3 s/);
});

test('fieldErrors puts a message next to the field it names, or on the form', () => {
  const e = new ApiError(422, 'invalid_host', 'host must be hostname[:port]', 'host');
  assert.deepEqual(fieldErrors(e, ['name', 'host']), { host: 'host must be hostname[:port]' });
  assert.deepEqual(fieldErrors(e, ['name']), { _form: 'host: host must be hostname[:port]' });
  const nested = new ApiError(422, 'invalid_health', 'bad port', 'health.port');
  assert.deepEqual(fieldErrors(nested, ['health']), { health: 'bad port' });
  assert.deepEqual(fieldErrors(new ApiError(500, 'internal', 'internal error'), ['x']), { _form: 'internal error' });
  assert.deepEqual(fieldErrors(null, ['x']), {});
});

test('path escapes every segment', () => {
  assert.equal(path`/v1/orgs/${'a/b'}/registries/${'x?y'}`, '/v1/orgs/a%2Fb/registries/x%3Fy');
});

function fakeFetch(status, body, headers = {}) {
  const calls = [];
  const fn = async (url, init) => {
    calls.push({ url, init });
    return { status, text: async () => body, headers: { get: (h) => headers[h] ?? null } };
  };
  return { fn, calls };
}

test('the client sends the key as a bearer token and JSON bodies', async () => {
  const f = fakeFetch(201, '{"id":"r1"}');
  const api = createClient({ key: 'slk_abc', fetchFn: f.fn });
  const r = await api.post('/v1/orgs/acme/registries', { name: 'x' });
  assert.deepEqual(r, { id: 'r1' });
  assert.equal(f.calls[0].init.method, 'POST');
  assert.equal(f.calls[0].init.headers.Authorization, 'Bearer slk_abc');
  assert.equal(f.calls[0].init.headers['Content-Type'], 'application/json');
  assert.equal(f.calls[0].init.body, '{"name":"x"}');
  assert.equal(f.calls[0].url, '/v1/orgs/acme/registries');
});

test('a 204 is null; a 401 throws and tells the app', async () => {
  assert.equal(await createClient({ key: 'k', fetchFn: fakeFetch(204, '').fn }).del('/x'), null);
  let told = null;
  const api = createClient({ key: 'k', fetchFn: fakeFetch(401,
    '{"error":{"code":"unauthorized","message":"a valid operator key or org key is required"}}').fn,
  onUnauthorized: (e) => { told = e; } });
  await assert.rejects(api.get('/v1/orgs/acme/registries'), (e) => e.status === 401 && e.code === 'unauthorized');
  assert.equal(told.code, 'unauthorized');
});

test('a network failure is an ApiError too', async () => {
  const api = createClient({ key: 'k', fetchFn: async () => { throw new TypeError('Failed to fetch'); } });
  await assert.rejects(api.get('/x'), (e) => e instanceof ApiError && e.code === 'network' && e.status === 0);
});
