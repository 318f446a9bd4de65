// sharedsky operations room: one canvas, batched drawing, deltas over one WebSocket.
// Talks only to the server that served it (docs/service-api.md); no library, no CDN, no tiles.
"use strict";

(function () {
  // ---------------------------------------------------------------- constants
  const KEY_STORE = "sharedsky.key";
  const TRAIL_POINTS = 40; // positions kept per aircraft (about 40 s at 1 Hz)
  const TRAIL_BUDGET = 60000; // trail vertices drawn per frame at most
  const LABEL_MAX = 300; // label every aircraft when at most this many are in view
  const SQUAWKS = {
    // the usual colours of readsb/tar1090 users: 7500 red, 7600 cyan, 7700 yellow
    "7500": { label: "HIJACK", colour: "#ff5555" },
    "7600": { label: "NORDO", colour: "#00e5ff" },
    "7700": { label: "EMERGENCY", colour: "#ffee00" },
  };
  const LEVEL_COLOUR = { advisory: "#ffb300", warning: "#ff3b30", violation: "#ff3b30", predicted: "#ffd60a" };
  const ALT_STOPS = [0, 2000, 5000, 10000, 20000, 30000, 40000]; // altitude scale, ft

  // ---------------------------------------------------------------- state
  const S = {
    key: null,
    me: null, // {party, name, colour, supervisor}
    agreement: null,
    parties: [], // [{id, name, colour}]
    partyColour: {},
    partyName: {},
    aircraft: new Map(), // icao24 -> Ac
    lastT: 0, // server time of the last picture, epoch s
    lastSeq: 0,
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

  const $ = (id) => document.getElementById(id);
  const canvas = $("map");
  const ctx = canvas.getContext("2d", { alpha: false });

  // Debug and test handle: what the page knows and drew (read by the browser tests and the benchmark).
  const debug = {
    get ready() { return !!S.me && S.wsUp; },
    get me() { return S.me; },
    get known() { return Array.from(S.aircraft.keys()); },
    get drawn() { return S.drawn.slice(); },
    get tagged() { return (S.tagged || []).slice(); },
    get alerts() { return alertRows().map((r) => ({ id: r.id, kind: r.kind, level: r.level, seq: r.last.seq, ended: r.ended, acks: r.acks.map((a) => a.by), ttl_s: r.ttl })); },
    get banner() { return S.bannerSeq === null ? null : { seq: S.bannerSeq, text: $("banner-text").textContent }; },
    get events() { return S.events.slice(); },
    get lastSeq() { return S.lastSeq; },
    get beeps() { return S.beeps; },
    get frameTimes() { return S.frameTimes.slice(); },
    get applyTimes() { return S.applyTimes.slice(); },
    get view() { return Object.assign({}, S.view); },
    get phases() { return Object.assign({}, S.phases); },
    applyPicture: (msg) => applyPicture(msg),
    draw: () => draw(),
    redraw: () => { S.dirty = true; },
    setView: (lat, lon, z) => { S.view = { lat, lon, z }; S.baseCache = null; S.dirty = true; writeHash(); },
  };
  window.sharedsky = debug;

  // ---------------------------------------------------------------- helpers
  function esc(s) {
    return String(s == null ? "" : s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  }
  function fmtTime(t) {
    if (!t) return "--:--:--Z";
    const d = new Date(t * 1000);
    return d.toISOString().slice(11, 19) + "Z";
  }
  function fmtTtl(s) {
    if (s == null || !isFinite(s)) return "";
    if (s <= 0) return "NOW";
    const m = Math.floor(s / 60), r = Math.round(s % 60);
    return m > 0 ? `${m}:${String(r).padStart(2, "0")}` : `${Math.round(s)} s`;
  }
  function fmtAlt(a) {
    if (a == null || !isFinite(a)) return "---";
    return a >= 18000 ? "FL" + String(Math.round(a / 100)).padStart(3, "0") : String(Math.round(a / 100) * 100);
  }
  function callsignOf(icao) {
    const ac = S.aircraft.get(icao);
    return ac && ac.callsign ? ac.callsign.trim() : icao;
  }
  function partyLabel(id) { return S.partyName[id] || id || "?"; }
  function nowServer() { return S.lastT || Date.now() / 1000; }

  // ---------------------------------------------------------------- HTTP
  async function api(path, opts = {}) {
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

  // ---------------------------------------------------------------- sign-in
  function keyFromUrl() {
    const q = new URLSearchParams(location.search);
    const k = q.get("key");
    if (k) {
      q.delete("key");
      const rest = q.toString();
      history.replaceState(null, "", location.pathname + (rest ? "?" + rest : "") + location.hash);
    }
    return k;
  }

  async function signIn(key) {
    S.key = key;
    let me;
    try {
      me = await api("/api/v1/me");
    } catch (e) {
      S.key = null;
      sessionStorage.removeItem(KEY_STORE);
      $("signin-error").textContent = e.status === 401 ? "That key is not valid here." : "Sign-in failed: " + e.message;
      $("signin").classList.remove("hidden");
      $("app").classList.add("hidden");
      return;
    }
    sessionStorage.setItem(KEY_STORE, key);
    S.me = me;
    $("signin").classList.add("hidden");
    $("app").classList.remove("hidden");
    const chip = $("me");
    chip.textContent = me.supervisor ? "SUPERVISOR" : (me.name || me.party);
    chip.style.background = me.supervisor ? "#d7e3ee" : (me.colour || "#4fc3f7");
    document.title = `sharedsky · ${me.supervisor ? "supervisor" : me.name || me.party}`;
    document.body.dataset.party = me.supervisor ? "supervisor" : me.party;
    resize();
    try {
      await loadAgreement();
    } catch (e) {
      console.error("agreement", e);
    }
    loadBasemap().catch((e) => console.error("basemap", e));
    connect();
  }

  function signOut() {
    sessionStorage.removeItem(KEY_STORE);
    if (S.ws) { S.ws.onclose = null; S.ws.close(); }
    location.hash = "";
    location.reload();
  }

  // ---------------------------------------------------------------- agreement, basemap
  function worldX(lon) { return lon * S.cos0; }
  function worldY(lat) { return -lat; }

  function ringsOf(geom) {
    if (!geom) return [];
    if (geom.type === "Polygon") return geom.coordinates;
    if (geom.type === "MultiPolygon") return geom.coordinates.flat();
    if (geom.type === "LineString") return [geom.coordinates];
    if (geom.type === "MultiLineString") return geom.coordinates;
    return [];
  }

  function pathOf(geom) {
    const p = new Path2D();
    const bbox = [Infinity, Infinity, -Infinity, -Infinity]; // lon/lat
    for (const ring of ringsOf(geom)) {
      for (let i = 0; i < ring.length; i++) {
        const lon = ring[i][0], lat = ring[i][1];
        if (i === 0) p.moveTo(worldX(lon), worldY(lat)); else p.lineTo(worldX(lon), worldY(lat));
        if (lon < bbox[0]) bbox[0] = lon;
        if (lat < bbox[1]) bbox[1] = lat;
        if (lon > bbox[2]) bbox[2] = lon;
        if (lat > bbox[3]) bbox[3] = lat;
      }
      p.closePath();
    }
    return { path: p, bbox };
  }

  async function loadAgreement() {
    const a = await api("/api/v1/agreement");
    S.agreement = a;
    S.parties = a.parties || [];
    for (const p of S.parties) { S.partyColour[p.id] = p.colour || "#9e9e9e"; S.partyName[p.id] = p.name || p.id; }
    const feats = (a.airspaces && a.airspaces.features) || [];
    // Fix the projection latitude and the first view before building any path.
    if (!S.viewFromHash && feats.length) {
      let b = [Infinity, Infinity, -Infinity, -Infinity];
      for (const f of feats) for (const ring of ringsOf(f.geometry)) for (const c of ring) {
        b = [Math.min(b[0], c[0]), Math.min(b[1], c[1]), Math.max(b[2], c[0]), Math.max(b[3], c[1])];
      }
      S.view.lat = (b[1] + b[3]) / 2;
      S.view.lon = (b[0] + b[2]) / 2;
    }
    setProjection(S.view.lat);
    S.airspaces = feats.map((f) => {
      const pr = f.properties || {};
      return Object.assign({ id: pr.id, name: pr.name || pr.id, owner: pr.owner, floor_ft: pr.floor_ft, ceiling_ft: pr.ceiling_ft, barred: pr.barred || [] }, pathOf(f.geometry));
    });
    const ch = a.channels || {};
    if (ch.distress_mhz) $("freqs").textContent = "distress " + ch.distress_mhz.map((f) => f + " MHz").join(" / ");
    if (ch.hotline) $("hotline").textContent = ch.hotline + (ch.language ? " · " + ch.language : "");
    buildPartyFilters();
    buildSendForm();
    S.dirty = true;
  }

  function setProjection(lat) {
    S.lat0 = lat;
    S.cos0 = Math.cos((lat * Math.PI) / 180);
  }

  async function loadBasemap() {
    const g = await api("/api/v1/basemap");
    const feats = g.features || [];
    S.basemap = feats.map((f) => pathOf(f.geometry));
    S.baseCache = null;
    S.dirty = true;
  }

  // ---------------------------------------------------------------- stream
  function connect() {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const url = `${proto}//${location.host}/api/v1/stream?key=${encodeURIComponent(S.key)}&after=${S.lastSeq}`;
    const ws = new WebSocket(url);
    S.ws = ws;
    ws.onopen = () => { S.wsUp = true; $("conn").classList.add("up"); $("conn").title = "stream connected"; };
    ws.onmessage = (m) => {
      const t0 = performance.now();
      let msg;
      try { msg = JSON.parse(m.data); } catch (e) { console.error("bad frame", e); return; }
      if (msg.type === "picture") applyPicture(msg, t0);
      else if (msg.type === "event") applyEvent(msg.event || {}, msg.seq);
      else if (msg.type === "error") {
        console.error("stream error", msg);
        if (msg.status === 401) S.revoked = true;
      }
    };
    ws.onclose = (e) => {
      S.wsUp = false;
      $("conn").classList.remove("up");
      if (S.revoked || e.code === 4401) {
        // the key was revoked or is no longer valid: back to the sign-in screen, no retry loop
        sessionStorage.removeItem(KEY_STORE);
        S.key = null;
        $("signin-error").textContent = "The server no longer accepts this key; sign in again.";
        $("signin").classList.remove("hidden");
        $("app").classList.add("hidden");
        return;
      }
      $("conn").title = "stream lost, reconnecting";
      setTimeout(() => { if (S.key) connect(); }, 2000);
    };
  }

  function applyPicture(msg, tParse) {
    const t0 = tParse == null ? performance.now() : tParse; // timed from the frame's JSON parse
    const list = msg.aircraft || [];
    if (msg.full) {
      const keep = new Set(list.map((a) => a.icao24));
      for (const k of S.aircraft.keys()) if (!keep.has(k)) S.aircraft.delete(k);
    }
    for (const k of msg.removed || []) S.aircraft.delete(k);
    for (let i = 0; i < list.length; i++) {
      const a = list[i];
      if (a.latitude == null || a.longitude == null) continue;
      let ac = S.aircraft.get(a.icao24);
      const X = worldX(a.longitude), Y = worldY(a.latitude);
      if (!ac) {
        ac = { icao24: a.icao24, trail: [] };
        S.aircraft.set(a.icao24, ac);
      } else if (ac.X !== X || ac.Y !== Y) {
        const tr = ac.trail;
        tr.push(ac.X, ac.Y);
        if (tr.length > 2 * TRAIL_POINTS) tr.splice(0, tr.length - 2 * TRAIL_POINTS);
      }
      ac.X = X; ac.Y = Y;
      ac.lat = a.latitude; ac.lon = a.longitude;
      ac.alt = a.altitude; ac.gs = a.groundspeed; ac.trk = a.track; ac.vr = a.vertical_rate;
      ac.callsign = a.callsign || ""; ac.party = a.party; ac.squawk = a.squawk ? String(a.squawk) : "";
      ac.emergency = a.emergency; ac.t = a.t_report;
    }
    if (msg.t) S.lastT = msg.t;
    if (!S.fitted && !S.viewFromHash && msg.full && S.aircraft.size) fitToAircraft();
    S.dirty = true;
    S.applyTimes.push(performance.now() - t0);
    if (S.applyTimes.length > 600) S.applyTimes.splice(0, 300);
  }

  function fitToAircraft() {
    S.fitted = true;
    let b = [Infinity, Infinity, -Infinity, -Infinity];
    for (const ac of S.aircraft.values()) b = [Math.min(b[0], ac.lon), Math.min(b[1], ac.lat), Math.max(b[2], ac.lon), Math.max(b[3], ac.lat)];
    const W = canvas.clientWidth || 800, H = canvas.clientHeight || 600;
    const spanX = Math.max(1.5, (b[2] - b[0]) * S.cos0), spanY = Math.max(1.5, b[3] - b[1]);
    const k = Math.min(W / spanX, H / spanY) * 0.85;
    S.view = { lat: (b[1] + b[3]) / 2, lon: (b[0] + b[2]) / 2, z: Math.log2(k) };
    S.baseCache = null;
    writeHash();
  }

  // Alert threads: one row per conflict / airspace event id / distress / loss of separation.
  function threadKey(ev) {
    switch (ev.kind) {
      case "conflict": return "conflict:" + (ev.id || [ev.a, ev.b].sort().join("-"));
      case "loss_of_separation": return "los:" + (ev.id || [ev.a, ev.b].sort().join("-"));
      case "airspace": return "airspace:" + (ev.id || ev.airspace + ":" + ev.icao24);
      case "distress": return "distress:" + ev.seq;
      default: return null;
    }
  }

  function threadLevel(ev) {
    if (ev.kind === "conflict") return ev.level || "advisory";
    if (ev.kind === "loss_of_separation") return "los";
    if (ev.kind === "airspace") return ev.state === "violation_end" ? "violation" : ev.state || "advisory";
    if (ev.kind === "distress") return "distress";
    return "advisory";
  }

  function threadEnded(ev) {
    return (ev.kind === "conflict" && ev.state === "ended") || (ev.kind === "loss_of_separation" && ev.state === "end") || (ev.kind === "airspace" && ev.state === "violation_end");
  }

  function applyEvent(ev, seq) {
    if (seq == null) seq = ev.seq;
    if (seq == null || S.seen.has(seq)) return;
    S.seen.add(seq);
    ev.seq = seq;
    if (seq > S.lastSeq) S.lastSeq = seq;
    S.events.push(ev);
    if (ev.t && ev.t > S.lastT && !S.aircraft.size) S.lastT = ev.t;
    const tk = threadKey(ev);
    if (tk) {
      let th = S.threads.get(tk);
      if (!th) { th = { id: tk, kind: ev.kind, first: ev, last: ev, seqs: new Set(), acks: [] }; S.threads.set(tk, th); }
      th.last = ev;
      th.level = threadLevel(ev);
      th.ended = threadEnded(ev);
      th.seqs.add(seq);
      for (const a of S.acks.get(seq) || []) th.acks.push(a);
      if (ev.kind === "distress") {
        S.distress.push(ev);
        if (!ackedByMe(th)) showBanner(ev);
      }
    }
    switch (ev.kind) {
      case "ack": {
        const a = { by: ev.by, t: ev.t, seq };
        const list = S.acks.get(ev.of_seq) || [];
        list.push(a);
        S.acks.set(ev.of_seq, list);
        for (const th of S.threads.values()) if (th.seqs.has(ev.of_seq)) th.acks.push(a);
        if (S.bannerSeq === ev.of_seq && (S.me.supervisor || ev.by === S.me.party)) hideBanner();
        addMessage(ev);
        break;
      }
      case "notice": S.notices.push(ev); addMessage(ev); break;
      case "request": S.requests.set(seq, ev); addMessage(ev); refreshRequestSelect(); break;
      case "response": S.responses.set(ev.request_seq, ev); addMessage(ev); refreshRequestSelect(); break;
      case "overdue": S.overdue.add(ev.request_seq); addMessage(ev); break;
      case "unacknowledged": if (S.me.supervisor || ev.party === S.me.party) addMessage(ev); break;
      case "distress": addMessage(ev); break;
      default: break;
    }
    scheduleSide();
    S.dirty = true;
  }

  function ackedByMe(th) {
    return th.acks.some((a) => a.by === S.me.party || (S.me.supervisor && a.by === "supervisor"));
  }

  // ---------------------------------------------------------------- banner and sound
  function showBanner(ev) {
    S.bannerSeq = ev.seq;
    const who = partyLabel(ev.from || ev.party);
    const freqs = (ev.frequencies_mhz || (S.agreement && S.agreement.channels && S.agreement.channels.distress_mhz) || []).map((f) => f + " MHz").join(" / ");
    $("banner-text").textContent = `${callsignOf(ev.icao24)} (${ev.icao24 || "?"}) of ${who}: ${ev.nature || "distress"}` +
      (ev.latitude != null ? ` at ${(+ev.latitude).toFixed(3)}, ${(+ev.longitude).toFixed(3)}` : "") + (freqs ? ` · guard ${freqs}` : "") + (ev.auto ? " · auto (squawk)" : "");
    $("banner").classList.remove("hidden");
    beepLoop();
  }
  function hideBanner() {
    S.bannerSeq = null;
    $("banner").classList.add("hidden");
    // another unacknowledged distress call takes the banner
    for (const th of S.threads.values()) if (th.kind === "distress" && !ackedByMe(th)) { showBanner(th.last); break; }
  }
  function beep() {
    S.beeps++;
    try {
      if (!S.audio) return; // no user gesture yet: browsers refuse sound; the banner still blinks
      const ac = S.audio;
      if (ac.state === "suspended") ac.resume();
      const o = ac.createOscillator(), g = ac.createGain();
      o.type = "square";
      o.frequency.value = 960;
      g.gain.setValueAtTime(0.0001, ac.currentTime);
      g.gain.exponentialRampToValueAtTime(0.15, ac.currentTime + 0.02);
      g.gain.exponentialRampToValueAtTime(0.0001, ac.currentTime + 0.35);
      o.connect(g).connect(ac.destination);
      o.start();
      o.stop(ac.currentTime + 0.4);
    } catch (e) { /* no audio device: the banner still shows */ }
  }
  let beepTimer = null;
  function beepLoop() {
    if (beepTimer) return;
    beep();
    beepTimer = setInterval(() => {
      if (S.bannerSeq === null) { clearInterval(beepTimer); beepTimer = null; return; }
      beep();
    }, 2000);
  }

  async function ack(seq, button) {
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
  function scheduleSide() {
    if (sidePending) return;
    sidePending = true;
    setTimeout(() => { sidePending = false; renderSide(); }, 100);
  }

  function alertRows() {
    const rows = [];
    const now = nowServer();
    for (const th of S.threads.values()) {
      const ev = th.last;
      let ttl = null;
      if (ev.kind === "conflict" && ev.t_in_s != null) ttl = ev.t_in_s - Math.max(0, now - ev.t);
      if (ev.kind === "airspace" && ev.time_to_entry_s != null) ttl = ev.time_to_entry_s - Math.max(0, now - ev.t);
      if (ev.kind === "airspace" && ev.state === "violation") ttl = 0;
      if (ev.kind === "loss_of_separation" && !th.ended) ttl = 0;
      rows.push({ id: th.id, kind: th.kind, level: th.level, last: ev, first: th.first, ended: th.ended, acks: th.acks, ttl, th });
    }
    // newest alert first, by when it was raised: rows do not jump under the cursor on updates
    rows.sort((a, b) => b.first.seq - a.first.seq);
    return rows;
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
      default:
        return esc(ev.kind);
    }
  }
  function tag(party) {
    return `<span class="ptag" style="border-color:${esc(S.partyColour[party] || "#9e9e9e")}" title="${esc(partyLabel(party))}">${esc(party || "?")}</span>`;
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
    if (ev.kind === "airspace") {
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

  function renderSide() {
    if (!S.me) return;
    pruneThreads();
    let airspaceActive = false;
    for (const th of S.threads.values()) if (th.kind === "airspace" && !th.ended) { airspaceActive = true; break; }
    S.airspaceActive = airspaceActive;
    const rows = alertRows();
    const active = rows.filter((r) => !r.ended);
    $("count-alerts").textContent = active.length;
    $("alerts-count").textContent = rows.length ? `(${active.length} active / ${rows.length})` : "";
    const html = rows.slice(0, 200).map((r) => {
      const acked = r.acks.length > 0;
      const ackedMe = ackedByMe(r.th);
      const ackTxt = acked ? `<span class="acked">ACK ${esc(r.acks.map((a) => partyLabel(a.by)).filter((v, i, s) => s.indexOf(v) === i).join(", "))}</span>` : "";
      const btn = !ackedMe && !r.ended ? `<button data-ack="${r.last.seq}">Ack</button>` : "";
      const lvl = r.level === "los" ? "LOS" : r.level;
      return `<li class="alert lvl-${esc(r.level)}${r.ended ? " ended" : ""}${acked ? " acked" : " unacked"}" data-thread="${esc(r.id)}" data-seq="${r.last.seq}">` +
        `<span class="lvl">${esc(lvl)}</span><span class="what">${describe(r.last)}</span>` +
        `<span class="ttl">${r.ended ? "ended" : esc(fmtTtl(r.ttl))}</span>` +
        `<span class="meta">${esc(metaOf(r.last))}</span><span>${ackTxt}${btn}</span></li>`;
    }).join("");
    const ul = $("alerts");
    if (ul._html !== html) { ul.innerHTML = html; ul._html = html; }
    renderOverdue();
  }

  function renderOverdue() {
    const now = nowServer();
    const items = [];
    for (const [seq, rq] of S.requests) {
      if (S.responses.has(seq)) continue;
      const dl = rq.deadline ? Date.parse(rq.deadline) / 1000 : null;
      if (S.overdue.has(seq) || (dl && now > dl)) items.push(rq);
    }
    $("overdue-count").textContent = items.length ? `(${items.length})` : "";
    const html = items.map((rq) => {
      const canAnswer = S.me.supervisor || rq.to === S.me.party;
      return `<li class="msg overdue"><div class="mh"><span class="mt">REQUEST #${rq.seq}</span><span>${esc(partyLabel(rq.from))} → ${esc(partyLabel(rq.to))}</span><span>due ${esc(rq.deadline || "")}</span>` +
        (canAnswer ? `<button data-respond="${rq.seq}">Respond</button>` : "") + `</div><div>${esc(rq.text || "")}</div></li>`;
    }).join("");
    const ul = $("overdue");
    if (ul._html !== html) { ul.innerHTML = html; ul._html = html; }
  }

  function addMessage(ev) {
    const ul = $("messages");
    const li = document.createElement("li");
    li.className = "msg k-" + ev.kind;
    li.dataset.seq = ev.seq;
    let title = ev.kind.toUpperCase(), body = "", who = "";
    switch (ev.kind) {
      case "notice":
        who = partyLabel(ev.from);
        body = `${ev.text || ""} ${ev.floor_ft != null ? `[${fmtAlt(ev.floor_ft)}–${fmtAlt(ev.ceiling_ft)}]` : ""} ${ev.start ? ev.start + " → " + (ev.end || "") : ""}${ev.short_notice ? " · SHORT NOTICE" : ""}`;
        break;
      case "request":
        who = `${partyLabel(ev.from)} → ${partyLabel(ev.to)}`;
        body = `${ev.text || ""}${ev.deadline ? " · answer by " + ev.deadline : ""}`;
        break;
      case "response":
        who = partyLabel(ev.from);
        body = `re #${ev.request_seq}: ${ev.text || ""}`;
        break;
      case "overdue": title = "OVERDUE"; body = `request #${ev.request_seq} not answered in time`; break;
      case "distress":
        who = partyLabel(ev.from);
        body = `${callsignOf(ev.icao24)} ${ev.icao24 || ""}: ${ev.nature || ""}${ev.auto ? " (auto, squawk)" : ""}`;
        break;
      case "ack": who = partyLabel(ev.by); body = `acknowledged #${ev.of_seq}`; break;
      case "unacknowledged": title = "UNACKNOWLEDGED"; body = `#${ev.of_seq} not acknowledged by ${partyLabel(ev.party)}`; break;
      default: body = JSON.stringify(ev);
    }
    const respond = ev.kind === "request" && (S.me.supervisor || ev.to === S.me.party) ? `<button data-respond="${ev.seq}">Respond</button>` : "";
    li.innerHTML = `<div class="mh"><span class="mt">${esc(title)}</span><span>${esc(who)}</span><span>${fmtTime(ev.t)} #${ev.seq}</span>${respond}</div><div>${esc(body)}</div>`;
    ul.insertBefore(li, ul.firstChild);
    while (ul.childNodes.length > 300) ul.removeChild(ul.lastChild);
  }

  function setStatus(text, err) {
    const s = $("m-status");
    s.textContent = text;
    s.classList.toggle("err", !!err);
  }

  // ---------------------------------------------------------------- the line: compose
  function buildSendForm() {
    const to = $("m-to");
    to.innerHTML = S.parties.filter((p) => p.id !== (S.me && S.me.party)).map((p) => `<option value="${esc(p.id)}">to ${esc(p.name || p.id)}</option>`).join("");
    updateFormType();
    refreshIcaoSelect();
    refreshRequestSelect();
  }
  function updateFormType() {
    const t = $("m-type").value;
    for (const el of document.querySelectorAll("#send-form [class*='only-']")) {
      el.classList.toggle("hidden", !el.classList.contains("only-" + t));
    }
    if (t === "DISTRESS") refreshIcaoSelect();
  }
  function refreshIcaoSelect() {
    const sel = $("m-icao");
    const cur = sel.value;
    const mine = [];
    for (const ac of S.aircraft.values()) if (S.me && (S.me.supervisor || ac.party === S.me.party)) mine.push(ac);
    mine.sort((a, b) => (a.callsign || a.icao24).localeCompare(b.callsign || b.icao24));
    sel.innerHTML = mine.slice(0, 500).map((ac) => `<option value="${esc(ac.icao24)}">${esc((ac.callsign || "").trim() || ac.icao24)} ${esc(ac.icao24)}</option>`).join("");
    if (cur) sel.value = cur;
    if (S.selected && mine.some((a) => a.icao24 === S.selected)) sel.value = S.selected;
  }
  function refreshRequestSelect() {
    const sel = $("m-request");
    const open = [];
    for (const [seq, rq] of S.requests) if (!S.responses.has(seq) && (S.me.supervisor || rq.to === S.me.party)) open.push(rq);
    sel.innerHTML = open.map((rq) => `<option value="${rq.seq}">re #${rq.seq} from ${esc(partyLabel(rq.from))}</option>`).join("");
  }

  function circlePolygon(lat, lon, radiusNm) {
    const pts = [];
    const dLat = radiusNm / 60;
    const dLon = radiusNm / (60 * Math.cos((lat * Math.PI) / 180));
    for (let i = 0; i <= 32; i++) {
      const a = (i / 32) * 2 * Math.PI;
      pts.push([+(lon + dLon * Math.cos(a)).toFixed(5), +(lat + dLat * Math.sin(a)).toFixed(5)]);
    }
    pts[32] = pts[0];
    return { type: "Polygon", coordinates: [pts] };
  }

  async function sendMessage(e) {
    e.preventDefault();
    const type = $("m-type").value;
    const text = $("m-text").value.trim();
    const now = Date.now();
    let body;
    if (type === "NOTICE") {
      const start = new Date(now + (+$("m-start").value || 0) * 60000);
      const end = new Date(start.getTime() + (+$("m-dur").value || 60) * 60000);
      body = { type, area: circlePolygon(S.view.lat, S.view.lon, +$("m-radius").value || 20), floor_ft: +$("m-floor").value || 0, ceiling_ft: +$("m-ceiling").value || 0, start: start.toISOString(), end: end.toISOString(), text };
    } else if (type === "REQUEST") {
      body = { type, to: $("m-to").value, text, deadline: new Date(now + (+$("m-deadline").value || 5) * 60000).toISOString() };
    } else if (type === "RESPONSE") {
      const rs = +$("m-request").value;
      if (!rs) { setStatus("no open request to respond to", true); return; }
      body = { type, request_seq: rs, text };
    } else {
      const icao = $("m-icao").value;
      const ac = S.aircraft.get(icao);
      if (!ac) { setStatus("choose one of your aircraft", true); return; }
      body = { type, icao24: icao, latitude: ac.lat, longitude: ac.lon, nature: $("m-nature").value || text || "distress" };
    }
    try {
      const r = await api("/api/v1/messages", { method: "POST", body });
      setStatus(`${type} sent (#${r.seq})`);
      $("m-text").value = "";
    } catch (err) {
      setStatus(`${type} refused: ${err.message}`, true);
    }
  }

  // ---------------------------------------------------------------- filters and the URL hash
  function buildPartyFilters() {
    const box = $("filter-parties");
    box.innerHTML = S.parties.map((p) => {
      const on = !S.filters.parties || S.filters.parties.includes(p.id);
      return `<label><input type="checkbox" data-party="${esc(p.id)}"${on ? " checked" : ""}><span class="sw" style="background:${esc(p.colour)}"></span>${esc(p.name || p.id)}</label>`;
    }).join("");
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

  function writeFiltersToForm() {
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
  function writeHash() {
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
      const h = "#" + q.toString();
      if (location.hash !== h) history.replaceState(null, "", location.pathname + location.search + h);
    }, 150);
  }

  function readHash() {
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
  }

  function passes(ac) {
    const f = S.filters;
    if (f.parties && !f.parties.includes(ac.party)) return false;
    if (f.altMin != null && !(ac.alt >= f.altMin)) return false;
    if (f.altMax != null && !(ac.alt <= f.altMax)) return false;
    if (f._re && !f._re.test((ac.callsign || "").trim()) && !f._re.test(ac.icao24)) return false;
    return true;
  }

  // ---------------------------------------------------------------- drawing
  let dpr = 1;
  function resize() {
    dpr = window.devicePixelRatio || 1;
    const w = canvas.clientWidth, h = canvas.clientHeight;
    canvas.width = Math.max(1, Math.round(w * dpr));
    canvas.height = Math.max(1, Math.round(h * dpr));
    S.baseCache = null;
    S.dirty = true;
  }

  function viewTransform() {
    const W = canvas.clientWidth, H = canvas.clientHeight;
    const k = Math.pow(2, S.view.z);
    const cx = worldX(S.view.lon), cy = worldY(S.view.lat);
    return { W, H, k, cx, cy, ox: W / 2 - cx * k, oy: H / 2 - cy * k };
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

  function renderLegend() {
    const grad = ALT_STOPS.map((a, i) => `${altColour(a)} ${(i / (ALT_STOPS.length - 1)) * 100}%`).join(",");
    $("legend").innerHTML = `altitude<div class="bar" style="background:linear-gradient(90deg,${grad})"></div><div class="ticks">${ALT_STOPS.filter((_, i) => i % 2 === 0).map((a) => `<span>${a / 1000}k</span>`).join("")}</div>`;
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

  function emergencyOf(ac) {
    if (SQUAWKS[ac.squawk]) return SQUAWKS[ac.squawk];
    if (ac.emergency && ac.emergency !== "none" && ac.emergency !== false) return { label: "EMERGENCY", colour: "#ffee00" };
    return null;
  }

  function draw() {
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
    for (const th of S.threads.values()) {
      if (th.ended) continue;
      const ev = th.last;
      if (ev.kind === "conflict") { conflicts.push(ev); heat(ev.a, LEVEL_COLOUR[ev.level] || "#ffb300"); heat(ev.b, LEVEL_COLOUR[ev.level] || "#ffb300"); }
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

    // notices (areas announced on the line) while current or upcoming
    ctx.setLineDash([4, 4]);
    for (const n of S.notices) {
      const end = n.end ? Date.parse(n.end) / 1000 : Infinity;
      if (end < now || !n.area) continue;
      ctx.strokeStyle = "#ffd60a";
      ctx.lineWidth = 1.2;
      ctx.beginPath();
      for (const ring of ringsOf(n.area)) ring.forEach((c, i) => { const x = worldX(c[0]) * k + ox, y = worldY(c[1]) * k + oy; if (i) ctx.lineTo(x, y); else ctx.moveTo(x, y); });
      ctx.stroke();
    }
    ctx.setLineDash([]);

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
      // the label sits off the line's midpoint, on the side away from the aircraft labels
      const len = Math.hypot(x2 - x1, y2 - y1) || 1;
      let nx = -(y2 - y1) / len, ny = (x2 - x1) / len;
      if (ny < 0) { nx = -nx; ny = -ny; }
      const mx = (x1 + x2) / 2 + nx * 22, my = (y1 + y2) / 2 + ny * 22 + 5;
      const tw = ctx.measureText(txt).width;
      ctx.fillStyle = "rgba(8,16,25,0.85)";
      ctx.fillRect(mx - tw / 2 - 4, my - 11, tw + 8, 15);
      ctx.fillStyle = col;
      ctx.fillText(txt, mx - tw / 2, my);
    }

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
    // label decluttering: a coarse occupancy grid; alert and emergency labels claim cells first
    const CW = 78, CH = 26, gw = Math.ceil(W / CW) + 2, gh = Math.ceil(H / CH) + 2;
    const grid = new Uint8Array(gw * gh);
    const claim = (x, y) => {
      const gx = Math.floor(x / CW) + 1, gy = Math.floor(y / CH) + 1;
      if (gx < 0 || gy < 0 || gx >= gw || gy >= gh) return false;
      const c = gy * gw + gx;
      if (grid[c]) return false;
      grid[c] = 1;
      return true;
    };
    const label = (i, colour) => {
      const ac = bref[i];
      const cs = (ac.callsign || "").trim() || ac.icao24;
      ctx.fillStyle = colour || "rgba(225,235,245,0.92)";
      ctx.fillText(cs, bx[i] + size + 3, by[i] - 2);
      ctx.fillStyle = "rgba(160,180,200,0.9)";
      const vr = ac.vr > 300 ? "↑" : ac.vr < -300 ? "↓" : " ";
      ctx.fillText(`${fmtAlt(ac.alt)}${vr}${ac.gs != null ? Math.round(ac.gs) : "---"}`, bx[i] + size + 3, by[i] + 10);
    };
    const plain = [];
    const tagged = []; // emergency and distress labels drawn this frame (read by the tests)
    ctx.font = "11px ui-monospace, 'DejaVu Sans Mono', monospace";
    for (let i = 0; i < n; i++) {
      const ac = bref[i];
      drawn[i] = ac.icao24;
      const em = emergencyOf(ac);
      const ring = em ? em.colour : distressIcaos.has(ac.icao24) ? "#ff3b30" : hot.get(ac.icao24);
      const sel = S.selected === ac.icao24;
      if (ring || sel) {
        ctx.strokeStyle = ring || "#ffffff";
        ctx.lineWidth = 2;
        ctx.beginPath(); ctx.arc(bx[i], by[i], size + 5, 0, 2 * Math.PI); ctx.stroke();
      }
      if (em || distressIcaos.has(ac.icao24)) {
        const lbl = em ? em.label : "DISTRESS";
        tagged.push({ icao24: ac.icao24, label: lbl });
        ctx.font = "bold 11px system-ui, sans-serif";
        const tw = ctx.measureText(lbl).width;
        ctx.fillStyle = em ? em.colour : "#ff3b30";
        ctx.fillRect(bx[i] - tw / 2 - 3, by[i] - size - 22, tw + 6, 14);
        ctx.fillStyle = "#000";
        ctx.fillText(lbl, bx[i] - tw / 2, by[i] - size - 11);
        ctx.font = "11px ui-monospace, 'DejaVu Sans Mono', monospace";
      }
      if (ring || sel) { claim(bx[i] + size + 30, by[i]); label(i, ring || "#ffffff"); }
      else if (labelAll) plain.push(i);
    }
    for (const i of plain) if (claim(bx[i] + size + 30, by[i])) label(i, null);
    S.drawn = drawn;
    S.tagged = tagged;
    S.screen = { n, bx, by, bref };

    // scale bar and counters
    const nmPerPx = 60 / k; // one degree of (cos-scaled) longitude is 60 NM
    const nice = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000].find((v) => v / nmPerPx > 70) || 1000;
    $("scalebar").style.width = Math.round(nice / nmPerPx) + "px";
    $("scalebar").textContent = nice + " NM";
    $("count-drawn").textContent = n;
    $("count-known").textContent = S.aircraft.size;
    document.body.dataset.drawn = n;
    document.body.dataset.known = S.aircraft.size;

    const t1 = performance.now();
    const dt = t1 - t0;
    S.phases = { base: tBase - t0, project: tProj - tBase, trails: tTrails - tProj, symbols: tSym - tTrails, labels: t1 - tSym };
    S.frameTimes.push(dt);
    if (S.frameTimes.length > 1200) S.frameTimes.splice(0, 600);
    S.frames++;
  }

  function loop() {
    // redraw on new data, on view changes and while something pulses (active airspace alert)
    const pulsing = S.filters.airspaces && S.airspaceActive;
    if (S.me && (S.dirty || (pulsing && Date.now() - (S._lastPulse || 0) > 250))) {
      S.dirty = false;
      S._lastPulse = Date.now();
      draw();
    }
    requestAnimationFrame(loop);
  }

  // ---------------------------------------------------------------- interaction
  function screenToLonLat(px, py) {
    const T = viewTransform();
    const X = (px - T.ox) / T.k, Y = (py - T.oy) / T.k;
    return { lon: X / S.cos0, lat: -Y };
  }

  let drag = null;
  canvas.addEventListener("mousedown", (e) => { drag = { x: e.clientX, y: e.clientY, lat: S.view.lat, lon: S.view.lon, moved: false }; canvas.classList.add("dragging"); });
  window.addEventListener("mouseup", (e) => {
    canvas.classList.remove("dragging");
    if (drag && !drag.moved) select(e);
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

  function renderSelected() {
    const box = $("selected");
    const ac = S.selected && S.aircraft.get(S.selected);
    if (!ac) { box.classList.add("hidden"); return; }
    box.classList.remove("hidden");
    const em = emergencyOf(ac);
    box.innerHTML = `<b>${esc((ac.callsign || "").trim() || ac.icao24)}</b> <span style="color:${esc(S.partyColour[ac.party] || "#aaa")}">${esc(partyLabel(ac.party))}</span><br>` +
      `icao24 ${esc(ac.icao24)}<br>alt ${fmtAlt(ac.alt)} ft · vs ${Math.round(ac.vr || 0)} fpm<br>gs ${Math.round(ac.gs || 0)} kt · trk ${Math.round(ac.trk || 0)}°<br>` +
      `pos ${(+ac.lat).toFixed(4)}, ${(+ac.lon).toFixed(4)}<br>squawk ${esc(ac.squawk || "----")}${em ? ` <b style="color:${em.colour}">${em.label}</b>` : ""}<br>report ${fmtTime(ac.t)}`;
  }

  $("alerts").addEventListener("click", (e) => {
    const b = e.target.closest("button[data-ack]");
    if (b) { ack(+b.dataset.ack, b); return; }
    const li = e.target.closest("li[data-thread]");
    if (li) {
      const th = S.threads.get(li.dataset.thread);
      const icao = th && (th.last.a || th.last.icao24);
      const ac = icao && S.aircraft.get(icao);
      if (ac) { S.selected = icao; S.view.lat = ac.lat; S.view.lon = ac.lon; S.dirty = true; renderSelected(); writeHash(); }
    }
  });
  function respondTo(e) {
    const b = e.target.closest("button[data-respond]");
    if (!b) return;
    $("m-type").value = "RESPONSE";
    updateFormType();
    refreshRequestSelect();
    $("m-request").value = b.dataset.respond;
    $("m-text").focus();
  }
  $("messages").addEventListener("click", respondTo);
  $("overdue").addEventListener("click", respondTo);
  $("banner-ack").addEventListener("click", () => {
    if (S.bannerSeq === null) return;
    const seq = S.bannerSeq;
    ack(seq, $("banner-ack")).then(() => { $("banner-ack").disabled = false; });
  });
  $("m-type").addEventListener("change", updateFormType);
  $("send-form").addEventListener("submit", sendMessage);
  $("filters-toggle").addEventListener("click", () => $("filters").classList.toggle("collapsed"));
  $("filters").addEventListener("input", readFiltersFromForm);
  $("filters").addEventListener("change", readFiltersFromForm);
  $("signout").addEventListener("click", signOut);
  $("signin-form").addEventListener("submit", (e) => {
    e.preventDefault();
    $("signin-error").textContent = "";
    // a user gesture: unlock audio for the distress alarm
    try { S.audio = S.audio || new (window.AudioContext || window.webkitAudioContext)(); S.audio.resume(); } catch (err) { /* none */ }
    signIn($("signin-key").value.trim());
  });
  document.addEventListener("click", () => {
    try { S.audio = S.audio || new (window.AudioContext || window.webkitAudioContext)(); if (S.audio.state === "suspended") S.audio.resume(); } catch (err) { /* none */ }
  });
  window.addEventListener("resize", resize);
  window.addEventListener("hashchange", () => { readHash(); writeFiltersToForm(); S.baseCache = null; S.dirty = true; });

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
})();
