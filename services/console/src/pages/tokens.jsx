/*
 * tokens.jsx: a component's CI tokens: create one (its value, and a signing
 * token's whsec_ secret, are shown once, with the curl / GitHub Actions /
 * GitLab CI snippets), list them, revoke one.
 */
import { useEffect, useState } from 'preact/hooks';
import { path } from '../lib/api.js';
import { renderSnippets, webhookUrlFor } from '../lib/snippets.js';
import { when } from '../lib/format.js';
import { Field, FormError, useAction } from '../ui.jsx';
import { ComponentHeader, useComponent } from './shell.jsx';

function Issued({ tok, comp, onDismiss }) {
  const snippets = renderSnippets({ webhookUrl: webhookUrlFor(location.origin), image: comp.image, signing: tok.signing });
  return (
    <article id="new-token" class="issued">
      <header><strong>Token {tok.name || tok.prefix} created.</strong> Copy it now: it is not shown again.</header>
      <label for="new-token-value">CI token (store it as the CI secret SLIPWAY_TOKEN)</label>
      <input id="new-token-value" class="mono" readOnly value={tok.token} onFocus={(e) => e.currentTarget.select()} />
      {tok.signing_secret ? (
        <>
          <label for="new-token-secret">Signing secret (SLIPWAY_SIGNING_SECRET)</label>
          <input id="new-token-secret" class="mono" readOnly value={tok.signing_secret} onFocus={(e) => e.currentTarget.select()} />
        </>
      ) : null}
      {snippets ? snippets.map((s) => (
        <details key={s.name} open={s.name === 'curl'}>
          <summary>{s.name}</summary>
          <pre class="snippet" data-snippet={s.name}>{s.text}</pre>
        </details>
      )) : <p>The component's image cannot be pasted into a shell snippet.</p>}
      <button type="button" class="secondary" onClick={onDismiss}>I have stored it</button>
    </article>
  );
}

export function Tokens({ api, id }) {
  const { comp, error } = useComponent(api, id);
  const [list, setList] = useState(null);
  const [form, setForm] = useState({ name: '', days: '', signing: false });
  const [issued, setIssued] = useState(null);
  const [run, errors, busy, setErrors] = useAction(['name', 'expires_in_days', 'signing']);
  const [act, actErrors] = useAction([]);
  const set = (k, v) => setForm((f) => ({ ...f, [k]: v }));
  const refresh = () => act(async () => setList((await api.get(path`/v1/components/${id}/tokens`)).tokens || []));
  useEffect(() => { refresh(); }, [id]);

  async function submit(ev) {
    ev.preventDefault();
    const body = {};
    if (form.name.trim()) body.name = form.name.trim();
    if (String(form.days).trim()) {
      const n = Number(form.days);
      if (!Number.isInteger(n) || n < 1) return setErrors({ expires_in_days: 'a whole number of days, at least 1' });
      body.expires_in_days = n;
    }
    if (form.signing) body.signing = true;
    const t = await run(() => api.post(path`/v1/components/${id}/tokens`, body));
    if (t) {
      setIssued(t);
      setForm({ name: '', days: '', signing: false });
      refresh();
    }
  }
  const revoke = (t) => act(async () => {
    await api.del(path`/v1/components/${id}/tokens/${t.id}`);
    await refresh();
  });
  return (
    <section id="tokens-page">
      <ComponentHeader comp={comp} page="tokens" error={error} />
      {comp && issued ? <Issued tok={issued} comp={comp} onDismiss={() => setIssued(null)} /> : null}
      <form id="token-form" onSubmit={submit} noValidate>
        <h3>New CI token</h3>
        <p>A token deploys this component only, by POSTing the new image to the webhook.</p>
        <div class="grid">
          <Field label="Name" name="name" error={errors.name}>
            {(p) => <input {...p} value={form.name} onInput={(e) => set('name', e.currentTarget.value)} />}
          </Field>
          <Field label="Expires in (days, optional)" name="expires_in_days" error={errors.expires_in_days}>
            {(p) => <input {...p} type="number" min="1" inputmode="numeric" value={form.days} onInput={(e) => set('days', e.currentTarget.value)} />}
          </Field>
        </div>
        <label><input type="checkbox" name="signing" checked={form.signing} onChange={(e) => set('signing', e.currentTarget.checked)} />
          {' '}Require signed calls (Standard Webhooks)</label>
        <FormError error={errors._form} />
        <button type="submit" id="token-create" disabled={busy} aria-busy={busy ? 'true' : undefined}>Create token</button>
      </form>
      <h3>Tokens</h3>
      <FormError error={actErrors._form} />
      {list === null ? <p aria-busy="true">Loading…</p> : list.length === 0 ? <p>No tokens.</p> : (
        <div class="overflow-auto">
          <table class="striped">
            <thead><tr><th scope="col">Name</th><th scope="col">Prefix</th><th scope="col">Created</th>
              <th scope="col">Expires</th><th scope="col">State</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
            <tbody>
              {list.map((t) => (
                <tr key={t.id} class="token" data-token-id={t.id}>
                  <td>{t.name}{t.signing ? ' (signed)' : ''}</td><td><code>{t.prefix}</code></td>
                  <td>{when(t.created_at)}</td><td>{when(t.expires_at) || 'never'}</td>
                  <td class="token-state">{t.revoked_at ? `revoked ${when(t.revoked_at)}` : 'active'}</td>
                  <td>{t.revoked_at ? null : <button type="button" class="outline secondary small revoke" onClick={() => revoke(t)}>Revoke</button>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
