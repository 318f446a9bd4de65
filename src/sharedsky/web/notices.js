// Notified operations on the map (issue 17): every party's notified volumes in its colour,
// active (filled, solid outline) or upcoming (dashed) at the time the notices control shows,
// the overlap of each open notice conflict highlighted in red; and the NOTICE form's
// polygon, drawn by clicking on the map. The other modules call only the exported hooks.
import { S, $, fmtAlt, nowServer, partyLabel } from "./state.js";
import { canvas, worldX, worldY, ringsOf, screenToLonLat } from "./projection.js";

const ops = new Map(); // operation id -> {party, version, purpose, volumes: [{area, floor, ceiling, start, end}]}
const conflicts = new Map(); // conflict id -> its latest event (open ones only)
let aheadS = 0; // the time control: seconds ahead of now
let drawing = null; // [[lon, lat], ...] while a polygon is being drawn
let polygon = null; // the finished polygon (GeoJSON) for the next NOTICE

// ---------------------------------------------------------------- events
export function noticeEvent(ev) {
  if (ev.kind === "notice") {
    const op = ev.operation || `${ev.from}:notice-${ev.seq}`;
    if (ev.withdraw) ops.delete(op);
    else {
      const vols = (ev.volumes || [ev]).filter((v) => v.area).map((v) => ({
        area: v.area, floor: v.floor_ft, ceiling: v.ceiling_ft, start: Date.parse(v.start) / 1000, end: Date.parse(v.end) / 1000,
      }));
      ops.set(op, { party: ev.from, version: ev.version || 1, purpose: ev.purpose || "", volumes: vols });
    }
  } else if (ev.kind === "notice_conflict") {
    if (ev.state === "ended") conflicts.delete(ev.id);
    else conflicts.set(ev.id, ev);
  }
  S.dirty = true;
}

export function describeConflict(ev) {
  const v = ev.volumes || [{}, {}];
  const what = `${v[0].operation} v${v[0].version} × ${v[1].operation} v${v[1].version}`;
  if (ev.state === "ended") return `${what}: ended (${ev.reason})`;
  return `${what}: ${ev.start} → ${ev.end} [${fmtAlt(ev.floor_ft)}–${fmtAlt(ev.ceiling_ft)}], ` +
    `${(+ev.overlap_area_nm2 || 0).toFixed(1)} NM² · ${partyLabel(ev.gives_way)} gives way${ev.short_notice ? " · SHORT NOTICE" : ""}`;
}

// ---------------------------------------------------------------- drawing
function tracePath(ctx, geom, k, ox, oy) {
  ctx.beginPath();
  for (const ring of ringsOf(geom)) {
    ring.forEach((c, i) => { const x = worldX(c[0]) * k + ox, y = worldY(c[1]) * k + oy; if (i) ctx.lineTo(x, y); else ctx.moveTo(x, y); });
    ctx.closePath();
  }
}

// What the map shows at the control's time: [{op, party, active, volume}] (read by the tests too).
export function shownVolumes() {
  const t = nowServer() + aheadS;
  const out = [];
  for (const [op, o] of ops) {
    o.volumes.forEach((v, i) => { if (v.end > t) out.push({ op, index: i, party: o.party, version: o.version, active: v.start <= t }); });
  }
  return out;
}
export function openConflicts() { return Array.from(conflicts.values()); }

export function drawNotices(ctx, k, ox, oy) {
  const t = nowServer() + aheadS;
  ctx.lineWidth = 1.3;
  for (const o of ops.values()) {
    const col = S.partyColour[o.party] || "#ffd60a";
    for (const v of o.volumes) {
      if (v.end <= t) continue;
      const active = v.start <= t;
      tracePath(ctx, v.area, k, ox, oy);
      ctx.setLineDash(active ? [] : [5, 4]);
      ctx.strokeStyle = col;
      ctx.stroke();
      if (active) { ctx.globalAlpha = 0.12; ctx.fillStyle = col; ctx.fill("evenodd"); ctx.globalAlpha = 1; }
    }
  }
  ctx.setLineDash([]);
  for (const ev of conflicts.values()) {
    if (!ev.overlap || Date.parse(ev.end) / 1000 <= t) continue;
    tracePath(ctx, ev.overlap, k, ox, oy);
    ctx.globalAlpha = 0.35; ctx.fillStyle = "#ff3b30"; ctx.fill("evenodd"); ctx.globalAlpha = 1;
    ctx.strokeStyle = "#ff3b30"; ctx.lineWidth = 2; ctx.stroke(); ctx.lineWidth = 1.3;
  }
  const pts = drawing || (polygon && polygon.coordinates[0]);
  if (pts && pts.length) {
    ctx.strokeStyle = "#ffffff";
    ctx.setLineDash(drawing ? [3, 3] : []);
    ctx.beginPath();
    pts.forEach((c, i) => { const x = worldX(c[0]) * k + ox, y = worldY(c[1]) * k + oy; if (i) ctx.lineTo(x, y); else ctx.moveTo(x, y); ctx.fillStyle = "#ffffff"; ctx.fillRect(x - 2, y - 2, 4, 4); });
    if (!drawing) ctx.closePath();
    ctx.stroke();
    ctx.setLineDash([]);
  }
}

// ---------------------------------------------------------------- the NOTICE form's polygon
// The polygon drawn for the next NOTICE, or null (the form then sends its circle).
export function drawnArea() { return polygon; }

function setHint() {
  const h = $("m-shape");
  if (!h) return;
  h.textContent = drawing ? `drawing: ${drawing.length} point(s), click the map; Finish when done`
    : polygon ? `area: the polygon drawn (${polygon.coordinates[0].length - 1} points)` : "area: a circle round the map centre";
}

function finish() {
  if (drawing && drawing.length >= 3) polygon = { type: "Polygon", coordinates: [[...drawing, drawing[0]]] };
  drawing = null;
  $("m-draw").textContent = "Draw polygon";
  setHint();
  S.dirty = true;
}

export function wireNotices() {
  const range = $("notice-ahead");
  if (range) range.addEventListener("input", () => {
    aheadS = (+range.value || 0) * 3600;
    $("notice-ahead-v").textContent = aheadS ? `+${(+range.value).toFixed(1)} h` : "now";
    S.dirty = true;
  });
  const draw = $("m-draw");
  if (draw) draw.addEventListener("click", () => {
    if (drawing) { finish(); return; }
    drawing = []; polygon = null;
    draw.textContent = "Finish polygon";
    setHint();
  });
  const clear = $("m-clear");
  if (clear) clear.addEventListener("click", () => { drawing = null; polygon = null; $("m-draw").textContent = "Draw polygon"; setHint(); S.dirty = true; });
  // A click (not a drag) on the map adds a point while drawing.
  let down = null;
  canvas.addEventListener("mousedown", (e) => { down = { x: e.clientX, y: e.clientY }; });
  canvas.addEventListener("mouseup", (e) => {
    if (!drawing || !down || Math.abs(e.clientX - down.x) + Math.abs(e.clientY - down.y) > 3) return;
    const r = canvas.getBoundingClientRect();
    const p = screenToLonLat(e.clientX - r.left, e.clientY - r.top);
    drawing.push([+p.lon.toFixed(5), +p.lat.toFixed(5)]);
    setHint();
    S.dirty = true;
  });
  setHint();
}

// Sent: the next NOTICE starts from the circle again.
export function noticeSent() { polygon = null; drawing = null; setHint(); S.dirty = true; }
