"use strict";
// The page's conversation features, on top of app.js (same globals: state, api, send, $, line,
// render, notice, joinRoom, loadRooms, renderRoomList): direct conversations, the thread panel,
// mentions (the bell and its feed), unread counts and read markers, pins, and uploads.
// As in app.js, user text only ever reaches the page through textContent.

// ---- Unread counts and read markers ----

// A message in a room that is not on screen: one more unread there (not one's own, not a reply
// kept in its thread).
function countUnread(m) {
  const room = state.rooms.get(m.room);
  if (!room || room.read_seq === undefined || m.author.id === state.user.id) return;
  if (m.thread && !m.also_in_room) return;
  if (m.seq > (room.counted_to || room.last_seq || 0)) {
    room.unread = (room.unread || 0) + 1; room.counted_to = m.seq; renderRoomList();
  }
}

// A room joined in the background (for its counts): what arrived between loading the list and
// the join is in the join's messages; from here on its `message` events count.
function backgroundJoined(ev) {
  const room = state.rooms.get(ev.room);
  if (!room || room.read_seq === undefined) return;
  const counted = ev.messages.filter(m => m.seq > room.read_seq && m.author.id !== state.user.id && (!m.thread || m.also_in_room)).length;
  const complete = !ev.messages.length || ev.messages[0].seq <= room.read_seq + 1;
  room.unread = complete ? counted : Math.max(room.unread || 0, counted);
  room.counted_to = ev.seq;
  renderRoomList();
}

// Reading the room on screen moves the read marker (at most every 300 ms, also while messages
// keep coming); the server answers every socket of ours, on every node, with `unread`.
function scheduleRead() {
  if (state.readTimer) return;
  state.readTimer = setTimeout(() => {
    state.readTimer = null;
    const room = state.room, seq = state.lastSeq[room];
    if (!room || !seq || document.visibilityState === "hidden") return;
    const known = state.rooms.get(room);
    if (known && known.read_seq !== undefined && seq <= known.read_seq) return;
    send({ type: "read", room, seq });
  }, 300);
}

function onUnread(ev) {
  const room = state.rooms.get(ev.room); if (!room) return;
  room.read_seq = ev.read_seq; room.unread = ev.unread; room.mentions = ev.mentions; room.counted_to = ev.read_seq;
  renderRoomList(); loadFeed();
}

// ---- Mentions: the bell and the feed ----

async function loadFeed() {
  let feed;
  try { feed = await api("/api/v2/notifications?limit=20"); } catch (e) { return; }
  $("bell-count").textContent = feed.unread;
  $("bell").classList.toggle("alert", feed.unread > 0);
  $("feed-list").replaceChildren(...feed.notifications.map(n => {
    const li = document.createElement("li"); li.classList.toggle("unread", !n.read);
    if (n.kind === "show_starting") {
      // A followed stream's slot opened; its room (if any) is where listeners gather.
      li.textContent = `▶ ${n.stream ? n.stream.title : "a stream"} is starting`;
      li.onclick = () => { $("feed").classList.add("hidden"); if (n.room) joinRoom(n.room.id); };
      return li;
    }
    const where = n.room.kind === "room" ? "#" + n.room.name : "conversation";
    li.textContent = `${where} · ${n.actor ? n.actor.username : "?"}: ${n.message ? n.message.body : "(deleted)"}`;
    li.onclick = () => { $("feed").classList.add("hidden"); joinRoom(n.room.id); };
    return li;
  }));
}

function onMention(ev) {
  // A conversation someone just opened with us: into the list.
  if (!state.rooms.has(ev.room)) loadRooms();
  const room = state.rooms.get(ev.room);
  if (room && ev.room !== state.room) { room.mentions = (room.mentions || 0) + 1; renderRoomList(); }
  if (ev.room !== state.room) notice(`${ev.message.author.username} mentioned you: ${ev.message.body}`);
  loadFeed();
}

// ---- Threads ----

function closeThread() {
  state.thread = null; $("thread").classList.add("hidden"); $("app").classList.remove("with-thread");
}

async function openThread(root) {
  state.thread = root.id;
  $("app").classList.add("with-thread"); $("thread").classList.remove("hidden");
  $("thread-root").replaceChildren(line(root)); $("thread-messages").replaceChildren();
  let after = 0;
  for (;;) {
    const page = await api(`/api/v2/rooms/${root.room}/messages/${root.id}/thread?limit=100&after=${after}`);
    if (state.thread !== root.id) return;
    page.messages.forEach(threadMessage);
    if (page.next_after === undefined) break;
    after = page.next_after;
  }
  $("thread-body").focus();
}

// A reply: into the open thread panel if it is its thread.
function threadMessage(m) {
  if (!state.thread || m.thread !== state.thread) return;
  const box = $("thread-messages"), el = line(m);
  const old = box.querySelector(`[data-id="${m.id}"]`);
  if (old) old.replaceWith(el); else box.append(el);
}

function onThreadUpdated(ev) {
  const m = state.msgs.get(ev.message); if (!m) return;
  m.reply_count = ev.reply_count; m.last_reply_at = ev.last_reply_at;
  const old = document.querySelector(`#messages [data-id="${m.id}"]`);
  if (old) old.replaceWith(line(m));
}

// ---- Pins ----

async function loadPins() {
  const { pins } = await api(`/api/v2/rooms/${state.room}/pins`);
  $("pins").replaceChildren(...(pins.length ? pins.map(p => {
    const li = document.createElement("li");
    li.textContent = `📌 ${p.message.author.username}: ${p.message.body}`;
    return li;
  }) : [Object.assign(document.createElement("li"), { textContent: "Nothing pinned yet." })]));
}

function onPinChanged(ev) {
  if (ev.room !== state.room) return;
  if (!$("pins").classList.contains("hidden")) loadPins();
  else notice(ev.type === "pinned" ? `${ev.by.username} pinned a message (📌 Pins)` : `${ev.by.username} unpinned a message`);
}

// ---- Uploads and attachments ----

function withToken(url) {
  return url + (url.includes("?") ? "&" : "?") + "access_token=" + encodeURIComponent(state.access);
}

async function upload(file) {
  const form = new FormData(); form.append("file", file, file.name);
  const res = await fetch(`/api/v2/uploads?room=${encodeURIComponent(state.room)}`,
                          { method: "POST", body: form, headers: { Authorization: "Bearer " + state.access } });
  const body = await res.json().catch(() => null);
  if (!res.ok) throw new Error(body && body.error ? body.error.message : res.statusText);
  return body.upload;
}

function attachmentNodes(m) {
  if (!m.attachments || !m.attachments.length) return [];
  const box = document.createElement("span"); box.className = "attachments";
  for (const a of m.attachments) {
    const link = document.createElement("a"); link.href = withToken(a.url); link.target = "_blank"; link.rel = "noopener";
    if (a.thumbnail_url) {
      const img = document.createElement("img"); img.className = "thumb"; img.alt = img.title = a.filename;
      img.src = withToken(a.thumbnail_url); link.append(img);
    } else {
      link.className = "file"; link.textContent = `📄 ${a.filename} (${Math.max(1, Math.round(a.size / 1024))} KiB)`;
      link.download = a.filename;
    }
    box.append(link);
  }
  return [box];
}

// ---- Per-message extras for app.js's line(): attachments, the thread link, reply and pin ----

function messageExtras(m) {
  const nodes = attachmentNodes(m);
  if (m.deleted || m.kind === "system") return nodes;
  if (!m.thread && m.reply_count) {
    const link = document.createElement("button"); link.className = "ghost replies";
    link.textContent = `💬 ${m.reply_count} ${m.reply_count === 1 ? "reply" : "replies"}`;
    link.onclick = () => openThread(m); nodes.push(link);
  }
  if (!m.thread) {
    const reply = document.createElement("button"); reply.className = "ghost tool reply"; reply.textContent = "reply";
    reply.onclick = () => openThread(m); nodes.push(reply);
  }
  const pin = document.createElement("button"); pin.className = "ghost tool pin"; pin.textContent = "pin";
  pin.onclick = () => api(`/api/v2/rooms/${m.room}/pins/${m.id}`, { method: "PUT" }).catch(e => notice("⚠ " + e.message));
  nodes.push(pin);
  return nodes;
}

function handleConversationEvent(ev) {
  switch (ev.type) {
    case "unread": onUnread(ev); break;
    case "mention": onMention(ev); break;
    case "show_starting": notice(`${ev.stream.title} is starting`); loadFeed(); break;
    case "thread_updated": onThreadUpdated(ev); break;
    case "pinned": case "unpinned": onPinChanged(ev); break;
  }
}

function clientId() { return crypto.randomUUID ? crypto.randomUUID() : String(Date.now() + Math.random()); }

$("new-dm").onsubmit = async (e) => {
  e.preventDefault();
  const usernames = $("dm-names").value.split(",").map(s => s.trim().replace(/^@/, "")).filter(Boolean);
  try {
    const { conversation } = await api("/api/v2/conversations", { method: "POST", body: JSON.stringify({ usernames }) });
    $("dm-names").value = ""; await loadRooms(); joinRoom(conversation.id);
  } catch (err) { notice("⚠ " + err.message); }
};
$("bell").onclick = () => { $("feed").classList.toggle("hidden"); loadFeed(); };
$("feed-read").onclick = async () => {
  await api("/api/v2/notifications/read", { method: "POST", body: JSON.stringify({ all: true }) }).catch(() => {});
  loadFeed();
};
$("pins-btn").onclick = () => {
  const shown = !$("pins").classList.toggle("hidden");
  if (shown) loadPins().catch(e => notice("⚠ " + e.message));
};
$("thread-close").onclick = closeThread;
$("thread-send").onsubmit = (e) => {
  e.preventDefault();
  const body = $("thread-body").value.trim(); if (!body || !state.thread) return;
  send({ type: "send", room: state.room, body, client_id: clientId(), thread: state.thread, also_in_room: $("thread-also").checked });
  $("thread-body").value = ""; $("thread-also").checked = false;
};
$("attach").onclick = () => $("file").click();
$("file").onchange = async () => {
  const file = $("file").files[0]; $("file").value = "";
  if (!file || !state.room) return;
  try {
    const up = await upload(file);
    send({ type: "send", room: state.room, body: $("body").value.trim(), client_id: clientId(), attachments: [up.id] });
    $("body").value = "";
  } catch (err) { notice("⚠ upload failed: " + err.message); }
};
document.addEventListener("visibilitychange", scheduleRead);
