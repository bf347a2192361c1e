// Log in with GitHub in headless Chromium: the page's "Log in with GitHub" button, the server's
// redirect to the provider, the provider's redirect back (the state cookie must survive it), and
// the page redeeming its ticket. The provider is a small GitHub-style OAuth2 server started here
// (authorize, token with PKCE S256 and client secret checks, /user, /user/emails).
// Run by scripts/test-browser.sh: node tests/browser/oauth.js URL PROVIDER_PORT
const { chromium } = require('playwright-core');
const http = require('http');
const crypto = require('crypto');
const base = process.argv[2];
const providerPort = Number(process.argv[3]);
const assert = (ok, what) => { if (!ok) throw new Error('assertion failed: ' + what); };

const codes = new Map(), tokens = new Map();
const b64url = (buf) => buf.toString('base64').replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
const provider = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://127.0.0.1');
  const json = (status, body) => { res.writeHead(status, { 'Content-Type': 'application/json' }); res.end(JSON.stringify(body)); };
  if (url.pathname === '/authorize') {
    const q = url.searchParams;
    if (q.get('client_id') !== 'browser-client' || q.get('code_challenge_method') !== 'S256' || !q.get('state'))
      return json(400, { error: 'invalid_request' });
    const code = b64url(crypto.randomBytes(16));
    codes.set(code, { challenge: q.get('code_challenge'), redirect: q.get('redirect_uri') });
    res.writeHead(302, { Location: `${q.get('redirect_uri')}?code=${code}&state=${encodeURIComponent(q.get('state'))}` });
    return res.end();
  }
  if (url.pathname === '/token' && req.method === 'POST') {
    let body = '';
    req.on('data', (c) => body += c);
    return req.on('end', () => {
      const f = new URLSearchParams(body);
      const grant = codes.get(f.get('code')); codes.delete(f.get('code'));
      if (f.get('client_secret') !== 'browser-secret') return json(401, { error: 'invalid_client' });
      const challenge = b64url(crypto.createHash('sha256').update(f.get('code_verifier') || '').digest());
      if (!grant || grant.challenge !== challenge || grant.redirect !== f.get('redirect_uri')) return json(400, { error: 'invalid_grant' });
      const token = b64url(crypto.randomBytes(16)); tokens.set(token, true);
      json(200, { access_token: token, token_type: 'bearer', scope: 'read:user,user:email' });
    });
  }
  const bearer = (req.headers.authorization || '').replace(/^Bearer /, '');
  if (!tokens.has(bearer)) return json(401, { message: 'Bad credentials' });
  if (url.pathname === '/api/user') return json(200, { id: 583231, login: 'octo-browser', name: null, email: null });
  if (url.pathname === '/api/user/emails') return json(200, [{ email: 'octo@browser.example', primary: true, verified: true }]);
  json(404, { message: 'Not Found' });
});

(async () => {
  await new Promise((ok) => provider.listen(providerPort, '127.0.0.1', ok));
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox','--disable-gpu','--disable-background-networking','--disable-component-update','--disable-sync','--no-first-run'] });
  const errors = [];
  const page = await (await browser.newContext()).newPage();
  page.on('pageerror', e => errors.push(e.message));
  await page.goto(base + '/');
  await page.click('text=Log in with GitHub');
  await page.waitForSelector('#app:not(.hidden)');
  assert((await page.textContent('#who')) === 'octo-browser', 'logged in as the GitHub account');
  assert(!page.url().includes('oauth_ticket'), 'the ticket is taken out of the address bar: ' + page.url());
  assert(errors.length === 0, 'no page errors: ' + errors);
  console.log('browser OAuth test passed');
  await browser.close();
  provider.close();
})().catch(e => { console.error('browser OAuth test FAILED:', e.message); process.exit(1); });
