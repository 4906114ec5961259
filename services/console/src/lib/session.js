/*
 * session.js: who is signed in. The org key lives in sessionStorage only:
 * gone when the tab closes, never in localStorage, a cookie or a URL.
 */
const ORG = 'slipway.org';
const KEY = 'slipway.key';
const PROJECTS = 'slipway.projects';

export function loadSession(store = globalThis.sessionStorage) {
  const org = store.getItem(ORG);
  const key = store.getItem(KEY);
  return org && key ? { org, key } : null;
}

export function saveSession({ org, key }, store = globalThis.sessionStorage) {
  store.setItem(ORG, org);
  store.setItem(KEY, key);
}

export function clearSession(store = globalThis.sessionStorage) {
  store.removeItem(ORG);
  store.removeItem(KEY);
  store.removeItem(PROJECTS);
}

/*
 * The projects this session used, newest first: the API lists components
 * per project and has no list of projects, so the console remembers them.
 */
export function recentProjects(store = globalThis.sessionStorage) {
  try {
    const v = JSON.parse(store.getItem(PROJECTS) || '[]');
    return Array.isArray(v) ? v.filter((p) => typeof p === 'string') : [];
  } catch {
    return [];
  }
}

export function rememberProject(p, store = globalThis.sessionStorage) {
  const list = [p, ...recentProjects(store).filter((x) => x !== p)].slice(0, 10);
  store.setItem(PROJECTS, JSON.stringify(list));
}
