/*
 * build.mjs: bundles the console into OUT (default ../../build/console):
 * OUT/index.html and OUT/assets/main-<hash>.{js,css}. No network, no CDN:
 * everything comes from node_modules (npm ci). Usage: node build.mjs OUT
 */
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, writeFile, rename } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = resolve(process.argv[2] || join(here, '../../build/console'));
const assets = join(out, 'assets');

await rm(assets, { recursive: true, force: true });
await mkdir(assets, { recursive: true });
const result = await build({
  absWorkingDir: here,
  entryPoints: ['src/main.jsx'],
  bundle: true,
  minify: true,
  sourcemap: false,
  format: 'esm',
  target: ['es2020'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  outdir: assets,
  entryNames: '[name]-[hash]',
  assetNames: '[name]-[hash]',
  metafile: true,
  legalComments: 'none',
  logLevel: 'warning',
});

const hash = (data) => createHash('sha256').update(data).digest('hex').slice(0, 10);

/*
 * Pico CSS draws its icons (select arrows, check marks, the details chevron)
 * with data: URLs, which a CSP of 'self' only refuses. Each becomes a file of
 * its own beside the CSS, and the CSS gets a new hashed name.
 */
async function inlineImagesToFiles(cssPath) {
  let css = await readFile(cssPath, 'utf8');
  const re = /url\((["']?)data:image\/svg\+xml(;base64)?,(.*?)\1\)/g;
  const files = new Map();
  css = css.replace(re, (_, _q, b64, payload) => {
    const svg = b64 ? Buffer.from(payload, 'base64') : Buffer.from(decodeURIComponent(payload));
    const name = `icon-${hash(svg)}.svg`;
    files.set(name, svg);
    return `url("${name}")`;
  });
  for (const [name, svg] of files) await writeFile(join(dirname(cssPath), name), svg);
  const renamed = join(dirname(cssPath), `main-${hash(css)}.css`);
  await writeFile(renamed, css);
  if (renamed !== cssPath) await rm(cssPath);
  return renamed;
}

/* The hashed names esbuild chose, as paths relative to index.html. */
const outputs = Object.keys(result.metafile.outputs).map((p) => resolve(here, p));
const pick = (ext) => {
  const f = outputs.find((p) => p.endsWith(ext));
  if (!f) throw new Error(`build.mjs: no ${ext} output`);
  return relative(out, f).split('\\').join('/');
};
const cssFile = await inlineImagesToFiles(join(out, pick('.css')));
const html = (await readFile(join(here, 'index.html'), 'utf8'))
  .replace('{{JS}}', pick('.js'))
  .replace('{{CSS}}', relative(out, cssFile).split('\\').join('/'));
/* index.html last, by rename: make's target appears only when all is there. */
await writeFile(join(out, 'index.html.tmp'), html);
await rename(join(out, 'index.html.tmp'), join(out, 'index.html'));
console.log(`console: ${relative(process.cwd(), out) || '.'}`);
