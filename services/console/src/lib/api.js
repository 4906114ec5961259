/*
 * api.js: the console's client for Slipway's JSON management APIs. Every
 * call goes to the same origin (the front door routes /v1/... by path) with
 * the org key as a bearer token; every failure becomes one ApiError whose
 * field, when the API names one, lets a form show it next to that input.
 *
 * Pure apart from the injected fetch, so node's test runner covers it.
 */

/* Messages for answers that carry no {"error":{...}} body of their own. */
const STATUS_TEXT = {
  400: 'the request was malformed',
  401: 'the key was refused: sign in again with a valid org key',
  403: "this key's role does not allow that",
  404: 'not found',
  409: 'conflict',
  413: 'too large',
  415: 'unsupported media type',
  422: 'invalid input',
  429: 'too many requests: retry later',
  502: 'the service is not reachable',
  503: 'a service is unavailable: retry later',
  504: 'the service did not answer in time',
};

export class ApiError extends Error {
  constructor(status, code, message, field = '', extra = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.field = field || '';
    this.extra = extra;
  }
}

/*
 * The ApiError for a non-2xx answer: the API's own code, message and field
 * when the body is {"error":{...}}, else a message from the status alone
 * (a proxy's HTML error page must not reach the user as text).
 */
export function errorFromResponse(status, bodyText, retryAfter = null) {
  let parsed = null;
  try {
    parsed = bodyText ? JSON.parse(bodyText) : null;
  } catch {
    parsed = null;
  }
  const e = parsed && typeof parsed === 'object' ? parsed.error : null;
  let message = STATUS_TEXT[status] || `request failed (HTTP ${status})`;
  let code = status === 401 ? 'unauthorized' : `http_${status}`;
  let field = '';
  const extra = {};
  if (e && typeof e === 'object') {
    if (typeof e.code === 'string' && e.code) code = e.code;
    if (typeof e.message === 'string' && e.message) message = e.message;
    if (typeof e.field === 'string') field = e.field;
    for (const [k, v] of Object.entries(e))
      if (!['code', 'message', 'field'].includes(k)) extra[k] = v;
  }
  if (status === 429 && retryAfter) {
    extra.retryAfter = Number(retryAfter);
    message += ` (retry after ${retryAfter} s)`;
  }
  return new ApiError(status, code, message, field, extra);
}

/*
 * Splits an error over a form: {field: message} for a field the form has,
 * with everything else (no field, or a field the form does not show) under
 * "_form", so no message is ever lost. "health.port" falls back to "health"
 * when only that is shown.
 */
export function fieldErrors(err, fields = []) {
  if (!err) return {};
  const msg = err.message || String(err);
  const f = err.field || '';
  if (f && fields.includes(f)) return { [f]: msg };
  const top = f.split(/[.[]/)[0];
  if (top && fields.includes(top)) return { [top]: msg };
  return { _form: f ? `${f}: ${msg}` : msg };
}

/* Path segments are always escaped: ids and names come from user input. */
export function path(strings, ...values) {
  let out = strings[0];
  values.forEach((v, i) => {
    out += encodeURIComponent(String(v)) + strings[i + 1];
  });
  return out;
}

/*
 * A client bound to one key. onUnauthorized runs on any 401 (a revoked
 * key), so the app can send the user back to the sign-in page.
 */
export function createClient({ key, fetchFn, base = '', onUnauthorized }) {
  const doFetch = fetchFn || ((...a) => globalThis.fetch(...a));

  async function request(method, p, { json, body, headers = {} } = {}) {
    const h = { Accept: 'application/json', ...headers };
    if (key) h.Authorization = `Bearer ${key}`;
    let payload = body;
    if (json !== undefined) {
      h['Content-Type'] = 'application/json';
      payload = JSON.stringify(json);
    }
    let res;
    try {
      res = await doFetch(base + p, { method, headers: h, body: payload,
        cache: 'no-store', credentials: 'omit' });
    } catch (e) {
      throw new ApiError(0, 'network', `cannot reach the server: ${e.message || e}`);
    }
    const text = await res.text();
    if (res.status < 200 || res.status > 299) {
      const err = errorFromResponse(res.status, text,
        res.headers && res.headers.get ? res.headers.get('Retry-After') : null);
      if (res.status === 401 && onUnauthorized) onUnauthorized(err);
      throw err;
    }
    if (!text) return null;
    try {
      return JSON.parse(text);
    } catch {
      throw new ApiError(res.status, 'bad_response', 'the server answered with something that is not JSON');
    }
  }

  return {
    request,
    get: (p) => request('GET', p),
    post: (p, json) => request('POST', p, { json: json === undefined ? {} : json }),
    put: (p, json) => request('PUT', p, { json }),
    patch: (p, json) => request('PATCH', p, { json }),
    del: (p) => request('DELETE', p),
  };
}
