// sharedsky operations room, entry module: wires the other modules, exposes the debug handle
// window.sharedsky (read by the browser tests and the benchmark) and starts the page.
// Talks only to the server that served it (docs/service-api.md); no library, no CDN, no tiles.
import { S, $, KEY_STORE, fmtTime } from "./state.js";
import { setProjection } from "./projection.js";
import { draw, loop, renderLegend, wireMap } from "./map.js";
import { renderSelected, wirePointer } from "./interaction.js";
import { applyPicture, keyFromUrl, signIn, wireSignIn } from "./connection.js";
import { alertRows, renderSide, wireAlerts } from "./alerts.js";
import { refreshIcaoSelect, wireLine } from "./line.js";
import { readHash, writeHash, writeFiltersToForm, wireFilters } from "./filters.js";
import { openConflicts, shownVolumes, wireNotices } from "./notices.js";
import { layoutReport } from "./labels.js";
import { placesState } from "./places.js";
import { measureState, wireMeasure } from "./measure.js";
import { plotState, wirePlot } from "./plot.js";
import { historyState, control, seek } from "./history.js";

// Debug and test handle: what the page knows and drew (read by the browser tests and the benchmark).
const debug = {
  get ready() { return !!S.me && (S.wsUp || !!S.history); },
  get history() { return historyState(); },
  get places() { return placesState(); },
  get measure() { return measureState(); },
  get plot() { return plotState(); },
  historySeek: (t) => seek(t),
  historyPlay: (on, speed) => control(on, speed),
  get me() { return S.me; },
  get picture() { return Object.assign({ t: 0, seq: null }, S.picture); },
  get known() { return Array.from(S.aircraft.keys()); },
  get knownAircraft() { return Array.from(S.aircraft.values(), (a) => ({ icao24: a.icao24, callsign: a.callsign, lat: a.lat, lon: a.lon, alt: a.alt })); },
  get drawn() { return S.drawn.slice(); },
  get tagged() { return (S.tagged || []).slice(); },
  get bandArcs() { return (S.bandArcs || []).slice(); },
  get adviceMarks() { return (S.adviceMarks || []).slice(); },
  get alerts() { return alertRows().map((r) => ({ id: r.id, kind: r.kind, level: r.level, seq: r.last.seq, ended: r.ended, acks: r.acks.map((a) => a.by), ttl_s: r.ttl })); },
  get banner() { return S.bannerSeq === null ? null : { seq: S.bannerSeq, text: $("banner-text").textContent }; },
  get events() { return S.events.slice(); },
  get lastSeq() { return S.lastSeq; },
  get beeps() { return S.beeps; },
  get frameTimes() { return S.frameTimes.slice(); },
  get applyTimes() { return S.applyTimes.slice(); },
  get view() { return Object.assign({}, S.view); },
  get phases() { return Object.assign({}, S.phases); },
  get notices() { return { volumes: shownVolumes(), conflicts: openConflicts().map((e) => e.id) }; },
  applyPicture: (msg) => applyPicture(msg),
  draw: () => draw(),
  redraw: () => { S.dirty = true; },
  select: (icao) => { S.selected = icao; S.dirty = true; },
  setView: (lat, lon, z) => { S.view = { lat, lon, z }; S.baseCache = null; S.dirty = true; writeHash(); },
};
window.sharedsky = debug;
// Label and symbol boxes of the last frame (CSS px): the declutter's own account, read by the tests.
window.sharedskyLayout = () => layoutReport();

// ---------------------------------------------------------------- wiring
wirePointer();
wireAlerts();
wireLine();
wireFilters();
wireSignIn();
wireMap();
wireNotices();
wireMeasure();
wirePlot();

// the clock, time-to-go counters and the distress-select refresh at 1 Hz
setInterval(() => {
  $("clock").textContent = fmtTime(S.lastT || Date.now() / 1000);
  if (S.me) { renderSide(); if ($("m-type").value === "DISTRESS" && document.activeElement !== $("m-icao")) refreshIcaoSelect(); if (S.selected) renderSelected(); }
}, 1000);

// ---------------------------------------------------------------- start
readHash();
setProjection(S.view.lat);
writeFiltersToForm();
renderLegend();
requestAnimationFrame(loop);
const k = keyFromUrl() || sessionStorage.getItem(KEY_STORE);
if (k) signIn(k);
