/*
 * config.jsx: a component's variables and secrets per environment. Secret
 * values are write-only: the API returns their names and when they were
 * set, never a value, and the console never shows one back.
 */
import { useEffect, useState } from 'preact/hooks';
import { path } from '../lib/api.js';
import { envNameValid, formatVars, parseVars } from '../lib/validate.js';
import { when } from '../lib/format.js';
import { Field, FormError, Notice, useAction } from '../ui.jsx';
import { ComponentHeader, useComponent } from './shell.jsx';

function EnvConfig({ api, id, env }) {
  const [text, setText] = useState('');
  const [version, setVersion] = useState(null);
  const [secrets, setSecrets] = useState([]);
  const [note, setNote] = useState('');
  const [sec, setSec] = useState({ name: '', value: '' });
  const [load, loadErr] = useAction([]);
  const [save, saveErr, saving, setSaveErr] = useAction(['vars']);
  const [put, secErr, putting, setSecErr] = useAction(['name', 'value']);
  const base = path`/v1/components/${id}/environments/${env}`;

  const refresh = () => load(async () => {
    const c = await api.get(`${base}/config`);
    setText(formatVars(c.vars));
    setVersion(c.version);
    setSecrets((await api.get(`${base}/secrets`)).secrets || []);
  });
  useEffect(() => { refresh(); }, [env]);

  async function saveVars(ev) {
    ev.preventDefault();
    const v = parseVars(text);
    if (v.errors) return setSaveErr(v.errors);
    const r = await save(() => api.put(`${base}/config`, { vars: v.vars }));
    if (r) {
      setVersion(r.version);
      setNote(`Variables saved: configuration version ${r.version}. The next deployment uses them.`);
    }
  }
  async function setSecret(ev) {
    ev.preventDefault();
    if (!envNameValid(sec.name)) return setSecErr({ name: 'a name of letters, digits and _' });
    if (!sec.value) return setSecErr({ value: 'a value is needed' });
    const r = await put(() => api.put(`${base}/secrets/${encodeURIComponent(sec.name)}`, { value: sec.value }));
    if (r) {
      setSec({ name: '', value: '' });
      setNote(`Secret ${r.name} set: configuration version ${r.version}.`);
      refresh();
    }
  }
  const remove = (name) => put(async () => {
    const r = await api.del(`${base}/secrets/${encodeURIComponent(name)}`);
    setNote(`Secret ${name} removed: configuration version ${r.version}.`);
    refresh();
  });
  return (
    <>
      <Notice text={note} />
      <FormError error={loadErr._form} />
      <form id="vars-form" onSubmit={saveVars} noValidate>
        <h3>Variables in {env} {version !== null ? <small>(configuration version {version})</small> : null}</h3>
        <Field label="One NAME=value per line" name="vars" error={saveErr.vars}>
          {(p) => <textarea {...p} rows="6" class="mono" spellcheck={false} value={text} onInput={(e) => setText(e.currentTarget.value)} />}
        </Field>
        <FormError error={saveErr._form} />
        <button type="submit" disabled={saving}>Save variables</button>
      </form>
      <h3>Secrets in {env}</h3>
      {secrets.length === 0 ? <p>No secrets.</p> : (
        <ul class="secrets">
          {secrets.map((s) => (
            <li key={s.name} data-secret={s.name}><code>{s.name}</code> <small>set {when(s.set_at)}</small>{' '}
              <button type="button" class="outline secondary small" onClick={() => remove(s.name)} disabled={putting}>Remove</button></li>
          ))}
        </ul>
      )}
      <form id="secret-form" onSubmit={setSecret} noValidate>
        <div class="grid">
          <Field label="Secret name" name="name" error={secErr.name}>
            {(p) => <input {...p} class="mono" value={sec.name} onInput={(e) => setSec({ ...sec, name: e.currentTarget.value })} />}
          </Field>
          <Field label="Value (write-only)" name="value" error={secErr.value}>
            {(p) => <input {...p} type="password" autocomplete="new-password" value={sec.value}
              onInput={(e) => setSec({ ...sec, value: e.currentTarget.value })} />}
          </Field>
        </div>
        <FormError error={secErr._form} />
        <button type="submit" disabled={putting}>Set secret</button>
      </form>
    </>
  );
}

export function Config({ api, id }) {
  const { comp, envs, error } = useComponent(api, id);
  const [env, setEnv] = useState('');
  const cur = env || envs[0];
  return (
    <section id="config-page">
      <ComponentHeader comp={comp} page="config" error={error} />
      {comp ? (
        <>
          <Field label="Environment" name="environment">
            {(p) => (
              <select {...p} value={cur} onChange={(e) => setEnv(e.currentTarget.value)}>
                {envs.map((e) => <option key={e} value={e}>{e}</option>)}
              </select>
            )}
          </Field>
          <EnvConfig key={cur} api={api} id={id} env={cur} />
        </>
      ) : null}
    </section>
  );
}
