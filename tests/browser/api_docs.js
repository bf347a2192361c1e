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
  await page.waitForFunction(n => document.querySelectorAll('.opblock').length >= n, operations, { timeout: 60000 });
  const shown = await page.$$eval('.opblock', els => els.length);
  assert(shown === operations, `the page shows ${shown} operations of ${operations}`);
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
