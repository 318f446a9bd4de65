// The alert list: conflict, airspace, loss-of-separation and distress events grouped into
// threads, one row each with its time to go and acknowledgements; acknowledging.
import { S, $, esc, paint, fmtTime, fmtTtl, callsignOf, partyLabel, nowServer, api, wellclearText } from "./state.js";
import { writeHash } from "./filters.js";
import { renderSelected } from "./interaction.js";
import { setStatus, renderOverdue } from "./line.js";
import { openMoment } from "./history.js";
import { dossierButton, openDossier } from "./dossier.js";

// Alert threads: one row per conflict / airspace event id / distress / loss of separation.
export function threadKey(ev) {
  switch (ev.kind) {
    case "conflict": return "conflict:" + (ev.id || [ev.a, ev.b].sort().join("-"));
    case "loss_of_separation": return "los:" + (ev.id || [ev.a, ev.b].sort().join("-"));
    case "airspace": return "airspace:" + (ev.id || ev.airspace + ":" + ev.icao24);
    case "notice_volume": return "notice_volume:" + (ev.id || ev.volume + ":" + ev.icao24);
    case "distress": return "distress:" + ev.seq;
    case "advisory": return "advisory:" + (ev.id || ev.icao24);
    case "wellclear": return "wellclear:" + (ev.id || ev.icao24);
    default: return null;
  }
}

export function threadLevel(ev) {
  if (ev.kind === "conflict") return ev.level || "advisory";
  if (ev.kind === "loss_of_separation") return "los";
  if (ev.kind === "airspace" || ev.kind === "notice_volume") return ev.state === "violation_end" ? "violation" : ev.state || "advisory";
  if (ev.kind === "distress") return "distress";
  if (ev.kind === "advisory") return "resolution";
  if (ev.kind === "wellclear") return "wellclear";
  return "advisory";
}

export function threadEnded(ev) {
  return (ev.kind === "conflict" && ev.state === "ended") || (ev.kind === "loss_of_separation" && ev.state === "end") || ((ev.kind === "airspace" || ev.kind === "notice_volume") && ev.state === "violation_end") || (ev.kind === "advisory" && ev.state === "end") || (ev.kind === "wellclear" && ev.state === "ended");
}

export function ackedByMe(th) {
  return th.acks.some((a) => a.by === S.me.party || (S.me.supervisor && a.by === "supervisor"));
}

export async function ack(seq, button) {
  if (button) button.disabled = true;
  try {
    await api("/api/v1/ack", { method: "POST", body: { seq } });
  } catch (e) {
    if (button) { button.disabled = false; button.title = e.message; }
    setStatus("ack failed: " + e.message, true);
  }
}

// ---------------------------------------------------------------- side panels
let sidePending = false;
export function scheduleSide() {
  if (sidePending) return;
  sidePending = true;
  // a replay at speed changes the list all the time: it is redrawn once a second then (each
  // redraw lays the list out and paints it again, in a frame the map may need)
  setTimeout(() => { sidePending = false; renderSide(); }, S.historyPlaying ? 1000 : S.history ? 250 : 100);
}

export function alertRows() {
  const rows = [];
  const now = nowServer();
  for (const th of S.threads.values()) {
    const ev = th.last;
    let ttl = null;
    if (ev.kind === "conflict" && ev.t_in_s != null) ttl = ev.t_in_s - Math.max(0, now - ev.t);
    if (ev.kind === "airspace" && ev.time_to_entry_s != null) ttl = ev.time_to_entry_s - Math.max(0, now - ev.t);
    if (ev.kind === "airspace" && ev.state === "violation") ttl = 0;
    if (ev.kind === "notice_volume") ttl = ev.state === "violation" ? 0 : ev.time_to_entry_s != null ? ev.time_to_entry_s - Math.max(0, now - ev.t) : null;
    if (ev.kind === "loss_of_separation" && !th.ended) ttl = 0;
    if (ev.kind === "wellclear" && !th.ended) ttl = wellclearTtl(ev, now);
    rows.push({ id: th.id, kind: th.kind, level: th.level, last: ev, first: th.first, ended: th.ended, acks: th.acks, ttl, th });
  }
  // newest alert first, by when it was raised: rows do not jump under the cursor on updates
  rows.sort((a, b) => b.first.seq - a.first.seq);
  return rows;
}

// Time to the volume of the ownship's most severe intruder level, counted down since the event.
function wellclearTtl(ev, now) {
  let best = null;
  for (const x of ev.intruders || []) {
    const t = (x.t_to_volume_s || [])[x.level - 1];
    if (t != null && (best === null || t < best)) best = t;
  }
  return best === null ? null : best - Math.max(0, now - ev.t);
}

function describe(ev) {
  switch (ev.kind) {
    case "conflict":
      return `${esc(callsignOf(ev.a))} ${tag(ev.party_a)} × ${esc(callsignOf(ev.b))} ${tag(ev.party_b)}`;
    case "loss_of_separation":
      return `LOSS OF SEPARATION ${esc(callsignOf(ev.a))} × ${esc(callsignOf(ev.b))}`;
    case "airspace":
      return `${esc(callsignOf(ev.icao24))} ${tag(ev.party)} → ${esc(airspaceName(ev.airspace))}`;
    case "distress":
      return `${esc(callsignOf(ev.icao24))} ${tag(ev.from || ev.party)} ${esc(ev.nature || "")}`;
    case "notice_volume":
      return `${esc(callsignOf(ev.icao24))} ${tag(ev.party)} → notified ${esc(ev.purpose || "")} ${esc(ev.volume)} ${tag(ev.owner)}`;
    case "advisory":
      // A resolution advisory for one of this party's aircraft: the manoeuvre itself.
      return `RA ${esc(callsignOf(ev.icao24))} ${tag(ev.party)} <b>${esc(ev.text || ev.manoeuvre || "")}</b>`;
    case "wellclear":
      // DO-365 well clear for one of this party's aircraft: its level and who it is against.
      return `WELL CLEAR ${esc(callsignOf(ev.icao24))} ${tag(ev.party)} <b class="wc-level">${esc(ev.state === "ended" ? "clear" : wellclearText(ev))}</b>` +
        ((ev.intruders || []).length ? " × " + ev.intruders.map((x) => `${esc(callsignOf(x.icao24))} ${tag(x.party)}`).join(", ") : "");
    default:
      return esc(ev.kind);
  }
}
function tag(party) {
  return `<span class="ptag" data-border="${esc(S.partyColour[party] || "#9e9e9e")}" title="${esc(partyLabel(party))}">${esc(party || "?")}</span>`;
}
function airspaceName(id) {
  const a = S.airspaces.find((x) => x.id === id);
  return a ? a.name : id;
}
function metaOf(ev) {
  const parts = [fmtTime(ev.t), "#" + ev.seq];
  if (ev.kind === "conflict") {
    if (ev.d_cpa_nm != null) parts.push(`CPA ${(+ev.d_cpa_nm).toFixed(1)} NM / ${Math.round(ev.dz_cpa_ft || 0)} ft in ${Math.round(ev.t_cpa_s || 0)} s`);
    parts.push(ev.state);
  }
  if (ev.kind === "advisory") {
    parts.push(ev.state === "end" ? (ev.reason || "ended") : `${ev.status || ""}`);
    if (ev.frequencies_mhz && ev.frequencies_mhz.length) parts.push(ev.frequencies_mhz.join("/") + " MHz");
  }
  if (ev.kind === "wellclear") {
    parts.push(ev.state);
    if (ev.bands) parts.push("guidance bands (select the aircraft)");
  }
  if (ev.kind === "airspace" || ev.kind === "notice_volume") {
    parts.push(ev.state);
    if (ev.heading_to_avoid_deg != null) parts.push(`avoid: turn to ${Math.round(ev.heading_to_avoid_deg)}°`);
    if (ev.time_inside_s != null) parts.push(`inside ${Math.round(ev.time_inside_s)} s`);
  }
  return parts.join(" · ");
}

function pruneThreads() {
  // a long watch: keep every open alert and the latest 300 ended ones
  let ended = 0;
  for (const th of S.threads.values()) if (th.ended) ended++;
  if (ended > 400) {
    const old = Array.from(S.threads.values()).filter((th) => th.ended).sort((a, b) => a.last.seq - b.last.seq);
    for (const th of old.slice(0, ended - 300)) S.threads.delete(th.id);
  }
  if (S.events.length > 5000) S.events.splice(0, S.events.length - 4000);
}

export function renderSide() {
  if (!S.me) return;
  pruneThreads();
  let airspaceActive = false;
  for (const th of S.threads.values()) if (th.kind === "airspace" && !th.ended) { airspaceActive = true; break; }
  S.airspaceActive = airspaceActive;
  const rows = alertRows();
  const active = rows.filter((r) => !r.ended);
  $("count-alerts").textContent = active.length;
  $("alerts-count").textContent = rows.length ? `(${active.length} active / ${rows.length})` : "";
  // a replay at speed: the newest 50 rows (each redraw lays the list out again)
  const html = rows.slice(0, S.history ? 50 : 200).map((r) => {
    const acked = r.acks.length > 0;
    const ackedMe = ackedByMe(r.th);
    const ackTxt = acked ? `<span class="acked">ACK ${esc(r.acks.map((a) => partyLabel(a.by)).filter((v, i, s) => s.indexOf(v) === i).join(", "))}</span>` : "";
    // well-clear guidance is the party's own information, not an alert to acknowledge
    const btn = !ackedMe && !r.ended && r.kind !== "wellclear" ? `<button data-ack="${r.last.seq}">Ack</button>` : "";
    const lvl = r.level === "los" ? "LOS" : r.kind === "wellclear" ? (r.ended ? "WC" : "WC" + r.last.level) : r.level;
    return `<li class="alert lvl-${esc(r.level)}${r.ended ? " ended" : ""}${acked ? " acked" : " unacked"}" data-thread="${esc(r.id)}" data-seq="${r.last.seq}">` +
      `<span class="lvl">${esc(lvl)}</span><span class="what">${describe(r.last)}</span>` +
      `<span class="ttl">${r.ended ? "ended" : esc(fmtTtl(r.ttl))}</span>` +
      `<span class="meta">${esc(metaOf(r.last))}</span><span>${ackTxt}${btn}` +
      `<button class="moment" data-moment="${r.first.t}" data-moment-seq="${r.first.seq}" title="show the map at this moment">@ ${esc(fmtTime(r.first.t))}</button>` +
      `${dossierButton(r.kind, r.first.seq)}</span></li>`;
  }).join("");
  const ul = $("alerts");
  if (ul._html !== html) { ul.innerHTML = html; ul._html = html; paint(ul); }
  renderOverdue();
}

export function wireAlerts() {
  $("alerts").addEventListener("click", (e) => {
    const b = e.target.closest("button[data-ack]");
    if (b) { ack(+b.dataset.ack, b); return; }
    const m = e.target.closest("button[data-moment]");
    if (m) { openMoment(+m.dataset.moment, +m.dataset.momentSeq); return; }
    const d = e.target.closest("button[data-dossier]");
    if (d) { openDossier(+d.dataset.dossier); return; }
    const li = e.target.closest("li[data-thread]");
    if (li) {
      const th = S.threads.get(li.dataset.thread);
      const icao = th && (th.last.a || th.last.icao24);
      const ac = icao && S.aircraft.get(icao);
      if (ac) { S.selected = icao; S.view.lat = ac.lat; S.view.lon = ac.lon; S.dirty = true; renderSelected(); writeHash(); }
    }
  });
}
