// The page's stream analytics in headless Chromium (playwright-core): gina (a name the other
// browser tests do not use) creates a stream; it shows under "My streams" for her and not for
// hank; picking it draws the chart (inline SVG made by the page's own script, under the page's
// CSP) with one point per minute of the last 24 h, and the step picker redraws it by hour.
// Run by scripts/test-browser.sh (which starts the server): node tests/browser/streams.js URL
const { chromium } = require('playwright-core');
const base = process.argv[2] || 'http://127.0.0.1:8080';
const assert = (ok, what) => { if (!ok) throw new Error('assertion failed: ' + what); };
(async () => {
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox','--disable-gpu','--disable-background-networking','--disable-component-update','--disable-sync','--no-first-run'] });
  const errors = [];
  const mk = async (name) => {
    const ctx = await browser.newContext(); const page = await ctx.newPage();
    page.on('console', m => { if (m.type() === 'error') errors.push(name + ': ' + m.text()); });
    page.on('pageerror', e => errors.push(name + ': ' + e.message));
    await page.goto(base + '/');
    await page.fill('#username', name); await page.fill('#password', 'correct horse battery');
    await page.click('#register');
    await page.waitForSelector('#app:not(.hidden)');
    return page;
  };
  const g = await mk('gina');
  const status = await g.evaluate(async () => {
    const res = await fetch('/api/v2/streams', { method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: 'Bearer ' + sessionStorage.getItem('veza.access') },
      body: JSON.stringify({ title: 'Gina FM' }) });
    return res.status;
  });
  assert(status === 201, 'stream created: ' + status);
  await g.reload();
  await g.click('#stream-list li:has-text("Gina FM")');
  // A flat line (nobody listened yet) has no height, so it is attached rather than "visible".
  await g.waitForSelector('#stats-chart svg polyline.total', { state: 'attached' });
  await g.waitForSelector('#stats-chart svg');
  const points = await g.$eval('#stats-chart svg polyline.total', el => el.getAttribute('points').split(' ').length);
  assert(points === 1440, 'a point per minute of the last 24 h: ' + points);
  const summary = await g.textContent('#stats-summary');
  assert(/peak none/.test(summary) && /0 sessions/.test(summary), summary);
  await g.selectOption('#stats-step', '3600');
  await g.waitForFunction(() => {
    const line = document.querySelector('#stats-chart svg polyline.total');
    return line && line.getAttribute('points').split(' ').length <= 25;
  });
  await g.click('#stats-close');
  await g.waitForSelector('#stats.hidden', { state: 'attached' });

  const h = await mk('hank');
  await h.waitForTimeout(500);
  assert(await h.locator('#stream-list li').count() === 0, "hank owns no stream");
  assert(await h.locator('#streams-head.hidden').count() === 1, 'no "My streams" heading for hank');
  assert(errors.length === 0, 'no page errors: ' + errors.join(' | '));
  await browser.close();
  console.log('streams browser test: ok');
})().catch(e => { console.error(e); process.exit(1); });
