/*
 * format.js: how the console shows API values: deployment states, digests,
 * times, and a service's endpoints as the endpoints.yaml text they came from.
 */

/* States a deployment may still leave by itself (the timeline keeps polling). */
export const ACTIVE_STATES = ['pending', 'resolving', 'pulling', 'starting', 'crashed'];
export const LIVE_STATES = ['running', 'crashed', 'ready'];
export const EXEC_ACTIVE = ['pending', 'running'];

export function shortDigest(d) {
  if (!d) return '';
  const [alg, hex] = String(d).split(':');
  return hex ? `${alg}:${hex.slice(0, 12)}` : String(d).slice(0, 19);
}

export function when(ts) {
  if (!ts) return '';
  const d = new Date(ts);
  return Number.isNaN(d.getTime()) ? String(ts) : d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

/*
 * Per environment, the release that serves it now: the newest deployment in
 * a live state (deployments come newest first), else null.
 */
export function currentReleases(deployments, environments) {
  const out = {};
  for (const env of environments) out[env] = null;
  for (const d of deployments || []) {
    if (!(d.environment in out) || out[d.environment]) continue;
    if (LIVE_STATES.includes(d.status)) out[d.environment] = d;
  }
  return out;
}

/* The environment after env in the org's order: where a promotion goes. */
export function nextEnvironment(env, environments) {
  const i = environments.indexOf(env);
  return i >= 0 && i + 1 < environments.length ? environments[i + 1] : null;
}

/* A deployment that may be promoted (deploy-svc's deploy_http_promotable). */
export function promotable(d) {
  return !!d.digest && ['running', 'crashed', 'ready', 'superseded'].includes(d.status);
}

function yamlScalar(v) {
  const s = String(v);
  return /^[A-Za-z0-9_./-][A-Za-z0-9_ ./-]*$/.test(s) && !/^(true|false|null|yes|no|~)$/i.test(s) &&
    !/^[0-9.]+$/.test(s) ? s : JSON.stringify(s);
}

/* The stored endpoints (API objects) as endpoints.yaml text to edit. */
export function endpointsToYaml(endpoints) {
  const lines = ['version: 0.1', 'endpoints:'];
  for (const e of endpoints || []) {
    lines.push(`  - name: ${yamlScalar(e.name)}`);
    lines.push(`    port: ${Number(e.port)}`);
    if (e.type) lines.push(`    type: ${yamlScalar(e.type)}`);
    if (e.visibility) lines.push(`    networkVisibility: ${yamlScalar(e.visibility)}`);
    if (e.context) lines.push(`    context: ${yamlScalar(e.context)}`);
    if (e.schema_file_path) lines.push(`    schemaFilePath: ${yamlScalar(e.schema_file_path)}`);
  }
  if (!(endpoints || []).length) lines[1] = 'endpoints: []';
  return lines.join('\n') + '\n';
}

export const ENDPOINTS_TEMPLATE = `version: 0.1
endpoints:
  - name: web
    port: 8080
    type: REST
    networkVisibility: Public
    context: /
`;

/*
 * The states this page has seen each deployment in, oldest first: the API
 * gives only the current one, so the timeline remembers each change it
 * polled (seen: {id: [state, ...]}; returns a new object).
 */
export function trackStates(seen, deployments) {
  const next = { ...seen };
  for (const d of deployments || []) {
    const list = next[d.id] || [];
    if (list[list.length - 1] !== d.status) next[d.id] = [...list, d.status];
  }
  return next;
}
