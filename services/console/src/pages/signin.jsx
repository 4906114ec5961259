/*
 * signin.jsx: the sign-in page. An org key is bound to one org, and the API
 * has no "who am I" route, so the user names the org beside the key; the
 * pair is checked with the cheapest authenticated read of that org (its
 * registries): a wrong key answers 401, a key of another org 404.
 */
import { useState } from 'preact/hooks';
import { createClient, path } from '../lib/api.js';
import { signInInput } from '../lib/validate.js';
import { Field, FormError, useAction } from '../ui.jsx';

export function SignIn({ reason, onSignedIn }) {
  const [org, setOrg] = useState('');
  const [key, setKey] = useState('');
  const [run, errors, busy, setErrors] = useAction(['org', 'key']);

  async function submit(ev) {
    ev.preventDefault();
    const v = signInInput({ org, key });
    if (v.errors) {
      setErrors(v.errors);
      return;
    }
    await run(async () => {
      const api = createClient({ key: v.key });
      try {
        await api.get(path`/v1/orgs/${v.org}/registries`);
      } catch (e) {
        if (e.status === 401) e.field = 'key';
        if (e.status === 401) e.message = 'this key was refused: it is wrong, revoked, or not yet known to every service';
        if (e.status === 404) {
          e.field = 'org';
          e.message = `this key does not belong to org "${v.org}"`;
        }
        throw e;
      }
      onSignedIn({ org: v.org, key: v.key });
    });
  }

  return (
    <main class="container signin">
      <article>
        <header><h1>Slipway console</h1></header>
        <p>Sign in with the org key (<code>slk_…</code>) your operator issued
          (<code>slipway key create ORG</code>). It is kept in this tab only.</p>
        {reason ? <p class="form-error" role="alert">{reason}</p> : null}
        <form id="signin-form" onSubmit={submit} noValidate>
          <Field label="Organization" name="org" error={errors.org}>
            {(p) => <input {...p} autocomplete="organization" value={org}
              onInput={(e) => setOrg(e.currentTarget.value)} required />}
          </Field>
          <Field label="Org key" name="key" error={errors.key}>
            {(p) => <input {...p} type="password" autocomplete="off" value={key}
              onInput={(e) => setKey(e.currentTarget.value)} required />}
          </Field>
          <FormError error={errors._form} />
          <button type="submit" id="signin-submit" aria-busy={busy ? 'true' : undefined} disabled={busy}>Sign in</button>
        </form>
      </article>
    </main>
  );
}
