// The console's CI snippets are the CLI's, byte for byte: the golden files
// are `slipway token snippet` output (services/cli/cli_snippet.c) for the
// same image and webhook URL. To regenerate them after a change to the
// CLI's snippets: serve GET /v1/components/ID as {"image":
// "127.0.0.1:15000/demo/hello:v1"} on a port P, then run
//   SLIPWAY_URL_COMPONENT=http://127.0.0.1:P SLIPWAY_URL_WEBHOOK=http://127.0.0.1:8000 \
//   slipway token snippet ID [--signing] > golden/snippets-signing{0,1}.txt
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { renderSnippets, snippetRepo, webhookUrlFor } from '../src/lib/snippets.js';

const golden = (n) => readFileSync(new URL(`golden/${n}`, import.meta.url), 'utf8');
/* The CLI prints each snippet under "\n--- name ---\n". */
const asCli = (snips) => snips.map((s) => `\n--- ${s.name} ---\n${s.text}`).join('');

for (const signing of [false, true]) {
  test(`snippets match the CLI (signing=${signing})`, () => {
    const s = renderSnippets({ webhookUrl: webhookUrlFor('http://127.0.0.1:8000/'),
      image: '127.0.0.1:15000/demo/hello:v1', signing });
    assert.equal(asCli(s), golden(`snippets-signing${signing ? 1 : 0}.txt`));
  });
}

test('snippetRepo normalises like the platform', () => {
  assert.equal(snippetRepo('ghcr.io/acme/api:1.4.2'), 'ghcr.io/acme/api');
  assert.equal(snippetRepo('nginx'), 'docker.io/library/nginx');
  assert.equal(snippetRepo('index.docker.io/acme/api@sha256:' + 'a'.repeat(64)), 'docker.io/acme/api');
  assert.equal(snippetRepo('localhost/x/y:1'), 'localhost/x/y');
  assert.equal(snippetRepo('127.0.0.1:5000/team/app'), '127.0.0.1:5000/team/app');
});

test('nothing that is unsafe in a shell reaches a snippet', () => {
  for (const bad of ["ghcr.io/a/b:1'; rm -rf /", 'ghcr.io/a/$(id)', 'ghcr.io/a/`x`', 'a b', '', null])
    assert.equal(snippetRepo(bad), null, String(bad));
  assert.equal(renderSnippets({ webhookUrl: "http://x'/v1/hooks/deploy", image: 'ghcr.io/a/b:1' }), null);
  assert.equal(renderSnippets({ webhookUrl: 'http://x/v1/hooks/deploy', image: 'ghcr.io/a/$b:1' }), null);
});
