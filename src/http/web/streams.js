"use strict";
// The page's stream analytics, on top of app.js (same globals: state, api, $): the streams you
// own in the side bar, and for the one you pick a chart of listeners over time (total and per
// variant, HLS sessions included) and chat messages per minute of its linked room, drawn as
// inline SVG by this script (no library, nothing inline in the page: the CSP allows neither).

const SVG = "http://www.w3.org/2000/svg";
const CHART = { w: 600, h: 220, left: 36, right: 8, top: 10, bottom: 24 };

async function loadStreams() {
  let list;
  try { list = await api("/api/v2/streams"); } catch (e) { return; }
  const mine = list.streams.filter(s => s.owner_id === state.user.id);
  $("streams-head").classList.toggle("hidden", mine.length === 0);
  $("stream-list").replaceChildren(...mine.map(s => {
    const li = document.createElement("li");
    li.textContent = (s.live ? "● " : "○ ") + s.title;
    li.dataset.id = s.id;
    li.onclick = () => showStats(s);
    return li;
  }));
}

function svg(name, attrs) {
  const el = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  return el;
}

function clock(ms) {
  const d = new Date(ms);
  return String(d.getHours()).padStart(2, "0") + ":" + String(d.getMinutes()).padStart(2, "0");
}

// Listeners as lines (total, then one per variant), chat messages as bars on their own scale.
function drawChart(report) {
  const { w, h, left, right, top, bottom } = CHART;
  const points = report.points, n = Math.max(points.length, 1);
  const maxListeners = Math.max(1, ...points.map(p => p.total));
  const maxChat = Math.max(1, ...points.map(p => p.chat_messages));
  const x = i => left + (w - left - right) * (n === 1 ? 0 : i / (n - 1));
  const y = (v, max) => top + (h - top - bottom) * (1 - v / max);
  const root = svg("svg", { viewBox: `0 0 ${w} ${h}`, class: "chart", role: "img",
    "aria-label": `listeners and chat messages of ${report.stream}` });
  root.append(svg("line", { x1: left, y1: h - bottom, x2: w - right, y2: h - bottom, class: "axis" }));
  const barWidth = Math.max(1, (w - left - right) / n - 1);
  points.forEach((p, i) => {
    if (!p.chat_messages) return;
    const top = y(p.chat_messages, maxChat);
    root.append(svg("rect", { x: x(i) - barWidth / 2, y: top, width: barWidth, height: h - bottom - top, class: "chat-bar" }));
  });
  const line = (values, cls) => root.append(svg("polyline", {
    points: values.map((v, i) => `${x(i).toFixed(1)},${y(v, maxListeners).toFixed(1)}`).join(" "), class: cls }));
  report.variants.forEach((v, k) => line(points.map(p => p.listeners[v] || 0), "variant v" + (k % 6)));
  line(points.map(p => p.total), "total");
  const label = (text, at, yy, anchor) => {
    const t = svg("text", { x: at, y: yy, "text-anchor": anchor, class: "label" }); t.textContent = text; root.append(t);
  };
  label(String(maxListeners), left - 4, top + 8, "end");
  label("0", left - 4, h - bottom, "end");
  if (points.length) {
    label(clock(points[0].t), left, h - 6, "start");
    label(clock(points[points.length - 1].t), w - right, h - 6, "end");
  }
  return root;
}

function legend(report) {
  const ul = document.createElement("ul"); ul.className = "legend";
  const item = (text, cls) => { const li = document.createElement("li"); li.className = cls; li.textContent = text; ul.append(li); };
  item("all listeners", "total");
  report.variants.forEach((v, k) => item(v, "variant v" + (k % 6)));
  item("chat messages", "chat-bar");
  return ul;
}

async function renderStats(stream) {
  let report;
  try { report = await api(`/api/v2/streams/${stream.id}/analytics?step=${$("stats-step").value}`); }
  catch (e) { $("stats-summary").textContent = "Analytics unavailable: " + e.message; return; }
  const peak = report.peak.at ? `${report.peak.listeners} at ${clock(report.peak.at)}` : "none";
  $("stats-summary").textContent = `Last 24 h · peak ${peak} · ${report.sessions} sessions · ` +
    `average listen ${Math.round(report.average_listen_seconds)} s`;
  $("stats-chart").replaceChildren(drawChart(report), legend(report));
}

function showStats(stream) {
  clearInterval(state.statsTimer);
  state.statsStream = stream;
  $("stats-title").textContent = stream.title;
  $("stats").classList.remove("hidden");
  renderStats(stream);
  // Live listeners move: refresh while the panel is open.
  state.statsTimer = setInterval(() => renderStats(stream), 30000);
}

$("stats-close").onclick = () => { clearInterval(state.statsTimer); $("stats").classList.add("hidden"); };
$("stats-step").onchange = () => { if (state.statsStream) renderStats(state.statsStream); };
