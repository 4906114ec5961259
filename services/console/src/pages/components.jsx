/*
 * components.jsx: the components of one project (the API lists them per
 * project; the console remembers the projects this tab used), and the
 * form that creates one of any type.
 */
import { useEffect, useState } from 'preact/hooks';
import { path } from '../lib/api.js';
import { COMPONENT_TYPES, componentCreateBody, slugValid } from '../lib/validate.js';
import { ENDPOINTS_TEMPLATE, when } from '../lib/format.js';
import { recentProjects, rememberProject } from '../lib/session.js';
import { href } from '../lib/route.js';
import { Field, FormError, useAction } from '../ui.jsx';
import { EndpointsEditor, putEndpoints } from './endpoints-editor.jsx';

const FIELDS = ['name', 'description', 'type', 'registry_id', 'image', 'endpoints', 'schemas',
  'schedule', 'timezone', 'port'];

function zones() {
  try {
    return Intl.supportedValuesOf('timeZone');
  } catch {
    return ['UTC'];
  }
}

function CreateComponent({ api, org, project, onCreated }) {
  const [form, setForm] = useState({ type: 'service', timezone: 'UTC' });
  const [yaml, setYaml] = useState(ENDPOINTS_TEMPLATE);
  const [files, setFiles] = useState([]);
  const [registries, setRegistries] = useState([]);
  const [run, errors, busy, setErrors] = useAction(FIELDS);
  const set = (k, v) => setForm((f) => ({ ...f, [k]: v }));
  useEffect(() => {
    api.get(path`/v1/orgs/${org}/registries`).then((r) => setRegistries(r.registries || []), () => {});
  }, []);

  async function submit(ev) {
    ev.preventDefault();
    const withYaml = form.type === 'service' && !files.length ? yaml : '';
    const v = componentCreateBody({ ...form, endpoints: withYaml });
    if (v.errors) return setErrors(v.errors);
    const c = await run(async () => {
      const made = await api.post(path`/v1/orgs/${org}/projects/${project}/components`, v.body);
      /* Schema files go with a PUT of the endpoints (multipart). */
      if (form.type === 'service' && files.length) {
        try {
          await putEndpoints(api, made.id, yaml, files);
        } catch (e) {
          e.message = `component ${made.name} was created, but its endpoints were refused: ${e.message}`;
          throw e;
        }
      }
      return made;
    });
    if (c) onCreated(c);
  }
  const t = form.type;
  return (
    <details>
      <summary role="button" class="outline" id="create-component-toggle">Create a component</summary>
      <form id="create-component" onSubmit={submit} noValidate>
        <div class="grid">
          <Field label="Name" name="name" error={errors.name} hint="lower-case letters, digits, -">
            {(p) => <input {...p} value={form.name || ''} onInput={(e) => set('name', e.currentTarget.value)} />}
          </Field>
          <Field label="Type" name="type" error={errors.type}>
            {(p) => (
              <select {...p} value={t} onChange={(e) => set('type', e.currentTarget.value)}>
                {COMPONENT_TYPES.map((x) => <option key={x} value={x}>{x}</option>)}
              </select>
            )}
          </Field>
        </div>
        <Field label="Description" name="description" error={errors.description}>
          {(p) => <input {...p} value={form.description || ''} onInput={(e) => set('description', e.currentTarget.value)} />}
        </Field>
        <div class="grid">
          <Field label="Registry" name="registry_id" error={errors.registry_id}>
            {(p) => (
              <select {...p} value={form.registry_id || ''} onChange={(e) => set('registry_id', e.currentTarget.value)}>
                <option value="" disabled>choose…</option>
                {registries.map((r) => <option key={r.id} value={r.id}>{r.name} ({r.host})</option>)}
              </select>
            )}
          </Field>
          <Field label="Image URL" name="image" error={errors.image} hint="registry-host/repository/image:tag">
            {(p) => <input {...p} value={form.image || ''} onInput={(e) => set('image', e.currentTarget.value)} />}
          </Field>
        </div>
        {t === 'service' ? <EndpointsEditor yaml={yaml} setYaml={setYaml} files={files} setFiles={setFiles} errors={errors} /> : null}
        {t === 'web-app' ? (
          <Field label="HTTP port" name="port" error={errors.port} hint="default 8080">
            {(p) => <input {...p} type="number" min="1" max="65535" inputmode="numeric" value={form.port || ''}
              onInput={(e) => set('port', e.currentTarget.value)} />}
          </Field>
        ) : null}
        {t === 'scheduled-task' ? (
          <div class="grid">
            <Field label="Schedule (cron)" name="schedule" error={errors.schedule} hint="e.g. 30 2 * * * or @daily">
              {(p) => <input {...p} class="mono" value={form.schedule || ''} onInput={(e) => set('schedule', e.currentTarget.value)} />}
            </Field>
            <Field label="Time zone" name="timezone" error={errors.timezone}>
              {(p) => <input {...p} list="tz-list" value={form.timezone || ''} onInput={(e) => set('timezone', e.currentTarget.value)} />}
            </Field>
            <datalist id="tz-list">{zones().map((z) => <option key={z} value={z} />)}</datalist>
          </div>
        ) : null}
        <FormError error={errors._form} />
        <button type="submit" aria-busy={busy ? 'true' : undefined} disabled={busy}>Create component</button>
      </form>
    </details>
  );
}

export function Components({ api, org, query }) {
  const [project, setProject] = useState(query.project || recentProjects()[0] || '');
  const [shown, setShown] = useState('');
  const [list, setList] = useState(null);
  const [load, errors, , setErrors] = useAction(['project']);

  const open = (p) => load(async () => {
    if (!slugValid(p)) throw Object.assign(new Error('project must be 1-63 lower-case letters, digits or "-"'), { field: 'project' });
    const r = await api.get(path`/v1/orgs/${org}/projects/${p}/components`);
    rememberProject(p);
    setShown(p);
    setList(r.components || []);
  });
  useEffect(() => { if (project) open(project); }, []);

  return (
    <section id="components-page">
      <h2>Components</h2>
      <form id="project-form" class="inline" onSubmit={(e) => { e.preventDefault(); setErrors({}); open(project.trim()); }} noValidate>
        <Field label="Project" name="project" error={errors.project}>
          {(p) => <input {...p} list="project-list" value={project} onInput={(e) => setProject(e.currentTarget.value)} />}
        </Field>
        <datalist id="project-list">{recentProjects().map((p) => <option key={p} value={p} />)}</datalist>
        <button type="submit">Show</button>
      </form>
      <FormError error={errors._form} />
      {shown ? (
        <>
          <CreateComponent key={shown} api={api} org={org} project={shown}
            onCreated={(c) => { location.hash = href('component', c.id); }} />
          <h3>In {shown}</h3>
          {list === null ? <p aria-busy="true">Loading…</p> : list.length === 0 ? <p>No components in this project yet.</p> : (
            <div class="overflow-auto">
              <table class="striped">
                <thead><tr><th scope="col">Name</th><th scope="col">Type</th><th scope="col">Image</th><th scope="col">Created</th></tr></thead>
                <tbody>
                  {list.map((c) => (
                    <tr key={c.id} data-component-id={c.id}>
                      <td><a href={href('component', c.id)}>{c.name}</a></td>
                      <td>{c.type}</td><td><code>{c.image}</code></td><td>{when(c.created_at)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </>
      ) : <p>Name a project to see its components or to create one in it.</p>}
    </section>
  );
}
