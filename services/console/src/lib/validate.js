/*
 * validate.js: the console's form checks and request bodies. Each builder
 * turns a form's values into the exact JSON the API takes, or into
 * {errors: {field: message}} with the same field names the API uses, so a
 * message lands next to its input whether the browser or the server found
 * the problem. The server stays the judge: these catch only what is plainly
 * wrong before a round trip (the server's checks are in services/*_input.c).
 */

export const AUTH_TYPES = ['anonymous', 'basic', 'docker-config', 'vendor'];
export const VENDORS = ['acr', 'gar', 'ecr', 'ghcr'];
export const COMPONENT_TYPES = ['service', 'web-app', 'scheduled-task', 'manual-task'];
export const TASK_TYPES = ['scheduled-task', 'manual-task'];

const SLUG = /^[a-z0-9][a-z0-9-]{0,62}$/;
const CRON_MACROS = ['@yearly', '@annually', '@monthly', '@weekly', '@daily',
  '@midnight', '@hourly'];

/* An org, project or component name: 1-63 of [a-z0-9-], not starting with '-'. */
export function slugValid(s) {
  return typeof s === 'string' && SLUG.test(s);
}

/* An org key as deploy-svc issues it (the server decides if it is valid). */
export function orgKeyLooksValid(k) {
  return typeof k === 'string' && /^slk_[A-Za-z0-9_]{8,}$/.test(k.trim());
}

/* The sign-in form: {org, key} or {errors}. */
export function signInInput({ org, key }) {
  const errors = {};
  const o = (org || '').trim();
  const k = (key || '').trim();
  if (!slugValid(o)) errors.org = 'org must be 1-63 lower-case letters, digits or "-"';
  if (!k) errors.key = 'enter the org key (slk_…) your operator issued';
  else if (!orgKeyLooksValid(k)) errors.key = 'an org key starts with slk_';
  return Object.keys(errors).length ? { errors } : { org: o, key: k };
}

/* host[:port] without scheme or path, as registry-svc requires. */
export function hostValid(h) {
  if (typeof h !== 'string' || !h || h.length > 253) return false;
  if (h.includes('://') || h.includes('/')) return false;
  return /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?)(:[1-9][0-9]{0,4})?$/.test(h);
}

/*
 * A Docker config.json's text: exactly one entry under "auths", and no
 * credsStore / credHelpers (they name executables the data plane will not
 * run). Returns an error message or "".
 */
export function dockerConfigProblem(text) {
  let cfg;
  try {
    cfg = JSON.parse(text);
  } catch (e) {
    return `not valid JSON: ${e.message}`;
  }
  if (!cfg || typeof cfg !== 'object' || Array.isArray(cfg)) return 'must be a JSON object';
  if ('credsStore' in cfg || 'credHelpers' in cfg)
    return 'credsStore and credHelpers are refused: put the credentials inline';
  const auths = cfg.auths;
  if (!auths || typeof auths !== 'object' || Object.keys(auths).length !== 1)
    return 'needs exactly one entry under "auths"';
  return '';
}

/* The credential fields of one auth type, into body; errors by field. */
function registryCreds(f, body, errors) {
  const auth = f.auth_type || 'anonymous';
  if (!AUTH_TYPES.includes(auth)) {
    errors.auth_type = `auth type must be one of ${AUTH_TYPES.join(', ')}`;
    return;
  }
  body.auth_type = auth;
  if (auth === 'basic') {
    const u = (f.username || '').trim();
    if (!u) errors.username = 'a username is needed';
    else if (u.includes(':')) errors.username = "the username must not contain ':'";
    if (!f.password) errors.password = 'a password is needed';
    body.username = u;
    body.password = f.password || '';
  } else if (auth === 'docker-config') {
    const text = (f.docker_config || '').trim();
    const p = text ? dockerConfigProblem(text) : 'paste a Docker config.json or choose the file';
    if (p) errors.docker_config = p;
    body.docker_config = text;
  } else if (auth === 'vendor') {
    if (!VENDORS.includes(f.vendor)) errors.vendor = `vendor must be one of ${VENDORS.join(', ')}`;
    body.vendor = f.vendor;
  }
}

/* POST /v1/orgs/{org}/registries */
export function registryCreateBody(f) {
  const errors = {};
  const name = (f.name || '').trim();
  const host = (f.host || '').trim();
  if (!name) errors.name = 'a display name is needed';
  if (!host) errors.host = 'a registry host is needed, e.g. ghcr.io or 127.0.0.1:5000';
  else if (!hostValid(host))
    errors.host = 'host is a registry host such as ghcr.io or 127.0.0.1:5000, without a scheme or path';
  const body = { name, host };
  registryCreds(f, body, errors);
  return Object.keys(errors).length ? { errors } : { body };
}

/* PATCH /v1/orgs/{org}/registries/{id}: new credentials (and auth type). */
export function registryRotateBody(f) {
  const errors = {};
  const body = {};
  registryCreds(f, body, errors);
  return Object.keys(errors).length ? { errors } : { body };
}

/* 5 cron fields, or an @-macro; the server checks the values. */
export function scheduleLooksValid(s) {
  const t = (s || '').trim();
  if (!t) return false;
  if (t.startsWith('@')) return CRON_MACROS.includes(t);
  return t.split(/\s+/).length === 5;
}

/* An IANA zone name ("UTC", "Europe/Berlin"); the server checks it exists. */
export function timezoneLooksValid(z) {
  return typeof z === 'string' && /^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/.test(z);
}

/* POST /v1/orgs/{org}/projects/{project}/components */
export function componentCreateBody(f) {
  const errors = {};
  const type = f.type || 'service';
  const body = {
    name: (f.name || '').trim(),
    type,
    registry_id: f.registry_id || '',
    image: (f.image || '').trim(),
  };
  if (!slugValid(body.name)) errors.name = 'name must be 1-63 lower-case letters, digits or "-"';
  if (!COMPONENT_TYPES.includes(type)) errors.type = `type must be one of ${COMPONENT_TYPES.join(', ')}`;
  if (!body.registry_id) errors.registry_id = 'choose the registry the image is on';
  if (!body.image) errors.image = 'the full image URL, e.g. ghcr.io/acme/api:1.0';
  else if (/\s/.test(body.image) || body.image.includes('://'))
    errors.image = 'an image reference is host/repository:tag, without a scheme';
  if (f.description && f.description.trim()) body.description = f.description.trim();
  if (type === 'service' && f.endpoints && f.endpoints.trim()) body.endpoints = f.endpoints;
  if (type === 'web-app' && f.port !== undefined && String(f.port).trim() !== '') {
    const p = Number(f.port);
    if (!Number.isInteger(p) || p < 1 || p > 65535) errors.port = 'port must be 1-65535';
    else body.port = p;
  }
  if (type === 'scheduled-task') {
    const sched = (f.schedule || '').trim();
    const tz = (f.timezone || '').trim();
    if (!scheduleLooksValid(sched)) errors.schedule = 'a 5-field cron expression (e.g. 30 2 * * *) or @daily';
    if (!timezoneLooksValid(tz)) errors.timezone = 'an IANA time zone such as UTC or Europe/Berlin';
    body.schedule = sched;
    body.timezone = tz;
  }
  return Object.keys(errors).length ? { errors } : { body };
}

/* PATCH /v1/components/{id}: only what changed, by the component's type. */
export function componentPatchBody(f, current) {
  const errors = {};
  const body = {};
  if ((f.description || '') !== (current.description || '')) body.description = f.description || '';
  const image = (f.image || '').trim();
  if (image && image !== current.image) body.image = image;
  if (current.type === 'scheduled-task') {
    if (f.schedule !== current.schedule) {
      if (!scheduleLooksValid(f.schedule)) errors.schedule = 'a 5-field cron expression or @daily';
      else body.schedule = f.schedule.trim();
    }
    if (f.timezone !== current.timezone) {
      if (!timezoneLooksValid(f.timezone)) errors.timezone = 'an IANA time zone such as UTC';
      else body.timezone = f.timezone.trim();
    }
  }
  if (current.type === 'web-app' && String(f.port ?? '') !== String(current.port ?? '')) {
    const p = Number(f.port);
    if (!Number.isInteger(p) || p < 1 || p > 65535) errors.port = 'port must be 1-65535';
    else body.port = p;
  }
  if (Object.keys(errors).length) return { errors };
  if (!Object.keys(body).length) return { errors: { _form: 'nothing changed' } };
  return { body };
}

/*
 * POST /v1/components/{id}/deployments: one of a new tag, a whole image
 * URL, or a previous deployment to redeploy (its digest and configuration).
 */
export function deployBody({ environment, mode, tag, image, from_deployment }) {
  const errors = {};
  if (!slugValid(environment || '')) errors.environment = 'choose an environment';
  const body = { environment };
  if (mode === 'tag') {
    const t = (tag || '').trim();
    if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(t)) errors.tag = 'a tag: letters, digits, _ . - (at most 128)';
    body.tag = t;
  } else if (mode === 'image') {
    const i = (image || '').trim();
    if (!i || /\s/.test(i)) errors.image = 'the whole image URL, on the same registry';
    body.image = i;
  } else if (mode === 'previous') {
    if (!from_deployment) errors.from_deployment = 'choose an earlier deployment';
    body.from_deployment = from_deployment;
  } else {
    errors._form = 'choose how to deploy: tag, image or previous';
  }
  return Object.keys(errors).length ? { errors } : { body };
}

/* A variable or secret name: what a process environment takes. */
export function envNameValid(n) {
  return typeof n === 'string' && /^[A-Za-z_][A-Za-z0-9_]{0,127}$/.test(n);
}

/*
 * "NAME=value" lines into {vars} for PUT .../config, or {errors}. Blank
 * lines and lines starting with # are skipped; a name twice is an error.
 */
export function parseVars(text) {
  const vars = {};
  const lines = String(text || '').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].replace(/\r$/, '');
    if (!line.trim() || line.trim().startsWith('#')) continue;
    const eq = line.indexOf('=');
    const name = eq < 0 ? line.trim() : line.slice(0, eq).trim();
    if (eq < 0 || !envNameValid(name))
      return { errors: { vars: `line ${i + 1}: write NAME=value (NAME of letters, digits, _)` } };
    if (name in vars) return { errors: { vars: `line ${i + 1}: ${name} is given twice` } };
    vars[name] = line.slice(eq + 1);
  }
  return { vars };
}

/* {vars} back into the NAME=value text the editor shows. */
export function formatVars(vars) {
  return Object.keys(vars || {}).sort().map((k) => `${k}=${vars[k]}`).join('\n');
}
