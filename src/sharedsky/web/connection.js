// Connection and air picture: sign-in, the agreement and basemap over HTTP, the WebSocket
// stream, picture deltas and events as they arrive (dispatched to the alerts and the line).
import { S, $, KEY_STORE, TRAIL_POINTS, api } from "./state.js";
import { canvas, worldX, worldY, ringsOf, pathOf, setProjection } from "./projection.js";
import { resize } from "./map.js";
import { buildPartyFilters, writeHash } from "./filters.js";
import { threadKey, threadLevel, threadEnded, ackedByMe, scheduleSide } from "./alerts.js";
import { showBanner, hideBanner, addMessage, buildSendForm, refreshRequestSelect, updateTrail, setWitnessed } from "./line.js";
import { noticeEvent } from "./notices.js";
import { maybeHistory } from "./history.js";

// ---------------------------------------------------------------- sign-in
export function keyFromUrl() {
  const q = new URLSearchParams(location.search);
  const k = q.get("key");
  if (k) {
    q.delete("key");
    const rest = q.toString();
    history.replaceState(null, "", location.pathname + (rest ? "?" + rest : "") + location.hash);
  }
  return k;
}

export async function signIn(key) {
  S.key = key;
  let me;
  try {
    me = await api("/api/v1/me");
  } catch (e) {
    S.key = null;
    sessionStorage.removeItem(KEY_STORE);
    $("signin-error").textContent = e.status === 401 ? "That key is not valid here." : "Sign-in failed: " + e.message;
    $("signin").classList.remove("hidden");
    $("app").classList.add("hidden");
    return;
  }
  sessionStorage.setItem(KEY_STORE, key);
  S.me = me;
  $("signin").classList.add("hidden");
  $("app").classList.remove("hidden");
  const chip = $("me");
  chip.textContent = me.supervisor ? "SUPERVISOR" : (me.name || me.party);
  chip.style.background = me.supervisor ? "#d7e3ee" : (me.colour || "#4fc3f7");
  document.title = `sharedsky · ${me.supervisor ? "supervisor" : me.name || me.party}`;
  document.body.dataset.party = me.supervisor ? "supervisor" : me.party;
  resize();
  try {
    await loadAgreement();
  } catch (e) {
    console.error("agreement", e);
  }
  loadBasemap().catch((e) => console.error("basemap", e));
  if (!(await maybeHistory())) connect();
}

function signOut() {
  sessionStorage.removeItem(KEY_STORE);
  if (S.ws) { S.ws.onclose = null; S.ws.close(); }
  location.hash = "";
  location.reload();
}

// ---------------------------------------------------------------- agreement, basemap
// The latest witnessed record size (the agreement's quorum of party nodes cosigned it).
async function refreshWitnessed() {
  try {
    const w = await api("/api/v1/witnesses");
    if ((w.witnessed_size || 0) > (S.witnessedSize || 0)) setWitnessed(w.witnessed_size);
  } catch (e) { /* the next refresh will tell */ }
}

async function loadAgreement() {
  refreshWitnessed();
  if (!S.witnessTimer) S.witnessTimer = setInterval(refreshWitnessed, 5000);
  const a = await api("/api/v1/agreement");
  S.agreement = a;
  S.parties = a.parties || [];
  for (const p of S.parties) { S.partyColour[p.id] = p.colour || "#9e9e9e"; S.partyName[p.id] = p.name || p.id; }
  const feats = (a.airspaces && a.airspaces.features) || [];
  // Fix the projection latitude and the first view before building any path.
  if (!S.viewFromHash && feats.length) {
    let b = [Infinity, Infinity, -Infinity, -Infinity];
    for (const f of feats) for (const ring of ringsOf(f.geometry)) for (const c of ring) {
      b = [Math.min(b[0], c[0]), Math.min(b[1], c[1]), Math.max(b[2], c[0]), Math.max(b[3], c[1])];
    }
    S.view.lat = (b[1] + b[3]) / 2;
    S.view.lon = (b[0] + b[2]) / 2;
  }
  setProjection(S.view.lat);
  S.airspaces = feats.map((f) => {
    const pr = f.properties || {};
    return Object.assign({ id: pr.id, name: pr.name || pr.id, owner: pr.owner, floor_ft: pr.floor_ft, ceiling_ft: pr.ceiling_ft, barred: pr.barred || [] }, pathOf(f.geometry));
  });
  const ch = a.channels || {};
  if (ch.distress_mhz) $("freqs").textContent = "distress " + ch.distress_mhz.map((f) => f + " MHz").join(" / ");
  if (ch.hotline) $("hotline").textContent = ch.hotline + (ch.language ? " · " + ch.language : "");
  buildPartyFilters();
  buildSendForm();
  S.dirty = true;
}

async function loadBasemap() {
  const g = await api("/api/v1/basemap");
  const feats = g.features || [];
  S.basemap = feats.map((f) => pathOf(f.geometry));
  S.baseCache = null;
  S.dirty = true;
}

// ---------------------------------------------------------------- stream
function connect() {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  // The key never goes into a URL (access logs, proxies and histories keep URLs): it is
  // offered as a subprotocol, and the server answers with "sharedsky.v1" only.
  const url = `${proto}//${location.host}/api/v1/stream?after=${S.lastSeq}`;
  const ws = new WebSocket(url, ["sharedsky.v1", "sharedsky.key." + S.key]);
  S.ws = ws;
  ws.onopen = () => { S.wsUp = true; $("conn").classList.add("up"); $("conn").title = "stream connected"; };
  ws.onmessage = (m) => {
    const t0 = performance.now();
    let msg;
    try { msg = JSON.parse(m.data); } catch (e) { console.error("bad frame", e); return; }
    if (msg.type === "picture") applyPicture(msg, t0);
    else if (msg.type === "event") applyEvent(msg.event || {}, msg.seq);
    else if (msg.type === "error") {
      console.error("stream error", msg);
      if (msg.status === 401) S.revoked = true;
    }
  };
  ws.onclose = (e) => {
    S.wsUp = false;
    $("conn").classList.remove("up");
    if (S.revoked || e.code === 4401) {
      // the key was revoked or is no longer valid: back to the sign-in screen, no retry loop
      sessionStorage.removeItem(KEY_STORE);
      S.key = null;
      $("signin-error").textContent = "The server no longer accepts this key; sign in again.";
      $("signin").classList.remove("hidden");
      $("app").classList.add("hidden");
      return;
    }
    $("conn").title = "stream lost, reconnecting";
    setTimeout(() => { if (S.key) connect(); }, 2000);
  };
}

export function applyPicture(msg, tParse) {
  const t0 = tParse == null ? performance.now() : tParse; // timed from the frame's JSON parse
  const list = msg.aircraft || [];
  if (msg.full) {
    const keep = new Set(list.map((a) => a.icao24));
    for (const k of S.aircraft.keys()) if (!keep.has(k)) S.aircraft.delete(k);
  }
  for (const k of msg.removed || []) S.aircraft.delete(k);
  for (let i = 0; i < list.length; i++) {
    const a = list[i];
    if (a.latitude == null || a.longitude == null) continue;
    let ac = S.aircraft.get(a.icao24);
    const X = worldX(a.longitude), Y = worldY(a.latitude);
    if (!ac) {
      ac = { icao24: a.icao24, trail: [] };
      S.aircraft.set(a.icao24, ac);
    } else if (ac.X !== X || ac.Y !== Y) {
      const tr = ac.trail;
      tr.push(ac.X, ac.Y);
      if (tr.length > 2 * TRAIL_POINTS) tr.splice(0, tr.length - 2 * TRAIL_POINTS);
    }
    ac.X = X; ac.Y = Y;
    ac.lat = a.latitude; ac.lon = a.longitude;
    ac.alt = a.altitude; ac.gs = a.groundspeed; ac.trk = a.track; ac.vr = a.vertical_rate;
    ac.callsign = a.callsign || ""; ac.party = a.party; ac.squawk = a.squawk ? String(a.squawk) : "";
    ac.emergency = a.emergency; ac.t = a.t_report;
  }
  if (msg.t) S.lastT = msg.t;
  // the moment this picture shows: its time and the last record entry it was built from
  S.picture = { t: msg.t || 0, seq: msg.seq == null ? null : msg.seq };
  let unknown = 0;
  for (const ac of S.aircraft.values()) if (ac.alt == null) unknown++;
  S.altUnknown = unknown; // fresh position, altitude not known: checked as the agreement says
  if (!S.fitted && !S.viewFromHash && msg.full && S.aircraft.size) fitToAircraft();
  S.dirty = true;
  S.applyTimes.push(performance.now() - t0);
  if (S.applyTimes.length > 600) S.applyTimes.splice(0, 300);
}

function fitToAircraft() {
  S.fitted = true;
  let b = [Infinity, Infinity, -Infinity, -Infinity];
  for (const ac of S.aircraft.values()) b = [Math.min(b[0], ac.lon), Math.min(b[1], ac.lat), Math.max(b[2], ac.lon), Math.max(b[3], ac.lat)];
  const W = canvas.clientWidth || 800, H = canvas.clientHeight || 600;
  const spanX = Math.max(1.5, (b[2] - b[0]) * S.cos0), spanY = Math.max(1.5, b[3] - b[1]);
  const k = Math.min(W / spanX, H / spanY) * 0.85;
  S.view = { lat: (b[1] + b[3]) / 2, lon: (b[0] + b[2]) / 2, z: Math.log2(k) };
  S.baseCache = null;
  writeHash();
}

export function applyEvent(ev, seq) {
  if (seq == null) seq = ev.seq;
  if (seq == null || S.seen.has(seq)) return;
  S.seen.add(seq);
  ev.seq = seq;
  if (seq > S.lastSeq) S.lastSeq = seq;
  S.events.push(ev);
  if (ev.t && ev.t > S.lastT && !S.aircraft.size) S.lastT = ev.t;
  const tk = threadKey(ev);
  if (tk) {
    let th = S.threads.get(tk);
    if (!th) { th = { id: tk, kind: ev.kind, first: ev, last: ev, seqs: new Set(), acks: [] }; S.threads.set(tk, th); }
    th.last = ev;
    th.level = threadLevel(ev);
    th.ended = threadEnded(ev);
    th.seqs.add(seq);
    for (const a of S.acks.get(seq) || []) th.acks.push(a);
    if (ev.kind === "distress") {
      S.distress.push(ev);
      if (!ackedByMe(th)) showBanner(ev);
    }
  }
  switch (ev.kind) {
    case "ack": {
      const a = { by: ev.by, t: ev.t, seq };
      const list = S.acks.get(ev.of_seq) || [];
      list.push(a);
      S.acks.set(ev.of_seq, list);
      for (const th of S.threads.values()) if (th.seqs.has(ev.of_seq)) th.acks.push(a);
      if (S.bannerSeq === ev.of_seq && (S.me.supervisor || ev.by === S.me.party)) hideBanner();
      addMessage(ev);
      updateTrail(ev);
      break;
    }
    case "delivered": updateTrail(ev); break;
    case "not_delivered": addMessage(ev); break;
    case "witness_alarm": addMessage(ev); break;
    case "notice": S.notices.push(ev); noticeEvent(ev); addMessage(ev); break;
    case "notice_conflict": noticeEvent(ev); addMessage(ev); break;
    case "request": S.requests.set(seq, ev); addMessage(ev); refreshRequestSelect(); break;
    case "response": S.responses.set(ev.request_seq, ev); addMessage(ev); refreshRequestSelect(); break;
    case "overdue": S.overdue.add(ev.request_seq); addMessage(ev); break;
    case "unacknowledged": if (S.me.supervisor || ev.party === S.me.party) addMessage(ev); break;
    case "distress": addMessage(ev); break;
    default: break;
  }
  scheduleSide();
  S.dirty = true;
}

// History mode going back in time: forget every event, to apply them again up to the moment.
export function resetEvents() {
  S.threads.clear(); S.acks.clear(); S.requests.clear(); S.responses.clear(); S.overdue.clear(); S.seen.clear();
  S.events = []; S.notices = []; S.distress = []; S.lastSeq = 0;
  hideBanner();
  $("messages").innerHTML = "";
}

export function wireSignIn() {
  $("signout").addEventListener("click", signOut);
  $("signin-form").addEventListener("submit", (e) => {
    e.preventDefault();
    $("signin-error").textContent = "";
    // a user gesture: unlock audio for the distress alarm
    try { S.audio = S.audio || new (window.AudioContext || window.webkitAudioContext)(); S.audio.resume(); } catch (err) { /* none */ }
    signIn($("signin-key").value.trim());
  });
}
