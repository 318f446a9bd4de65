// Map drawing on the one canvas: cached borders layer, airspaces, notices, trails, conflict
// lines, aircraft symbols and labels, batched per colour; the redraw loop.
import { S, $, TRAIL_POINTS, TRAIL_BUDGET, LABEL_MAX, SQUAWKS, LEVEL_COLOUR, ALT_STOPS, fmtAlt, fmtTtl, nowServer, paint } from "./state.js";
import { canvas, worldX, worldY, ringsOf, viewTransform } from "./projection.js";
import { passes } from "./filters.js";
import { drawNotices } from "./notices.js";
import { placeLabels, nearestOnBox } from "./labels.js";
import { drawPlaces } from "./places.js";
import { drawMeasure, drawRings } from "./measure.js";

const ctx = canvas.getContext("2d", { alpha: false });

// ---------------------------------------------------------------- drawing
let dpr = 1;
export function resize() {
  dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth, h = canvas.clientHeight;
  canvas.width = Math.max(1, Math.round(w * dpr));
  canvas.height = Math.max(1, Math.round(h * dpr));
  S.baseCache = null;
  S.dirty = true;
}

function altColour(alt) {
  // hue from orange (low) through green and blue to magenta (high), as readsb users know it
  if (alt == null || !isFinite(alt)) return "#9e9e9e";
  const stops = ALT_STOPS, hues = [20, 40, 90, 140, 200, 250, 300];
  if (alt <= stops[0]) return `hsl(${hues[0]},85%,55%)`;
  for (let i = 1; i < stops.length; i++) {
    if (alt <= stops[i]) {
      const f = (alt - stops[i - 1]) / (stops[i] - stops[i - 1]);
      return `hsl(${Math.round(hues[i - 1] + f * (hues[i] - hues[i - 1]))},85%,55%)`;
    }
  }
  return `hsl(${hues[hues.length - 1]},85%,60%)`;
}
const ALT_BINS = 24;
function altBin(alt) {
  if (alt == null || !isFinite(alt)) return ALT_BINS; // unknown
  return Math.max(0, Math.min(ALT_BINS - 1, Math.floor((alt / 45000) * ALT_BINS)));
}
const altBinColours = Array.from({ length: ALT_BINS + 1 }, (_, i) => (i === ALT_BINS ? "#9e9e9e" : altColour(((i + 0.5) / ALT_BINS) * 45000)));

export function renderLegend() {
  const grad = ALT_STOPS.map((a, i) => `${altColour(a)} ${(i / (ALT_STOPS.length - 1)) * 100}%`).join(",");
  $("legend").innerHTML = `altitude<div class="bar" data-bg="linear-gradient(90deg,${grad})"></div><div class="ticks">${ALT_STOPS.filter((_, i) => i % 2 === 0).map((a) => `<span>${a / 1000}k</span>`).join("")}</div>`;
  paint($("legend"));
}

function drawBase(T) {
  // Borders are rendered into an offscreen layer a margin larger than the screen and
  // only re-rendered on zoom, resize, new data or a pan past the margin: a pan is a blit.
  const M = Math.round(Math.max(T.W, T.H) / 2);
  const c0 = S.baseCache;
  if (c0 && c0.z === S.view.z && c0.W === T.W && c0.H === T.H && c0.n === S.basemap.length && c0.dpr === dpr) {
    const dx = (c0.cx - T.cx) * T.k, dy = (c0.cy - T.cy) * T.k;
    if (Math.abs(dx) < M && Math.abs(dy) < M) return { canvas: c0.canvas, sx: (M - dx) * dpr, sy: (M - dy) * dpr };
  }
  const BW = T.W + 2 * M, BH = T.H + 2 * M;
  const off = new OffscreenCanvas(Math.round(BW * dpr), Math.round(BH * dpr));
  const c = off.getContext("2d", { alpha: false });
  const ox = T.ox + M, oy = T.oy + M;
  c.setTransform(dpr, 0, 0, dpr, 0, 0);
  c.fillStyle = "#081019"; // sea
  c.fillRect(0, 0, BW, BH);
  const lonMin = S.view.lon - BW / 2 / T.k / S.cos0, lonMax = S.view.lon + BW / 2 / T.k / S.cos0;
  const latMin = S.view.lat - BH / 2 / T.k, latMax = S.view.lat + BH / 2 / T.k;
  c.setTransform(dpr * T.k, 0, 0, dpr * T.k, dpr * ox, dpr * oy);
  c.fillStyle = "#132130";
  c.strokeStyle = "#2e4a63";
  c.lineWidth = 1 / T.k;
  c.lineJoin = "round";
  for (const b of S.basemap) {
    if (b.bbox[2] < lonMin || b.bbox[0] > lonMax || b.bbox[3] < latMin || b.bbox[1] > latMax) continue;
    c.fill(b.path, "evenodd");
    c.stroke(b.path);
  }
  // graticule every 1 or 5 degrees
  c.setTransform(dpr, 0, 0, dpr, 0, 0);
  const step = T.k > 40 ? 1 : 5;
  c.strokeStyle = "rgba(120,150,180,0.08)";
  c.lineWidth = 1;
  c.beginPath();
  for (let lon = Math.ceil(lonMin / step) * step; lon <= lonMax; lon += step) { const x = worldX(lon) * T.k + ox; c.moveTo(x, 0); c.lineTo(x, BH); }
  for (let lat = Math.ceil(latMin / step) * step; lat <= latMax; lat += step) { const y = worldY(lat) * T.k + oy; c.moveTo(0, y); c.lineTo(BW, y); }
  c.stroke();
  // an ImageBitmap blits much faster than a canvas (no snapshot per draw)
  if (c0 && c0.canvas && c0.canvas.close) c0.canvas.close();
  const bmp = off.transferToImageBitmap();
  S.baseCache = { z: S.view.z, W: T.W, H: T.H, n: S.basemap.length, dpr, cx: T.cx, cy: T.cy, canvas: bmp };
  return { canvas: bmp, sx: M * dpr, sy: M * dpr };
}

// scratch buffers for the visible aircraft (grown as needed, never per frame)
let bufN = 0, bx = new Float32Array(0), by = new Float32Array(0), bb = new Int16Array(0), bref = [];
function ensureBuf(n) {
  if (n <= bufN) return;
  bufN = Math.max(n, bufN * 2, 1024);
  bx = new Float32Array(bufN); by = new Float32Array(bufN); bb = new Int16Array(bufN); bref = new Array(bufN);
}

export function emergencyOf(ac) {
  if (SQUAWKS[ac.squawk]) return SQUAWKS[ac.squawk];
  if (ac.emergency && ac.emergency !== "none" && ac.emergency !== false) return { label: "EMERGENCY", colour: "#ffee00" };
  return null;
}

// Guidance bands as DAIDALUS displays them: NONE undrawn, FAR yellow, MID amber, NEAR red,
// RECOVERY green dashed.
export const ADVICE_COLOUR = "#00e5ff";
export const BAND_COLOUR = { FAR: "#ffd60a", MID: "#ff9500", NEAR: "#ff3b30", RECOVERY: "#34c759" };
const BAND_RADIUS = 46; // CSS px from the aircraft

// The selected aircraft's track bands (its latest well-clear event) as arcs of a ring round
// it, one per interval and region; what was drawn is kept in S.bandArcs (read by the tests).
function drawBands(ctx, wellclear, k, ox, oy) {
  const arcs = [];
  const ev = S.selected ? wellclear.get(S.selected) : null;
  const ac = ev && S.aircraft.get(S.selected);
  if (ac && ev.bands && ev.bands.hdir) {
    const x = ac.X * k + ox, y = ac.Y * k + oy;
    // a faint compass ring: where no band is drawn, every track stays clear (NONE)
    ctx.strokeStyle = "rgba(215,227,238,0.35)";
    ctx.lineWidth = 1;
    ctx.beginPath(); ctx.arc(x, y, BAND_RADIUS, 0, 2 * Math.PI); ctx.stroke();
    ctx.lineWidth = 7;
    for (const [lo, hi, region] of ev.bands.hdir) {
      const col = BAND_COLOUR[region];
      if (!col || !(hi > lo)) continue; // NONE: no band drawn
      // a track of d degrees points at canvas angle d - 90 (north up, clockwise)
      const a0 = ((lo - 90) * Math.PI) / 180, a1 = ((hi - 90) * Math.PI) / 180;
      ctx.strokeStyle = col;
      ctx.setLineDash(region === "RECOVERY" ? [5, 4] : []);
      ctx.beginPath(); ctx.arc(x, y, BAND_RADIUS, a0, a1); ctx.stroke();
      arcs.push({ icao24: ac.icao24, lo, hi, region, colour: col, x, y, r: BAND_RADIUS });
    }
    ctx.setLineDash([]);
  }
  S.bandArcs = arcs;
}

export function draw() {
  const t0 = performance.now();
  const T = viewTransform();
  const { W, H, k, ox, oy } = T;
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  const base = drawBase(T);
  const tBase = performance.now();
  ctx.drawImage(base.canvas, base.sx, base.sy, canvas.width, canvas.height, 0, 0, canvas.width, canvas.height);
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  const now = nowServer();

  // active alert state needed by the map
  const hot = new Map(); // icao24 -> colour of the ring (the most severe alert wins)
  const rank = { "#ffd60a": 1, "#ffb300": 2, "#ff3b30": 3 };
  const heat = (id, col) => { const cur = hot.get(id); if (!cur || (rank[col] || 0) > (rank[cur] || 0)) hot.set(id, col); };
  const activeAirspace = new Map(); // airspace id -> worst state
  const conflicts = [];
  const advisories = [];
  const wellclear = new Map(); // icao24 -> its open well-clear event (levels, bands)
  for (const th of S.threads.values()) {
    if (th.ended) continue;
    const ev = th.last;
    if (ev.kind === "advisory") advisories.push(ev);
    else if (ev.kind === "wellclear") { wellclear.set(ev.icao24, ev); if (ev.corrective) heat(ev.icao24, ev.region === "NEAR" ? "#ff3b30" : "#ffb300"); }
    else if (ev.kind === "conflict") { conflicts.push(ev); heat(ev.a, LEVEL_COLOUR[ev.level] || "#ffb300"); heat(ev.b, LEVEL_COLOUR[ev.level] || "#ffb300"); }
    else if (ev.kind === "loss_of_separation") { heat(ev.a, "#ff3b30"); heat(ev.b, "#ff3b30"); }
    else if (ev.kind === "airspace") { activeAirspace.set(ev.airspace, ev); heat(ev.icao24, LEVEL_COLOUR[ev.state] || "#ffd60a"); }
  }

  // protected airspaces, highlighted when an incursion is predicted or under way
  if (S.filters.airspaces && S.airspaces.length) {
    const pulse = 0.5 + 0.5 * Math.sin(Date.now() / 300);
    ctx.setTransform(dpr * k, 0, 0, dpr * k, dpr * ox, dpr * oy);
    for (const as of S.airspaces) {
      const ev = activeAirspace.get(as.id);
      const col = S.partyColour[as.owner] || "#9e9e9e";
      ctx.globalAlpha = ev ? 0.07 + 0.08 * pulse : 0.08;
      ctx.fillStyle = ev ? "#ff3b30" : col;
      ctx.fill(as.path, "evenodd");
      ctx.globalAlpha = 1;
      ctx.lineWidth = (ev ? 2.5 : 1.2) / k;
      ctx.strokeStyle = ev ? (LEVEL_COLOUR[ev.state] || "#ff3b30") : col;
      ctx.setLineDash(ev ? [] : [6 / k, 4 / k]);
      ctx.stroke(as.path);
    }
    ctx.setLineDash([]);
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.font = "11px system-ui, sans-serif";
    for (const as of S.airspaces) {
      const x = worldX((as.bbox[0] + as.bbox[2]) / 2) * k + ox, y = worldY((as.bbox[1] + as.bbox[3]) / 2) * k + oy;
      const ev = activeAirspace.get(as.id);
      ctx.fillStyle = ev ? "#ff6b60" : "rgba(215,227,238,0.55)";
      ctx.textAlign = "center";
      ctx.fillText(`${as.name} ${as.floor_ft != null ? fmtAlt(as.floor_ft) + "–" + fmtAlt(as.ceiling_ft) : ""}${ev ? " · " + String(ev.state).toUpperCase() : ""}`, x, y);
      ctx.textAlign = "left";
    }
  }

  // notified volumes by party (active or upcoming at the notices control's time), conflicts
  drawNotices(ctx, k, ox, oy);

  drawPlaces(ctx, T);
  drawRings(ctx, T);

  // project and filter the aircraft once
  ensureBuf(S.aircraft.size);
  let n = 0;
  const byAlt = S.filters.colour === "altitude";
  const partyIdx = new Map(S.parties.map((p, i) => [p.id, i]));
  const margin = 20;
  for (const ac of S.aircraft.values()) {
    if (!passes(ac)) continue;
    const x = ac.X * k + ox, y = ac.Y * k + oy;
    if (x < -margin || y < -margin || x > W + margin || y > H + margin) continue;
    bx[n] = x; by[n] = y;
    bb[n] = byAlt ? altBin(ac.alt) : (partyIdx.has(ac.party) ? partyIdx.get(ac.party) : S.parties.length);
    bref[n] = ac;
    n++;
  }
  const nb = byAlt ? ALT_BINS + 1 : S.parties.length + 1;
  const bucketColour = (b) => (byAlt ? altBinColours[b] : b < S.parties.length ? S.parties[b].colour || "#9e9e9e" : "#9e9e9e");

  const tProj = performance.now();
  // trails: one path per colour, a vertex budget shared by all visible aircraft
  if (S.filters.trails && n) {
    const per = Math.max(2, Math.min(TRAIL_POINTS, Math.floor(TRAIL_BUDGET / n)));
    ctx.lineWidth = 1;
    ctx.globalAlpha = 0.45;
    for (let b = 0; b < nb; b++) {
      ctx.strokeStyle = bucketColour(b);
      ctx.beginPath();
      let any = false;
      for (let i = 0; i < n; i++) {
        if (bb[i] !== b) continue;
        const tr = bref[i].trail;
        const m = tr.length >> 1;
        if (!m) continue;
        const s = Math.max(0, m - per);
        ctx.moveTo(tr[2 * s] * k + ox, tr[2 * s + 1] * k + oy);
        for (let j = s + 1; j < m; j++) ctx.lineTo(tr[2 * j] * k + ox, tr[2 * j + 1] * k + oy);
        ctx.lineTo(bx[i], by[i]);
        any = true;
      }
      if (any) ctx.stroke();
    }
    ctx.globalAlpha = 1;
  }

  const tTrails = performance.now();
  // conflicts: a line between the pair, labelled with time to loss of separation and level
  ctx.font = "bold 11px system-ui, sans-serif";
  const tags = [];
  const urgent = new Map(); // icao24 -> the most urgent conflict's tag text
  for (const ev of conflicts) {
    const a = S.aircraft.get(ev.a), b = S.aircraft.get(ev.b);
    if (!a || !b) continue;
    const x1 = a.X * k + ox, y1 = a.Y * k + oy, x2 = b.X * k + ox, y2 = b.Y * k + oy;
    const col = LEVEL_COLOUR[ev.level] || "#ffb300";
    ctx.strokeStyle = col;
    ctx.lineWidth = 2;
    ctx.setLineDash(ev.level === "advisory" ? [6, 4] : []);
    ctx.beginPath(); ctx.moveTo(x1, y1); ctx.lineTo(x2, y2); ctx.stroke();
    ctx.setLineDash([]);
    const ttl = ev.t_in_s != null ? ev.t_in_s - Math.max(0, now - ev.t) : null;
    const txt = `${String(ev.level || "").toUpperCase()} ${ttl != null && ttl > 0 ? "LoS in " + fmtTtl(ttl) : "NOW"}`;
    // the tag is placed with the labels (declutter), anchored at the line's midpoint
    // a tag on the pair's line while few pairs are in view (or for the selected aircraft's pairs);
    // in a crowd the aircraft labels carry the alerts and the lines stay bare
    if (conflicts.length <= TAG_PAIRS_MAX || ev.a === S.selected || ev.b === S.selected) {
      tags.push({ id: "tag:" + (ev.id || ev.a + "-" + ev.b), kind: "tag", ax: (x1 + x2) / 2, ay: (y1 + y2) / 2, clear: 4,
        prio: 1, lines: [{ text: txt, colour: col, bold: true }] });
    }
    // each aircraft's own label also carries its most urgent conflict (the tag may find no room)
    for (const id of [ev.a, ev.b]) {
      const cur = urgent.get(id), r = ev.level === "warning" ? 2 : 1, tt = ttl != null ? Math.max(0, ttl) : 0;
      if (!cur || r > cur.r || (r === cur.r && tt < cur.tt)) urgent.set(id, { r, tt, text: txt, colour: col });
    }
  }

  // resolution advisories: the advised track as a cyan arrow ahead of the aircraft (two
  // minutes of flight), or the vertical sense as an arrow above or below it (level off: a
  // level bar beside it); what was
  // drawn is kept in S.adviceMarks (read by the tests)
  ctx.strokeStyle = ADVICE_COLOUR;
  ctx.fillStyle = ADVICE_COLOUR;
  ctx.lineWidth = 2;
  const marks = [];
  for (const ev of advisories) {
    const ac = S.aircraft.get(ev.icao24);
    if (!ac) continue;
    const x = ac.X * k + ox, y = ac.Y * k + oy;
    if (ev.manoeuvre === "vertical") {
      const vs = ev.vs_fpm || 0;
      if (vs === 0) {
        // level off: a level bar beside the aircraft, closed by a tick at each end
        ctx.beginPath(); ctx.moveTo(x + 10, y); ctx.lineTo(x + 26, y);
        ctx.moveTo(x + 10, y - 4); ctx.lineTo(x + 10, y + 4); ctx.moveTo(x + 26, y - 4); ctx.lineTo(x + 26, y + 4);
        ctx.stroke();
        marks.push({ icao24: ev.icao24, manoeuvre: ev.manoeuvre, sense: "level", x: x + 10, y, x2: x + 26, y2: y });
        continue;
      }
      const up = vs > 0 ? -1 : 1;
      ctx.beginPath(); ctx.moveTo(x + 12, y); ctx.lineTo(x + 12, y + up * 16); ctx.stroke();
      ctx.beginPath(); ctx.moveTo(x + 8, y + up * 11); ctx.lineTo(x + 12, y + up * 17); ctx.lineTo(x + 16, y + up * 11); ctx.fill();
      marks.push({ icao24: ev.icao24, manoeuvre: ev.manoeuvre, sense: vs > 0 ? "climb" : "descend", x: x + 12, y, x2: x + 12, y2: y + up * 17 });
      continue;
    }
    const tr = ((ev.track_deg || 0) * Math.PI) / 180;
    const nm = ((ev.gs_kt || ac.gs || 400) * 120) / 3600;
    const len = Math.max(24, Math.min(120, (nm / 60) * k));
    const x2 = x + Math.sin(tr) * len, y2 = y - Math.cos(tr) * len;
    ctx.setLineDash([5, 3]);
    ctx.beginPath(); ctx.moveTo(x, y); ctx.lineTo(x2, y2); ctx.stroke();
    ctx.setLineDash([]);
    ctx.beginPath();
    ctx.moveTo(x2, y2);
    ctx.lineTo(x2 - Math.sin(tr - 0.4) * 8, y2 + Math.cos(tr - 0.4) * 8);
    ctx.lineTo(x2 - Math.sin(tr + 0.4) * 8, y2 + Math.cos(tr + 0.4) * 8);
    ctx.fill();
    marks.push({ icao24: ev.icao24, manoeuvre: ev.manoeuvre, track_deg: ev.track_deg, x, y, x2, y2 });
  }
  S.adviceMarks = marks;

  drawBands(ctx, wellclear, k, ox, oy);

  // aircraft symbols: one filled path per colour; each symbol points along its track
  const size = k > 200 ? 8 : 6.5;
  for (let b = 0; b < nb; b++) {
    ctx.fillStyle = bucketColour(b);
    ctx.beginPath();
    let any = 0;
    for (let i = 0; i < n; i++) {
      if (bb[i] !== b) continue;
      const ac = bref[i];
      const tr = ((ac.trk || 0) * Math.PI) / 180;
      const s = Math.sin(tr), c = Math.cos(tr);
      const x = bx[i], y = by[i];
      // arrowhead: nose, right wing, tail notch, left wing (screen y grows downwards)
      ctx.moveTo(x + s * size, y - c * size);
      ctx.lineTo(x + (-s * 0.8 + c * 0.75) * size, y + (c * 0.8 + s * 0.75) * size);
      ctx.lineTo(x - s * 0.35 * size, y + c * 0.35 * size);
      ctx.lineTo(x + (-s * 0.8 - c * 0.75) * size, y + (c * 0.8 - s * 0.75) * size);
      ctx.closePath();
      // small batches: the rasteriser's cost grows faster than linearly with path size
      if (++any === 32) { ctx.fill(); ctx.beginPath(); any = 0; }
    }
    if (any) ctx.fill();
  }

  const tSym = performance.now();
  // rings: emergencies, alerts, distress, selection
  const distressIcaos = new Set();
  for (const th of S.threads.values()) if (th.kind === "distress" && !th.acks.length) distressIcaos.add(th.last.icao24);
  const labelAll = S.filters.labels && (n <= LABEL_MAX || k > 400);
  const drawn = new Array(n);
  const items = tags;
  const tagged = []; // emergency and distress labels drawn this frame (read by the tests)
  for (let i = 0; i < n; i++) {
    const ac = bref[i];
    drawn[i] = ac.icao24;
    const em = emergencyOf(ac);
    const distress = distressIcaos.has(ac.icao24);
    const ring = em ? em.colour : distress ? "#ff3b30" : hot.get(ac.icao24);
    const sel = S.selected === ac.icao24;
    if (ring || sel) {
      ctx.strokeStyle = ring || "#ffffff";
      ctx.lineWidth = 2;
      ctx.beginPath(); ctx.arc(bx[i], by[i], size + 5, 0, 2 * Math.PI); ctx.stroke();
    }
    if (em || distress) tagged.push({ icao24: ac.icao24, label: em ? em.label : "DISTRESS" });
    if (!(ring || sel || labelAll)) continue;
    items.push({ id: ac.icao24, kind: "aircraft", ax: bx[i], ay: by[i], clear: size + 6,
      prio: sel ? 9 : ring ? 2 : 0, must: sel, lines: labelLines(ac, em, distress, ring, sel, urgent.get(ac.icao24)) });
  }
  if (items.length) drawLabels(items, n, size, W, H);
  else placeLabels([], [], W, H);
  drawMeasure(ctx, T);
  S.drawn = drawn;
  S.tagged = tagged;
  S.screen = { n, bx, by, bref };

  // scale bar and counters
  const nmPerPx = 60 / k; // one degree of (cos-scaled) longitude is 60 NM
  const nice = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000].find((v) => v / nmPerPx > 70) || 1000;
  // the page's text is written only when it changes: each write lays the whole page out again
  const info = `${Math.round(nice / nmPerPx)}|${nice}|${n}|${S.aircraft.size}|${S.altUnknown || 0}`;
  if (info !== S._info) {
    S._info = info;
    $("scalebar").style.width = Math.round(nice / nmPerPx) + "px";
    $("scalebar").textContent = nice + " NM";
    $("count-drawn").textContent = n;
    $("count-known").textContent = S.aircraft.size;
    $("count-alt-unknown").textContent = S.altUnknown || 0;
    $("stat-alt-unknown").classList.toggle("hidden", !S.altUnknown);
    document.body.dataset.drawn = n;
    document.body.dataset.known = S.aircraft.size;
  }

  const t1 = performance.now();
  const dt = t1 - t0;
  S.phases = { base: tBase - t0, project: tProj - tBase, trails: tTrails - tProj, symbols: tSym - tTrails, labels: t1 - tSym };
  S.frameTimes.push(dt);
  if (S.frameTimes.length > 1200) S.frameTimes.splice(0, 600);
  S.frames++;
}

const LABEL_FONT = "11px ui-monospace, 'DejaVu Sans Mono', monospace";
const TAG_FONT = "bold 11px system-ui, sans-serif";
const LINE_PX = 12;
const TAG_PAIRS_MAX = 8; // conflict tags drawn on the pair lines when at most this many pairs

function labelLines(ac, em, distress, ring, sel, alert) {
  // callsign (with an emergency or distress tag), then level, climb and speed; in full when selected
  const cs = (ac.callsign || "").trim() || ac.icao24;
  const vr = ac.vr > 300 ? "↑" : ac.vr < -300 ? "↓" : " ";
  const lines = [];
  if (em || distress) lines.push({ text: em ? em.label : "DISTRESS", colour: "#000", bg: em ? em.colour : "#ff3b30", bold: true });
  lines.push({ text: cs, colour: ring || (sel ? "#ffffff" : "rgba(225,235,245,0.92)") });
  lines.push({ text: `${fmtAlt(ac.alt)}${vr}${ac.gs != null ? Math.round(ac.gs) : "---"}`, colour: "rgba(160,180,200,0.9)" });
  if (alert) lines.push({ text: alert.text, colour: alert.colour, bold: true });
  if (sel) lines.push({ text: `${ac.party || "?"} ${ac.squawk || "----"} ${Math.round(ac.trk || 0)}°`, colour: "rgba(160,180,200,0.9)" });
  return lines;
}

const widths = new Map(); // text -> width in px (labels repeat from frame to frame)
function textWidth(text, bold) {
  const key = (bold ? "b" : "") + text;
  let w = widths.get(key);
  if (w === undefined) {
    if (widths.size > 20000) widths.clear();
    ctx.font = bold ? TAG_FONT : LABEL_FONT;
    w = ctx.measureText(text).width;
    widths.set(key, w);
  }
  return w;
}

function drawLabels(items, n, size, W, H) {
  // measure, place (labels.js), then draw leader lines, boxes and text
  for (const it of items) {
    let w = 0;
    for (const l of it.lines) w = Math.max(w, textWidth(l.text, l.bold));
    it.w = Math.ceil(w) + 6;
    it.h = it.lines.length * LINE_PX + 3;
  }
  const symbols = new Array(n);
  for (let i = 0; i < n; i++) symbols[i] = { id: bref[i].icao24, x: bx[i] - size, y: by[i] - size, w: 2 * size, h: 2 * size };
  const placed = placeLabels(items, symbols, W, H);
  ctx.lineWidth = 1;
  for (const p of placed) {
    if (!p.leader) continue;
    const [qx, qy] = nearestOnBox(p, p.ax, p.ay);
    const d = Math.hypot(qx - p.ax, qy - p.ay) || 1, c = p.item.clear - 3;
    ctx.strokeStyle = p.item.lines[p.item.lines.length > 1 && p.item.lines[0].bg ? 1 : 0].colour;
    ctx.globalAlpha = 0.7;
    ctx.beginPath(); ctx.moveTo(p.ax + ((qx - p.ax) / d) * c, p.ay + ((qy - p.ay) / d) * c); ctx.lineTo(qx, qy); ctx.stroke();
    ctx.globalAlpha = 1;
  }
  for (const p of placed) {
    ctx.fillStyle = "rgba(8,16,25,0.78)";
    ctx.fillRect(p.x, p.y, p.w, p.h);
    p.item.lines.forEach((l, j) => {
      ctx.font = l.bold ? TAG_FONT : LABEL_FONT;
      if (l.bg) { ctx.fillStyle = l.bg; ctx.fillRect(p.x, p.y + j * LINE_PX + 1, p.w, LINE_PX + 1); }
      ctx.fillStyle = l.colour;
      ctx.fillText(l.text, p.x + 3, p.y + (j + 1) * LINE_PX);
    });
  }
}

export function loop() {
  // redraw on new data, on view changes and while something pulses (active airspace alert)
  const pulsing = S.filters.airspaces && S.airspaceActive;
  if (S.me && (S.dirty || (pulsing && Date.now() - (S._lastPulse || 0) > 250))) {
    S.dirty = false;
    S._lastPulse = Date.now();
    draw();
  }
  requestAnimationFrame(loop);
}

export function wireMap() {
  window.addEventListener("resize", resize);
}
