"""The two dossiers shown in the README (issue 16): a Su-24-like incursion and a coalition/Russian loss of separation.

Runs the service on loopback with the Syria 2015 agreement plus a `[record]` naming the log key
and the three parties' witnesses (each party's `Witness` in a thread, as `sharedsky witness` runs
it), flies a scripted encounter for two and a half minutes of real time (no time scaling: reported
speeds are the speeds flown), then builds each dossier (`sharedsky report`), prints it to PDF and
turns its pages into PNGs under `docs/dossier/`; it times each build and checks each with `verify`.

    PYTHONPATH=src .venv/bin/python benchmarks/dossier_docs.py [--out docs/dossier] [--seconds 120]

The scripted traffic: RFF2102 (Russia) 7 NM south of the Turkish border at 38 E, north at 420 kt
at FL200: warned at once, Turkey sends five warnings on the line 10 s apart, it crosses, turns
back south and leaves; RCH451 (coalition) and RFF2101 (Russia) head-on at FL250 16 NM apart: a
predicted conflict, the coalition asks Russia on the line to climb, Russia acknowledges and climbs
too late: a loss of separation.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from sharedsky.commands.demo import Actor, DemoService, Script, _offset, _Pusher  # noqa: E402
from sharedsky.record.log import load_or_create_server_key, public_key_b64, server_key_path  # noqa: E402

PARTIES = ("coalition", "russia", "turkey")


def _agreement(tmp: Path, witness_keys: dict[str, Ed25519PrivateKey]) -> Path:
    log_key = public_key_b64(load_or_create_server_key(server_key_path(tmp / "sharedsky.db")).public_key())
    text = (REPO / "examples" / "syria-2015.toml").read_text()
    text += (f'\n[record]\nlog_key = "{log_key}"\nquorum = "all"\ndeliver_within_s = 30\n\n[record.witnesses]\n'
             + "".join(f'{p} = "{public_key_b64(k.public_key())}"\n' for p, k in witness_keys.items()))
    path = tmp / "syria-2015-witnessed.toml"
    path.write_text(text)
    return path


def fly(tmp: Path, seconds: float) -> tuple[Path, Path, int, int]:
    """The encounter through the service with three witnesses; (db, agreement, incursion seq, LoS seq)."""
    from sharedsky.record.notary import trust_of
    from sharedsky.record.witness import Witness

    wkeys = {p: Ed25519PrivateKey.generate() for p in PARTIES}
    agreement_path = _agreement(tmp, wkeys)
    svc = DemoService.start(tmp, agreement_path)
    trust = trust_of(svc.agreement)
    stop = threading.Event()
    log = open(tmp / "witnesses.log", "w")
    threads = []
    def witness(p: str) -> None:  # made in its own thread: its SQLite copy is used there only
        Witness(p, wkeys[p], trust, svc.url, svc.keys[p], tmp / f"witness-{p}", out=log).run(stop, 0.5)

    for p in PARTIES:
        th = threading.Thread(target=witness, args=(p,), daemon=True)
        th.start()
        threads.append(th)
    pusher = _Pusher(svc)
    blat, blon = _offset(*Script.BORDER_AT, 180, 7.0)
    clat, clon = 35.60, 39.30
    wlat, wlon = _offset(clat, clon, 270, 8.0)
    elat, elon = _offset(clat, clon, 90, 8.0)
    su24 = Actor("russia", "150a02", "RFF2102", blat, blon, 20000, 420, 0, turn_dps=4.0)
    rch = Actor("coalition", "ae5d01", "RCH451", wlat, wlon, 25000, 450, 90)
    rff = Actor("russia", "150a01", "RFF2101", elat, elon, 25000, 450, 270, climb_fpm=1500)
    actors = [su24, rch, rff]
    t0 = time.monotonic()
    tick = 0
    acked: set[int] = set()
    try:
        while time.monotonic() - t0 < seconds:
            now = time.time()
            by_party: dict[str, list[dict]] = {}
            for x in actors:
                by_party.setdefault(x.party, []).append(x.report(now))
            pusher.push(by_party)
            if tick in (5, 15, 25, 35, 45):
                pusher.post("/api/v1/messages", "turkey", {
                    "type": "REQUEST", "to": "russia", "deadline": now + 60,
                    "text": f"Turkish Air Force to RFF2102 at FL200 near {su24.lat:.2f}N {su24.lon:.2f}E: you are "
                            "approaching Turkish airspace, change your heading south immediately"})
            if tick == 12:
                pusher.post("/api/v1/messages", "coalition", {
                    "type": "REQUEST", "to": "russia", "deadline": now + 60,
                    "text": "RCH451 at FL250 eastbound: RFF2101 climb to FL290 now"})
            for ev in pusher.events(0):
                if ev["kind"] == "conflict" and ev.get("state") == "new" and ev["seq"] not in acked and tick >= 20:
                    pusher.post("/api/v1/ack", "russia", {"seq": ev["seq"]})
                    acked.add(ev["seq"])
                    rff.target_alt_ft = 29000
            if tick == 62:
                su24.target_trk_deg = 180.0
            for x in actors:
                x.advance(1.0)
            tick += 1
            time.sleep(max(0.0, t0 + tick - time.monotonic()))
        events = pusher.events(0)
        last = max(e["seq"] for e in events)
        sup = svc.supervisor_key
        t_wait = time.monotonic()
        while time.monotonic() - t_wait < 60:
            r = pusher.client.get("/api/v1/checkpoint/witnessed", headers={"Authorization": f"Bearer {sup}"})
            if r.status_code == 200 and int(r.text.split("\n")[1]) >= last:
                break
            time.sleep(0.5)
    finally:
        stop.set()
        for th in threads:
            th.join(10)
        pusher.client.close()
        svc.stop()
    incursion = next(e["seq"] for e in events if e["kind"] == "airspace" and e.get("icao24") == "150a02"
                     and e.get("state") == "violation")
    los = next(e["seq"] for e in events if e["kind"] == "loss_of_separation")
    return tmp / "sharedsky.db", agreement_path, incursion, los


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "dossier")
    ap.add_argument("--seconds", type=float, default=150.0)
    ap.add_argument("--keep", type=Path, help="Also keep the record, agreement and HTML/PDF dossiers here.")
    args = ap.parse_args()
    import subprocess

    import pypdfium2 as pdfium

    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="sharedsky-dossier-") as td:
        tmp = Path(args.keep or td)
        tmp.mkdir(parents=True, exist_ok=True)
        db, agreement, incursion, los = fly(tmp, args.seconds)
        for name, seq in (("incursion", incursion), ("loss-of-separation", los)):
            t = time.perf_counter()
            r = subprocess.run([sys.executable, "-m", "sharedsky.cli", "report", str(db), "--agreement",
                                str(agreement), "--seq", str(seq), "--out", str(tmp), "--name", name],
                               capture_output=True, text=True, cwd=REPO)
            took = time.perf_counter() - t
            if r.returncode != 0:
                raise SystemExit(r.stderr)
            v = subprocess.run([sys.executable, "-m", "sharedsky.cli", "verify", str(tmp / f"{name}.html"),
                                "--agreement", str(agreement)], capture_output=True, text=True, cwd=REPO)
            print(f"{name}: entry {seq}; report {took:.1f} s (with PDF); {v.stdout.strip() or v.stderr.strip()}")
            pdf = pdfium.PdfDocument(str(tmp / f"{name}.pdf"))
            for i in range(len(pdf)):
                png = args.out / f"{name}-page{i + 1}.png"
                pdf[i].render(scale=1.0).to_pil().save(png, optimize=True)
                print(f"  {png.relative_to(REPO) if png.is_relative_to(REPO) else png}")


if __name__ == "__main__":
    main()
