// Filters (party, altitude band, callsign, colour, layers) and the view state kept in the
// URL hash, so that a link reopens the same map.
import { S, $, esc, paint } from "./state.js";

// ---------------------------------------------------------------- filters and the URL hash
export function buildPartyFilters() {
  const box = $("filter-parties");
  box.innerHTML = S.parties.map((p) => {
    const on = !S.filters.parties || S.filters.parties.includes(p.id);
    return `<label><input type="checkbox" data-party="${esc(p.id)}"${on ? " checked" : ""}><span class="sw" data-bg="${esc(p.colour)}"></span>${esc(p.name || p.id)}</label>`;
  }).join("");
  paint(box);
}

function globToRegex(pat) {
  if (!pat) return null;
  try {
    if (/[\^$\[\]()|+\\]/.test(pat)) return new RegExp(pat, "i");
    return new RegExp("^" + pat.replace(/[.]/g, "\\.").replace(/\*/g, ".*").replace(/\?/g, ".") + (pat.includes("*") ? "" : ""), "i");
  } catch (e) {
    return null;
  }
}

function readFiltersFromForm() {
  const f = S.filters;
  const checks = Array.from(document.querySelectorAll("#filter-parties input[data-party]"));
  const on = checks.filter((c) => c.checked).map((c) => c.dataset.party);
  f.parties = on.length === checks.length ? null : on;
  const amin = $("f-alt-min").value, amax = $("f-alt-max").value;
  f.altMin = amin === "" ? null : +amin;
  f.altMax = amax === "" ? null : +amax;
  f.callsign = $("f-callsign").value.trim();
  f.colour = $("f-colour").value;
  f.labels = $("f-labels").checked;
  f.trails = $("f-trails").checked;
  f.airspaces = $("f-airspaces").checked;
  f._re = globToRegex(f.callsign);
  $("legend").classList.toggle("hidden", f.colour !== "altitude");
  writeHash();
  S.dirty = true;
}

export function writeFiltersToForm() {
  const f = S.filters;
  $("f-alt-min").value = f.altMin == null ? "" : f.altMin;
  $("f-alt-max").value = f.altMax == null ? "" : f.altMax;
  $("f-callsign").value = f.callsign || "";
  $("f-colour").value = f.colour;
  $("f-labels").checked = f.labels;
  $("f-trails").checked = f.trails;
  $("f-airspaces").checked = f.airspaces;
  f._re = globToRegex(f.callsign);
  $("legend").classList.toggle("hidden", f.colour !== "altitude");
}

let hashTimer = null;
export function writeHash() {
  if (hashTimer) return;
  hashTimer = setTimeout(() => {
    hashTimer = null;
    const v = S.view, f = S.filters;
    const q = new URLSearchParams();
    q.set("lat", v.lat.toFixed(4));
    q.set("lon", v.lon.toFixed(4));
    q.set("z", v.z.toFixed(2));
    if (f.parties) q.set("parties", f.parties.join(","));
    if (f.altMin != null || f.altMax != null) q.set("alt", `${f.altMin == null ? "" : f.altMin}-${f.altMax == null ? "" : f.altMax}`);
    if (f.callsign) q.set("cs", f.callsign);
    if (f.colour !== "party") q.set("colour", f.colour);
    if (!f.labels) q.set("labels", "0");
    if (!f.trails) q.set("trails", "0");
    if (!f.airspaces) q.set("airspaces", "0");
    // a moment of a live picture or an event is kept exactly, with the record seq it was built from
    const exact = S.historySeq && S.historySeq.t === S.historyAt;
    if (S.historyAt != null) q.set("at", exact ? String(S.historyAt) : String(Math.round(S.historyAt * 10) / 10));
    if (exact) q.set("seq", String(S.historySeq.seq));
    const h = "#" + q.toString();
    if (location.hash !== h) history.replaceState(null, "", location.pathname + location.search + h);
  }, 150);
}

export function readHash() {
  const q = new URLSearchParams(location.hash.replace(/^#/, ""));
  const lat = parseFloat(q.get("lat")), lon = parseFloat(q.get("lon")), z = parseFloat(q.get("z"));
  if (isFinite(lat) && isFinite(lon) && isFinite(z)) { S.view = { lat, lon, z }; S.viewFromHash = true; }
  const f = S.filters;
  f.parties = q.get("parties") != null ? q.get("parties").split(",").filter(Boolean) : null;
  const alt = q.get("alt");
  if (alt) {
    const [lo, hi] = alt.split("-");
    f.altMin = lo === "" || lo == null ? null : +lo;
    f.altMax = hi === "" || hi == null ? null : +hi;
  }
  f.callsign = q.get("cs") || "";
  f.colour = q.get("colour") === "altitude" ? "altitude" : "party";
  f.labels = q.get("labels") !== "0";
  f.trails = q.get("trails") !== "0";
  f.airspaces = q.get("airspaces") !== "0";
  const at = parseFloat(q.get("at"));
  const seq = parseInt(q.get("seq"), 10);
  if (isFinite(at) && !S.history) { S.historyAt = at; S.historySeq = Number.isFinite(seq) && seq >= 0 ? { t: at, seq } : null; }
}

export function passes(ac) {
  const f = S.filters;
  if (f.parties && !f.parties.includes(ac.party)) return false;
  // An aircraft of unknown altitude passes any altitude band: it may be in it.
  if (f.altMin != null && ac.alt != null && !(ac.alt >= f.altMin)) return false;
  if (f.altMax != null && ac.alt != null && !(ac.alt <= f.altMax)) return false;
  if (f._re && !f._re.test((ac.callsign || "").trim()) && !f._re.test(ac.icao24)) return false;
  return true;
}

export function wireFilters() {
  $("filters-toggle").addEventListener("click", () => $("filters").classList.toggle("collapsed"));
  $("filters").addEventListener("input", readFiltersFromForm);
  $("filters").addEventListener("change", readFiltersFromForm);
  window.addEventListener("hashchange", () => { readHash(); writeFiltersToForm(); S.baseCache = null; S.dirty = true; });
}
