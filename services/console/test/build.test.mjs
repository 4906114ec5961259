// The built console obeys the front door's CSP ('self' only): no inline
// script or style, no data: or remote URL in the CSS, every asset local and
// present, and the whole bundle small.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';

test('the build is CSP-clean, local and small', () => {
  const out = mkdtempSync(join(tmpdir(), 'slipway-console-build-'));
  try {
    execFileSync(process.execPath, [new URL('../build.mjs', import.meta.url).pathname, out], { stdio: 'pipe' });
    const html = readFileSync(join(out, 'index.html'), 'utf8');
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, 'an inline script');
    assert.doesNotMatch(html, /\sstyle=|<style/, 'an inline style');
    const refs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
    assert.equal(refs.length, 2, html);
    for (const r of refs) {
      assert.match(r, /^assets\/main-[A-Za-z0-9]+\.(js|css)$/, r);
      assert.ok(existsSync(join(out, r)), r);
    }
    const assets = join(out, 'assets');
    let total = 0;
    for (const f of readdirSync(assets)) {
      total += statSync(join(assets, f)).size;
      if (f.endsWith('.css')) {
        const css = readFileSync(join(assets, f), 'utf8');
        assert.doesNotMatch(css, /url\(\s*["']?(data:|https?:|\/\/)/, `${f}: a data: or remote URL`);
        assert.doesNotMatch(css, /@import/, `${f}: an @import`);
        for (const m of css.matchAll(/url\("([^"]+)"\)/g)) assert.ok(existsSync(join(assets, m[1])), m[1]);
      }
    }
    assert.ok(total < 400 * 1024, `assets are ${total} bytes`);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
