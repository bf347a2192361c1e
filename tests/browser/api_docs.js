// The interactive API page in headless Chromium (playwright-core): /api/docs renders every
// operation of /api/v2/openapi.json from the server's own files under the strict CSP (a CSP
// violation or any other console error fails it), and "Try it out" on GET /api/v2/status gets a
// 200 from the server. Run by scripts/test-browser.sh: node tests/browser/api_docs.js URL
const { chromium } = require('playwright-core');
const base = process.argv[2] || 'http://127.0.0.1:8080';
const assert = (ok, what) => { if (!ok) throw new Error('assertion failed: ' + what); };
(async () => {
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox','--disable-gpu','--disable-background-networking','--disable-component-update','--disable-sync','--no-first-run'] });
  const errors = [];
  const outside = [];
  const page = await (await browser.newContext()).newPage();
  page.on('console', m => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', e => errors.push(e.message));
  page.on('request', r => { if (!r.url().startsWith(base) && !r.url().startsWith('data:')) outside.push(r.url()); });
  await page.goto(base + '/api/docs');
  const doc = await (await fetch(base + '/api/v2/openapi.json')).json();
  let operations = 0;
  for (const item of Object.values(doc.paths)) operations += Object.keys(item).length;
  // Tags start folded (docExpansion "none"): every tag is listed, and each one opened shows all of
  // its operations (opened one at a time, then folded again).
  const tags = new Map();
  for (const item of Object.values(doc.paths)) for (const op of Object.values(item)) for (const t of op.tags) tags.set(t, (tags.get(t) || 0) + 1);
  await page.waitForFunction(n => document.querySelectorAll('.opblock-tag').length >= n, tags.size, { timeout: 60000 });
  let shown = 0;
  for (const [tag, count] of tags) {
    const header = page.locator(`.opblock-tag[data-tag="${tag}"]`);
    await header.click();
    const section = page.locator('.opblock-tag-section', { has: header });
    await page.waitForFunction(([t, n]) => {
      const h = document.querySelector(`.opblock-tag[data-tag="${t}"]`);
      return h && h.parentElement.querySelectorAll('.opblock').length >= n;
    }, [tag, count], { timeout: 30000 });
    shown += await section.locator('.opblock').count();
    await header.click();
  }
  assert(shown === operations, `the page shows ${shown} operations of ${operations}`);
  await page.locator('.opblock-tag[data-tag="status"]').click();
  // Try GET /api/v2/status from the page: the request goes to this server and its answer shows.
  const status = page.locator('.opblock-get', { hasText: '/api/v2/status' }).first();
  await status.locator('.opblock-summary').click();
  // The page opens operations ready to try (tryItOutEnabled): Execute is there at once.
  await status.locator('button.execute').click();
  await status.locator('.live-responses-table .response-col_status', { hasText: '200' }).first().waitFor({ timeout: 30000 });
  assert(outside.length === 0, 'requests left the server: ' + outside.join(', '));
  assert(errors.length === 0, 'console errors: ' + errors.join(' | '));
  console.log(`api docs: ${shown} operations rendered, try-it-out answered 200, no CSP violation`);
  await browser.close();
})().catch(e => { console.error(e); process.exit(1); });
