// The line between the rooms: NOTICE / REQUEST / RESPONSE / DISTRESS messages, overdue
// requests, the compose form, and the distress banner with its beep.
import { S, $, esc, fmtTime, fmtAlt, callsignOf, partyLabel, nowServer, api } from "./state.js";
import { ack, ackedByMe } from "./alerts.js";
import { describeConflict, drawnArea, noticeSent } from "./notices.js";

// ---------------------------------------------------------------- banner and sound
export function showBanner(ev) {
  S.bannerSeq = ev.seq;
  const who = partyLabel(ev.from || ev.party);
  const freqs = (ev.frequencies_mhz || (S.agreement && S.agreement.channels && S.agreement.channels.distress_mhz) || []).map((f) => f + " MHz").join(" / ");
  $("banner-text").textContent = `${callsignOf(ev.icao24)} (${ev.icao24 || "?"}) of ${who}: ${ev.nature || "distress"}` +
    (ev.latitude != null ? ` at ${(+ev.latitude).toFixed(3)}, ${(+ev.longitude).toFixed(3)}` : "") + (freqs ? ` · guard ${freqs}` : "") + (ev.auto ? " · auto (squawk)" : "");
  $("banner").classList.remove("hidden");
  beepLoop();
}
export function hideBanner() {
  S.bannerSeq = null;
  $("banner").classList.add("hidden");
  // another unacknowledged distress call takes the banner
  for (const th of S.threads.values()) if (th.kind === "distress" && !ackedByMe(th)) { showBanner(th.last); break; }
}
function beep() {
  S.beeps++;
  try {
    if (!S.audio) return; // no user gesture yet: browsers refuse sound; the banner still blinks
    const ac = S.audio;
    if (ac.state === "suspended") ac.resume();
    const o = ac.createOscillator(), g = ac.createGain();
    o.type = "square";
    o.frequency.value = 960;
    g.gain.setValueAtTime(0.0001, ac.currentTime);
    g.gain.exponentialRampToValueAtTime(0.15, ac.currentTime + 0.02);
    g.gain.exponentialRampToValueAtTime(0.0001, ac.currentTime + 0.35);
    o.connect(g).connect(ac.destination);
    o.start();
    o.stop(ac.currentTime + 0.4);
  } catch (e) { /* no audio device: the banner still shows */ }
}
let beepTimer = null;
function beepLoop() {
  if (beepTimer || S.history) return; // the past does not ring
  beep();
  beepTimer = setInterval(() => {
    if (S.bannerSeq === null) { clearInterval(beepTimer); beepTimer = null; return; }
    beep();
  }, 2000);
}

export function renderOverdue() {
  const now = nowServer();
  const items = [];
  for (const [seq, rq] of S.requests) {
    if (S.responses.has(seq)) continue;
    const dl = rq.deadline ? Date.parse(rq.deadline) / 1000 : null;
    if (S.overdue.has(seq) || (dl && now > dl)) items.push(rq);
  }
  $("overdue-count").textContent = items.length ? `(${items.length})` : "";
  const html = items.map((rq) => {
    const canAnswer = S.me.supervisor || rq.to === S.me.party;
    return `<li class="msg overdue"><div class="mh"><span class="mt">REQUEST #${rq.seq}</span><span>${esc(partyLabel(rq.from))} → ${esc(partyLabel(rq.to))}</span><span>due ${esc(rq.deadline || "")}</span>` +
      (canAnswer ? `<button data-respond="${rq.seq}">Respond</button>` : "") + `</div><div>${esc(rq.text || "")}</div></li>`;
  }).join("");
  const ul = $("overdue");
  if (ul._html !== html) { ul.innerHTML = html; ul._html = html; }
}

export function addMessage(ev) {
  const ul = $("messages");
  const li = document.createElement("li");
  li.className = "msg k-" + ev.kind;
  li.dataset.seq = ev.seq;
  let title = ev.kind.toUpperCase(), body = "", who = "";
  switch (ev.kind) {
    case "notice":
      who = partyLabel(ev.from);
      if (ev.operation) title = `NOTICE ${ev.operation} v${ev.version}${ev.withdraw ? " WITHDRAWN" : ""}`;
      body = `${ev.text || ""} ${ev.floor_ft != null ? `[${fmtAlt(ev.floor_ft)}–${fmtAlt(ev.ceiling_ft)}]` : ""} ${ev.start ? ev.start + " → " + (ev.end || "") : ""}${ev.short_notice ? " · SHORT NOTICE" : ""}`;
      break;
    case "request":
      who = `${partyLabel(ev.from)} → ${partyLabel(ev.to)}`;
      body = `${ev.text || ""}${ev.deadline ? " · answer by " + ev.deadline : ""}`;
      break;
    case "response":
      who = partyLabel(ev.from);
      body = `re #${ev.request_seq}: ${ev.text || ""}`;
      break;
    case "notice_conflict":
      title = ev.state === "ended" ? "NOTICE CONFLICT ENDED" : "NOTICE CONFLICT";
      who = (ev.parties || []).map(partyLabel).join(" × ");
      body = describeConflict(ev);
      break;
    case "overdue": title = "OVERDUE"; body = `request #${ev.request_seq} not answered in time`; break;
    case "distress":
      who = partyLabel(ev.from);
      body = `${callsignOf(ev.icao24)} ${ev.icao24 || ""}: ${ev.nature || ""}${ev.auto ? " (auto, squawk)" : ""}`;
      break;
    case "ack": who = partyLabel(ev.by); body = `acknowledged #${ev.of_seq}`; break;
    case "unacknowledged": title = "UNACKNOWLEDGED"; body = `#${ev.of_seq} not acknowledged by ${partyLabel(ev.party)}`; break;
    case "not_delivered": title = "NOT DELIVERED"; body = `#${ev.of_seq} not held by ${partyLabel(ev.party)}'s node within ${ev.deliver_within_s} s`; break;
    case "witness_alarm": title = "WITNESS ALARM"; who = partyLabel(ev.party); body = `${ev.alarm}: ${ev.detail || ""}`; break;
    default: body = JSON.stringify(ev);
  }
  const respond = ev.kind === "request" && (S.me.supervisor || ev.to === S.me.party) ? `<button data-respond="${ev.seq}">Respond</button>` : "";
  li.innerHTML = `<div class="mh"><span class="mt">${esc(title)}</span><span>${esc(who)}</span><span>${fmtTime(ev.t)} #${ev.seq}</span>${respond}</div><div>${esc(body)}</div>` +
    (TRAILED.has(ev.kind) ? `<div class="trail">sent ${fmtTime(ev.t)}</div>` : "");
  ul.insertBefore(li, ul.firstChild);
  while (ul.childNodes.length > 300) ul.removeChild(ul.lastChild);
}

// ---------------------------------------------------------------- sent / delivered / acknowledged
const TRAILED = new Set(["notice", "request", "response", "distress"]);
const trails = new Map(); // seq -> {delivered: Map(party -> t), acked: Map(party -> t)}

// A message's trail: sent (the service's time), delivered to each addressee (the time that
// party's own node cosigned a checkpoint holding it), acknowledged (the ack's time).
export function updateTrail(ev) {
  const seq = ev.of_seq;
  const tr = trails.get(seq) || { delivered: new Map(), acked: new Map() };
  trails.set(seq, tr);
  if (ev.kind === "delivered") tr.delivered.set(ev.party, ev.cosigned_t);
  else if (ev.kind === "ack") tr.acked.set(ev.by, ev.t);
  if (ev.kind === "delivered" && ev.checkpoint_size > (S.witnessedSize || 0)) setWitnessed(ev.checkpoint_size);
  const li = document.querySelector(`#messages li[data-seq="${seq}"] .trail`);
  if (!li) return;
  const parts = [li.textContent.split(" · ")[0]];
  for (const [p, t] of tr.delivered) parts.push(`delivered to ${partyLabel(p)} ${fmtTime(t)}`);
  for (const [p, t] of tr.acked) parts.push(`acknowledged by ${partyLabel(p)} ${fmtTime(t)}`);
  li.textContent = parts.join(" · ");
}

export function setWitnessed(size) {
  S.witnessedSize = size;
  $("witnessed").textContent = size ? `record witnessed to entry #${size}` : "record: not yet witnessed";
}

export function setStatus(text, err) {
  const s = $("m-status");
  s.textContent = text;
  s.classList.toggle("err", !!err);
}

// ---------------------------------------------------------------- the line: compose
export function buildSendForm() {
  const to = $("m-to");
  to.innerHTML = S.parties.filter((p) => p.id !== (S.me && S.me.party)).map((p) => `<option value="${esc(p.id)}">to ${esc(p.name || p.id)}</option>`).join("");
  updateFormType();
  refreshIcaoSelect();
  refreshRequestSelect();
}
function updateFormType() {
  const t = $("m-type").value;
  for (const el of document.querySelectorAll("#send-form [class*='only-']")) {
    el.classList.toggle("hidden", !el.classList.contains("only-" + t));
  }
  if (t === "DISTRESS") refreshIcaoSelect();
}
export function refreshIcaoSelect() {
  const sel = $("m-icao");
  const cur = sel.value;
  const mine = [];
  for (const ac of S.aircraft.values()) if (S.me && (S.me.supervisor || ac.party === S.me.party)) mine.push(ac);
  mine.sort((a, b) => (a.callsign || a.icao24).localeCompare(b.callsign || b.icao24));
  sel.innerHTML = mine.slice(0, 500).map((ac) => `<option value="${esc(ac.icao24)}">${esc((ac.callsign || "").trim() || ac.icao24)} ${esc(ac.icao24)}</option>`).join("");
  if (cur) sel.value = cur;
  if (S.selected && mine.some((a) => a.icao24 === S.selected)) sel.value = S.selected;
}
export function refreshRequestSelect() {
  const sel = $("m-request");
  const open = [];
  for (const [seq, rq] of S.requests) if (!S.responses.has(seq) && (S.me.supervisor || rq.to === S.me.party)) open.push(rq);
  sel.innerHTML = open.map((rq) => `<option value="${rq.seq}">re #${rq.seq} from ${esc(partyLabel(rq.from))}</option>`).join("");
}

function circlePolygon(lat, lon, radiusNm) {
  const pts = [];
  const dLat = radiusNm / 60;
  const dLon = radiusNm / (60 * Math.cos((lat * Math.PI) / 180));
  for (let i = 0; i <= 32; i++) {
    const a = (i / 32) * 2 * Math.PI;
    pts.push([+(lon + dLon * Math.cos(a)).toFixed(5), +(lat + dLat * Math.sin(a)).toFixed(5)]);
  }
  pts[32] = pts[0];
  return { type: "Polygon", coordinates: [pts] };
}

async function sendMessage(e) {
  e.preventDefault();
  const type = $("m-type").value;
  const text = $("m-text").value.trim();
  const now = Date.now();
  let body;
  if (type === "NOTICE") {
    const start = new Date(now + (+$("m-start").value || 0) * 60000);
    const end = new Date(start.getTime() + (+$("m-dur").value || 60) * 60000);
    body = { type, area: drawnArea() || circlePolygon(S.view.lat, S.view.lon, +$("m-radius").value || 20), floor_ft: +$("m-floor").value || 0, ceiling_ft: +$("m-ceiling").value || 0, start: start.toISOString(), end: end.toISOString(), text };
  } else if (type === "REQUEST") {
    body = { type, to: $("m-to").value, text, deadline: new Date(now + (+$("m-deadline").value || 5) * 60000).toISOString() };
  } else if (type === "RESPONSE") {
    const rs = +$("m-request").value;
    if (!rs) { setStatus("no open request to respond to", true); return; }
    body = { type, request_seq: rs, text };
  } else {
    const icao = $("m-icao").value;
    const ac = S.aircraft.get(icao);
    if (!ac) { setStatus("choose one of your aircraft", true); return; }
    body = { type, icao24: icao, latitude: ac.lat, longitude: ac.lon, nature: $("m-nature").value || text || "distress" };
  }
  try {
    const r = await api("/api/v1/messages", { method: "POST", body });
    setStatus(`${type} sent (#${r.seq})`);
    if (type === "NOTICE") noticeSent();
    $("m-text").value = "";
  } catch (err) {
    setStatus(`${type} refused: ${err.message}`, true);
  }
}

function respondTo(e) {
  const b = e.target.closest("button[data-respond]");
  if (!b) return;
  $("m-type").value = "RESPONSE";
  updateFormType();
  refreshRequestSelect();
  $("m-request").value = b.dataset.respond;
  $("m-text").focus();
}

export function wireLine() {
  $("messages").addEventListener("click", respondTo);
  $("overdue").addEventListener("click", respondTo);
  $("banner-ack").addEventListener("click", () => {
    if (S.bannerSeq === null) return;
    const seq = S.bannerSeq;
    ack(seq, $("banner-ack")).then(() => { $("banner-ack").disabled = false; });
  });
  $("m-type").addEventListener("change", updateFormType);
  $("send-form").addEventListener("submit", sendMessage);
  document.addEventListener("click", () => {
    try { S.audio = S.audio || new (window.AudioContext || window.webkitAudioContext)(); if (S.audio.state === "suspended") S.audio.resume(); } catch (err) { /* none */ }
  });
}
