/*
 * route.js: the console's pages by URL fragment (#/registries,
 * #/components/ID/tokens, ...). A fragment never reaches the server, so
 * any static file server (the front door) can serve the one index.html.
 */
const ROUTES = [
  ['registries', /^\/registries$/],
  ['components', /^\/components$/],
  ['component', /^\/components\/([0-9a-f-]{36})$/],
  ['tokens', /^\/components\/([0-9a-f-]{36})\/tokens$/],
  ['config', /^\/components\/([0-9a-f-]{36})\/config$/],
  ['settings', /^\/components\/([0-9a-f-]{36})\/settings$/],
];

/* {page, id, query} of a location hash; unknown ones are the registries page. */
export function parseRoute(hash) {
  const raw = String(hash || '').replace(/^#/, '');
  const [p, q = ''] = raw.split('?');
  const query = Object.fromEntries(new URLSearchParams(q));
  for (const [page, re] of ROUTES) {
    const m = re.exec(p);
    if (m) return { page, id: m[1] || null, query };
  }
  return { page: 'registries', id: null, query };
}

export function href(page, id, query) {
  const base = {
    registries: '#/registries',
    components: '#/components',
    component: `#/components/${id}`,
    tokens: `#/components/${id}/tokens`,
    config: `#/components/${id}/config`,
    settings: `#/components/${id}/settings`,
  }[page] || '#/registries';
  const q = query ? new URLSearchParams(query).toString() : '';
  return q ? `${base}?${q}` : base;
}
