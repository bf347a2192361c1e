"use strict";
// All user-supplied text is put into the page with textContent, never as HTML.
const $ = (id) => document.getElementById(id);
const state = { access: sessionStorage.getItem("veza.access"), refresh: sessionStorage.getItem("veza.refresh"),
                user: null, ws: null, room: null, seqs: new Set(), msgs: new Map(), oldest: null, backoff: 500, lastSeq: {},
                rooms: new Map(), watched: new Set() };

async function api(path, options = {}) {
  const headers = { "Content-Type": "application/json" };
  if (state.access) headers.Authorization = "Bearer " + state.access;
  let res = await fetch(path, { ...options, headers });
  if (res.status === 401 && state.refresh && !options.retried) {
    if (await refresh()) return api(path, { ...options, retried: true });
  }
  const body = res.status === 204 ? null : await res.json().catch(() => null);
  if (!res.ok) {
    const err = new Error(body && body.error ? body.error.message : res.statusText);
    err.code = body && body.error ? body.error.code : null;
    throw err;
  }
  return body;
}

function keep(tokens) {
  state.access = tokens.access_token; state.refresh = tokens.refresh_token; state.user = tokens.user;
  sessionStorage.setItem("veza.access", state.access); sessionStorage.setItem("veza.refresh", state.refresh);
}

async function refresh() {
  const res = await fetch("/api/v2/auth/refresh", { method: "POST", headers: { "Content-Type": "application/json" },
                                                     body: JSON.stringify({ refresh_token: state.refresh }) });
  if (!res.ok) { signOut(); return false; }
  keep(await res.json()); return true;
}

// A second factor, when the account has 2FA on: six digits are a TOTP code, anything else a backup code.
function secondFactor() {
  const code = $("totp").value.trim();
  if (!code) return {};
  return /^[0-9]{6}$/.test(code) ? { totp_code: code } : { backup_code: code };
}

async function authenticate(path, body) {
  $("auth-error").textContent = "";
  try {
    keep(await api(path, { method: "POST", body: JSON.stringify({ ...body, ...secondFactor() }) }));
    state.ticket = null; start();
  } catch (e) {
    if (e.code === "totp_required") { $("totp").classList.remove("hidden"); $("totp").focus(); }
    $("auth-error").textContent = e.message;
  }
}

function passwordLogin(path) {
  if (state.ticket) return authenticate("/api/v2/auth/oauth/complete", { ticket: state.ticket });
  authenticate(path, { username: $("username").value, password: $("password").value });
}

// "Log in with ..." buttons for the providers the server has switched on; a finished provider login
// comes back as #oauth_ticket=..., redeemed here (with a 2FA code if the account asks for one).
async function offerProviders() {
  const names = { google: "Google", github: "GitHub", discord: "Discord" };
  const { providers } = await api("/api/v2/auth/oauth/providers").catch(() => ({ providers: [] }));
  for (const p of providers) {
    const a = document.createElement("a"); a.className = "button ghost";
    a.href = `/api/v2/auth/oauth/${encodeURIComponent(p)}/start`; a.textContent = "Log in with " + (names[p] || p);
    $("providers").append(a);
  }
  const ticket = new URLSearchParams(location.hash.slice(1)).get("oauth_ticket");
  if (ticket) {
    history.replaceState(null, "", location.pathname);
    state.ticket = ticket;
    $("username").required = $("password").required = false;
    authenticate("/api/v2/auth/oauth/complete", { ticket });
  }
}

function signOut() {
  if (state.refresh) fetch("/api/v2/auth/logout", { method: "POST", headers: { "Content-Type": "application/json" },
                                                     body: JSON.stringify({ refresh_token: state.refresh }) });
  sessionStorage.clear(); state.access = state.refresh = null;
  if (state.ws) state.ws.close();
  location.reload();
}

async function start() {
  try { state.user = await api("/api/v2/users/me"); } catch (e) { return; }
  $("auth").classList.add("hidden"); $("app").classList.remove("hidden"); $("logout").classList.remove("hidden");
  $("who").textContent = state.user.username;
  $("bell").classList.remove("hidden");
  await loadRooms();
  connect();
  loadFeed();
  loadStreams();
}

// The room list: rooms and conversations, each with its unread and mention counts (for the
// rooms you are a member of). Member rooms are joined in the background so their counts move live.
async function loadRooms() {
  const { rooms } = await api("/api/v2/rooms");
  state.rooms = new Map(rooms.map(r => [r.id, r]));
  renderRoomList();
  watchRooms();
}

function renderRoomList() {
  const list = $("room-list"), dms = $("dm-list"); list.replaceChildren(); dms.replaceChildren();
  for (const room of state.rooms.values()) {
    const li = document.createElement("li");
    const name = document.createElement("span"); name.className = "name";
    name.textContent = room.kind === "room" ? (room.private ? "🔒 " : "# ") + room.name : "@ " + room.name;
    li.append(name);
    if (room.unread) { const b = document.createElement("span"); b.className = "badge unread"; b.textContent = room.unread; li.append(b); }
    if (room.mentions) { const b = document.createElement("span"); b.className = "badge mention"; b.textContent = "@" + room.mentions; li.append(b); }
    li.classList.toggle("muted", !!room.muted);
    li.dataset.id = room.id; li.dataset.topic = room.topic || "";
    li.onclick = () => joinRoom(room.id);
    if (room.id === state.room) li.classList.add("active");
    (room.kind === "room" ? list : dms).append(li);
  }
}

function watchRooms() {
  for (const room of state.rooms.values()) {
    if (room.read_seq !== undefined && !state.watched.has(room.id)) { state.watched.add(room.id); send({ type: "join", room: room.id }); }
  }
}

function connect() {
  const proto = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${proto}://${location.host}/ws?access_token=${encodeURIComponent(state.access)}`);
  state.ws = ws;
  ws.onopen = () => {
    state.backoff = 500; state.watched.clear();
    if (state.room) { state.watched.add(state.room); send({ type: "join", room: state.room, since: state.lastSeq[state.room] }); }
    watchRooms();
  };
  ws.onmessage = (e) => handle(JSON.parse(e.data));
  ws.onclose = async () => {
    state.ws = null;
    await refresh();                       // the access token may have expired
    setTimeout(connect, state.backoff); state.backoff = Math.min(state.backoff * 2, 10000);
  };
}

function send(frame) { if (state.ws && state.ws.readyState === 1) state.ws.send(JSON.stringify(frame)); }

function joinRoom(id) {
  state.room = id; state.seqs.clear(); state.msgs.clear(); state.oldest = null;
  $("messages").replaceChildren(); $("pins").classList.add("hidden"); closeThread();
  for (const li of document.querySelectorAll("#room-list li, #dm-list li")) li.classList.toggle("active", li.dataset.id === id);
  state.watched.add(id);
  send({ type: "join", room: id });
}

function render(m, where = "end") {
  state.msgs.set(m.id, m);
  // A reply only in its thread: not in the room's timeline (the thread panel shows it).
  if (m.thread && !m.also_in_room) {
    if (m.seq) state.lastSeq[m.room] = Math.max(state.lastSeq[m.room] || 0, m.seq);
    threadMessage(m); scheduleRead(); return;
  }
  if (m.thread) threadMessage(m);
  if (m.seq && state.seqs.has(m.seq)) { const old = document.querySelector(`[data-id="${m.id}"]`); if (old) old.replaceWith(line(m)); return; }
  if (m.seq) { state.seqs.add(m.seq); state.oldest = Math.min(state.oldest ?? m.seq, m.seq); state.lastSeq[m.room] = Math.max(state.lastSeq[m.room] || 0, m.seq); }
  const box = $("messages"), log = $("log");
  const stick = log.scrollTop + log.clientHeight >= log.scrollHeight - 30;
  if (where === "start") box.prepend(line(m)); else box.append(line(m));
  if (stick && where === "end") log.scrollTop = log.scrollHeight;
  $("older").classList.toggle("hidden", !(state.oldest > 1));
  scheduleRead();
}

function line(m) {
  const div = document.createElement("div");
  div.className = "msg " + m.kind; div.dataset.id = m.id;
  const time = document.createElement("span"); time.className = "time";
  time.textContent = new Date(m.created_at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  const author = document.createElement("span"); author.className = "author";
  author.textContent = m.kind === "action" ? "* " + m.author.username : m.author.username;
  const body = document.createElement("span");
  if (m.deleted) body.textContent = "(deleted)";
  else body.append(...withEmoji(m.body, m.emoji), m.edited_at ? " (edited)" : "");
  const reactions = document.createElement("span");
  for (const r of m.reactions || []) {
    // Clicking a reaction adds yours, or takes it back.
    const chip = document.createElement("button"); chip.className = "reaction"; chip.title = r.emoji;
    chip.append(...withEmoji(r.emoji, m.emoji), " " + r.count);
    chip.onclick = () => send({ type: "react", message: m.id, emoji: r.emoji });
    reactions.append(" ", chip);
  }
  if (!m.deleted && m.kind !== "system") {
    const add = document.createElement("button"); add.className = "reaction add"; add.textContent = "+";
    add.title = "react: an emoji, or :shortcode: of the room's custom emoji";
    add.onclick = () => {
      const emoji = (prompt("React with an emoji, or :shortcode: of the room's custom emoji") || "").trim();
      if (emoji) send({ type: "react", message: m.id, emoji });
    };
    reactions.append(" ", add);
  }
  div.append(time, author, body, reactions, ...messageExtras(m));
  return div;
}

// Text with each `:shortcode:` of the message's custom emoji (its `emoji` list) drawn as an image;
// any other `:word:` stays text. DOM nodes only: user text is never parsed as markup.
function withEmoji(text, emoji) {
  const urls = new Map((emoji || []).map(e => [e.shortcode, e.url]));
  if (!urls.size) return [text];
  const nodes = [], re = /:([a-z0-9_+-]{2,32}):/g;
  let last = 0, match;
  while ((match = re.exec(text))) {
    const url = urls.get(match[1]); if (!url) continue;
    const img = document.createElement("img");
    img.className = "emoji"; img.alt = img.title = match[0]; img.src = url;
    nodes.push(text.slice(last, match.index), img);
    last = re.lastIndex;
  }
  nodes.push(text.slice(last));
  return nodes;
}

// A reaction delta: who added or removed which emoji, and how many have it now.
function react(ev) {
  const m = state.msgs.get(ev.message); if (!m) return;
  const others = (m.reactions || []).filter(r => r.emoji !== ev.emoji);
  const had = (m.reactions || []).find(r => r.emoji === ev.emoji);
  const users = (had ? had.users : []).filter(u => u !== ev.user).concat(ev.added ? [ev.user] : []);
  m.reactions = ev.count > 0 ? others.concat([{ emoji: ev.emoji, count: ev.count, users }]) : others;
  // A custom emoji's image comes with the delta.
  const code = ev.emoji.slice(1, -1);
  if (ev.url && !(m.emoji || []).some(e => e.shortcode === code)) m.emoji = (m.emoji || []).concat([{ shortcode: code, url: ev.url }]);
  render(m);
}

function notice(text) { const div = document.createElement("div"); div.className = "msg notice"; div.textContent = text; $("messages").append(div); }

// The slash-command hint: the room's commands (built-in and the bots'), from the REST list.
async function loadCommands(room) {
  try { const r = await api(`/api/v2/rooms/${room}/commands`); if (room === state.room) state.commands = r.commands; }
  catch (err) { state.commands = []; }
}

function showHint() {
  const hint = $("command-hint"), text = $("body").value;
  const typed = text.startsWith("/") && !text.includes(" ") ? text.slice(1).toLowerCase() : null;
  // The room's bots' commands first, then the built-ins.
  const all = (state.commands || []).slice().sort((a, b) => (a.bot ? 0 : 1) - (b.bot ? 0 : 1));
  const matches = typed === null ? [] : all.filter(c => c.name.startsWith(typed)).slice(0, 10);
  hint.replaceChildren(...matches.map(c => {
    const li = document.createElement("li"); li.dataset.name = c.name;
    const usage = document.createElement("span"); usage.className = "usage";
    usage.textContent = "/" + c.name + (c.args ? " " + c.args : "");
    const what = document.createElement("span"); what.className = "what";
    what.textContent = c.description + (c.bot ? " (@" + c.bot.username + ")" : "");
    li.append(usage, what);
    li.onclick = () => { $("body").value = "/" + c.name + " "; $("body").focus(); showHint(); };
    return li;
  }));
  hint.classList.toggle("hidden", matches.length === 0);
}

// A stream's timed lyrics line (AutoDJ or a live broadcaster): shown when the stream clock reaches
// it (`at`, wall-clock ms, the clock HLS's EXT-X-PROGRAM-DATE-TIME is on); lines arrive a little
// ahead of time. A newer line replaces a pending one.
function showLyrics(ev) {
  if (ev.room !== state.room) return;
  clearTimeout(state.lyricsTimer);
  state.lyricsTimer = setTimeout(() => {
    const el = $("lyrics");
    el.textContent = ev.text ? "♪ " + ev.text : "";
    el.classList.toggle("hidden", !ev.text);
  }, Math.max(0, ev.at - Date.now()));
}

function handle(ev) {
  switch (ev.type) {
    case "lyrics": showLyrics(ev); break;
    case "now_playing": if (ev.room === state.room) { const el = $("lyrics"); el.textContent = "▶ " + ev.title; el.classList.remove("hidden"); } break;
    case "joined": {
      if (ev.room !== state.room) return backgroundJoined(ev);
      const room = state.rooms.get(ev.room);
      $("topic").textContent = (room && room.topic) || (room && room.kind !== "room" ? "Conversation with " + room.name : "No topic.");
      $("pins-btn").classList.remove("hidden");
      ev.messages.forEach(m => render(m));
      loadCommands(ev.room);
      $("body").disabled = $("send-btn").disabled = $("attach").disabled = false; $("body").focus();
      break;
    }
    case "message":
      if (ev.room === state.room) { render(ev.message); if (ev.message.kind === "system") loadRooms(); }
      else countUnread(ev.message);
      break;
    case "message_updated": if (ev.message.room === state.room) render(ev.message); break;
    case "reaction": if (ev.room === state.room) react(ev); break;
    case "message_deleted": { const el = document.querySelector(`[data-id="${ev.message}"] span:nth-child(3)`); if (el) el.textContent = "(deleted)"; break; }
    case "history": if (ev.room === state.room) ev.messages.slice().reverse().forEach(m => render(m, "start")); break;
    case "typing": if (ev.room === state.room) {
      const others = ev.users.filter(u => u.id !== state.user.id).map(u => u.username);
      $("typing").textContent = others.length ? others.join(", ") + " typing…" : "";
      clearTimeout(state.typingTimer); state.typingTimer = setTimeout(() => $("typing").textContent = "", 3000);
    } break;
    case "notice": notice(ev.body); break;
    case "command_reply": if (ev.room === state.room) notice("@" + ev.bot.username + " (only you see this): " + ev.body); break;
    case "left": if (ev.room === state.room) { notice("You are no longer in this room."); $("body").disabled = $("send-btn").disabled = true; } break;
    case "error": notice("⚠ " + ev.message); break;
    default: handleConversationEvent(ev);
  }
}

$("auth").onsubmit = (e) => { e.preventDefault(); passwordLogin("/api/v2/auth/login"); };
$("register").onclick = () => passwordLogin("/api/v2/auth/register");
$("logout").onclick = signOut;
$("new-room").onsubmit = async (e) => {
  e.preventDefault();
  try {
    const room = await api("/api/v2/rooms", { method: "POST", body: JSON.stringify({ name: $("room-name").value, private: $("room-private").checked }) });
    $("room-name").value = ""; await loadRooms(); joinRoom(room.id);
  } catch (err) { notice("⚠ " + err.message); }
};
$("send").onsubmit = (e) => {
  e.preventDefault();
  const body = $("body").value.trim(); if (!body || !state.room) return;
  send({ type: "send", room: state.room, body, client_id: crypto.randomUUID ? crypto.randomUUID() : String(Date.now() + Math.random()) });
  $("body").value = ""; showHint();
};
let lastTyping = 0;
let lastCommands = 0;
$("body").oninput = () => {
  const now = Date.now(); if (now - lastTyping > 2000 && state.room) { lastTyping = now; send({ type: "typing", room: state.room }); }
  // A bot may have registered commands since the join: look again when a command starts.
  if ($("body").value === "/" && state.room && now - lastCommands > 5000) { lastCommands = now; loadCommands(state.room).then(showHint); }
  showHint();
};
$("older").onclick = () => send({ type: "history", room: state.room, before: state.oldest, limit: 50 });

if (state.access) start(); else offerProviders();
