// Pointer interaction with the map: drag to pan, wheel to zoom, click to select an aircraft,
// and the selected aircraft's card.
import { S, $, esc, paint, fmtAlt, fmtTime, partyLabel, wellclearText } from "./state.js";
import { canvas, screenToLonLat } from "./projection.js";
import { emergencyOf } from "./map.js";
import { writeHash } from "./filters.js";
import { measureClick } from "./measure.js";

let drag = null;
export function wirePointer() {
  canvas.addEventListener("mousedown", (e) => { drag = { x: e.clientX, y: e.clientY, lat: S.view.lat, lon: S.view.lon, moved: false }; canvas.classList.add("dragging"); });
  window.addEventListener("mouseup", (e) => {
    canvas.classList.remove("dragging");
    if (drag && !drag.moved && !measureClick(e)) select(e);
    drag = null;
  });
  window.addEventListener("mousemove", (e) => {
    const r = canvas.getBoundingClientRect();
    const p = screenToLonLat(e.clientX - r.left, e.clientY - r.top);
    $("cursor").textContent = `${p.lat.toFixed(3)}°, ${p.lon.toFixed(3)}°`;
    if (!drag) return;
    const dx = e.clientX - drag.x, dy = e.clientY - drag.y;
    if (Math.abs(dx) + Math.abs(dy) > 3) drag.moved = true;
    const k = Math.pow(2, S.view.z);
    S.view.lon = drag.lon - dx / k / S.cos0;
    S.view.lat = drag.lat + dy / k;
    S.dirty = true;
    writeHash();
  });
  canvas.addEventListener("wheel", (e) => {
    e.preventDefault();
    const r = canvas.getBoundingClientRect();
    const px = e.clientX - r.left, py = e.clientY - r.top;
    const before = screenToLonLat(px, py);
    S.view.z = Math.max(2, Math.min(13, S.view.z - Math.sign(e.deltaY) * 0.25));
    const after = screenToLonLat(px, py);
    S.view.lon += before.lon - after.lon;
    S.view.lat += before.lat - after.lat;
    S.dirty = true;
    writeHash();
  }, { passive: false });
}

function select(e) {
  const r = canvas.getBoundingClientRect();
  const px = e.clientX - r.left, py = e.clientY - r.top;
  let best = null, bestD = 12 * 12;
  const sc = S.screen;
  if (sc) for (let i = 0; i < sc.n; i++) {
    const d = (sc.bx[i] - px) ** 2 + (sc.by[i] - py) ** 2;
    if (d < bestD) { bestD = d; best = sc.bref[i]; }
  }
  S.selected = best ? best.icao24 : null;
  renderSelected();
  S.dirty = true;
}

// The last event of the selected aircraft's open alert of one kind (its party's own): its
// well-clear guidance ("wellclear") or the advisory it holds ("advisory"), if any.
function openAlertOf(kind, icao) {
  for (const th of S.threads.values()) if (th.kind === kind && !th.ended && th.last.icao24 === icao) return th.last;
  return null;
}

// Its level and, per dimension, the ranges that stay clear (NONE; RECOVERY when none does).
function wellclearLines(ev) {
  let html = `<br><b class="wc">well clear ${esc(wellclearText(ev))}</b>`;
  if (!ev.bands) return html;
  for (const [dim, label, unit] of [["hdir", "trk", "°"], ["hs", "gs", " kt"], ["vs", "vs", " fpm"], ["alt", "alt", " ft"]]) {
    const b = ev.bands[dim] || [];
    let ok = b.filter((r) => r[2] === "NONE"), kind = "clear";
    if (!ok.length) { ok = b.filter((r) => r[2] === "RECOVERY"); kind = "recovery"; }
    const txt = ok.length ? ok.map((r) => `${Math.round(r[0])}–${Math.round(r[1])}${unit}`).join(", ") : "none";
    html += `<br>${kind} ${label} ${esc(txt)}`;
  }
  return html;
}

// The advice and, per dimension the aircraft may be given, the values the engine judged free
// (steps of a turn, a speed change, a level: values between two listed ones were not judged).
function advisoryLines(ev) {
  let html = `<br><b class="ra">RA ${esc(ev.text || ev.manoeuvre || "")}</b>`;
  const b = ev.bands || {};
  for (const [dim, label, fmt] of [["track_deg", "trk", (v) => String(v).padStart(3, "0") + "°"],
    ["gs_kt", "gs", (v) => `${v} kt`], ["alt_ft", "alt", (v) => (v >= 18000 ? fmtAlt(v) : `${fmtAlt(v)} ft`)]]) {
    if (!(dim in b)) continue;
    html += `<br>free ${label} ${esc(b[dim].length ? b[dim].map(fmt).join(", ") : "none")}`;
  }
  return html;
}

export function renderSelected() {
  const box = $("selected");
  const ac = S.selected && S.aircraft.get(S.selected);
  if (!ac) { box.classList.add("hidden"); return; }
  box.classList.remove("hidden");
  const em = emergencyOf(ac);
  box.innerHTML = `<b>${esc((ac.callsign || "").trim() || ac.icao24)}</b> <span data-fg="${esc(S.partyColour[ac.party] || "#aaa")}">${esc(partyLabel(ac.party))}</span><br>` +
    `icao24 ${esc(ac.icao24)}<br>alt ${fmtAlt(ac.alt)} ft · vs ${Math.round(ac.vr || 0)} fpm<br>gs ${Math.round(ac.gs || 0)} kt · trk ${Math.round(ac.trk || 0)}°<br>` +
    `pos ${(+ac.lat).toFixed(4)}, ${(+ac.lon).toFixed(4)}<br>squawk ${esc(ac.squawk || "----")}${em ? ` <b data-fg="${esc(em.colour)}">${esc(em.label)}</b>` : ""}<br>report ${fmtTime(ac.t)}`;
  const ra = openAlertOf("advisory", ac.icao24);
  if (ra) box.innerHTML += advisoryLines(ra);
  const wc = openAlertOf("wellclear", ac.icao24);
  if (wc) box.innerHTML += wellclearLines(wc);
  paint(box);
}
