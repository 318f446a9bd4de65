// The pair's separation where people look: for the selected aircraft's most urgent conflict, a
// small panel with horizontal (NM) and vertical (ft) separation against time: the past as this
// screen saw it since the pair was selected, the prediction (both flying straight on at their
// current speeds, as the engine predicts) for the look-ahead, and the pair's minima drawn.
import { S, $, callsignOf } from "./state.js";

const PAST_S = 180, AHEAD_S = 300, W = 280, H = 150;
const P = { key: null, a: null, b: null, past: [], predicted: [], minima: [] };
const rad = (d) => (d * Math.PI) / 180;

function pairOf() {
  // the selected aircraft's active conflict (or loss of separation) with the soonest time to go
  if (!S.selected) return null;
  let best = null;
  for (const th of S.threads.values()) {
    const ev = th.last;
    if (th.ended || (ev.kind !== "conflict" && ev.kind !== "loss_of_separation")) continue;
    if (ev.a !== S.selected && ev.b !== S.selected) continue;
    const ttl = ev.kind === "loss_of_separation" ? -1 : ev.t_in_s != null ? ev.t_in_s : 1e9;
    if (!best || ttl < best.ttl) best = { ev, ttl };
  }
  return best ? best.ev : null;
}

/** Horizontal (NM) and vertical (ft) separation of a and b after tau s, flying straight. */
export function separation(a, b, tau) {
  const kx = 60 * Math.cos(rad((a.lat + b.lat) / 2));
  const v = (ac) => [((ac.gs || 0) * Math.sin(rad(ac.trk || 0))) / 3600, ((ac.gs || 0) * Math.cos(rad(ac.trk || 0))) / 3600];
  const [ax, ay] = v(a), [bx, by] = v(b);
  const dx = (b.lon - a.lon) * kx + (bx - ax) * tau, dy = (b.lat - a.lat) * 60 + (by - ay) * tau;
  const dz = a.alt != null && b.alt != null ? Math.abs((b.alt - a.alt) + (((b.vr || 0) - (a.vr || 0)) * tau) / 60) : null;
  return { h_nm: Math.hypot(dx, dy), v_ft: dz };
}

function minimaOf(ev) {
  const ag = S.agreement;
  if (!ag || !ag.minima) return [];
  const i = S.parties.findIndex((p) => p.id === ev.party_a), j = S.parties.findIndex((p) => p.id === ev.party_b);
  if (i < 0 || j < 0) return [];
  return ag.minima.map((lv) => ({ level: lv.level, h_nm: lv.h_nm[i][j], v_ft: lv.v_ft[i][j] })).filter((m) => m.h_nm > 0);
}

function sample() {
  const ev = pairOf();
  const box = $("plot");
  if (!ev) { P.key = null; if (box) box.classList.add("hidden"); return; }
  const a = S.aircraft.get(ev.a), b = S.aircraft.get(ev.b);
  if (!a || !b) return;
  const key = ev.a + "|" + ev.b;
  if (key !== P.key) { P.key = key; P.past = []; }
  const t = S.lastT || Date.now() / 1000;
  if (P.past.length && t < P.past[P.past.length - 1].t) P.past = []; // the history went back
  const now = separation(a, b, 0);
  if (!P.past.length || P.past[P.past.length - 1].t !== t) P.past.push({ t, h_nm: now.h_nm, v_ft: now.v_ft });
  while (P.past.length && P.past[0].t < t - PAST_S) P.past.shift();
  P.predicted = [];
  for (let tau = 0; tau <= AHEAD_S; tau += 10) { const s = separation(a, b, tau); P.predicted.push({ t: t + tau, h_nm: s.h_nm, v_ft: s.v_ft }); }
  P.a = ev.a; P.b = ev.b; P.t = t;
  P.minima = minimaOf(ev);
  render();
}

function chart(c, y0, h, key, unit, lims) {
  // one strip: the past solid, the prediction dashed, each minimum a red or amber line
  const all = P.past.concat(P.predicted).map((p) => p[key]).filter((v) => v != null);
  const max = Math.max(1, ...all, ...lims.map((m) => m.value * 1.5));
  const x = (t) => 30 + ((t - (P.t - PAST_S)) / (PAST_S + AHEAD_S)) * (W - 36);
  const y = (v) => y0 + h - (v / max) * h;
  c.strokeStyle = "rgba(120,150,180,0.4)";
  c.strokeRect(30, y0, W - 36, h);
  c.fillStyle = "#7f93a8";
  c.fillText(`${Math.round(max)} ${unit}`, 2, y0 + 9);
  c.fillText(`0`, 20, y0 + h);
  for (const m of lims) {
    c.strokeStyle = m.hard ? "rgba(255,59,48,0.8)" : "rgba(255,179,0,0.8)";
    c.setLineDash([4, 3]);
    c.beginPath(); c.moveTo(30, y(m.value)); c.lineTo(W - 6, y(m.value)); c.stroke();
  }
  c.setLineDash([]);
  c.strokeStyle = "#d7e3ee";
  c.beginPath();
  P.past.forEach((p, i) => { if (p[key] == null) return; if (i) c.lineTo(x(p.t), y(p[key])); else c.moveTo(x(p.t), y(p[key])); });
  c.stroke();
  c.strokeStyle = "#4fc3f7";
  c.setLineDash([5, 3]);
  c.beginPath();
  P.predicted.forEach((p, i) => { if (p[key] == null) return; if (i) c.lineTo(x(p.t), y(p[key])); else c.moveTo(x(p.t), y(p[key])); });
  c.stroke();
  c.setLineDash([]);
  c.strokeStyle = "rgba(255,255,255,0.5)";
  c.beginPath(); c.moveTo(x(P.t), y0); c.lineTo(x(P.t), y0 + h); c.stroke();
}

function render() {
  let box = $("plot");
  if (!box) {
    box = document.createElement("div");
    box.id = "plot";
    box.className = "plot panel-float";
    box.innerHTML = `<div class="ptitle" id="plot-title"></div><canvas id="plot-canvas" width="${W}" height="${H}"></canvas>`;
    $("mapwrap").appendChild(box);
  }
  box.classList.remove("hidden");
  $("plot-title").textContent = `${callsignOf(P.a)} × ${callsignOf(P.b)} · −${PAST_S / 60} min … +${AHEAD_S / 60} min`;
  const cv = $("plot-canvas"), c = cv.getContext("2d");
  c.clearRect(0, 0, W, H);
  c.font = "9px ui-monospace, 'DejaVu Sans Mono', monospace";
  const hard = P.minima.length - 1;
  chart(c, 2, 64, "h_nm", "NM", P.minima.map((m, i) => ({ value: m.h_nm, hard: i === hard })));
  chart(c, 76, 64, "v_ft", "ft", P.minima.map((m, i) => ({ value: m.v_ft, hard: i === hard })));
}

/** What the plot shows (read by the tests). */
export function plotState() {
  sample(); // from the picture as it is now
  return { pair: P.key ? [P.a, P.b] : null, past: P.past.length, predicted: P.predicted.slice(), minima: P.minima.slice() };
}

export function wirePlot() {
  setInterval(sample, 1000);
}
