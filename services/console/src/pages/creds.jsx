/*
 * creds.jsx: the credential fields of one auth type, shared by "add a
 * registry" and "rotate credentials": a password field for basic, a
 * docker-config by file upload or paste, a vendor's name.
 */
import { AUTH_TYPES, VENDORS } from '../lib/validate.js';
import { Field, readFileText } from '../ui.jsx';

const AUTH_LABEL = {
  anonymous: 'Anonymous (public registry)',
  basic: 'Username and password',
  'docker-config': 'Docker config.json',
  vendor: 'Cloud vendor (ACR, GAR, ECR, GHCR: access given to the data plane)',
};

export function CredentialFields({ form, set, errors, prefix }) {
  const auth = form.auth_type || 'anonymous';
  async function pick(ev) {
    const f = ev.currentTarget.files && ev.currentTarget.files[0];
    if (f) set('docker_config', await readFileText(f));
  }
  return (
    <>
      <fieldset>
        <legend>Authentication</legend>
        {AUTH_TYPES.map((a) => (
          <label key={a}>
            <input type="radio" name={`${prefix}-auth`} value={a} checked={auth === a}
              data-auth={a} onChange={() => set('auth_type', a)} />
            {AUTH_LABEL[a]}
          </label>
        ))}
        {errors.auth_type ? <small class="field-error" role="alert">{errors.auth_type}</small> : null}
      </fieldset>
      {auth === 'basic' ? (
        <div class="grid">
          <Field label="Username" name="username" error={errors.username}>
            {(p) => <input {...p} autocomplete="off" value={form.username || ''}
              onInput={(e) => set('username', e.currentTarget.value)} />}
          </Field>
          <Field label="Password or token" name="password" error={errors.password}
            hint="GAR: a service account's JSON key; ACR: a service principal's secret">
            {(p) => <input {...p} type="password" autocomplete="new-password" value={form.password || ''}
              onInput={(e) => set('password', e.currentTarget.value)} />}
          </Field>
        </div>
      ) : null}
      {auth === 'docker-config' ? (
        <>
          <Field label="Docker config.json file" name="docker_config_file">
            {(p) => <input {...p} type="file" accept=".json,application/json" onChange={pick} />}
          </Field>
          <Field label="…or paste it (one entry under auths, credentials inline)" name="docker_config"
            error={errors.docker_config}>
            {(p) => <textarea {...p} rows="5" spellcheck={false} autocomplete="off" class="mono secret-text"
              value={form.docker_config || ''} onInput={(e) => set('docker_config', e.currentTarget.value)} />}
          </Field>
        </>
      ) : null}
      {auth === 'vendor' ? (
        <Field label="Vendor" name="vendor" error={errors.vendor}>
          {(p) => (
            <select {...p} value={form.vendor || ''} onChange={(e) => set('vendor', e.currentTarget.value)}>
              <option value="" disabled>choose…</option>
              {VENDORS.map((v) => <option key={v} value={v}>{v}</option>)}
            </select>
          )}
        </Field>
      ) : null}
    </>
  );
}
