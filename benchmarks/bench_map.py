"""Frame time of the operations-room map at 5,000 aircraft updating at 1 Hz (headless chromium).

The page is served by the real service (signed in with a supervisor key). The air picture
is then driven from inside the page: every second a picture delta in which every one of N
aircraft moved is handed to the page as a JSON string (parse + apply are timed, as they would
be for a WebSocket frame), and the map is kept redrawing every animation frame by a slow pan,
the worst case (a still map redraws only on new data). Reported: median and p95 of the
draw time per frame, of the interval between animation frames (a stall shows there), and of
parse + apply per picture.

    .venv/bin/python benchmarks/bench_map.py [--aircraft 5000] [--seconds 20]
    .venv/bin/python benchmarks/bench_map.py --url http://127.0.0.1:8000/ --key ssk_...
    .venv/bin/python benchmarks/bench_map.py --replay [--aircraft 800] [--speed 60]

--replay: replay on the map (issue 18): a synthetic recording of N aircraft over 20 minutes
(a report every 2 s each) is replayed, served as by `replay RECORDING --map`, and played in
the page at --speed; reported: the interval between animation frames while playing, the
draw time, and how often a new picture of the past arrived (each one a request to the service).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]

# Runs in the page: N aircraft over the Levant, moving at 1 Hz; a slow pan forces a redraw
# on every animation frame. Resolves with the page's own timing arrays.
DRIVER_JS = """
async ([n, seconds]) => {
  const ss = window.sharedsky;
  const parties = ["coalition", "russia", "turkey", "syria", "civil"];
  const ac = [];
  let seed = 12345;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  for (let i = 0; i < n; i++) {
    ac.push({icao24: (0x100000 + i).toString(16), party: parties[i % parties.length],
             callsign: "BN" + i, latitude: 32 + rnd() * 6, longitude: 34 + rnd() * 9,
             altitude: Math.round(rnd() * 40000), groundspeed: 250 + rnd() * 250,
             track: rnd() * 360, vertical_rate: 0, squawk: i === 7 ? "7700" : "2000",
             emergency: null, t_report: 0});
  }
  const v0 = ss.view;
  ss.setView(35.0, 38.5, 7.2);
  const parseApply = [];
  const rafDt = [];
  const phases = [];
  const frames0 = ss.frameTimes.length;
  let t = Date.now() / 1000, last = performance.now(), panning = true;
  const pan = () => {
    const now = performance.now();
    rafDt.push(now - last);
    last = now;
    if (ss.phases) phases.push(ss.phases);
    const v = ss.view;
    ss.setView(v.lat, v.lon + 0.0004, v.z);
    if (panning) requestAnimationFrame(pan);
  };
  requestAnimationFrame(pan);
  for (let s = 0; s < seconds; s++) {
    t += 1;
    for (const a of ac) {
      const r = a.track * Math.PI / 180, d = a.groundspeed / 3600 / 60;
      a.latitude += d * Math.cos(r);
      a.longitude += d * Math.sin(r) / Math.cos(a.latitude * Math.PI / 180);
      a.t_report = t;
    }
    const text = JSON.stringify({type: "picture", t, full: s === 0, aircraft: ac, removed: []});
    const t0 = performance.now();
    ss.applyPicture(JSON.parse(text));
    parseApply.push(performance.now() - t0);
    await new Promise((res) => setTimeout(res, 1000));
  }
  panning = false;
  const phaseMedians = {};
  for (const k of Object.keys(phases[0] || {})) {
    const v = phases.map((p) => p[k]).sort((a, b) => a - b);
    phaseMedians[k] = v[Math.floor(v.length / 2)];
  }
  return {draw: ss.frameTimes.slice(frames0), raf: rafDt.slice(5), parseApply, phaseMedians,
          drawn: ss.drawn.length, known: ss.known.length};
}
"""


# --via-service: the service sends the pictures; the page only pans and the timings are read.
WATCH_JS = """
async ([n, seconds]) => {
  const ss = window.sharedsky;
  const t0 = Date.now();
  while (ss.known.length < n && Date.now() - t0 < 60000) await new Promise((r) => setTimeout(r, 200));
  ss.setView(35.0, 38.5, 7.2);
  const rafDt = [], phases = [];
  const frames0 = ss.frameTimes.length, applies0 = ss.applyTimes.length;
  let last = performance.now(), panning = true;
  const pan = () => {
    const now = performance.now();
    rafDt.push(now - last);
    last = now;
    if (ss.phases) phases.push(ss.phases);
    const v = ss.view;
    ss.setView(v.lat, v.lon + 0.0004, v.z);
    if (panning) requestAnimationFrame(pan);
  };
  requestAnimationFrame(pan);
  await new Promise((r) => setTimeout(r, seconds * 1000));
  panning = false;
  const phaseMedians = {};
  for (const k of Object.keys(phases[0] || {})) {
    const v = phases.map((p) => p[k]).sort((a, b) => a - b);
    phaseMedians[k] = v[Math.floor(v.length / 2)];
  }
  return {draw: ss.frameTimes.slice(frames0), raf: rafDt.slice(5), parseApply: ss.applyTimes.slice(applies0),
          phaseMedians, drawn: ss.drawn.length, known: ss.known.length};
}
"""


# --replay: play the history at a speed and time the page's frames.
REPLAY_JS = """
async ([speed, seconds]) => {
  const ss = window.sharedsky;
  const t0 = Date.now();
  while (!(ss.history.on && ss.known.length > 0) && Date.now() - t0 < 60000) await new Promise((r) => setTimeout(r, 200));
  ss.setView(46.8, 8.2, 8.0);
  const rafDt = [], phases = [];
  const frames0 = ss.frameTimes.length, applies0 = ss.applyTimes.length, h0 = ss.history.t;
  let last = performance.now(), on = true, lastFrames = ss.frameTimes.length;
  const tick = () => {
    const now = performance.now(); rafDt.push(now - last); last = now;
    if (ss.frameTimes.length !== lastFrames && ss.phases) { phases.push(ss.phases); lastFrames = ss.frameTimes.length; }
    if (on) requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
  ss.historyPlay(true, speed);
  await new Promise((r) => setTimeout(r, seconds * 1000));
  ss.historyPlay(false);
  on = false;
  const phaseMedians = {}, phaseP95 = {};
  for (const k of Object.keys(phases[0] || {})) {
    const v = phases.map((p) => p[k]).sort((a, b) => a - b);
    phaseMedians[k] = v[Math.floor(v.length / 2)];
    phaseP95[k] = v[Math.min(v.length - 1, Math.round(0.95 * (v.length - 1)))];
  }
  return {draw: ss.frameTimes.slice(frames0), raf: rafDt.slice(5), parseApply: ss.applyTimes.slice(applies0),
          phaseMedians, phaseP95, drawn: ss.drawn.length, known: ss.known.length, played_s: ss.history.t - h0};
}
"""


def _recording(n: int, minutes: float = 20.0, every_s: float = 2.0) -> Any:
    """N aircraft over Switzerland on straight tracks, a report every `every_s` (traffic columns)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(3)
    t = np.arange(0.0, minutes * 60.0, every_s)
    lat0, lon0 = rng.uniform(45.8, 47.8, n), rng.uniform(6.0, 10.5, n)
    trk, gs = rng.uniform(0, 360, n), rng.uniform(250, 480, n)
    alt = rng.choice(np.arange(5000, 41000, 1000), n).astype(float)
    tt, ii = np.meshgrid(t, np.arange(n), indexing="ij")
    d_nm = gs[ii] * tt / 3600.0
    lat = lat0[ii] + d_nm * np.cos(np.radians(trk[ii])) / 60.0
    lon = lon0[ii] + d_nm * np.sin(np.radians(trk[ii])) / 60.0 / np.cos(np.radians(lat0[ii]))
    return pd.DataFrame({
        "timestamp": pd.to_datetime(1_533_100_000 + tt.ravel(), unit="s", utc=True),
        "icao24": np.array([f"{0x400000 + i:06x}" for i in range(n)], dtype=object)[ii.ravel()],
        "callsign": np.array([f"BN{i}" for i in range(n)], dtype=object)[ii.ravel()],
        "latitude": lat.ravel(), "longitude": lon.ravel(), "altitude": alt[ii].ravel(),
        "groundspeed": gs[ii].ravel(), "track": trk[ii].ravel(), "vertical_rate": np.zeros(tt.size),
    })


def _replay_service(tmp: Path, n: int) -> Any:
    """The recording replayed and served as `replay RECORDING --map` does; the running service."""
    import numpy as np

    from sharedsky.alerting.step import Assessment
    from sharedsky.commands.common import uniform_levels
    from sharedsky.commands.replay_map import agreement_for_all, start_map
    from sharedsky.replay.run import replay_batches

    rec = _recording(n)
    party = np.zeros(len(rec), dtype=np.int32)
    levels = uniform_levels(1, 5.0, 1000.0, 300.0, True)
    t0 = time.perf_counter()
    events = list(replay_batches(iter([(rec, party)]), Assessment.for_agreement(None, levels=levels), ("all",)))
    print(f"replayed {len(rec):,} reports of {n} aircraft in {time.perf_counter() - t0:.1f} s: {len(events)} events",
          file=sys.stderr)
    return start_map(tmp, agreement_for_all(tmp, "synthetic", 5.0, 1000.0, 300.0), rec, party, events,
                     levels=levels, max_age_s=20.0, step_s=1.0)


def _pusher(url: str, key: str, n: int, stop: Any) -> None:
    """Push n coalition aircraft (US military ICAO block) to the service at 1 Hz."""
    import math
    import random

    import httpx

    rnd = random.Random(1)
    ac: list[dict[str, Any]] = [{"icao24": f"{0xAE0000 + i:06x}", "callsign": f"RCH{i}", "latitude": 32 + rnd.random() * 6,
           "longitude": 34 + rnd.random() * 9, "altitude": float(rnd.randrange(1000, 40000, 500)),
           "groundspeed": 250 + rnd.random() * 250, "track": rnd.random() * 360, "vertical_rate": 0.0,
           "squawk": "2000"} for i in range(n)]
    with httpx.Client(base_url=url, timeout=30, headers={"Authorization": f"Bearer {key}"}) as c:
        while not stop.is_set():
            now = time.time()
            for a in ac:
                r = math.radians(a["track"])
                d = a["groundspeed"] / 3600 / 60
                a["latitude"] = round(a["latitude"] + d * math.cos(r), 5)
                a["longitude"] = round(a["longitude"] + d * math.sin(r) / math.cos(math.radians(a["latitude"])), 5)
            c.post("/api/v1/reports", json={"reports": [{"timestamp": now, **a} for a in ac]})
            stop.wait(max(0.0, 1.0 - (time.time() - now)))


def _print_profile(profile: dict[str, Any], wall_s: float, top: int = 25) -> None:
    """The page's CPU time by function (self time, from a V8 sampling profile), to stderr."""
    nodes = {n["id"]: n for n in profile["nodes"]}
    deltas = profile.get("timeDeltas", [])
    self_ms: dict[str, float] = {}
    for sample, dt in zip(profile.get("samples", []), deltas, strict=False):
        cf = nodes[sample]["callFrame"]
        url = cf.get("url", "").rsplit("/", 1)[-1]
        name = f"{cf.get('functionName') or '(anonymous)'} {url}:{cf.get('lineNumber', 0) + 1}" if url else \
            cf.get("functionName") or "(anonymous)"
        self_ms[name] = self_ms.get(name, 0.0) + dt / 1000.0
    busy = sum(v for k, v in self_ms.items() if k not in ("(idle)", "(program)"))
    print(f"CPU profile of the page: {busy / 1000:.1f} s busy in {wall_s:.1f} s (self time, top {top})",
          file=sys.stderr)
    for name, ms in sorted(self_ms.items(), key=lambda kv: -kv[1])[:top]:
        print(f"  {ms:9.1f} ms  {name}", file=sys.stderr)


def pct(xs: list[float], q: float) -> float:
    """The q-th percentile (nearest rank) of xs."""
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, round(q / 100 * (len(s) - 1))))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--aircraft", type=int, default=5000)
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--width", type=int, default=1600)
    ap.add_argument("--height", type=int, default=900)
    ap.add_argument("--url", help="a running service (default: start one on loopback)")
    ap.add_argument("--key", help="a supervisor key for --url")
    ap.add_argument("--via-service", action="store_true",
                    help="push the aircraft through the real service (POST /api/v1/reports at 1 Hz) and "
                         "let its WebSocket deltas drive the page, instead of injecting pictures")
    ap.add_argument("--replay", action="store_true",
                    help="replay on the map: play a recording of --aircraft aircraft at --speed (see above)")
    ap.add_argument("--speed", type=float, default=60.0, help="with --replay: the playing speed")
    ap.add_argument("--profile", action="store_true",
                    help="print the page's CPU time by function (V8 sampling profiler) to stderr")
    ap.add_argument("--hash", default="", help="view options in the URL hash, e.g. trails=0")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args()
    if not Path(CHROMIUM).exists():
        print(f"bench_map: {CHROMIUM} not found (apt-get install chromium); skipped", file=sys.stderr)
        return 0
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        service = None
        if args.replay:
            service = _replay_service(Path(tmp), args.aircraft)
            url, key = service.url, service.supervisor_key
        elif args.url:
            url, key = args.url, args.key
        else:
            from sharedsky.commands.demo import DemoService

            service = DemoService.start(Path(tmp), port=0)
            url, key = service.url, service.supervisor_key
        stop = threading.Event()
        if args.via_service:
            if service is None:
                ap.error("--via-service starts its own service (no --url)")
            threading.Thread(target=_pusher, args=(url, service.keys["coalition"], args.aircraft, stop),
                             daemon=True).start()
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": args.width, "height": args.height})
                page.goto(f"{url.rstrip('/')}/?key={key}#{args.hash}")
                page.wait_for_function("() => window.sharedsky && window.sharedsky.ready", timeout=30000)
                cdp = None
                if args.profile:
                    cdp = page.context.new_cdp_session(page)
                    cdp.send("Profiler.enable")
                    cdp.send("Profiler.setSamplingInterval", {"interval": 200})
                    cdp.send("Profiler.start")
                t0 = time.perf_counter()
                if args.replay:
                    res = page.evaluate(REPLAY_JS, [args.speed, args.seconds])
                else:
                    res = page.evaluate(WATCH_JS if args.via_service else DRIVER_JS, [args.aircraft, args.seconds])
                wall = time.perf_counter() - t0
                if cdp is not None:
                    _print_profile(cdp.send("Profiler.stop")["profile"], wall)
                browser.close()
        finally:
            stop.set()
            if service is not None:
                service.stop()
    out = {
        "aircraft": args.aircraft, "known": res["known"], "drawn_last_frame": res["drawn"],
        "viewport": f"{args.width}x{args.height}", "seconds": round(wall, 1),
        "frames": len(res["draw"]),
        "draw_ms_median": round(statistics.median(res["draw"]), 2),
        "draw_ms_p95": round(pct(res["draw"], 95), 2),
        "frame_interval_ms_median": round(statistics.median(res["raf"]), 2),
        "frame_interval_ms_p95": round(pct(res["raf"], 95), 2),
        "frame_interval_ms_max": round(max(res["raf"]), 2),
        "pictures_per_s": round(len(res["parseApply"]) / wall, 2),
        "played_s": round(res.get("played_s", 0.0), 1),
        "parse_apply_ms_median": round(statistics.median(res["parseApply"]), 2),
        "parse_apply_ms_p95": round(pct(res["parseApply"], 95), 2),
        "draw_phase_ms_median": {k: round(v, 2) for k, v in res["phaseMedians"].items()},
        "draw_phase_ms_p95": {k: round(v, 2) for k, v in res.get("phaseP95", {}).items()},
    }
    if args.json:
        print(json.dumps(out))
    else:
        print((f"replay on the map at {args.speed:g}x ({out['played_s']} s of the past played): " if args.replay
               else "via the service's WebSocket: " if args.via_service else "pictures injected in the page: ")
              + f"map at {out['aircraft']} aircraft ({out['drawn_last_frame']} in view, "
              f"{out['viewport']}, headless chromium, software raster), {out['frames']} frames "
              f"in {out['seconds']} s")
        print(f"  draw per frame      median {out['draw_ms_median']:7.2f} ms   p95 {out['draw_ms_p95']:7.2f} ms")
        print(f"  frame interval      median {out['frame_interval_ms_median']:7.2f} ms   "
              f"p95 {out['frame_interval_ms_p95']:7.2f} ms   max {out['frame_interval_ms_max']:.1f} ms")
        print("  draw phases (median ms): " + ", ".join(f"{k} {v}" for k, v in out["draw_phase_ms_median"].items()))
        if out["draw_phase_ms_p95"]:
            print("  draw phases (p95 ms): " + ", ".join(f"{k} {v}" for k, v in out["draw_phase_ms_p95"].items()))
        if args.replay:
            print(f"  pictures of the past: {out['pictures_per_s']} / s")
        print(f"  parse+apply / 1 Hz  median {out['parse_apply_ms_median']:7.2f} ms   p95 {out['parse_apply_ms_p95']:7.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
