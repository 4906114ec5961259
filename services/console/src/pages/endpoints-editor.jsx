/*
 * endpoints-editor.jsx: endpoints.yaml in a text area, with the API schema
 * files it names (schemaFilePath) chosen beside it. The server parses and
 * checks both and answers with the file and line of any problem.
 */
import { Field } from '../ui.jsx';

export function EndpointsEditor({ yaml, setYaml, files, setFiles, errors }) {
  return (
    <>
      <Field label="endpoints.yaml" name="endpoints" error={errors.endpoints}
        hint="name, port, type (REST, GraphQL, GRPC, TCP, UDP, WS), networkVisibility, context, schemaFilePath">
        {(p) => <textarea {...p} rows="9" class="mono" spellcheck={false} value={yaml}
          onInput={(e) => setYaml(e.currentTarget.value)} />}
      </Field>
      <Field label="Schema files (OpenAPI, GraphQL SDL, AsyncAPI), by the names schemaFilePath uses"
        name="schemas" error={errors.schemas}>
        {(p) => <input {...p} type="file" multiple
          onChange={(e) => setFiles(Array.from(e.currentTarget.files || []))} />}
      </Field>
      {files.length ? <p><small>{files.map((f) => f.name).join(', ')}</small></p> : null}
    </>
  );
}

/* PUT .../endpoints: multipart with the files, plain YAML without. */
export async function putEndpoints(api, id, yaml, files) {
  if (!files.length) {
    return api.request('PUT', `/v1/components/${encodeURIComponent(id)}/endpoints`,
      { body: yaml, headers: { 'Content-Type': 'application/yaml' } });
  }
  const fd = new FormData();
  fd.append('endpoints', new Blob([yaml], { type: 'application/yaml' }), 'endpoints.yaml');
  for (const f of files) fd.append('schema', f, f.name);
  return api.request('PUT', `/v1/components/${encodeURIComponent(id)}/endpoints`, { body: fd });
}
