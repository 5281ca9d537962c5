// wifi-sensing live dashboard: plain JavaScript and canvas, served from the binary.
// Every value drawn comes from the server's WebSocket stream or its JSON endpoints.
"use strict";

const params = new URLSearchParams(location.search);
const token = params.get("token");
const COLUMNS = 240;          // waterfall width, in frames
const MAX_EVENTS = 12;
const TYPES = "frame_summary,event,vital_signs,introspection,pose";

function withToken(path) {
  if (!token) return path;
  return path + (path.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(token);
}
function wsUrl(path) {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  return proto + "//" + location.host + withToken(path);
}
function el(tag, attrs, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}
function fmt(x, digits) {
  return x === null || x === undefined || !isFinite(x) ? "-" : Number(x).toFixed(digits);
}
function nodeKey(rec) { return rec.node_id === null || rec.node_id === undefined ? "fused" : "node " + rec.node_id; }

// ---- waterfall per node -------------------------------------------------------------------
const nodes = new Map();

// a viridis-like map (dark blue, teal, green, yellow), t in [0, 1]
const STOPS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
function colour(t) {
  t = Math.max(0, Math.min(1, t)) * (STOPS.length - 1);
  const i = Math.min(STOPS.length - 2, Math.floor(t)), f = t - i;
  const [a, b] = [STOPS[i], STOPS[i + 1]];
  return [0, 1, 2].map(k => Math.round(a[k] + f * (b[k] - a[k])));
}

function nodeCard(id, subcarriers) {
  let n = nodes.get(id);
  if (n && n.subcarriers === subcarriers) return n;
  const empty = document.getElementById("nodes-empty");
  if (empty) empty.remove();
  let card = n ? n.card : null;
  if (!card) {
    card = el("div", { class: "node", id: "node-" + id, "data-frames": "0" });
    document.getElementById("nodes").appendChild(card);
  }
  card.textContent = "";
  const canvas = el("canvas", { width: COLUMNS, height: Math.max(1, subcarriers) });
  const meta = el("div", { class: "meta" });
  card.append(el("div", {}, "node " + id), canvas, meta);
  const ctx = canvas.getContext("2d");
  n = { card, canvas, ctx, meta, subcarriers, frames: 0,
        column: ctx.createImageData(1, Math.max(1, subcarriers)) };
  nodes.set(id, n);
  return n;
}

function onFrameSummary(rec, live) {
  const d = rec.data;
  const n = nodeCard(rec.node_id, d.subcarriers);
  // colour scale: smoothed minimum and maximum of the non-zero amplitudes (zeros are the
  // null and guard subcarriers, drawn black)
  let lo = Infinity, hi = 0;
  for (const a of d.amplitude) if (a > 0) { if (a < lo) lo = a; if (a > hi) hi = a; }
  if (hi > 0) {
    if (n.hi === undefined) { n.lo = lo; n.hi = hi; }
    n.lo += 0.05 * (lo - n.lo); n.hi += 0.05 * (hi - n.hi);
  }
  const px = n.column.data;
  const h = d.subcarriers;
  const span = n.hi > n.lo ? n.hi - n.lo : 1;
  for (let i = 0; i < h; i++) {
    const a = d.amplitude[i];
    const [r, g, b] = a > 0 ? colour((a - n.lo) / span) : [0, 0, 0];
    const o = 4 * (h - 1 - i);          // subcarrier 0 at the bottom
    px[o] = r; px[o + 1] = g; px[o + 2] = b; px[o + 3] = 255;
  }
  n.ctx.drawImage(n.canvas, -1, 0);
  n.ctx.putImageData(n.column, COLUMNS - 1, 0);
  n.frames += 1;
  n.card.setAttribute("data-frames", String(n.frames));
  if (live) {
    n.live = (n.live || 0) + 1;
    n.card.setAttribute("data-live-frames", String(n.live));
  }
  n.meta.innerHTML = "";
  n.meta.append(
    kv("rate", fmt(d.rate_hz, 1) + " Hz"), " ", kv("dropped", String(d.dropped)), " ",
    kv("rssi", fmt(d.rssi_dbm, 0) + " dBm"), " ", kv("seq", String(d.sequence)), " ",
    kv("streams", String(d.streams)), " ", kv("subcarriers", String(d.subcarriers)));
}
function kv(k, v) { const s = el("span", { class: "kv" }, k + " "); s.append(el("b", {}, v)); return s; }

// ---- presence, motion and events ----------------------------------------------------------
const states = new Map();
function onEvent(rec, live) {
  const d = rec.data;
  const key = d.scope === "fused" ? "fused" : "node " + d.node_id;
  const s = states.get(key) || { presence: null, motion: null };
  if (d.event === "presence_started") s.presence = true;
  if (d.event === "presence_ended") s.presence = false;
  if (d.event === "motion_started") s.motion = true;
  if (d.event === "motion_settled") s.motion = false;
  states.set(key, s);
  const body = document.querySelector("#states tbody");
  body.textContent = "";
  for (const [k, v] of [...states.entries()].sort()) {
    const tr = el("tr");
    tr.append(el("td", {}, k), yesNo(v.presence, "present", "absent"), yesNo(v.motion, "moving", "still"));
    body.append(tr);
  }
  const list = document.getElementById("events");
  const empty = list.querySelector(".empty");
  if (empty) empty.remove();
  const t = (d.timestamp_ns / 1e9).toFixed(2);
  const li = el("li", { class: "event" },
    t + " s  " + key + "  " + d.event + "  (" + d.statistic + " " + fmt(d.value, 2) +
    " vs " + fmt(d.threshold, 2) + ", confidence " + fmt(d.confidence, 2) + ")");
  if (!live) li.classList.add("grey");
  list.prepend(li);
  while (list.children.length > MAX_EVENTS) list.lastChild.remove();
}
function yesNo(v, yes, no) {
  if (v === null) return el("td", { class: "grey" }, "unknown");
  return el("td", { class: v ? "yes" : "no" }, v ? yes : no);
}

// ---- vital signs --------------------------------------------------------------------------
const vitals = new Map();
function onVitals(rec) {
  vitals.set(nodeKey(rec), rec.data);
  const body = document.querySelector("#vitals tbody");
  body.textContent = "";
  for (const [k, d] of [...vitals.entries()].sort()) {
    const tr = el("tr");
    tr.append(el("td", {}, k), rate(d.breathing), rate(d.heart));
    body.append(tr);
  }
}
function rate(r) {
  if (!r || r.rate_per_min === null || r.rate_per_min === undefined) {
    return el("td", { class: "grey vital none" }, "no estimate" + (r && r.reason ? " (" + r.reason + ")" : ""));
  }
  return el("td", { class: "vital" }, fmt(r.rate_per_min, 1) + " /min, confidence " + fmt(r.confidence, 2));
}

// ---- introspection ------------------------------------------------------------------------
const intro = new Map();
function onIntrospection(rec) {
  intro.set(nodeKey(rec), rec.data);
  const box = document.getElementById("intro");
  box.textContent = "";
  for (const [k, d] of [...intro.entries()].sort()) {
    const div = el("div", { class: "intro" });
    div.append(el("div", {}, k + ": regime "), " ");
    div.firstChild.append(el("b", {}, d.regime));
    div.append(kv("Lyapunov", fmt(d.lyapunov_exponent, 3)), " ", kv("dim", fmt(d.attractor_dim, 2)),
      " ", kv("confidence", fmt(d.confidence, 2)), " ", kv("frames", String(d.frame_count)));
    const table = el("table");
    for (const m of d.top_k_similarity || []) {
      const tr = el("tr");
      const bar = el("span", { class: "bar" + (m.above_threshold ? "" : " below") });
      bar.style.width = Math.round(150 * Math.max(0, Math.min(1, m.score))) + "px";
      const td = el("td");
      td.append(bar, " " + fmt(m.score, 3));
      tr.append(el("td", {}, m.label || m.signature_id), td);
      table.append(tr);
    }
    div.append(table);
    box.append(div);
  }
}

// ---- pose ---------------------------------------------------------------------------------
const EDGES = [["nose","left_eye"],["nose","right_eye"],["left_eye","left_ear"],["right_eye","right_ear"],
  ["left_shoulder","right_shoulder"],["left_shoulder","left_elbow"],["left_elbow","left_wrist"],
  ["right_shoulder","right_elbow"],["right_elbow","right_wrist"],["left_shoulder","left_hip"],
  ["right_shoulder","right_hip"],["left_hip","right_hip"],["left_hip","left_knee"],["left_knee","left_ankle"],
  ["right_hip","right_knee"],["right_knee","right_ankle"]];
function onPose(rec) {
  const d = rec.data;
  const pts = (d.keypoints || []).filter(p => p.x !== null && p.y !== null);
  // below 0.5 the model says nobody is there (as `model score` reads it): no skeleton is drawn
  const present = (d.confidence || 0) >= 0.5;
  document.getElementById("pose-info").className = "";
  document.getElementById("pose-info").textContent = nodeKey(rec) + ": " + pts.length +
    " keypoints, confidence " + fmt(d.confidence, 2) + (d.model ? ", model " + d.model.id : "") +
    // the heading comes only from the direction of travel (pose-v1.json, heading_from_track)
    (d.heading_from_track === true ? ", heading from the track"
      : d.heading_from_track === false ? ", no heading (faces nowhere)" : "") +
    (present ? "" : "; nobody present (confidence below 0.5), not drawn");
  const shown = present ? pts : [];
  // in room metres the views keep the room's origin and a metre grid, so the position shows
  const room = d.coordinate_frame === "room_m";
  drawView("pose-top", shown, p => [p.x, p.y], "x", "y", room ? [5, 4] : null);
  drawView("pose-side", shown, p => [p.x, p.z === null || p.z === undefined ? 0 : p.z], "x", "z",
    room ? [5, 3] : null);
}
// `grid`: [width, height] in metres to show at least, from the origin, with a 1 m grid (room
// coordinates); null: zoom on the skeleton.
function drawView(id, pts, proj, ax, ay, grid) {
  const c = document.getElementById(id), g = c.getContext("2d");
  g.clearRect(0, 0, c.width, c.height);
  g.fillStyle = "#7d8590"; g.font = "11px sans-serif";
  g.fillText(ax + " \u2192   " + ay + " \u2191" + (grid ? "   (m)" : ""), 6, c.height - 6);
  if (!pts.length && !grid) return;
  const xy = pts.map(proj);
  let [x0, x1, y0, y1] = grid ? [0, grid[0], 0, grid[1]] : [Infinity, -Infinity, Infinity, -Infinity];
  for (const [x, y] of xy) { x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y); }
  const span = Math.max(2, x1 - x0, y1 - y0), cx = (x0 + x1) / 2, cy = (y0 + y1) / 2;
  const s = (Math.min(c.width, c.height) - 30) / span;
  const map = ([x, y]) => [c.width / 2 + (x - cx) * s, c.height / 2 - (y - cy) * s];
  if (grid) {
    g.strokeStyle = "#30363d"; g.lineWidth = 1;
    for (let m = Math.ceil(x0); m <= Math.floor(x1); m++) {
      const [px] = map([m, 0]);
      g.beginPath(); g.moveTo(px, 0); g.lineTo(px, c.height - 16); g.stroke();
      g.fillText(String(m), px + 2, c.height - 18);
    }
    for (let m = Math.ceil(y0); m <= Math.floor(y1); m++) {
      const [, py] = map([0, m]);
      g.beginPath(); g.moveTo(0, py); g.lineTo(c.width, py); g.stroke();
      g.fillText(String(m), 2, py - 2);
    }
    if (!pts.length) return;
  }
  const byName = new Map(pts.map((p, i) => [p.name, map(xy[i])]));
  g.strokeStyle = "#4fc3f7"; g.lineWidth = 2;
  for (const [a, b] of EDGES) {
    if (!byName.has(a) || !byName.has(b)) continue;
    const [p, q] = [byName.get(a), byName.get(b)];
    g.beginPath(); g.moveTo(p[0], p[1]); g.lineTo(q[0], q[1]); g.stroke();
  }
  pts.forEach((p, i) => {
    const [x, y] = map(xy[i]);
    g.fillStyle = "rgba(255,167,38," + (0.3 + 0.7 * Math.max(0, Math.min(1, p.confidence || 0))) + ")";
    g.beginPath(); g.arc(x, y, 3.5, 0, 2 * Math.PI); g.fill();
  });
}

// ---- stream and status --------------------------------------------------------------------
let droppedForUs = 0;
function dispatch(rec, live) {
  switch (rec.type) {
    case "frame_summary": onFrameSummary(rec, live); break;
    case "event": onEvent(rec, live); break;
    case "vital_signs": onVitals(rec); break;
    case "introspection": onIntrospection(rec); break;
    case "pose": onPose(rec); break;
    case "dropped": droppedForUs += rec.count; break;
    case "input_ended":
      document.getElementById("input").textContent +=
        rec.error ? " (input failed: " + rec.error + ")" : " (input ended)";
      break;
  }
}

// The page's history: the last frame summaries per node and the latest records of each kind,
// so a page opened late (or reconnected) is not empty. Stream messages that arrive meanwhile
// wait in `pending` and are drawn after it, without the ones the history already had.
let pending = null;
async function seed() {
  const seen = new Set();
  const lastTs = new Map();
  try {
    const f = await fetch(withToken("/api/v1/frame_summaries"));
    for (const recs of Object.values(await f.json())) {
      for (const rec of recs) { dispatch(rec, false); lastTs.set(rec.node_id, rec.timestamp_ns); }
    }
    const r = await fetch(withToken("/api/v1/latest"));
    const latest = await r.json();
    for (const e of latest.recent_events || []) { dispatch(e, false); seen.add(JSON.stringify(e)); }
    for (const kind of ["vital_signs", "introspection", "pose"]) {
      for (const rec of Object.values(latest[kind] || {})) dispatch(rec, false);
    }
  } catch (e) { /* the stream fills the page anyway */ }
  const waiting = pending || [];
  pending = null;
  for (const rec of waiting) {
    if (rec.type === "frame_summary" && rec.timestamp_ns <= (lastTs.get(rec.node_id) ?? -Infinity)) continue;
    if (rec.type === "event" && seen.has(JSON.stringify(rec))) continue;
    dispatch(rec, true);
  }
}

async function health() {
  try {
    const r = await fetch(withToken("/api/v1/health"));
    const h = await r.json();
    document.getElementById("input").textContent = h.input + " \u00b7 " + h.status +
      (h.error ? " (" + h.error + ")" : "") + " \u00b7 " + h.frames + " frames";
    document.getElementById("uptime").textContent = "up " + Math.round(h.uptime_s) + " s";
    document.getElementById("drops").textContent = "dropped for this page: " + droppedForUs;
  } catch (e) { /* shown as disconnected by the stream */ }
}

let backoff = 500;
function connect() {
  const conn = document.getElementById("conn");
  const ws = new WebSocket(wsUrl("/ws/stream?types=" + TYPES));
  ws.onopen = () => { conn.textContent = "live"; conn.className = "pill on"; backoff = 500; pending = []; seed(); };
  ws.onmessage = (m) => {
    try {
      const rec = JSON.parse(m.data);
      if (pending) pending.push(rec); else dispatch(rec, true);
    } catch (e) { console.error(e); }
  };
  ws.onclose = () => {
    conn.textContent = "reconnecting"; conn.className = "pill off";
    setTimeout(connect, backoff);
    backoff = Math.min(5000, backoff * 2);
  };
}

connect();
health();
setInterval(health, 2000);
