// The page's conversation features in headless Chromium (playwright-core), two people (erin and
// frank, so the other browser tests' users do not clash) on one server: frank opens a direct
// conversation with erin (it appears in her list when he writes), erin's messages in a room frank
// is not looking at show as an unread count that drops to zero when he opens the room, erin
// replies in a thread that frank opens from the reply count, and frank uploads an image (erin
// sees its thumbnail) and a PDF (a download link).
// Run by scripts/test-browser.sh (which starts the server): node tests/browser/conversations.js URL
const { chromium } = require('playwright-core');
const base = process.argv[2] || 'http://127.0.0.1:8080';
const assert = (ok, what) => { if (!ok) throw new Error('assertion failed: ' + what); };
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=', 'base64');
const PDF = Buffer.from('%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n');
(async () => {
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox','--disable-gpu','--disable-background-networking','--disable-component-update','--disable-sync','--no-first-run'] });
  const errors = [];
  // A person in a browser of their own: registers, or logs in (a second device).
  const mk = async (name, button = '#register') => {
    const ctx = await browser.newContext(); const page = await ctx.newPage();
    page.on('console', m => { if (m.type() === 'error') errors.push(name + ': ' + m.text()); });
    page.on('pageerror', e => errors.push(name + ': ' + e.message));
    await page.goto(base + '/');
    await page.fill('#username', name); await page.fill('#password', 'correct horse battery');
    await page.click(button);
    await page.waitForSelector('#app:not(.hidden)');
    return page;
  };
  const lineWith = (page, text) => page.locator('#messages .msg', { hasText: text });
  const a = await mk('erin');
  await a.fill('#room-name', 'town square'); await a.click('#new-room button');
  await a.waitForSelector('#body:not([disabled])');
  await a.fill('#body', 'welcome'); await a.press('#body', 'Enter');
  const b = await mk('frank');
  await b.click('#room-list li:has-text("town square")');
  await lineWith(b, 'welcome').waitFor();

  // A direct conversation: frank opens it, writes; it appears in erin's list and she answers.
  await b.fill('#dm-names', 'erin'); await b.click('#new-dm button');
  await b.waitForSelector('#dm-list li.active:has-text("erin")');
  await b.waitForSelector('#body:not([disabled])');
  await b.fill('#body', 'psst, erin'); await b.press('#body', 'Enter');
  await lineWith(b, 'psst, erin').waitFor();
  await a.click('#dm-list li:has-text("frank")', { timeout: 10000 });
  await lineWith(a, 'psst, erin').waitFor();
  await a.fill('#body', 'hi frank, privately'); await a.press('#body', 'Enter');
  await lineWith(b, 'hi frank, privately').waitFor();

  // Frank's second device (another browser, logged in) sits on no room at all.
  const f2 = await mk('frank', '#login');
  const square = '#room-list li:has-text("town square")';

  // Unread and a mention: erin writes in the room while frank looks at the conversation; both of
  // his devices show the counts, the second the mention in its feed; when he opens the room on
  // one device the counts drop to zero on both.
  await a.click(square);
  await lineWith(a, 'welcome').waitFor();
  await a.fill('#body', 'news one'); await a.press('#body', 'Enter');
  await a.fill('#body', 'news two, @frank'); await a.press('#body', 'Enter');
  for (const page of [b, f2]) {
    await page.waitForSelector(`${square} .badge.unread:text-is("2")`);
    await page.waitForSelector(`${square} .badge.mention:text-is("@1")`);
  }
  await f2.click('#bell');
  await f2.locator('#feed-list li', { hasText: 'news two, @frank' }).waitFor();
  await b.click(square);
  await lineWith(b, 'news two').waitFor();
  for (const page of [b, f2]) {
    await page.waitForFunction(() => ![...document.querySelectorAll('#room-list li')]
      .some(li => li.textContent.includes('town square') && li.querySelector('.badge')));
  }
  const unread = await b.evaluate(async () => (await api('/api/v2/rooms')).rooms.find(r => r.name === 'town square').unread);
  assert(unread === 0, 'the server agrees nothing is unread: ' + unread);

  // A thread: erin replies under "news one"; frank opens it from the reply count.
  const news = lineWith(a, 'news one');
  await news.hover(); await news.locator('button.reply').click();
  await a.waitForSelector('#thread:not(.hidden)');
  await a.fill('#thread-body', 'details in the thread'); await a.press('#thread-body', 'Enter');
  await a.locator('#thread-messages .msg', { hasText: 'details in the thread' }).waitFor();
  await lineWith(b, 'news one').locator('button.replies:has-text("1 reply")').click();
  await b.locator('#thread-messages .msg', { hasText: 'details in the thread' }).waitFor();
  const inTimeline = await b.locator('#messages .msg', { hasText: 'details in the thread' }).count();
  assert(inTimeline === 0, 'a thread reply stays out of the timeline');

  // A pin: erin (the room's owner) pins a message; frank sees it in the pin list.
  const pinned = lineWith(a, 'news one');
  await pinned.hover(); await pinned.locator('button.pin').click();
  await b.click('#pins-btn');
  await b.locator('#pins li', { hasText: 'news one' }).waitFor();

  // Uploads: an image (erin sees its thumbnail) and a PDF (a download link).
  await b.setInputFiles('#file', { name: 'dot.png', mimeType: 'image/png', buffer: PNG });
  await a.waitForFunction(() => [...document.querySelectorAll('#messages img.thumb')].some(i => i.complete && i.naturalWidth > 0));
  await b.setInputFiles('#file', { name: 'notes.pdf', mimeType: 'application/pdf', buffer: PDF });
  const link = a.locator('#messages a.file', { hasText: 'notes.pdf' });
  await link.waitFor();
  const href = await link.getAttribute('href');
  const got = await a.evaluate(async (u) => { const r = await fetch(u); return [r.status, r.headers.get('content-disposition'), (await r.text()).slice(0, 8)]; }, href);
  assert(got[0] === 200 && /attachment/.test(got[1] || '') && got[2] === '%PDF-1.4', 'the PDF downloads: ' + got);
  assert(errors.length === 0, 'no page errors: ' + errors);
  console.log('browser conversations test passed');
  await browser.close();
})().catch(e => { console.error('browser conversations test FAILED:', e.message); process.exit(1); });
