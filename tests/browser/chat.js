// End-to-end check of the web page in headless Chromium (driven by playwright-core): two people
// register, one creates a room with HTML in its name and sends HTML in a message, the other joins
// and answers; the owner reacts to the answer with a custom emoji she uploads. Fails if the page shows an error, renders user text as HTML, or misses a message.
// Run by scripts/test-browser.sh (which starts the server): node tests/browser/chat.js URL
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
  const a = await mk('alice');
  await a.fill('#room-name', 'lobby <b>x</b>'); await a.click('#new-room button');
  await a.waitForSelector('#body:not([disabled])');
  await a.fill('#body', 'hello <img src=x onerror=alert(1)>'); await a.press('#body', 'Enter');
  const b = await mk('bob');
  await b.waitForSelector('#room-list li');
  await b.click('#room-list li');
  await b.waitForSelector('#body:not([disabled])');
  await b.waitForSelector('.msg');
  await b.fill('#body', 'hi alice'); await b.press('#body', 'Enter');
  await a.waitForFunction(() => [...document.querySelectorAll('.msg')].some(m => m.textContent.includes('hi alice')));
  await a.fill('#body', '/help'); await a.press('#body', 'Enter');
  await a.waitForFunction(() => [...document.querySelectorAll('.msg.notice')].some(m => m.textContent.includes('/ban')));
  const bobSees = await b.$$eval('.msg', els => els.map(e => e.textContent));
  assert(bobSees.some(t => t.includes('hello <img src=x onerror=alert(1)>')), 'bob sees the message as text: ' + bobSees);
  assert(bobSees.some(t => t.includes('hi alice')), 'bob sees his own message');
  const rooms = await b.$$eval('#room-list li', els => els.map(e => e.textContent));
  assert(rooms.includes('# lobby <b>x</b>'), 'room name shown as text: ' + rooms);
  assert(await b.$$eval('#messages img, #room-list b', els => els.length) === 0, 'no HTML from user text in the DOM');
  // Alice (the owner) uploads a custom emoji and reacts with it to bob's message through the
  // page's "+" button; bob sees the reaction drawn as the image.
  const uploaded = await a.evaluate(async () => {
    const png = Uint8Array.from(atob('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII='), c => c.charCodeAt(0));
    const r = await fetch('/api/v2/rooms/' + state.room + '/emoji/party', { method: 'PUT', body: png, headers: { Authorization: 'Bearer ' + state.access } });
    return r.status;
  });
  assert(uploaded === 201, 'emoji uploaded: ' + uploaded);
  a.once('dialog', d => d.accept(':party:'));
  const bobsLine = a.locator('.msg', { hasText: 'hi alice' });
  await bobsLine.hover();
  await bobsLine.locator('button.reaction.add').click();
  await b.waitForFunction(() => [...document.querySelectorAll('.msg')].some(m => m.textContent.includes('hi alice') && m.querySelector('button.reaction img.emoji[alt=":party:"]')));
  assert(errors.length === 0, 'no page errors: ' + errors);
  console.log('browser chat test passed');
  await browser.close();
})().catch(e => { console.error('browser chat test FAILED:', e.message); process.exit(1); });
