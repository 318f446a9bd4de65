// Measure: a range-and-bearing line between two points or aircraft (press M or the ruler button,
// then click twice; an end near an aircraft follows it), with time to go at current speeds;
// and range rings round the selected aircraft at the minima of its party's pairs.
// Range and bearing on a sphere of 3440.065 NM (great circle; within 0.5 % of WGS84 at any range).
import { S, $, fmtTtl } from "./state.js";
import { canvas, screenToLonLat } from "./projection.js";

const R_NM = 3440.065;
const M = { on: false, a: null, b: null, last: null };
const rad = (d) => (d * Math.PI) / 180;

/** Great-circle range (NM) and initial true bearing (degrees) from p to q ({lat, lon}). */
export function rangeBearing(p, q) {
  const f1 = rad(p.lat), f2 = rad(q.lat), dl = rad(q.lon - p.lon);
  const h = Math.sin((f2 - f1) / 2) ** 2 + Math.cos(f1) * Math.cos(f2) * Math.sin(dl / 2) ** 2;
  const range = 2 * R_NM * Math.asin(Math.min(1, Math.sqrt(h)));
  const y = Math.sin(dl) * Math.cos(f2), x = Math.cos(f1) * Math.sin(f2) - Math.sin(f1) * Math.cos(f2) * Math.cos(dl);
  return { range_nm: range, bearing_deg: ((Math.atan2(y, x) * 180) / Math.PI + 360) % 360 };
}

function endPoint(e) {
  // an aircraft within 12 px, else the point clicked
  const r = canvas.getBoundingClientRect();
  const px = e.clientX - r.left, py = e.clientY - r.top;
  const sc = S.screen;
  let best = null, bestD = 144;
  if (sc) for (let i = 0; i < sc.n; i++) {
    const d = (sc.bx[i] - px) ** 2 + (sc.by[i] - py) ** 2;
    if (d < bestD) { bestD = d; best = sc.bref[i].icao24; }
  }
  if (best) return { icao: best };
  const p = screenToLonLat(px, py);
  return { lat: p.lat, lon: p.lon };
}

function where(end) {
  if (!end) return null;
  if (end.icao) { const ac = S.aircraft.get(end.icao); return ac ? { lat: ac.lat, lon: ac.lon, ac } : null; }
  return { lat: end.lat, lon: end.lon, ac: null };
}

function velocity(ac) {
  // east and north components, kt
  if (!ac || ac.gs == null || ac.trk == null) return null;
  return [ac.gs * Math.sin(rad(ac.trk)), ac.gs * Math.cos(rad(ac.trk))];
}

/** Range, bearing and time to go between the two ends (null until both are set). */
export function measured() {
  const p = where(M.a), q = where(M.b);
  if (!p || !q) return null;
  const out = rangeBearing(p, q);
  const va = velocity(p.ac), vb = velocity(q.ac);
  out.ttg_s = null; out.cpa_nm = null;
  if (va && vb) {
    // both aircraft: time to their closest approach (local flat frame), and its distance
    const kx = 60 * Math.cos(rad((p.lat + q.lat) / 2));
    const dx = (q.lon - p.lon) * kx, dy = (q.lat - p.lat) * 60, wx = vb[0] - va[0], wy = vb[1] - va[1];
    const w2 = wx * wx + wy * wy;
    const t_h = w2 > 0 ? -(dx * wx + dy * wy) / w2 : 0;
    if (t_h > 0) { out.ttg_s = t_h * 3600; out.cpa_nm = Math.hypot(dx + wx * t_h, dy + wy * t_h); }
  } else if (va && p.ac.gs > 1) {
    out.ttg_s = (out.range_nm / p.ac.gs) * 3600; // the aircraft to the point at its speed
  } else if (vb && q.ac.gs > 1) {
    out.ttg_s = (out.range_nm / q.ac.gs) * 3600;
  }
  M.last = out;
  return out;
}

/** A click on the map while measuring sets the next end; true if the click was the measure's. */
export function measureClick(e) {
  if (!M.on) return false;
  const end = endPoint(e);
  if (!M.a || M.b) { M.a = end; M.b = null; } else M.b = end;
  S.dirty = true;
  return true;
}

export function setMeasuring(on) {
  M.on = on;
  if (!on) { M.a = null; M.b = null; M.last = null; }
  const b = $("measure-btn");
  if (b) b.classList.toggle("on", on);
  canvas.classList.toggle("measuring", on);
  S.dirty = true;
}

/** The selected aircraft's minima rings, under the traffic and its labels (CSS px transform set). */
export function drawRings(ctx, T) {
  const { k, ox, oy } = T;
  const xy = (p) => [p.lon * S.cos0 * k + ox, -p.lat * k + oy];
  const nmPx = k / 60; // one NM in px (the world's y axis is degrees of latitude)
  const sel = S.selected && S.aircraft.get(S.selected);
  if (sel) {
    ctx.font = "10px ui-monospace, 'DejaVu Sans Mono', monospace";
    const [x, y] = xy(sel);
    ctx.setLineDash([3, 5]);
    ctx.lineWidth = 1;
    for (const r of ringsFor(sel)) {
      ctx.strokeStyle = r.colour;
      ctx.beginPath(); ctx.arc(x, y, r.h_nm * nmPx, 0, 2 * Math.PI); ctx.stroke();
      ctx.fillStyle = r.colour;
      ctx.fillText(`${r.h_nm} NM ${r.what}`, x + 3, y - r.h_nm * nmPx - 3);
    }
    ctx.setLineDash([]);
  }
}

/** The measure line with its range, bearing and time to go, over everything (CSS px transform set). */
export function drawMeasure(ctx, T) {
  const { k, ox, oy } = T;
  const xy = (p) => [p.lon * S.cos0 * k + ox, -p.lat * k + oy];
  const p = where(M.a), q = where(M.b);
  if (!p) return;
  const [x1, y1] = xy(p);
  ctx.strokeStyle = "#7df9ff";
  ctx.fillStyle = "#7df9ff";
  ctx.lineWidth = 1.5;
  ctx.beginPath(); ctx.arc(x1, y1, 3, 0, 2 * Math.PI); ctx.fill();
  if (!q) return;
  const [x2, y2] = xy(q);
  ctx.beginPath(); ctx.moveTo(x1, y1); ctx.lineTo(x2, y2); ctx.stroke();
  const m = measured();
  const txt = `${m.range_nm.toFixed(1)} NM ${String(Math.round(m.bearing_deg) % 360).padStart(3, "0")}°` +
    (m.ttg_s != null ? (m.cpa_nm != null ? ` · CPA ${m.cpa_nm.toFixed(1)} NM in ${fmtTtl(m.ttg_s)}` : ` · ${fmtTtl(m.ttg_s)} to go`) : "");
  ctx.font = "bold 11px system-ui, sans-serif";
  const tw = ctx.measureText(txt).width, mx = (x1 + x2) / 2, my = (y1 + y2) / 2 - 8;
  ctx.fillStyle = "rgba(8,16,25,0.85)";
  ctx.fillRect(mx - tw / 2 - 4, my - 11, tw + 8, 15);
  ctx.fillStyle = "#7df9ff";
  ctx.fillText(txt, mx - tw / 2, my);
}

/** The rings round an aircraft: the horizontal minimum of each level for its party and each other party. */
export function ringsFor(ac) {
  const ag = S.agreement;
  if (!ag || !ag.minima || !S.parties.length) return [];
  const i = S.parties.findIndex((p) => p.id === ac.party);
  if (i < 0) return [];
  const out = [], seen = new Set();
  for (const lv of ag.minima) {
    S.parties.forEach((other, j) => {
      const h = lv.h_nm[i] && lv.h_nm[i][j];
      if (!h) return;
      const key = `${lv.level}:${h}`;
      if (seen.has(key)) return;
      seen.add(key);
      out.push({ h_nm: h, level: lv.level, what: `${lv.level} vs ${other.id}`, colour: lv.level === ag.minima[ag.minima.length - 1].level ? "rgba(255,59,48,0.7)" : "rgba(255,179,0,0.7)" });
    });
  }
  return out;
}

export function wireMeasure() {
  const b = document.createElement("button");
  b.id = "measure-btn";
  b.className = "measure-btn";
  b.type = "button";
  b.title = "measure range, bearing and time to go (M); click two points or aircraft";
  b.textContent = "↔ measure";
  b.addEventListener("click", () => setMeasuring(!M.on));
  $("mapwrap").appendChild(b);
  window.addEventListener("keydown", (e) => {
    if (e.target && /INPUT|SELECT|TEXTAREA/.test(e.target.tagName)) return;
    if (e.key === "m" || e.key === "M") setMeasuring(!M.on);
    if (e.key === "Escape") setMeasuring(false);
  });
}

/** What is measured (read by the tests). */
export function measureState() {
  return { on: M.on, a: M.a, b: M.b, result: M.b ? measured() : null, rings: S.selected && S.aircraft.get(S.selected) ? ringsFor(S.aircraft.get(S.selected)) : [] };
}
