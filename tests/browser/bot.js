// The example bot in the web page (headless Chromium, playwright-core): alice makes a bot over
// REST, invites it with /invite, starts examples/bot with its token; typing "/" shows the bot's
// /roll in the command hint, and "/roll 2d6" is answered by a bot message.
// Run by scripts/test-browser.sh (which starts the server and builds the example):
//   node tests/browser/bot.js URL PATH_TO_EXAMPLE_BOT
const { chromium } = require('playwright-core');
const { spawn } = require('child_process');
const base = process.argv[2] || 'http://127.0.0.1:8080';
const botExe = process.argv[3] || 'target/debug/examples/bot';
let step = 'start';
const assert = (ok, what) => { if (!ok) throw new Error('assertion failed: ' + what); };
let bot = null;
(async () => {
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox','--disable-gpu','--disable-background-networking','--disable-component-update','--disable-sync','--no-first-run'] });
  const errors = [];
  const page = await (await browser.newContext()).newPage(); globalThis.page = page;
  page.on('pageerror', e => errors.push(e.message));
  await page.goto(base + '/');
  await page.fill('#username', 'carol'); await page.fill('#password', 'correct horse battery');
  await page.click('#register');
  await page.waitForSelector('#app:not(.hidden)');
  await page.fill('#room-name', 'dice'); await page.click('#new-room button');
  await page.waitForSelector('#body:not([disabled])');
  const made = await page.evaluate(async () => {
    const r = await fetch('/api/v2/bots', { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: 'Bearer ' + state.access }, body: JSON.stringify({ username: 'dicebot' }) });
    return { status: r.status, body: await r.json(), room: state.room };
  });
  assert(made.status === 201, 'bot created: ' + JSON.stringify(made.body));
  step = "await page.fill('#body', '/inv"; await page.fill('#body', '/invite @dicebot'); await page.press('#body', 'Enter');
  await page.waitForFunction(() => [...document.querySelectorAll('.msg.system')].some(m => m.textContent.includes('dicebot')));
  step = 'bot = spawn('; bot = spawn(botExe, [made.room], { env: { ...process.env, VEZA_URL: base.replace(/^http/, 'ws'), VEZA_BOT_TOKEN: made.body.token }, stdio: ['ignore', 'ignore', 'inherit'] });
  // Wait until the bot has registered (the list the hint reads), then type "/".
  await page.waitForFunction(async () => {
    const r = await fetch(`/api/v2/rooms/${state.room}/commands`, { headers: { Authorization: 'Bearer ' + state.access } });
    return (await r.json()).commands.some(c => c.name === 'roll');
  }, null, { polling: 200, timeout: 20000 });
  // Typing "/" makes the page load the list again (at most every 5 s); on a loaded machine that
  // load can still race the bot's registration, so a hint without /roll is retyped after 5 s.
  for (let attempt = 1; ; attempt++) {
    step = `type "/" (attempt ${attempt})`; await page.fill('#body', ''); await page.type('#body', '/');
    const shown = await page.waitForFunction(() => [...document.querySelectorAll('#command-hint li')].some(li => li.textContent.includes('/roll NdM') && li.textContent.includes('@dicebot')), null, { timeout: 8000 }).then(() => true, () => false);
    if (shown) break;
    assert(attempt < 3, 'the hint shows /roll after three tries');
  }
  step = "await page.type('#body', 'ro')"; await page.type('#body', 'ro');
  const shown = await page.$$eval('#command-hint li', els => els.map(e => e.textContent));
  assert(shown.length === 1 && shown[0].startsWith('/roll'), 'the hint narrows to /roll: ' + shown);
  step = "await page.fill('#body', '/rol"; await page.fill('#body', '/roll 2d6'); await page.press('#body', 'Enter');
  await page.waitForFunction(() => [...document.querySelectorAll('.msg.bot')].some(m => m.textContent.includes('@carol rolled 2d6')), null, { timeout: 20000 });
  const said = await page.$$eval('.msg', els => els.map(e => e.textContent));
  assert(!said.some(t => t.includes('/roll 2d6') && !t.includes('rolled')), 'the command itself is not a message: ' + said);
  assert(errors.length === 0, 'no page errors: ' + errors);
  console.log('browser bot test passed');
  await browser.close();
  bot.kill();
})().catch(async e => { try { console.error(await globalThis.page.evaluate(() => JSON.stringify({ c: state.commands, v: $('body').value, h: $('command-hint').outerHTML }))); } catch (x) { console.error(x.message); } console.error('browser bot test FAILED at ' + step + ':', e.message); if (bot) bot.kill(); process.exit(1); });
