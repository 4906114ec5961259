/*
 * shell.jsx: what every page of one component shares: the component itself,
 * the org's environments (development first), and the header with the
 * component's own navigation.
 */
import { useEffect, useState } from 'preact/hooks';
import { path } from '../lib/api.js';
import { href } from '../lib/route.js';
import { FormError } from '../ui.jsx';

/* The environments an org starts with, before any is listed for it. */
const DEFAULT_ENVS = ['development', 'production'];

export function useComponent(api, id) {
  const [comp, setComp] = useState(null);
  const [envs, setEnvs] = useState(DEFAULT_ENVS);
  const [error, setError] = useState('');
  const reload = async () => {
    try {
      setComp(await api.get(path`/v1/components/${id}`));
    } catch (e) {
      setError(e.message);
    }
  };
  useEffect(() => {
    reload();
  }, [id]);
  useEffect(() => {
    if (!comp) return;
    api.get(path`/v1/orgs/${comp.org}/environments`).then((r) => {
      const names = (r.environments || []).map((e) => e.name);
      if (names.length) setEnvs(names);
    }, () => {});
  }, [comp && comp.org]);
  return { comp, envs, error, reload };
}

export function ComponentHeader({ comp, page, error }) {
  if (error) return <FormError error={error} />;
  if (!comp) return <p aria-busy="true">Loading…</p>;
  const cur = (p) => (page === p ? 'page' : undefined);
  return (
    <header class="component-header" data-component-id={comp.id}>
      <p><a href={href('components', null, { project: comp.project })}>{comp.project}</a> /</p>
      <h2>{comp.name} <small>{comp.type}</small></h2>
      <p><code class="wrap">{comp.image}</code>{comp.description ? ` — ${comp.description}` : ''}</p>
      <nav aria-label="Component">
        <ul>
          <li><a href={href('component', comp.id)} aria-current={cur('component')}>Deployments</a></li>
          <li><a href={href('tokens', comp.id)} aria-current={cur('tokens')}>CI tokens</a></li>
          <li><a href={href('config', comp.id)} aria-current={cur('config')}>Configuration</a></li>
          <li><a href={href('settings', comp.id)} aria-current={cur('settings')}>Settings</a></li>
        </ul>
      </nav>
    </header>
  );
}
