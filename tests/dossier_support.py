"""A real incident record for the dossier tests: the service and both parties' witnesses on loopback.

A red aircraft crosses into blue's airspace after its warning while a blue aircraft passes it
500 ft apart (a predicted conflict, then a loss of separation); blue sends red a signed
request, red acknowledges the warning. Both witnesses (`sharedsky witness`) cosign until a
witnessed checkpoint covers everything; red's copy of the record is downloaded too.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from service_support import REPO, Keys, Server, agreement_text, issue_keys, wait_until
from sharedsky.client import Client
from sharedsky.record.log import (
    load_or_create_server_key,
    private_key_b64,
    public_key_b64,
    server_key_path,
)

PARTIES = ("blue", "red")


@dataclass
class IncidentRecord:
    agreement: Path
    db: Path
    red_copy: Path
    airspace_seq: int  # the first airspace warning's seq
    los_seq: int  # the loss of separation's seq
    request_seq: int
    keys: Keys | None = None  # the parties' and the supervisor's API keys (in the record's key store)


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def make_incident_record(tmp: Path, seconds: int = 16) -> IncidentRecord:
    """Fly the incident through a real service with real witnesses; about `seconds` + 10 s."""
    db = tmp / "s.db"
    log_key = public_key_b64(load_or_create_server_key(server_key_path(db)).public_key())
    wkeys = {p: Ed25519PrivateKey.generate() for p in PARTIES}
    key_files = {}
    for p, wk in wkeys.items():
        key_files[p] = tmp / f"{p}.witness.key"
        key_files[p].write_text(private_key_b64(wk) + "\n")
    record = (f'\n[record]\nlog_key = "{log_key}"\nquorum = "all"\ndeliver_within_s = 60\n\n[record.witnesses]\n'
              + "".join(f'{p} = "{public_key_b64(wk.public_key())}"\n' for p, wk in wkeys.items()))
    agreement = tmp / "a.toml"
    agreement.write_text(agreement_text(ack_within_s=600, airspace=True) + record)
    keys = issue_keys(db)
    server = Server(agreement, db).start()
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for p, api in (("blue", keys.blue), ("red", keys.red)):
            log = open(tmp / f"witness-{p}.log", "ab")
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "sharedsky.cli", "witness", "--party", p, "--key", str(key_files[p]),
                 "--server", server.url, "--store", str(tmp / f"witness-{p}"), "--agreement", str(agreement),
                 "--poll-s", "0.2"], cwd=REPO, env={**os.environ, "SHAREDSKY_API_KEY": api}, stdout=log, stderr=log))
        red = Client(server.url, keys.red, signing_key=keys.red_sign)
        blue = Client(server.url, keys.blue, signing_key=keys.blue_sign)
        sup = Client(server.url, keys.sup)
        t0 = time.time()
        # Red 1.2 NM south of blue's airspace (36N), north at 480 kt, FL200; blue 7 NM north of red, south
        # at 400 kt, 500 ft above, 0.5 NM east: red enters after about 9 s, separation lost after about 10 s.
        request_seq = 0
        acked = False
        for k in range(seconds):
            now = time.time()
            dt = now - t0
            red.push_reports([{"timestamp": now, "icao24": "bb0101", "callsign": "RED11",
                               "latitude": 35.98 + 480 / 3600 / 60 * dt, "longitude": 36.5, "altitude": 20000,
                               "groundspeed": 480, "track": 0, "vertical_rate": 0}])
            blue.push_reports([{"timestamp": now, "icao24": "aa0101", "callsign": "BLU21",
                                "latitude": 36.1 - 400 / 3600 / 60 * dt, "longitude": 36.51, "altitude": 20500,
                                "groundspeed": 400, "track": 180, "vertical_rate": 0}])
            if k == 4:
                request_seq = blue.request("red", "RED11: you are entering blue airspace, turn south now",
                                           time.time() + 300)
            if k >= 3 and not acked:
                warn = [e for e in red.events() if e["kind"] == "airspace" and e["state"] == "warning"]
                if warn:
                    red.ack(warn[0]["seq"])
                    acked = True
            time.sleep(max(0.0, t0 + k + 1 - time.time()))
        events = sup.events()
        airspace = [e for e in events if e["kind"] == "airspace" and e["state"] == "warning"]
        los = [e for e in events if e["kind"] == "loss_of_separation"]
        assert airspace and los, [(e["kind"], e.get("state")) for e in events]
        last = max(e["seq"] for e in events)

        def witnessed() -> bool:
            try:
                return int(sup.checkpoint(witnessed=True).split("\n")[1]) >= last
            except Exception:  # noqa: BLE001 - not yet witnessed (404)
                return False

        wait_until(witnessed, 60, "a witnessed checkpoint covering the incident")
        _stop(procs)
        # Red's copy, taken after its witness stopped: it holds everything red's last witnessed
        # checkpoint (witness-red/witnessed.note) covers.
        red_copy = tmp / "red-copy.jsonl"
        red.download_record(str(red_copy))
        for c in (red, blue, sup):
            c.close()
    finally:
        _stop(procs)
        server.stop()
    return IncidentRecord(agreement, db, red_copy, airspace[0]["seq"], los[0]["seq"], request_seq, keys)
