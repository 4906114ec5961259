/*
 * ui.jsx: the few building blocks every page shares: a labelled field that
 * shows the API's error for it right below (aria-invalid and
 * aria-describedby, so a screen reader reads it too), a form-level error,
 * and a hook that runs a request and keeps its error.
 */
import { useState } from 'preact/hooks';
import { fieldErrors } from './lib/api.js';

let seq = 0;
/* A stable id per field instance, for label/for and aria-describedby. */
export function useId(prefix) {
  const [id] = useState(() => `${prefix}-${++seq}`);
  return id;
}

export function Field({ label, name, error, hint, children }) {
  const id = useId(name || 'f');
  const errId = `${id}-err`;
  const child = children({ id, name, 'aria-invalid': error ? 'true' : undefined,
    'aria-describedby': error ? errId : undefined });
  return (
    <label for={id}>
      {label}
      {child}
      {error ? <small id={errId} class="field-error" data-field={name} role="alert">{error}</small>
        : hint ? <small>{hint}</small> : null}
    </label>
  );
}

export function FormError({ error }) {
  return error ? <p class="form-error" role="alert">{error}</p> : null;
}

export function Notice({ text }) {
  return text ? <p class="notice" role="status">{text}</p> : null;
}

/*
 * Runs an async action with the form's fields in mind: returns
 * [run, errors, busy, setErrors]. run(fn) clears the errors, awaits fn, and
 * on an ApiError spreads it over the fields it names (the rest under
 * _form). fn's result is returned (undefined on failure).
 */
export function useAction(fields = []) {
  const [errors, setErrors] = useState({});
  const [busy, setBusy] = useState(false);
  async function run(fn) {
    setErrors({});
    setBusy(true);
    try {
      return await fn();
    } catch (e) {
      setErrors(fieldErrors(e, fields));
      return undefined;
    } finally {
      setBusy(false);
    }
  }
  return [run, errors, busy, setErrors];
}

/* The text of a chosen file (docker config.json, a schema file). */
export function readFileText(file) {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(String(r.result));
    r.onerror = () => reject(r.error);
    r.readAsText(file);
  });
}

export function StatusBadge({ status }) {
  return <mark class={`status status-${status}`} data-status={status}>{status}</mark>;
}
