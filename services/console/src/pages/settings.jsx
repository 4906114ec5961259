/*
 * settings.jsx: a component's settings: description, default image, a web
 * app's port, a scheduled task's schedule and time zone (a change reaches
 * the data plane without a redeploy), a service's endpoints.yaml and schema
 * files, and removing the component.
 */
import { useEffect, useState } from 'preact/hooks';
import { path } from '../lib/api.js';
import { componentPatchBody } from '../lib/validate.js';
import { endpointsToYaml } from '../lib/format.js';
import { href } from '../lib/route.js';
import { Field, FormError, Notice, useAction } from '../ui.jsx';
import { ComponentHeader, useComponent } from './shell.jsx';
import { EndpointsEditor, putEndpoints } from './endpoints-editor.jsx';

function SettingsForm({ api, comp, onSaved }) {
  const [form, setForm] = useState({ description: comp.description || '', image: comp.image,
    schedule: comp.schedule, timezone: comp.timezone, port: comp.port });
  const [run, errors, busy, setErrors] = useAction(['description', 'image', 'schedule', 'timezone', 'port']);
  const set = (k, v) => setForm((f) => ({ ...f, [k]: v }));
  async function submit(ev) {
    ev.preventDefault();
    const v = componentPatchBody(form, comp);
    if (v.errors) return setErrors(v.errors);
    const r = await run(() => api.patch(path`/v1/components/${comp.id}`, v.body));
    if (r) onSaved(r, 'Settings saved.');
  }
  return (
    <form id="settings-form" onSubmit={submit} noValidate>
      <Field label="Description" name="description" error={errors.description}>
        {(p) => <input {...p} value={form.description} onInput={(e) => set('description', e.currentTarget.value)} />}
      </Field>
      <Field label="Image (the default of tag-only deploys and webhooks)" name="image" error={errors.image}>
        {(p) => <input {...p} value={form.image} onInput={(e) => set('image', e.currentTarget.value)} />}
      </Field>
      {comp.type === 'web-app' ? (
        <Field label="HTTP port" name="port" error={errors.port}>
          {(p) => <input {...p} type="number" min="1" max="65535" value={form.port ?? ''} onInput={(e) => set('port', e.currentTarget.value)} />}
        </Field>
      ) : null}
      {comp.type === 'scheduled-task' ? (
        <div class="grid">
          <Field label="Schedule (cron)" name="schedule" error={errors.schedule}>
            {(p) => <input {...p} class="mono" value={form.schedule || ''} onInput={(e) => set('schedule', e.currentTarget.value)} />}
          </Field>
          <Field label="Time zone" name="timezone" error={errors.timezone}>
            {(p) => <input {...p} value={form.timezone || ''} onInput={(e) => set('timezone', e.currentTarget.value)} />}
          </Field>
        </div>
      ) : null}
      <FormError error={errors._form} />
      <button type="submit" disabled={busy}>Save settings</button>
    </form>
  );
}

function Endpoints({ api, comp, onSaved }) {
  const [yaml, setYaml] = useState(endpointsToYaml(comp.endpoints));
  const [files, setFiles] = useState([]);
  const [schemas, setSchemas] = useState([]);
  const [run, errors] = useAction(['endpoints', 'schemas']);
  useEffect(() => {
    api.get(path`/v1/components/${comp.id}/endpoints`).then((r) => setSchemas(r.schemas || []), () => {});
  }, [comp.id]);
  async function submit(ev) {
    ev.preventDefault();
    const r = await run(() => putEndpoints(api, comp.id, yaml, files));
    if (r !== undefined) onSaved(null, 'Endpoints saved: the next deployment runs with them.');
  }
  return (
    <form id="endpoints-form" onSubmit={submit} noValidate>
      <h3>Endpoints</h3>
      {schemas.length ? <p><small>Schema files stored: {schemas.map((s) => s.name || s).join(', ')}</small></p> : null}
      <EndpointsEditor yaml={yaml} setYaml={setYaml} files={files} setFiles={setFiles} errors={errors} />
      <FormError error={errors._form} />
      <button type="submit">Save endpoints</button>
    </form>
  );
}

export function Settings({ api, id }) {
  const { comp, error, reload } = useComponent(api, id);
  const [note, setNote] = useState('');
  const [confirm, setConfirm] = useState(false);
  const [run, errors] = useAction([]);
  const saved = (_, msg) => { setNote(msg); reload(); };
  const remove = () => run(async () => {
    await api.del(path`/v1/components/${id}`);
    location.hash = href('components', null, { project: comp.project });
  });
  return (
    <section id="settings-page">
      <ComponentHeader comp={comp} page="settings" error={error} />
      <Notice text={note} />
      {comp ? (
        <>
          <SettingsForm key={comp.image + comp.description} api={api} comp={comp} onSaved={saved} />
          {comp.type === 'service' ? <Endpoints api={api} comp={comp} onSaved={saved} /> : null}
          <h3>Remove</h3>
          <p>Removing the component takes its containers, routes, schedule and CI tokens away at once; its history is kept.</p>
          {confirm ? (
            <div class="row">
              <button type="button" class="contrast" onClick={remove}>Really remove {comp.name}</button>
              <button type="button" class="secondary" onClick={() => setConfirm(false)}>Keep it</button>
            </div>
          ) : <button type="button" class="secondary outline" onClick={() => setConfirm(true)}>Remove component</button>}
          <FormError error={errors._form} />
        </>
      ) : null}
    </section>
  );
}
