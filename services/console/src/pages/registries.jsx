/*
 * registries.jsx: the org's container registries: list, add (every auth
 * type), test the stored login, rotate credentials, delete.
 */
import { useEffect, useState } from 'preact/hooks';
import { path } from '../lib/api.js';
import { registryCreateBody, registryRotateBody } from '../lib/validate.js';
import { when } from '../lib/format.js';
import { Field, FormError, Notice, useAction } from '../ui.jsx';
import { CredentialFields } from './creds.jsx';

const FIELDS = ['name', 'host', 'auth_type', 'username', 'password', 'docker_config', 'vendor'];

function AddRegistry({ api, org, onAdded }) {
  const [form, setForm] = useState({ auth_type: 'anonymous' });
  const [open, setOpen] = useState(false);
  const [run, errors, busy, setErrors] = useAction(FIELDS);
  const set = (k, v) => setForm((f) => ({ ...f, [k]: v }));

  async function submit(ev) {
    ev.preventDefault();
    const v = registryCreateBody(form);
    if (v.errors) return setErrors(v.errors);
    const r = await run(() => api.post(path`/v1/orgs/${org}/registries`, v.body));
    if (r) {
      setForm({ auth_type: 'anonymous' });
      setOpen(false);
      onAdded(r);
    }
  }
  return (
    <details open={open} onToggle={(e) => setOpen(e.currentTarget.open)}>
      <summary role="button" class="outline" id="add-registry-toggle">Add a registry</summary>
      <form id="add-registry" onSubmit={submit} noValidate>
        <div class="grid">
          <Field label="Display name" name="name" error={errors.name}>
            {(p) => <input {...p} value={form.name || ''} onInput={(e) => set('name', e.currentTarget.value)} />}
          </Field>
          <Field label="Registry host" name="host" error={errors.host} hint="e.g. ghcr.io or 127.0.0.1:5000">
            {(p) => <input {...p} value={form.host || ''} onInput={(e) => set('host', e.currentTarget.value)} />}
          </Field>
        </div>
        <CredentialFields form={form} set={set} errors={errors} prefix="add" />
        <FormError error={errors._form} />
        <button type="submit" aria-busy={busy ? 'true' : undefined} disabled={busy}>Add registry</button>
      </form>
    </details>
  );
}

function Rotate({ api, org, reg, onDone, onCancel }) {
  const [form, setForm] = useState({ auth_type: reg.auth_type, username: reg.username || '', vendor: reg.vendor || '' });
  const [run, errors, busy, setErrors] = useAction(FIELDS);
  const set = (k, v) => setForm((f) => ({ ...f, [k]: v }));
  async function submit(ev) {
    ev.preventDefault();
    const v = registryRotateBody(form);
    if (v.errors) return setErrors(v.errors);
    const r = await run(() => api.patch(path`/v1/orgs/${org}/registries/${reg.id}`, v.body));
    if (r) onDone(r);
  }
  return (
    <form class="rotate" onSubmit={submit} noValidate aria-label={`New credentials for ${reg.name}`}>
      <CredentialFields form={form} set={set} errors={errors} prefix={`rot-${reg.id}`} />
      <FormError error={errors._form} />
      <div class="row">
        <button type="submit" disabled={busy}>Save new credentials</button>
        <button type="button" class="secondary" onClick={onCancel}>Cancel</button>
      </div>
    </form>
  );
}

function RegistryRow({ api, org, reg, onChanged }) {
  const [mode, setMode] = useState('');
  const [result, setResult] = useState(null);
  const [run, errors, busy] = useAction([]);

  const test = () => run(async () => {
    setResult(null);
    setResult(await api.post(path`/v1/orgs/${org}/registries/${reg.id}/test`));
  });
  const remove = () => run(async () => {
    await api.del(path`/v1/orgs/${org}/registries/${reg.id}`);
    onChanged();
  });
  return (
    <article class="registry" data-registry-id={reg.id} data-host={reg.host}>
      <header>
        <strong>{reg.name}</strong> <code>{reg.host}</code>
        {' '}<small>{reg.auth_type}{reg.username ? ` as ${reg.username}` : ''}{reg.vendor ? ` (${reg.vendor})` : ''}
          {' · added '}{when(reg.created_at)}</small>
      </header>
      <div class="row">
        <button type="button" class="outline test" onClick={test} disabled={busy}>Test login</button>
        <button type="button" class="outline" onClick={() => setMode(mode === 'rotate' ? '' : 'rotate')}>Rotate credentials</button>
        {mode === 'delete' ? (
          <>
            <button type="button" class="contrast really-delete" onClick={remove} disabled={busy}>Really delete {reg.name}</button>
            <button type="button" class="secondary" onClick={() => setMode('')}>Keep it</button>
          </>
        ) : <button type="button" class="secondary outline" onClick={() => setMode('delete')}>Delete</button>}
      </div>
      {result ? (
        <p class={result.ok ? 'ok test-result' : 'form-error test-result'} role="status" data-ok={String(result.ok)}>
          {result.ok ? 'Login works' : 'Login failed'}: {result.status}{result.detail ? ` (${result.detail})` : ''}
        </p>
      ) : null}
      <FormError error={errors._form} />
      {mode === 'rotate' ? <Rotate api={api} org={org} reg={reg}
        onDone={() => { setMode(''); onChanged('Credentials rotated: the data planes get them sealed for the next pull.'); }}
        onCancel={() => setMode('')} /> : null}
    </article>
  );
}

export function Registries({ api, org }) {
  const [list, setList] = useState(null);
  const [note, setNote] = useState('');
  const [load, errors] = useAction([]);
  const refresh = (msg = '') => load(async () => {
    setNote(msg || '');
    const r = await api.get(path`/v1/orgs/${org}/registries`);
    setList(r.registries || []);
  });
  useEffect(() => { refresh(); }, []);

  return (
    <section id="registries-page">
      <h2>Registries</h2>
      <p>Where your images live. The control plane never pulls: credentials travel sealed to the data planes.</p>
      <Notice text={note} />
      <FormError error={errors._form} />
      <AddRegistry api={api} org={org} onAdded={(r) => refresh(`Registry ${r.name} added.`)} />
      {list === null ? <p aria-busy="true">Loading…</p> : list.length === 0 ? <p>No registries yet.</p> : (
        list.map((r) => <RegistryRow key={r.id} api={api} org={org} reg={r} onChanged={refresh} />)
      )}
    </section>
  );
}
