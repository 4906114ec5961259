// Form checks: the bodies are the API's, the error fields are the API's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { componentCreateBody, componentPatchBody, deployBody, dockerConfigProblem, hostValid,
  parseVars, formatVars, registryCreateBody, registryRotateBody, signInInput } from '../src/lib/validate.js';
import { currentReleases, endpointsToYaml, nextEnvironment, promotable } from '../src/lib/format.js';
import { href, parseRoute } from '../src/lib/route.js';

test('sign-in needs an org slug and an slk_ key', () => {
  assert.deepEqual(signInInput({ org: ' acme ', key: 'slk_abcdefghijk ' }), { org: 'acme', key: 'slk_abcdefghijk' });
  const e = signInInput({ org: 'Acme!', key: 'slp_x' }).errors;
  assert.ok(e.org && e.key);
  assert.ok(signInInput({ org: 'acme', key: '' }).errors.key);
});

test('registry bodies for every auth type', () => {
  assert.deepEqual(registryCreateBody({ name: 'hub', host: 'registry.hub.docker.com', auth_type: 'anonymous' }).body,
    { name: 'hub', host: 'registry.hub.docker.com', auth_type: 'anonymous' });
  assert.deepEqual(registryCreateBody({ name: 'l', host: '127.0.0.1:5000', auth_type: 'basic', username: 'u', password: 'p' }).body,
    { name: 'l', host: '127.0.0.1:5000', auth_type: 'basic', username: 'u', password: 'p' });
  const dc = JSON.stringify({ auths: { 'ghcr.io': { auth: 'dTpw' } } });
  assert.equal(registryCreateBody({ name: 'g', host: 'ghcr.io', auth_type: 'docker-config', docker_config: dc }).body.docker_config, dc);
  assert.deepEqual(registryCreateBody({ name: 'a', host: 'x.azurecr.io', auth_type: 'vendor', vendor: 'acr' }).body,
    { name: 'a', host: 'x.azurecr.io', auth_type: 'vendor', vendor: 'acr' });
});

test('registry errors name the API fields', () => {
  assert.deepEqual(Object.keys(registryCreateBody({ auth_type: 'basic' }).errors).sort(), ['host', 'name', 'password', 'username']);
  assert.ok(registryCreateBody({ name: 'x', host: 'https://ghcr.io' }).errors.host);
  assert.ok(registryCreateBody({ name: 'x', host: 'ghcr.io', auth_type: 'vendor', vendor: 'quay' }).errors.vendor);
  assert.ok(registryCreateBody({ name: 'x', host: 'ghcr.io', auth_type: 'basic', username: 'a:b', password: 'p' }).errors.username);
  assert.ok(registryRotateBody({ auth_type: 'docker-config', docker_config: '{' }).errors.docker_config);
  assert.deepEqual(registryRotateBody({ auth_type: 'basic', username: 'u', password: 'n' }).body,
    { auth_type: 'basic', username: 'u', password: 'n' });
});

test('docker config: one inline entry, no helpers', () => {
  assert.equal(dockerConfigProblem('{"auths":{"a":{}}}'), '');
  assert.match(dockerConfigProblem('{"auths":{"a":{},"b":{}}}'), /exactly one/);
  assert.match(dockerConfigProblem('{"auths":{"a":{}},"credsStore":"desktop"}'), /credsStore/);
  assert.match(dockerConfigProblem('nope'), /JSON/);
});

test('hosts', () => {
  for (const ok of ['ghcr.io', '127.0.0.1:5000', 'localhost', '[::1]:5000']) assert.ok(hostValid(ok), ok);
  for (const bad of ['', 'http://x', 'x/y', 'x:0', '-x.io']) assert.ok(!hostValid(bad), bad);
});

test('component bodies per type', () => {
  const base = { name: 'api', registry_id: 'r', image: 'ghcr.io/a/api:1' };
  assert.deepEqual(componentCreateBody({ ...base, type: 'service', endpoints: 'version: 0.1\n' }).body,
    { ...base, type: 'service', endpoints: 'version: 0.1\n' });
  assert.equal(componentCreateBody({ ...base, type: 'web-app', port: '3000' }).body.port, 3000);
  assert.ok(componentCreateBody({ ...base, type: 'web-app', port: '70000' }).errors.port);
  const st = componentCreateBody({ ...base, type: 'scheduled-task', schedule: '30 2 * * *', timezone: 'Europe/Berlin' }).body;
  assert.equal(st.schedule, '30 2 * * *');
  assert.equal(st.timezone, 'Europe/Berlin');
  assert.equal(componentCreateBody({ ...base, type: 'scheduled-task', schedule: '@daily', timezone: 'UTC' }).body.schedule, '@daily');
  const bad = componentCreateBody({ ...base, type: 'scheduled-task', schedule: '* *', timezone: '' }).errors;
  assert.ok(bad.schedule && bad.timezone);
  assert.ok(componentCreateBody({ ...base, name: 'API' }).errors.name);
  assert.equal(componentCreateBody({ ...base, type: 'manual-task', endpoints: 'x' }).body.endpoints, undefined);
});

test('a component patch carries only what changed', () => {
  const cur = { type: 'scheduled-task', description: 'd', image: 'i:1', schedule: '@daily', timezone: 'UTC' };
  assert.deepEqual(componentPatchBody({ ...cur, schedule: '*/5 * * * *' }, cur).body, { schedule: '*/5 * * * *' });
  assert.equal(componentPatchBody({ ...cur }, cur).errors._form, 'nothing changed');
});

test('deploy bodies: tag, image or previous', () => {
  assert.deepEqual(deployBody({ environment: 'development', mode: 'tag', tag: 'v2' }).body, { environment: 'development', tag: 'v2' });
  assert.deepEqual(deployBody({ environment: 'production', mode: 'image', image: 'h/a:b' }).body, { environment: 'production', image: 'h/a:b' });
  assert.deepEqual(deployBody({ environment: 'development', mode: 'previous', from_deployment: 'd1' }).body,
    { environment: 'development', from_deployment: 'd1' });
  assert.ok(deployBody({ environment: 'development', mode: 'tag', tag: 'bad tag' }).errors.tag);
  assert.ok(deployBody({ environment: '', mode: 'previous' }).errors.environment);
});

test('NAME=value lines', () => {
  assert.deepEqual(parseVars('# c\nA=1\n\nB=x=y\n').vars, { A: '1', B: 'x=y' });
  assert.match(parseVars('A=1\nA=2').errors.vars, /twice/);
  assert.match(parseVars('1A=2').errors.vars, /line 1/);
  assert.equal(formatVars({ B: '2', A: '1' }), 'A=1\nB=2');
});

test('the release per environment and promotion', () => {
  const h = [
    { id: '3', environment: 'development', status: 'starting' },
    { id: '2', environment: 'development', status: 'running', digest: 'sha256:a' },
    { id: '1', environment: 'development', status: 'superseded', digest: 'sha256:b' },
  ];
  const r = currentReleases(h, ['development', 'production']);
  assert.equal(r.development.id, '2');
  assert.equal(r.production, null);
  assert.equal(nextEnvironment('development', ['development', 'production']), 'production');
  assert.equal(nextEnvironment('production', ['development', 'production']), null);
  assert.ok(promotable(h[1]) && promotable(h[2]) && !promotable(h[0]));
});

test('endpoints back to YAML', () => {
  const y = endpointsToYaml([{ name: 'Greeting Service', port: 9090, type: 'REST', visibility: 'Public',
    context: '/greeting', schema_file_path: 'openapi.yaml' }]);
  assert.match(y, /- name: Greeting Service\n {4}port: 9090\n {4}type: REST\n {4}networkVisibility: Public\n {4}context: \/greeting\n {4}schemaFilePath: openapi.yaml/);
  assert.match(endpointsToYaml([]), /endpoints: \[\]/);
});

test('routes', () => {
  const id = '0b7c2c1e-1111-4a4a-8888-123456789abc';
  assert.deepEqual(parseRoute(`#/components/${id}/tokens`), { page: 'tokens', id, query: {} });
  assert.deepEqual(parseRoute('#/components?project=shop'), { page: 'components', id: null, query: { project: 'shop' } });
  assert.equal(parseRoute('#/nonsense').page, 'registries');
  assert.equal(href('config', id), `#/components/${id}/config`);
  assert.equal(href('components', null, { project: 'p' }), '#/components?project=p');
});

test('the timeline remembers each state it saw', async () => {
  const { trackStates } = await import('../src/lib/format.js');
  let s = trackStates({}, [{ id: 'a', status: 'pending' }]);
  s = trackStates(s, [{ id: 'a', status: 'pending' }]);
  s = trackStates(s, [{ id: 'a', status: 'pulling' }, { id: 'b', status: 'pending' }]);
  s = trackStates(s, [{ id: 'a', status: 'running' }]);
  assert.deepEqual(s, { a: ['pending', 'pulling', 'running'], b: ['pending'] });
});
