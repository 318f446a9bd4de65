"""`sharedsky demo`: the whole system on one machine, with one command.

Starts the service (a real ASGI server on loopback, an embedded SQLite record in a temp
dir) on the Syria 2015 agreement, issues a key per party and a supervisor key, prints each
party's map URL, and flies traffic pushed by each party with its own key: the simulator's
scenario when it is there, plus a scripted encounter that shows, within two minutes, a
coalition/Russian conflict, a Russian aircraft warned off Turkish airspace and a distress
call on the line. `DemoService` is also what the map's tests and benchmark use to run the
real service.
"""

from __future__ import annotations

import contextlib
import math
import socket
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

REPO_EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
if not REPO_EXAMPLES.is_dir():  # installed without the source tree: examples beside the caller
    REPO_EXAMPLES = Path.cwd() / "examples"
DEFAULT_AGREEMENT = REPO_EXAMPLES / "syria-2015.toml"
DEFAULT_SCENARIO = REPO_EXAMPLES / "syria-2015.scenario.toml"
REPORT_FIELDS = ("icao24", "callsign", "latitude", "longitude", "altitude", "groundspeed", "track",
                 "vertical_rate", "squawk")
NM_PER_DEG = 60.0


# ----------------------------------------------------------------------------- the service
@dataclass
class DemoService:
    """The real service in a background thread on loopback, with one key per party."""

    url: str
    port: int
    keys: dict[str, str]  # party id -> API key
    supervisor_key: str
    agreement: Any
    app: Any
    _server: Any = field(repr=False, default=None)
    _thread: threading.Thread | None = field(repr=False, default=None)

    @classmethod
    def start(cls, workdir: Path, agreement_path: Path | str = DEFAULT_AGREEMENT, *, port: int = 0,
              host: str = "127.0.0.1", engine_interval_s: float = 1.0, history: Any = None) -> DemoService:
        """Start `create_app` on uvicorn (port 0: any free port); returns once it answers.
        `history`: as `create_app`'s (the history of the record in `workdir`, read-only)."""
        import uvicorn

        from sharedsky.agreement import load_agreement
        from sharedsky.service.app import create_app
        from sharedsky.service.server import service_config

        agreement = load_agreement(agreement_path)
        app = create_app(agreement, Path(workdir) / "sharedsky.db", engine_interval_s=engine_interval_s,
                         history=history)
        hub = app.state.hub
        keys = {p: hub.keys.issue(p).api_key for p in agreement.party_ids}
        supervisor = hub.keys.issue("supervisor", supervisor=True).api_key
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            sock.close()
            raise click.ClickException(f"demo: cannot listen on {host}:{port} ({exc.strerror})") from exc
        port = sock.getsockname()[1]
        # Guarded as `sharedsky serve` is (connections, timeouts, stalled streams; issue 14).
        server = uvicorn.Server(service_config(app, agreement.line, host=host, port=port))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True,
                                  name="sharedsky service")
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise click.ClickException("demo: the service did not start")
            time.sleep(0.05)
        return cls(f"http://{host}:{port}", port, keys, supervisor, agreement, app, server, thread)

    def url_for(self, party: str | None = None) -> str:
        """The map URL that signs in as `party` (None: the supervisor)."""
        return f"{self.url}/?key={self.supervisor_key if party is None else self.keys[party]}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)


# ----------------------------------------------------------------------------- scripted traffic
@dataclass
class Actor:
    """A scripted aircraft flown by dead reckoning with rate-limited turns and climbs."""

    party: str
    icao24: str
    callsign: str
    lat: float
    lon: float
    alt_ft: float
    gs_kt: float
    trk_deg: float
    squawk: str = "2000"
    vr_fpm: float = 0.0
    target_trk_deg: float | None = None
    target_alt_ft: float | None = None
    turn_dps: float = 3.0
    climb_fpm: float = 3000.0

    def advance(self, dt_s: float) -> None:
        if self.target_trk_deg is not None:
            d = (self.target_trk_deg - self.trk_deg + 540.0) % 360.0 - 180.0
            step = max(-self.turn_dps * dt_s, min(self.turn_dps * dt_s, d))
            self.trk_deg = (self.trk_deg + step) % 360.0
        if self.target_alt_ft is not None:
            dz = self.target_alt_ft - self.alt_ft
            self.vr_fpm = math.copysign(min(self.climb_fpm, abs(dz) * 60.0 / max(dt_s, 1e-9)), dz) if dz else 0.0
            self.alt_ft += self.vr_fpm * dt_s / 60.0
        dist_nm = self.gs_kt * dt_s / 3600.0
        t = math.radians(self.trk_deg)
        self.lat += dist_nm * math.cos(t) / NM_PER_DEG
        self.lon += dist_nm * math.sin(t) / (NM_PER_DEG * math.cos(math.radians(self.lat)))

    def report(self, t_s: float) -> dict[str, Any]:
        return {"timestamp": t_s, "icao24": self.icao24, "callsign": self.callsign,
                "latitude": round(self.lat, 5), "longitude": round(self.lon, 5),
                "altitude": round(self.alt_ft), "groundspeed": round(self.gs_kt, 1),
                "track": round(self.trk_deg, 1), "vertical_rate": round(self.vr_fpm),
                "squawk": self.squawk}


def _offset(lat: float, lon: float, bearing_deg: float, dist_nm: float) -> tuple[float, float]:
    b = math.radians(bearing_deg)
    return (lat + dist_nm * math.cos(b) / NM_PER_DEG,
            lon + dist_nm * math.sin(b) / (NM_PER_DEG * math.cos(math.radians(lat))))


class Script:
    """The demo's encounter, replayed every `cycle_s` of demo time.

    tau (demo s) | what happens
    0            | RCH451 (coalition) and RFF2101 (Russia) head-on at FL250, 45 NM apart, 450 kt each:
                 | advisory at once (20 NM within 300 s), warning near tau 50 (3 NM within 120 s),
                 | with a resolution advisory to each (the scripted aircraft do not fly them)
    0            | RFF2102 (Russia) 20 NM south of the Turkish border at 38 E, heading north at 420 kt:
                 | advisory at once (entry within 300 s), warning near tau 50 (within 120 s)
    30           | RCH77 (coalition tanker) calls DISTRESS on the line (engine failure)
    95           | RFF2101 climbs to FL290 after the warning: the conflict ends
    125          | RFF2102 turns back south, short of the border
    """

    CONFLICT_AT = (35.60, 39.30)
    BORDER_AT = (36.826, 38.0)  # Turkish border (bundled borders) on the 38 E meridian

    def __init__(self, cycle_s: float = 420.0) -> None:
        self.cycle_s = cycle_s
        self.cycle = -1
        self.actors: list[Actor] = []
        self.distress_due: list[tuple[float, str, str]] = []  # (tau, party, icao24)

    def _reset(self) -> None:
        lat, lon = self.CONFLICT_AT
        wlat, wlon = _offset(lat, lon, 270, 22.5)
        elat, elon = _offset(lat, lon, 90, 22.5)
        blat, blon = _offset(*self.BORDER_AT, 180, 20.0)
        self.actors = [
            Actor("coalition", "ae5d01", "RCH451", wlat, wlon, 25000, 450, 90),
            Actor("russia", "150a01", "RFF2101", elat, elon, 25000, 450, 270),
            Actor("russia", "150a02", "RFF2102", blat, blon, 20000, 420, 0),
            Actor("coalition", "ae5d02", "RCH77", 35.15, 38.45, 24000, 380, 30),
        ]
        self.distress_due = [(30.0, "coalition", "ae5d02")]

    def advance(self, tau_s: float, dt_s: float) -> None:
        cycle = int(tau_s // self.cycle_s)
        if cycle != self.cycle:
            self.cycle = cycle
            self._reset()
            return
        local = tau_s - cycle * self.cycle_s
        a = {x.callsign: x for x in self.actors}
        if local >= 95 and a["RFF2101"].target_alt_ft is None:
            a["RFF2101"].target_alt_ft = 29000
        if local >= 125 and a["RFF2102"].target_trk_deg is None:
            a["RFF2102"].target_trk_deg = 180.0
        if local >= 60 and a["RCH77"].target_trk_deg is None:
            a["RCH77"].target_trk_deg = 220.0  # the tanker in distress turns for home
        for x in self.actors:
            x.advance(dt_s)

    def due_distress(self, tau_s: float) -> list[tuple[str, Actor]]:
        local = tau_s - max(self.cycle, 0) * self.cycle_s
        out = []
        for item in list(self.distress_due):
            t, party, icao = item
            if local >= t:
                self.distress_due.remove(item)
                actor = next(x for x in self.actors if x.icao24 == icao)
                out.append((party, actor))
        return out


# ----------------------------------------------------------------------------- the demo loop
class _Pusher:
    """Pushes each party's aircraft with that party's key, over HTTP, as a party would."""

    def __init__(self, svc: DemoService) -> None:
        import httpx

        self.svc = svc
        self.client = httpx.Client(base_url=svc.url, timeout=10.0)
        self.errors: list[str] = []

    def post(self, path: str, party: str, body: dict[str, Any]) -> dict[str, Any] | None:
        r = self.client.post(path, json=body, headers={"Authorization": f"Bearer {self.svc.keys[party]}"})
        if r.status_code >= 300:
            msg = f"{path} as {party}: {r.status_code} {r.text[:300]}"
            if len(self.errors) < 50:
                self.errors.append(msg)
            return None
        return r.json()

    def push(self, by_party: dict[str, list[dict[str, Any]]]) -> None:
        for party, reports in by_party.items():
            for i in range(0, len(reports), 5000):
                self.post("/api/v1/reports", party, {"reports": reports[i:i + 5000]})

    def events(self, after: int) -> list[dict[str, Any]]:
        r = self.client.get("/api/v1/events", params={"after": after, "limit": 1000},
                            headers={"Authorization": f"Bearer {self.svc.supervisor_key}"})
        return r.json().get("events", []) if r.status_code == 200 else []


def _sim_reports(sim: Any, agreement: Any, now_s: float, steps: int) -> dict[str, list[dict[str, Any]]]:
    """Advance the simulator `steps` seconds; its airborne aircraft now, grouped by party."""
    import numpy as np

    step = None
    for _ in range(steps):
        if sim.finished:
            break
        step = sim.step()
    if step is None:
        return {}
    df = sim.reports_of(step)
    if df.shape[0] == 0:
        return {}
    icao = df["icao24"].astype(str).to_numpy()
    cs = df["callsign"].fillna("").astype(str).to_numpy()
    codes = np.asarray(agreement.attribute(icao, cs))
    out: dict[str, list[dict[str, Any]]] = {}
    cols = {c: df[c].to_numpy() for c in REPORT_FIELDS if c in df}
    for i in range(df.shape[0]):  # once a second, a few hundred rows: not a hot path
        rep: dict[str, Any] = {"timestamp": now_s}
        for c, v in cols.items():
            x = v[i]
            if c in ("icao24", "callsign", "squawk"):
                x = "" if x is None or (isinstance(x, float) and math.isnan(x)) else str(x)
                if c == "squawk" and len(x) != 4:
                    continue
                rep[c] = x
            elif x is not None and np.isfinite(x):
                rep[c] = round(float(x), 5 if c in ("latitude", "longitude") else 1)
        out.setdefault(agreement.party_ids[int(codes[i])], []).append(rep)
    return out


def _describe(ev: dict[str, Any], callsigns: dict[str, str], levels: dict[str, str]) -> str | None:
    """One console line for the events worth showing (new alerts, level changes); None for the rest."""
    k = ev.get("kind")
    cs = lambda i: callsigns.get(i, i)  # noqa: E731
    if k == "conflict" and ev.get("state") in ("new", "updated"):
        key = str(ev.get("id") or (ev.get("a"), ev.get("b")))
        if levels.get(key) == ev.get("level"):
            return None
        levels[key] = str(ev.get("level"))
        return (f"CONFLICT {ev.get('level', '').upper():8s} {cs(ev.get('a'))} ({ev.get('party_a')}) x "
                f"{cs(ev.get('b'))} ({ev.get('party_b')}): loss of separation in {ev.get('t_in_s', 0):.0f} s, "
                f"CPA {ev.get('d_cpa_nm', 0):.1f} NM / {ev.get('dz_cpa_ft', 0):.0f} ft")
    if k == "conflict" and ev.get("state") == "ended":
        return f"conflict ended   {cs(ev.get('a'))} x {cs(ev.get('b'))}"
    if k == "loss_of_separation":
        return f"LOSS OF SEPARATION {ev.get('state')}: {cs(ev.get('a'))} x {cs(ev.get('b'))}"
    if k == "airspace":
        when = (f"entry in {ev['time_to_entry_s']:.0f} s" if ev.get("time_to_entry_s") is not None
                else f"inside {ev.get('time_inside_s', 0):.0f} s")
        avoid = f", turn to {ev['heading_to_avoid_deg']:.0f}" if ev.get("heading_to_avoid_deg") is not None else ""
        return f"AIRSPACE {str(ev.get('state', '')).upper():9s} {cs(ev.get('icao24'))} ({ev.get('party')}) -> {ev.get('airspace')}: {when}{avoid}"
    if k == "distress":
        return f"DISTRESS {cs(ev.get('icao24'))} ({ev.get('from') or ev.get('party')}): {ev.get('nature')}"
    if k == "notice_conflict":
        vols = ev.get("volumes") or [{}, {}]
        if ev.get("state") == "ended":
            return f"notice conflict ended ({ev.get('reason')}): {vols[0].get('operation')} x {vols[1].get('operation')}"
        return (f"NOTICE CONFLICT {str(ev.get('state', '')).upper()} {vols[0].get('operation')} x "
                f"{vols[1].get('operation')}: {ev.get('start')} to {ev.get('end')}, "
                f"{ev.get('floor_ft', 0):.0f}-{ev.get('ceiling_ft', 0):.0f} ft"
                f"{', SHORT NOTICE' if ev.get('short_notice') else ''}; {ev.get('gives_way')} gives way")
    if k == "notice_volume":
        when = (f"entry in {ev['time_to_entry_s']:.0f} s" if ev.get("time_to_entry_s") is not None
                else f"inside {ev.get('time_inside_s') or 0:.0f} s")
        return (f"NOTIFIED VOLUME {str(ev.get('state', '')).upper():9s} {cs(ev.get('icao24'))} ({ev.get('party')}) -> "
                f"{ev.get('volume')}: {when}")
    if k == "advisory" and ev.get("state") in ("new", "updated"):
        return f"ADVISORY {cs(ev.get('icao24'))} ({ev.get('party')}): {ev.get('text')} [{ev.get('status')}]"
    if k == "advisory" and ev.get("state") == "end":
        return f"advisory ended   {cs(ev.get('icao24'))} ({ev.get('party')}): {ev.get('text') or ev.get('reason')}"
    if k in ("request", "response", "notice", "overdue"):
        extra = f" {ev.get('operation')} v{ev.get('version')}" if k == "notice" and ev.get("operation") else ""
        return f"{k.upper()} from {ev.get('from', '')}{extra}"
    return None


def _highlights(kinds: dict[str, int], ev: dict[str, Any]) -> None:
    k = ev.get("kind")
    if k == "conflict" and {ev.get("party_a"), ev.get("party_b")} == {"coalition", "russia"}:
        kinds["coalition_russia_conflict"] = kinds.get("coalition_russia_conflict", 0) + 1
    if k == "airspace" and ev.get("state") in ("warning", "violation"):
        kinds["airspace_warning"] = kinds.get("airspace_warning", 0) + 1
    if k == "distress":
        kinds["distress_call"] = kinds.get("distress_call", 0) + 1
    if k == "notice_conflict" and ev.get("state") == "new":
        kinds["notice_conflict_new"] = kinds.get("notice_conflict_new", 0) + 1
    if k == "advisory" and ev.get("state") == "new" and ev.get("party") in ("coalition", "russia"):
        key = f"advisory_{ev.get('party')}"
        kinds[key] = kinds.get(key, 0) + 1


@click.command()
@click.option("--port", type=int, default=8000, show_default=True, help="Port on 127.0.0.1 (0: any free port).")
@click.option("--speed", type=float, default=1.0, show_default=True,
              help="Simulated seconds per real second (aircraft then move faster than they report).")
@click.option("--duration", type=float, default=None, help="Stop by itself after this many real seconds.")
@click.option("--agreement", "agreement_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=DEFAULT_AGREEMENT, show_default=True)
@click.option("--scenario", "scenario_path", type=click.Path(dir_okay=False, path_type=Path),
              default=DEFAULT_SCENARIO, show_default=True,
              help="Simulator scenario for background traffic (skipped when absent).")
@click.option("--no-scenario", is_flag=True, help="Only the scripted encounter, no simulated traffic.")
@click.option("--seed", type=int, default=0, show_default=True)
def demo(port: int, speed: float, duration: float | None, agreement_path: Path, scenario_path: Path,
         no_scenario: bool, seed: int) -> None:
    """Start the service, fly the Syria 2015 scenario and print each party's map URL."""
    if not speed > 0 or speed > 100:
        raise click.BadParameter("must be in (0, 100]", param_hint="--speed")
    with tempfile.TemporaryDirectory(prefix="sharedsky-demo-") as tmp:
        svc = DemoService.start(Path(tmp), agreement_path, port=port)
        try:
            _run(svc, speed, duration, None if no_scenario else scenario_path, seed)
        finally:
            svc.stop()


def _run(svc: DemoService, speed: float, duration: float | None, scenario_path: Path | None,
         seed: int) -> None:
    ag = svc.agreement
    click.echo(f"sharedsky demo: {ag.name}, service at {svc.url} (record in a temp dir)")
    click.echo("Open a party's screen (each sees only what the agreement discloses to it):")
    shown = [p for p in ("coalition", "russia", "turkey") if p in svc.keys]
    shown += [p for p in ag.party_ids if p not in shown]
    for p in shown:
        click.echo(f"  {p:12s} {svc.url_for(p)}")
    click.echo(f"  {'supervisor':12s} {svc.url_for(None)}")
    sim = None
    if scenario_path is not None and scenario_path.exists():
        try:
            from sharedsky.sim.run import Simulation
            from sharedsky.sim.scenario import load_scenario

            hours = max(1.0, ((duration or 6 * 3600) * speed) / 3600 + 0.1)
            scenario = load_scenario(scenario_path)
            sim = Simulation(scenario, ag, hours=hours, seed=seed, detection=False, record_every_s=None)
            from sharedsky.service.places import bases_of_scenario

            svc.app.state.bases = bases_of_scenario(scenario)  # on the map, by name
            click.echo(f"simulated traffic: {scenario_path.name}, {len(sim.plans)} flights, x{speed:g}")
        except Exception as exc:  # noqa: BLE001 - the scripted encounter still runs
            click.echo(f"simulated traffic skipped: {scenario_path}: {exc}", err=True)
            sim = None
    click.echo("Scripted encounter: coalition/Russian conflict, Turkish airspace warning, distress call "
               "(all within two minutes). Ctrl-C to stop.")
    pusher = _Pusher(svc)
    if sim is not None:  # the scenario's notified operations, each by its party's key, in order
        for n in sorted(sim.scenario.notices, key=lambda n: n.notified_s):
            if n.party in svc.keys:
                sent = pusher.post("/api/v1/messages", n.party, n.message(time.time(), scale=speed))
                if sent is not None:
                    click.echo(f"[{time.strftime('%H:%M:%S')}] {n.party} notifies {n.body.get('operation')} "
                               f"(seq {sent['seq']})")
    script = Script()
    seen: dict[str, int] = {}
    callsigns: dict[str, str] = {}
    levels: dict[str, str] = {}
    last_seq = 0
    t_start = time.monotonic()
    tau = 0.0
    tick = 0
    try:
        while duration is None or time.monotonic() - t_start < duration:
            now = time.time()
            by_party: dict[str, list[dict[str, Any]]] = {}
            if sim is not None:  # whole simulated seconds due by now (fractional speeds too)
                steps = 1 if tick == 0 else int(tau) - int(tau - speed)
                by_party = _sim_reports(sim, ag, now, steps) if steps > 0 else {}
            script.advance(tau, speed if tick else 0.0)
            for x in script.actors:
                by_party.setdefault(x.party, []).append(x.report(now))
                callsigns[x.icao24] = x.callsign
            for reps in by_party.values():
                for r in reps:
                    if r.get("callsign"):
                        callsigns[r["icao24"]] = r["callsign"]
            pusher.push(by_party)
            for party, actor in script.due_distress(tau):
                sent = pusher.post("/api/v1/messages", party, {
                    "type": "DISTRESS", "icao24": actor.icao24, "latitude": round(actor.lat, 5),
                    "longitude": round(actor.lon, 5), "nature": "engine failure, descending, returning to base"})
                if sent is not None:
                    click.echo(f"[{time.strftime('%H:%M:%S')}] {party} calls DISTRESS for {actor.callsign} (seq {sent['seq']})")
            for ev in pusher.events(last_seq):
                last_seq = max(last_seq, int(ev.get("seq", 0)))
                seen[ev.get("kind", "?")] = seen.get(ev.get("kind", "?"), 0) + 1
                _highlights(seen, ev)
                line = _describe(ev, callsigns, levels)
                if line:
                    click.echo(f"[{time.strftime('%H:%M:%S')}] {line}")
            for e in pusher.errors:
                click.echo(f"push refused: {e}", err=True)
            pusher.errors.clear()
            tick += 1
            tau += speed
            sleep = t_start + tick - time.monotonic()
            if sleep > 0:
                time.sleep(sleep)
    except KeyboardInterrupt:
        click.echo("stopping")
    finally:
        with contextlib.suppress(Exception):
            pusher.client.close()
    wanted = ["coalition_russia_conflict", "airspace_warning", "distress_call"]
    if sim is not None and sim.notice_events:  # the scenario's notices conflict: the demo shows it
        wanted.append("notice_conflict_new")
    shown_all = all(seen.get(k) for k in wanted)
    click.echo("summary: " + ", ".join(f"{k}={v}" for k, v in sorted(seen.items())))
    notice = ", a notice conflict" if "notice_conflict_new" in wanted else ""
    click.echo(f"demo showed a coalition/Russian conflict, a Turkish airspace warning{notice} and a distress call"
               if shown_all else f"demo ended before showing all of: coalition/Russian conflict, "
               f"airspace warning{', notice conflict' if notice else ''}, distress call")
    click.echo("demo showed a coalition/Russian conflict, a Turkish airspace warning and a distress call"
               if shown_all else "demo ended before showing all of: coalition/Russian conflict, "
               "airspace warning, distress call")
    if seen.get("advisory_coalition") and seen.get("advisory_russia"):
        click.echo("demo showed a resolution advisory on each side of the coalition/Russian encounter")
