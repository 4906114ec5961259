/*
 * snippets.js: the CI snippets shown with a new token — curl, a GitHub
 * Actions step, a GitLab CI job — the same text `slipway token create`
 * prints (services/cli/cli_snippet.c), so the console and the CLI teach one
 * way to call the webhook. All three run one POSIX sh body; the token and
 * the signing secret come from CI secrets, never from the snippet.
 */

/* Docker Hub's other names; all of them mean docker.io (lib/imageref.c). */
const HUB_NAMES = ['docker.io', 'index.docker.io', 'registry-1.docker.io'];

/* A first segment is a registry host when it has '.', ':' or capitals, or is localhost. */
function firstIsDomain(s) {
  return s === 'localhost' || /[.:A-Z]/.test(s);
}

/*
 * The repository of an image reference ("domain/path", no tag or digest),
 * normalised as the platform does; null for a reference that must not be
 * pasted into a shell (quotes, '$', '`', '\') or that has no repository.
 */
export function snippetRepo(image) {
  if (typeof image !== 'string' || !image || /["'$`\\\s]/.test(image)) return null;
  let name = image;
  const at = name.indexOf('@');
  if (at >= 0) name = name.slice(0, at);
  const slash = name.lastIndexOf('/');
  const colon = name.lastIndexOf(':');
  if (colon > slash) name = name.slice(0, colon);
  let domain = 'docker.io';
  let repo = name;
  const first = name.indexOf('/');
  if (first > 0 && firstIsDomain(name.slice(0, first))) {
    domain = name.slice(0, first);
    if (HUB_NAMES.includes(domain.toLowerCase())) domain = 'docker.io';
    repo = name.slice(first + 1);
  }
  if (!repo || !/^[a-z0-9]+([._/-]+[a-z0-9]+)*$/.test(repo)) return null;
  if (domain === 'docker.io' && !repo.includes('/')) repo = `library/${repo}`;
  return `${domain}/${repo}`;
}

/* The sh body every snippet runs, each line prefixed with indent. */
function body(s, ind) {
  const L = [];
  L.push('set -eu');
  L.push(`BODY="{\\"image\\":\\"${s.repo}:$IMAGE_TAG\\"}"`);
  if (s.signing) {
    L.push(`WEBHOOK_ID="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \\n')"`);
    L.push('WEBHOOK_TS="$(date +%s)"');
    L.push(`KEY="$(printf '%s' "\${SLIPWAY_SIGNING_SECRET#whsec_}" | base64 -d | od -An -vtx1 | tr -d ' \\n')"`);
    L.push(`SIG="$(printf '%s.%s.%s' "$WEBHOOK_ID" "$WEBHOOK_TS" "$BODY" |`);
    L.push('      openssl dgst -sha256 -mac HMAC -macopt "hexkey:$KEY" -binary | base64)"');
  }
  L.push(`curl -sS --fail-with-body -X POST '${s.url}' \\`);
  L.push("     -w '\\nHTTP %{http_code}\\n' \\");
  L.push('     -H "Authorization: Bearer $SLIPWAY_TOKEN" \\');
  L.push("     -H 'Content-Type: application/json' \\");
  L.push('     -H "Idempotency-Key: $IDEMPOTENCY_KEY" \\');
  if (s.signing) {
    L.push('     -H "webhook-id: $WEBHOOK_ID" -H "webhook-timestamp: $WEBHOOK_TS" \\');
    L.push('     -H "webhook-signature: v1,$SIG" \\');
  }
  L.push('     -d "$BODY"');
  return L.map((l) => ind + l);
}

function curl(s) {
  return [
    `# curl (POSIX sh): SLIPWAY_TOKEN is the CI token${s.signing ? ' and SLIPWAY_SIGNING_SECRET its whsec_ secret' : ''}, IMAGE_TAG the tag`,
    `# your build pushed to ${s.repo}.`,
    ': "${SLIPWAY_TOKEN:?set SLIPWAY_TOKEN to the CI token}"',
    ...(s.signing ? [': "${SLIPWAY_SIGNING_SECRET:?set SLIPWAY_SIGNING_SECRET to the whsec_ secret}"'] : []),
    ': "${IMAGE_TAG:?set IMAGE_TAG to the tag you pushed}"',
    `IDEMPOTENCY_KEY="\${IDEMPOTENCY_KEY:-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \\n')}"`,
    ...body(s, ''),
  ];
}

function github(s) {
  return [
    '# GitHub Actions: a step after the one that pushes the image (repository',
    `# secret SLIPWAY_TOKEN${s.signing ? ', and SLIPWAY_SIGNING_SECRET' : ''}).`,
    `      - name: Deploy ${s.repo} with Slipway`,
    '        env:',
    '          SLIPWAY_TOKEN: ${{ secrets.SLIPWAY_TOKEN }}',
    ...(s.signing ? ['          SLIPWAY_SIGNING_SECRET: ${{ secrets.SLIPWAY_SIGNING_SECRET }}'] : []),
    '          IMAGE_TAG: ${{ inputs.tag || github.sha }}',
    '          IDEMPOTENCY_KEY: gh-${{ github.run_id }}-${{ github.run_attempt }}',
    '        run: |',
    ...body(s, '          '),
  ];
}

function gitlab(s) {
  return [
    '# GitLab CI: a job after the one that pushes the image (masked CI/CD',
    `# variable SLIPWAY_TOKEN${s.signing ? ', and SLIPWAY_SIGNING_SECRET' : ''}).`,
    'deploy-slipway:',
    '  stage: deploy',
    '  image: alpine:3.20',
    '  variables:',
    '    IMAGE_TAG: $CI_COMMIT_SHORT_SHA',
    '    IDEMPOTENCY_KEY: gl-$CI_PIPELINE_ID-$CI_JOB_ID',
    '  before_script:',
    `    - apk add --no-cache curl${s.signing ? ' openssl' : ''}`,
    '  script:',
    '    - |',
    ...body(s, '      '),
  ];
}

/*
 * The three snippets for a component's image and the webhook URL (the
 * console's own origin + /v1/hooks/deploy): [{name, text}], or null when
 * either cannot be pasted into a shell.
 */
export function renderSnippets({ webhookUrl, image, signing = false }) {
  const repo = snippetRepo(image);
  if (!repo || typeof webhookUrl !== 'string' || !webhookUrl ||
      /['\s]/.test(webhookUrl)) return null;
  const s = { url: webhookUrl, repo, signing: !!signing };
  return [
    { name: 'curl', text: curl(s).join('\n') + '\n' },
    { name: 'GitHub Actions', text: github(s).join('\n') + '\n' },
    { name: 'GitLab CI', text: gitlab(s).join('\n') + '\n' },
  ];
}

/* The webhook URL on the console's own origin (the front door). */
export function webhookUrlFor(origin) {
  return `${String(origin).replace(/\/+$/, '')}/v1/hooks/deploy`;
}
