/*
 * component.jsx: one component's deployments: per environment the release
 * that runs (digest, configuration version, endpoint URLs, state), deploy by
 * tag / image URL / previous image, promote, a timeline that follows every
 * state change by polling, and for tasks the executions and "run now".
 */
import { useRef, useState } from 'preact/hooks';
import { path } from '../lib/api.js';
import { deployBody, TASK_TYPES } from '../lib/validate.js';
import { currentReleases, nextEnvironment, promotable, shortDigest, trackStates, when } from '../lib/format.js';
import { Field, FormError, Notice, StatusBadge, useAction } from '../ui.jsx';
import { usePoll } from '../poll.js';
import { ComponentHeader, useComponent } from './shell.jsx';

const POLL_MS = 1500;

function Release({ env, d }) {
  return (
    <article class="release" data-environment={env}>
      <header><strong>{env}</strong> {d ? <StatusBadge status={d.status} /> : <small>nothing deployed</small>}</header>
      {d ? (
        <dl>
          <dt>Image</dt><dd><code class="wrap">{d.image}</code></dd>
          <dt>Digest</dt><dd><code class="wrap digest">{d.digest || '—'}</code></dd>
          <dt>Configuration version</dt><dd class="config-version">{d.config_version}</dd>
          {d.endpoints && d.endpoints.length ? (
            <>
              <dt>Endpoints</dt>
              <dd><ul class="endpoints">{d.endpoints.map((e) => (
                <li key={e.name}>{e.name} ({e.type}, {e.visibility}): {/^https?:/.test(e.url)
                  ? <a href={e.url} rel="noopener noreferrer" target="_blank">{e.url}</a> : <code>{e.url}</code>}</li>
              ))}</ul></dd>
            </>
          ) : null}
        </dl>
      ) : null}
    </article>
  );
}

function DeployForm({ api, comp, envs, history, onDeployed }) {
  const [form, setForm] = useState({ environment: envs[0], mode: 'tag' });
  const [run, errors, busy, setErrors] = useAction(['environment', 'tag', 'image', 'from_deployment']);
  const set = (k, v) => setForm((f) => ({ ...f, [k]: v }));
  const earlier = (history || []).filter((d) => d.digest && d.environment === form.environment);

  async function submit(ev) {
    ev.preventDefault();
    const v = deployBody(form);
    if (v.errors) return setErrors(v.errors);
    const d = await run(() => api.post(path`/v1/components/${comp.id}/deployments`, v.body));
    if (d) onDeployed(d);
  }
  return (
    <form id="deploy-form" onSubmit={submit} noValidate>
      <h3>Update image and deploy</h3>
      <div class="grid">
        <Field label="Environment" name="environment" error={errors.environment}>
          {(p) => (
            <select {...p} value={form.environment} onChange={(e) => set('environment', e.currentTarget.value)}>
              {envs.map((e) => <option key={e} value={e}>{e}</option>)}
            </select>
          )}
        </Field>
        <fieldset>
          <legend>Deploy</legend>
          {[['tag', 'a new tag'], ['image', 'a whole image URL'], ['previous', 'a previous image']].map(([m, l]) => (
            <label key={m}><input type="radio" name="deploy-mode" value={m} data-mode={m} checked={form.mode === m}
              onChange={() => set('mode', m)} /> {l}</label>
          ))}
        </fieldset>
      </div>
      {form.mode === 'tag' ? (
        <Field label="Tag" name="tag" error={errors.tag}>
          {(p) => <input {...p} value={form.tag || ''} onInput={(e) => set('tag', e.currentTarget.value)} />}
        </Field>
      ) : null}
      {form.mode === 'image' ? (
        <Field label="Image URL (same registry)" name="image" error={errors.image}>
          {(p) => <input {...p} value={form.image || ''} placeholder={comp.image} onInput={(e) => set('image', e.currentTarget.value)} />}
        </Field>
      ) : null}
      {form.mode === 'previous' ? (
        <Field label="Earlier deployment (its image digest and configuration)" name="from_deployment" error={errors.from_deployment}>
          {(p) => (
            <select {...p} value={form.from_deployment || ''} onChange={(e) => set('from_deployment', e.currentTarget.value)}>
              <option value="" disabled>choose…</option>
              {earlier.map((d) => <option key={d.id} value={d.id}>{when(d.created_at)} · {d.image} · {shortDigest(d.digest)} · {d.status}</option>)}
            </select>
          )}
        </Field>
      ) : null}
      <FormError error={errors._form} />
      <button type="submit" id="deploy-submit" aria-busy={busy ? 'true' : undefined} disabled={busy}>Deploy</button>
    </form>
  );
}

function TimelineItem({ api, d, envs, seen, onChanged }) {
  const [run, errors, busy] = useAction([]);
  const to = nextEnvironment(d.environment, envs);
  const promote = () => run(async () => onChanged(await api.post(path`/v1/deployments/${d.id}/promote`, { to }), `Promoting to ${to}`));
  const redeploy = () => run(async () => onChanged(await api.post(path`/v1/components/${d.component_id}/deployments`,
    { environment: d.environment, from_deployment: d.id }), 'Redeploying that image'));
  return (
    <li class="deployment" data-deployment-id={d.id} data-status={d.status}>
      <div class="row">
        <StatusBadge status={d.status} />
        <strong>{d.environment}</strong>
        <code class="wrap">{d.image}</code>
        <small>{shortDigest(d.digest)} · config v{d.config_version} · {d.source} · {when(d.created_at)}
          {d.updated_at && d.updated_at !== d.created_at ? ` → ${when(d.updated_at)}` : ''}
          {d.restarts ? ` · ${d.restarts} restarts` : ''}</small>
      </div>
      {seen && seen.length > 1 ? <p class="seen"><small>seen here: {seen.join(' → ')}</small></p> : null}
      {d.reason ? <p class="reason">{d.reason}{d.exit_code !== null && d.exit_code !== undefined ? ` (exit code ${d.exit_code})` : ''}</p> : null}
      {d.probe ? <p><small>last health probe: {d.probe}</small></p> : null}
      {d.log_tail ? <details><summary>Log tail</summary><pre class="log">{d.log_tail}</pre></details> : null}
      <div class="row">
        {d.digest ? <button type="button" class="outline small redeploy" onClick={redeploy} disabled={busy}>Redeploy this image</button> : null}
        {to && promotable(d) ? <button type="button" class="outline small promote" onClick={promote} disabled={busy}>Promote to {to}</button> : null}
      </div>
      <FormError error={errors._form} />
    </li>
  );
}

function Executions({ api, comp, envs }) {
  const [env, setEnv] = useState(envs[0]);
  const [note, setNote] = useState('');
  const [run, errors, busy] = useAction(['environment']);
  const [data, err, kick] = usePoll(() => api.get(path`/v1/components/${comp.id}/executions`), POLL_MS, [comp.id]);
  const runNow = () => run(async () => {
    const x = await api.post(path`/v1/components/${comp.id}/executions`, { environment: env });
    setNote(`Execution ${x.id} started in ${x.environment}.`);
    kick();
  });
  const list = (data && data.executions) || [];
  return (
    <section id="executions">
      <h3>Executions</h3>
      <div class="row">
        <Field label="Environment" name="environment" error={errors.environment}>
          {(p) => (
            <select {...p} value={env} onChange={(e) => setEnv(e.currentTarget.value)}>
              {envs.map((e) => <option key={e} value={e}>{e}</option>)}
            </select>
          )}
        </Field>
        <button type="button" id="run-now" onClick={runNow} disabled={busy} aria-busy={busy ? 'true' : undefined}>Run now</button>
      </div>
      <Notice text={note} />
      <FormError error={errors._form || (err && err.message)} />
      {list.length === 0 ? <p>No executions yet.</p> : (
        <div class="overflow-auto">
          <table class="striped">
            <thead><tr><th scope="col">Status</th><th scope="col">Exit code</th><th scope="col">Environment</th>
              <th scope="col">Trigger</th><th scope="col">Started</th><th scope="col">Finished</th><th scope="col">Log</th></tr></thead>
            <tbody>
              {list.map((x) => (
                <tr key={x.id} class="execution" data-execution-id={x.id} data-status={x.status}>
                  <td><StatusBadge status={x.status} />{x.reason ? <small class="reason"> {x.reason}</small> : null}</td>
                  <td class="exit-code">{x.exit_code === null || x.exit_code === undefined ? '—' : x.exit_code}</td>
                  <td>{x.environment}</td><td>{x.trigger}</td>
                  <td>{when(x.started_at)}</td><td>{when(x.finished_at)}</td>
                  <td>{x.log_tail ? <details><summary>tail</summary><pre class="log">{x.log_tail}</pre></details> : ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

export function ComponentPage({ api, id }) {
  const { comp, envs, error } = useComponent(api, id);
  const [note, setNote] = useState('');
  const [data, err, kick] = usePoll(async () => {
    try {
      return await api.get(path`/v1/components/${id}/deployments`);
    } catch (e) {
      /* deploy-svc learns a new component from an event: none yet is none. */
      if (e.status === 404) return { deployments: [] };
      throw e;
    }
  }, POLL_MS, [id]);
  const history = data ? data.deployments || [] : null;
  /* Each state change the polls saw, per deployment (the API keeps only the last). */
  const seen = useRef({});
  seen.current = trackStates(seen.current, history);
  const releases = currentReleases(history || [], envs);
  const changed = (d, what) => {
    setNote(`${what || 'Deployment'} ${d.id} requested.`);
    kick();
  };

  return (
    <section id="component-page">
      <ComponentHeader comp={comp} page="component" error={error} />
      {comp ? (
        <>
          <div class="grid releases">{envs.map((e) => <Release key={e} env={e} d={releases[e]} />)}</div>
          <DeployForm api={api} comp={comp} envs={envs} history={history} onDeployed={(d) => changed(d, 'Deployment')} />
          <Notice text={note} />
          {TASK_TYPES.includes(comp.type) ? <Executions api={api} comp={comp} envs={envs} /> : null}
          <h3>Deployments</h3>
          <FormError error={err && err.message} />
          {history === null ? <p aria-busy="true">Loading…</p> : history.length === 0 ? <p>No deployments yet.</p> : (
            <ol id="timeline" class="timeline">
              {history.map((d) => <TimelineItem key={d.id} api={api} d={d} envs={envs} seen={seen.current[d.id]} onChanged={changed} />)}
            </ol>
          )}
        </>
      ) : null}
    </section>
  );
}
