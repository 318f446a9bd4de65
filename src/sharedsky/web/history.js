// History mode: the same map showing the past. A time slider, play/pause and speed; at each
// moment the air picture this key would have seen (rebuilt by the server from the record,
// /api/v1/history/picture) and every event this key was sent up to that moment, applied in
// order as the live stream applied them. Opened when the server holds only a record
// (`serve --history`, `replay --map`) or when the page's address names a moment (#...&at=T,
// the alert list's link to a moment).
import { S, $, api, esc, fmtTime } from "./state.js";
import { applyPicture, applyEvent, resetEvents } from "./connection.js";
import { writeHash } from "./filters.js";
import { scheduleSide } from "./alerts.js";

const SPEEDS = [1, 10, 60, 300, 1800];
const PICTURE_EVERY_MS = 250;
// while playing, events change the map (conflict lines, rings) at most this often: each redraw of
// a large canvas costs tens of ms without a GPU, and a new picture of the past redraws it anyway
const EVENT_REDRAW_MS = 250;
const H = { span: null, events: [], applied: 0, t: 0, playing: false, speed: 60, busy: false, want: null, lastWall: 0, fetchedAt: 0,
  after: 0, more: true, loading: null, eventsTo: -Infinity, eventsPending: false, eventsDrawnAt: 0 };
const PAGE = 10000;
// events are times of the record's clock, in seq order up to a few seconds: a page is fetched
// until one event is this much later than the moment wanted
const EVENTS_AHEAD_S = 60;

/** Enter history mode if the server or the address asks for it; true if it did. */
export async function maybeHistory() {
  let span;
  try { span = await api("/api/v1/history"); } catch (e) { return false; }
  if (span.live && S.historyAt == null) return false;
  if (span.t0 == null) return false;
  S.history = true;
  H.span = span;
  document.body.dataset.mode = "history";
  buildBar();
  const at = S.historyAt != null ? S.historyAt : span.t0;
  await seek(Math.min(Math.max(at, span.t0), span.t1));
  requestAnimationFrame(tick);
  return true;
}

/** Fetch this key's events (the hub filters them, as for its streams) page by page, only
 * as far as the moment `t` needs: a moment early in a long record costs a page, not all. */
function loadEventsTo(t) {
  // one loader at a time, going as far as the latest moment any caller wanted
  H.eventsTo = Math.max(H.eventsTo, t);
  const need = () => H.more && (H.events.length === 0 || H.events[H.events.length - 1].t <= H.eventsTo + EVENTS_AHEAD_S);
  if (H.loading || !need()) return H.loading || Promise.resolve();
  H.loading = (async () => {
    try {
      while (need()) {
        const r = await api(`/api/v1/events?after=${H.after}&limit=${PAGE}`);
        const evs = r.events || [];
        for (const ev of evs) H.events.push(ev);
        if (evs.length) H.after = evs[evs.length - 1].seq;
        H.more = evs.length === PAGE;
      }
    } catch (e) {
      console.error("history events", e);
    } finally {
      H.loading = null;
    }
  })();
  return H.loading;
}

function buildBar() {
  const bar = document.createElement("div");
  bar.id = "history";
  bar.className = "history panel-float";
  bar.innerHTML = `<button id="h-play" title="play / pause">▶</button>` +
    `<select id="h-speed" title="speed">${SPEEDS.map((s) => `<option value="${s}"${s === H.speed ? " selected" : ""}>${s}x</option>`).join("")}</select>` +
    `<input id="h-slider" type="range" min="${H.span.t0}" max="${H.span.t1}" step="1" value="${H.span.t0}">` +
    `<span id="h-time" class="htime">--</span><span class="hmode">HISTORY</span>` +
    (H.span.live ? `<button id="h-live" title="back to the live picture">live</button>` : "");
  $("mapwrap").appendChild(bar);
  $("h-play").addEventListener("click", () => setPlaying(!H.playing));
  if ($("h-live")) $("h-live").addEventListener("click", () => {
    const q = new URLSearchParams(location.hash.replace(/^#/, ""));
    q.delete("at");
    location.replace(location.pathname + "#" + q.toString());
    location.reload();
  });
  $("h-speed").addEventListener("change", () => { H.speed = +$("h-speed").value; });
  $("h-slider").addEventListener("input", () => { setPlaying(false); seek(+$("h-slider").value); });
}

function setPlaying(on) {
  if (H.playing && !on) { H.playing = false; showTime(true); }
  if (!on && H.eventsPending) { H.eventsPending = false; S.dirty = true; }
  H.playing = on;
  S.historyPlaying = on;
  H.lastWall = performance.now();
  $("h-play").textContent = on ? "❚❚" : "▶";
}

/** Show the moment `t` (epoch s): events up to it, then the picture of it. */
export async function seek(t) {
  H.t = t;
  await loadEventsTo(t);
  applyEventsTo(t);
  showTime(true);
  await fetchPicture();
}

function applyEventsTo(t) {
  const before = H.applied, dirty = S.dirty;
  let reset = false;
  if (H.applied > 0 && H.events[H.applied - 1].t > t) { resetEvents(); H.applied = 0; reset = true; }
  while (H.applied < H.events.length && H.events[H.applied].t <= t) applyEvent(H.events[H.applied++]);
  // the alert list is redrawn when it changed, at most twice a second (not every frame)
  if (reset || H.applied !== before) {
    scheduleSide();
    // playing: the map shows the events with the next redraw (a picture, or EVENT_REDRAW_MS)
    if (H.playing) { S.dirty = dirty; H.eventsPending = true; }
  }
}

async function fetchPicture() {
  // one request at a time; while one is out the latest wanted moment waits for it
  if (H.busy) { H.want = H.t; return; }
  H.busy = true;
  try {
    for (;;) {
      const t = H.t;
      // the moment exactly (a live picture's time), and the record seq it was built from if known
      const sq = S.historySeq && S.historySeq.t === t ? `&seq=${S.historySeq.seq}` : "";
      const pic = await api(`/api/v1/history/picture?t=${t}${sq}`);
      applyPicture(pic);
      S.lastT = t;
      if (H.want === null || H.want === t) break;
      H.want = null;
    }
  } catch (e) {
    console.error("history", e);
  } finally {
    H.busy = false;
    H.want = null;
  }
}

function showTime(force) {
  // while playing, the clock, the slider and the address follow a few times a second (a
  // change of the page's text or address every frame costs a layout of the whole page)
  const now = performance.now();
  if (!force && now - (H.shownAt || 0) < 250) return;
  H.shownAt = now;
  const d = new Date(H.t * 1000).toISOString();
  $("h-time").textContent = d.slice(0, 10) + " " + fmtTime(H.t);
  $("h-slider").value = String(Math.round(H.t));
  S.historyAt = H.t;
  if (force || !H.playing) writeHash();
}

function tick() {
  if (H.playing) {
    const now = performance.now();
    const dt = (now - H.lastWall) / 1000;
    H.lastWall = now;
    H.t = Math.min(H.span.t1, H.t + dt * H.speed);
    if (H.t >= H.span.t1) setPlaying(false);
    loadEventsTo(H.t); // not awaited: what has arrived is applied now, the rest on later frames
    applyEventsTo(H.t);
    showTime(!H.playing);
    // a new picture of the past at most every PICTURE_EVERY_MS while playing: each is rebuilt
    // by the service, and the page's frames come first
    if (!H.busy && now - H.fetchedAt >= PICTURE_EVERY_MS) { H.fetchedAt = now; fetchPicture(); }
    if (S.dirty) { H.eventsPending = false; H.eventsDrawnAt = now; }
    else if (H.eventsPending && now - H.eventsDrawnAt >= EVENT_REDRAW_MS) {
      S.dirty = true; H.eventsPending = false; H.eventsDrawnAt = now;
    }
  }
  requestAnimationFrame(tick);
}

/** The alert list's link to a moment: jump there here, or open the moment in a new tab. The
 * event's seq bounds the reports the picture is rebuilt from: none recorded after the event. */
export function openMoment(t, seq) {
  S.historySeq = Number.isFinite(seq) ? { t, seq } : null;
  if (S.history) { setPlaying(false); seek(t); return; }
  const q = new URLSearchParams(location.hash.replace(/^#/, ""));
  q.set("at", String(t)); // exact: the event itself is part of its moment
  if (S.historySeq) q.set("seq", String(seq));
  window.open(location.pathname + "#" + q.toString(), "_blank"); // the tab keeps this one's key
}

/** What the history controls show (read by the tests and the benchmark). */
export function historyState() {
  return { on: !!S.history, t: H.t, playing: H.playing, speed: H.speed, applied: H.applied, events: H.events.length,
    span: H.span ? { t0: H.span.t0, t1: H.span.t1 } : null, busy: H.busy, label: esc($("h-time") ? $("h-time").textContent : "") };
}

/** Set the speed and play or pause (tests, benchmark). */
export function control(playing, speed) {
  if (speed) { H.speed = speed; $("h-speed").value = String(speed); }
  setPlaying(!!playing);
}
