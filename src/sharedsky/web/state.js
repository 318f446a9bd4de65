// Shared state, constants and small helpers of the operations room, and the one HTTP helper.
// Every other module reads and writes the single state object S exported here.

// ---------------------------------------------------------------- constants
export const KEY_STORE = "sharedsky.key";
export const TRAIL_POINTS = 40; // positions kept per aircraft (about 40 s at 1 Hz)
export const TRAIL_BUDGET = 60000; // trail vertices drawn per frame at most
export const LABEL_MAX = 300; // label every aircraft when at most this many are in view
export const SQUAWKS = {
  // the usual colours of readsb/tar1090 users: 7500 red, 7600 cyan, 7700 yellow
  "7500": { label: "HIJACK", colour: "#ff5555" },
  "7600": { label: "NORDO", colour: "#00e5ff" },
  "7700": { label: "EMERGENCY", colour: "#ffee00" },
};
export const LEVEL_COLOUR = { advisory: "#ffb300", warning: "#ff3b30", violation: "#ff3b30", predicted: "#ffd60a" };
export const ALT_STOPS = [0, 2000, 5000, 10000, 20000, 30000, 40000]; // altitude scale, ft

// ---------------------------------------------------------------- state
export const S = {
  key: null,
  me: null, // {party, name, colour, supervisor}
  agreement: null,
  parties: [], // [{id, name, colour}]
  partyColour: {},
  partyName: {},
  aircraft: new Map(), // icao24 -> Ac
  lastT: 0, // server time of the last picture, epoch s
  lastSeq: 0,
  picture: { t: 0, seq: null }, // the moment the shown picture is of, and the record seq it was built from
  historyAt: null, // history mode: the moment asked for (#at=)
  historySeq: null, // {t, seq}: that moment's record seq (#seq=), a live picture's or an event's
  historyPlaying: false, // history mode, playing: panels are redrawn less often
  events: [], // every event received, in seq order
  seen: new Set(), // seqs received (never process twice)
  threads: new Map(), // alert thread id -> {id, kind, first, last, level, ended, seqs:Set, acks:[]}
  acks: new Map(), // of_seq -> [{by, t, seq}]
  requests: new Map(), // seq -> request event
  responses: new Map(), // request_seq -> response event
  overdue: new Set(), // request seqs reported overdue
  notices: [],
  distress: [], // distress events
  bannerSeq: null,
  witnessedSize: 0,
  witnessTimer: null,
  airspaces: [], // {id, name, owner, floor_ft, ceiling_ft, path: Path2D, bbox, feature}
  basemap: [], // {path: Path2D, bbox}
  view: { lat: 35.5, lon: 38.5, z: 7.0 }, // z: log2 pixels per degree of (cos-scaled) longitude
  lat0: 35.5, // latitude whose cosine scales the world X axis (fixed after start)
  cos0: Math.cos((35.5 * Math.PI) / 180),
  filters: { parties: null, altMin: null, altMax: null, callsign: "", colour: "party", labels: true, trails: true, airspaces: true },
  viewFromHash: false,
  fitted: false,
  ws: null,
  wsUp: false,
  dirty: true,
  baseCache: null,
  drawn: [],
  selected: null,
  frameTimes: [],
  applyTimes: [],
  frames: 0,
  beeps: 0,
  audio: null,
};

export const $ = (id) => document.getElementById(id);

// ---------------------------------------------------------------- helpers
export function esc(s) {
  return String(s == null ? "" : s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}
// Colours that come from data (party colours, the altitude ramp) are set through the CSSOM,
// never as inline style attributes: the page's Content-Security-Policy (style-src 'self')
// refuses inline style attributes but not element.style. Markup carries them as
// data-bg / data-fg / data-border; paint() applies them after each innerHTML.
export function paint(root) {
  for (const el of root.querySelectorAll("[data-bg],[data-fg],[data-border]")) {
    if (el.dataset.bg) el.style.background = el.dataset.bg;
    if (el.dataset.fg) el.style.color = el.dataset.fg;
    if (el.dataset.border) el.style.borderColor = el.dataset.border;
  }
}
export function fmtTime(t) {
  if (!t) return "--:--:--Z";
  const d = new Date(t * 1000);
  return d.toISOString().slice(11, 19) + "Z";
}
export function fmtTtl(s) {
  if (s == null || !isFinite(s)) return "";
  if (s <= 0) return "NOW";
  const m = Math.floor(s / 60), r = Math.round(s % 60);
  return m > 0 ? `${m}:${String(r).padStart(2, "0")}` : `${Math.round(s)} s`;
}
export function fmtAlt(a) {
  if (a == null || !isFinite(a)) return "---";
  return a >= 18000 ? "FL" + String(Math.round(a / 100)).padStart(3, "0") : String(Math.round(a / 100) * 100);
}
export function callsignOf(icao) {
  const ac = S.aircraft.get(icao);
  return ac && ac.callsign ? ac.callsign.trim() : icao;
}
export function partyLabel(id) { return S.partyName[id] || id || "?"; }
export function nowServer() { return S.lastT || Date.now() / 1000; }

// DO-365's names of a well-clear alert by its guidance region (NONE: preventive); one
// wording for the alert list and the selected aircraft's panel.
const WC_NAMES = { NONE: "preventive", FAR: "preventive", MID: "corrective", NEAR: "warning" };

export function wellclearText(ev) {
  const name = ev.corrective && ev.region === "FAR" ? "corrective" : (WC_NAMES[ev.region] || "");
  return `level ${ev.level} ${name}`.trim();
}

// ---------------------------------------------------------------- HTTP
export async function api(path, opts = {}) {
  const headers = Object.assign({ Authorization: "Bearer " + S.key }, opts.body ? { "Content-Type": "application/json" } : {});
  const r = await fetch(path, { method: opts.method || "GET", headers, body: opts.body ? JSON.stringify(opts.body) : undefined });
  let data = null;
  try { data = await r.json(); } catch (e) { data = null; }
  if (!r.ok) {
    const detail = data && (data.detail || data.error);
    const msg = typeof detail === "string" ? detail : JSON.stringify(detail || data || r.statusText);
    const err = new Error(`${r.status}: ${msg}`);
    err.status = r.status;
    throw err;
  }
  return data;
}
