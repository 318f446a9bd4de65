"""Three parties' witnesses and the service on loopback (issue 15, must show).

10,000 entries; every witness ends with the same witnessed checkpoint. A Turkish warning
to Russia is delivered (Russia's node cosigned a checkpoint covering it) and proven
offline; a copy cut by 10 entries and a message stripped of its party signature are
named by `verify`. Then the service misbehaves: it forks (Russia is shown another
history of the same sizes: no checkpoint gets the quorum, both sides alarm and keep the
evidence), and it restarts from an old copy of its database (every witness refuses and
alarms, one of them killed with SIGKILL and restarted just before).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from service_support import Server, wait_until
from sharedsky.agreement import load_agreement
from sharedsky.client import Client
from sharedsky.record.keys import KeyStore
from sharedsky.record.log import (
    Record,
    load_or_create_server_key,
    private_key_b64,
    public_key_b64,
    server_key_path,
)
from sharedsky.record.notary import trust_of
from sharedsky.record.proof import verify_proof

from conftest import REPO, run_cli

PARTIES = ("coalition", "russia", "turkey")
pytestmark = pytest.mark.slow


def _agreement(log_key: str, witnesses: dict[str, str]) -> str:
    parties = "\n".join(f'[[party]]\nid = "{p}"\nname = "{p.title()}"\n' for p in PARTIES)
    keys = "\n".join(f'{p} = "{k}"' for p, k in witnesses.items())
    return f"""
[agreement]
name = "Syria 2015 test"
default_party = "unknown"

{parties}
[[party]]
id = "unknown"
name = "Unattributed"

[channels]
ack_within_s = 600

[record]
log_key = "{log_key}"
quorum = "all"
deliver_within_s = 60

[record.witnesses]
{keys}
"""


class Witnesses:
    """Three `sharedsky witness` processes."""

    def __init__(self, tmp: Path, agreement: Path, keys: dict[str, str], key_files: dict[str, Path]) -> None:
        self.tmp, self.agreement, self.keys, self.key_files = tmp, agreement, keys, key_files
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def store(self, p: str) -> Path:
        return self.tmp / f"witness-{p}"

    def start(self, url: str, parties: tuple[str, ...] = PARTIES) -> None:
        for p in parties:
            log = open(self.tmp / f"witness-{p}.log", "ab")
            self.procs[p] = subprocess.Popen(
                [sys.executable, "-m", "sharedsky.cli", "witness", "--party", p, "--key", str(self.key_files[p]),
                 "--server", url, "--store", str(self.store(p)), "--agreement", str(self.agreement),
                 "--poll-s", "0.2"],
                cwd=REPO, env={**os.environ, "SHAREDSKY_API_KEY": self.keys[p]}, stdout=log, stderr=log)

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()

    def state(self, p: str) -> dict:
        f = self.store(p) / "state.json"
        return json.loads(f.read_text()) if f.exists() else {"size": 0}

    def evidence(self, p: str, kind: str) -> list[Path]:
        return sorted((self.store(p) / "evidence").glob(f"*-{kind}.txt"))

    def console(self, p: str) -> str:
        return (self.tmp / f"witness-{p}.log").read_text()


def _witnessed(url: str, key: str) -> tuple[int, str]:
    r = httpx.get(url + "/api/v1/checkpoint/witnessed", headers={"Authorization": f"Bearer {key}"})
    if r.status_code != 200:
        return 0, ""
    return int(r.text.split("\n")[1]), r.text


def test_three_witnesses_delivery_proofs_fork_and_rollback(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    log_key = public_key_b64(load_or_create_server_key(server_key_path(db)).public_key())
    wkeys = {p: Ed25519PrivateKey.generate() for p in PARTIES}
    key_files = {}
    for p, k in wkeys.items():
        key_files[p] = tmp_path / f"{p}.witness.key"
        key_files[p].write_text(private_key_b64(k) + "\n")
    agreement = tmp_path / "agreement.toml"
    agreement.write_text(_agreement(log_key, {p: public_key_b64(k.public_key()) for p, k in wkeys.items()}))

    ks = KeyStore(db)
    issued = {p: ks.issue(p) for p in PARTIES}
    sup = ks.issue("un", supervisor=True)
    ks.close()
    # 10,000 entries in batches: report batches of the three parties, long before now (the
    # service does not replay them into the live picture), each party's withheld from the others.
    rec = Record(db)
    t_old = time.time() - 7200
    n0 = rec.size
    for b in range(20):
        rec.append_many([("reports", PARTIES[i % 3], {"source": PARTIES[i % 3], "columns": {"n": b * 500 + i}}, None)
                         for i in range(500)], t=t_old + b)
    assert rec.size == n0 + 10_000
    rec.close()

    server = Server(agreement, db).start()
    wit = Witnesses(tmp_path, agreement, {p: issued[p].api_key for p in PARTIES}, key_files)
    try:
        wit.start(server.url)
        # A Turkish warning to Russia, signed by Turkey.
        turkey = Client(server.url, issued["turkey"].api_key, signing_key=issued["turkey"].signing_key)
        warn = turkey.request("russia", "Su-24 at 36.0N 36.1E: you are 5 NM from Turkish airspace, turn south "
                              "now.", time.time() + 600)
        sup_client = Client(server.url, sup.api_key)

        def delivered() -> bool:
            return any(e["kind"] == "delivered" and e["of_seq"] == warn and e["party"] == "russia"
                       for e in sup_client.events(after=warn))

        wait_until(delivered, 90, "the warning delivered to Russia's node")
        size = httpx.get(server.url + "/metrics", headers={"Authorization": f"Bearer {sup.api_key}"}).json()["last_seq"]
        assert size > 10_000

        def all_same() -> bool:
            sizes = {wit.state(p)["size"] for p in PARTIES}
            w, text = _witnessed(server.url, sup.api_key)
            files = [wit.store(p) / "witnessed.note" for p in PARTIES]
            return (len(sizes) == 1 and sizes == {w} and w >= warn
                    and all(f.exists() and f.read_text() == text for f in files))
        wait_until(all_same, 60, "the three witnesses on one witnessed checkpoint")
        notes = {(wit.store(p) / "witnessed.note").read_text() for p in PARTIES}
        assert len(notes) == 1  # the same witnessed checkpoint, with all three cosignatures
        note = notes.pop()
        assert all(f"\u2014 {p} " in note for p in PARTIES)
        ev = next(e for e in sup_client.events(after=warn) if e["kind"] == "delivered" and e["of_seq"] == warn)
        assert ev["sent_t"] <= ev["cosigned_t"] + 1

        # (e) the proof of the warning, checked offline; one byte changed is refused.
        proof_file = tmp_path / "warning.proof.json"
        res = run_cli("prove", str(warn), "--record", server.url, "--out", str(proof_file),
                      "--api-key", issued["turkey"].api_key)
        assert res.returncode == 0, res.stderr
        res = run_cli("verify", str(proof_file), "--agreement", str(agreement))
        assert res.returncode == 0, res.stderr
        assert f"entry {warn} (request from turkey), signed by its party" in res.stdout
        assert "coalition, russia, turkey cosigned" in res.stdout
        raw = proof_file.read_bytes()
        d = json.loads(raw)
        trust = trust_of(load_agreement(agreement))
        assert verify_proof(d, trust).ok
        for needle in (b"turn south", d["entry"]["commitment"][:20].encode(), d["inclusion"]["hashes"][-1][:20].encode(),
                       d["checkpoint"].split("\n")[2][:20].encode(), b'"party": "turkey'):
            pos = raw.find(needle) + len(needle) - 1
            assert pos >= len(needle) - 1
            bad = bytearray(raw)
            bad[pos] = ord("X") if bad[pos] != ord("X") else ord("Y")
            assert not verify_proof(json.loads(bytes(bad)), trust).ok, needle
        (tmp_path / "bad.proof.json").write_bytes(bytes(bad))
        res = run_cli("verify", str(tmp_path / "bad.proof.json"), "--agreement", str(agreement))
        assert res.returncode == 1 and "REFUSED" in res.stderr
        pos = raw.find("\u2014 russia ".encode())
        assert pos > 0
        bad = bytearray(raw)
        pos += 40  # a byte of Russia's cosignature (base64)
        bad[pos] = ord("A") if bad[pos] != ord("A") else ord("B")
        checked = verify_proof(json.loads(bytes(bad)), trust)
        assert not checked.ok and "quorum" in checked.reason

        # (c) Russia's copy with its last 10 entries cut: verify names the cut against the
        # witnessed checkpoint. (d) Turkey's copy with the warning's signature removed.
        wsize = int(note.split("\n")[1])
        (tmp_path / "witnessed.note").write_text(note)
        conn = sqlite3.connect(wit.store("russia") / "copy.db")
        lines = [ln for (ln,) in conn.execute("SELECT line FROM copy WHERE seq <= ? ORDER BY seq", (wsize,))]
        conn.close()
        assert len(lines) == wsize
        (tmp_path / "russia.jsonl").write_text("\n".join(lines) + "\n")
        ok = run_cli("verify", str(tmp_path / "russia.jsonl"), "--checkpoint", str(tmp_path / "witnessed.note"),
                     "--agreement", str(agreement))
        assert ok.returncode == 0, ok.stderr
        assert "withheld" in ok.stdout  # the other parties' reports
        (tmp_path / "cut.jsonl").write_text("\n".join(lines[:-10]) + "\n")
        cut = run_cli("verify", str(tmp_path / "cut.jsonl"), "--checkpoint", str(tmp_path / "witnessed.note"),
                      "--agreement", str(agreement))
        assert cut.returncode == 1
        assert f"entries {wsize - 9} to {wsize} are missing" in cut.stderr and "10 entries cut" in cut.stderr
        conn = sqlite3.connect(wit.store("turkey") / "copy.db")
        tlines = [json.loads(ln) for (ln,) in conn.execute("SELECT line FROM copy WHERE seq <= ? ORDER BY seq",
                                                             (wsize,))]
        conn.close()
        target = tlines[warn - 1]
        assert target["kind"] == "request" and target["party_sig"]
        target["party_sig"] = None
        (tmp_path / "nosig.jsonl").write_text("".join(json.dumps(d) + "\n" for d in tlines))
        nosig = run_cli("verify", str(tmp_path / "nosig.jsonl"), "--checkpoint", str(tmp_path / "witnessed.note"),
                        "--agreement", str(agreement))
        assert nosig.returncode == 1 and f"entry {warn}: the signature of 'turkey' was removed" in nosig.stderr

        # A copy of the database as it is now, for the rollback below.
        old = tmp_path / "old.db"
        with sqlite3.connect(db) as src, sqlite3.connect(old) as dst:
            src.backup(dst)
        before_fork = wsize
        with sqlite3.connect(old) as conn:
            old_size = conn.execute("SELECT MAX(seq) FROM record").fetchall()[0][0]

        # (a) fork: the service shows Russia another history of the same sizes.
        server.stop()
        os.environ["SHAREDSKY_TEST_MISBEHAVE"] = "fork:russia"
        try:
            server = _same_port(Server(agreement, db), server).start()
        finally:
            del os.environ["SHAREDSKY_TEST_MISBEHAVE"]
        coalition = Client(server.url, issued["coalition"].api_key)
        coalition.notice({"type": "Polygon", "coordinates": [[[36, 36], [36.5, 36], [36.5, 36.5], [36, 36]]]},
                         0, 30000, time.time() + 7200, time.time() + 10800, text="Strike package, sector 4")
        wait_until(lambda: wit.evidence("coalition", "fork") and wit.evidence("russia", "fork"), 60,
              "both sides of the fork alarm")
        assert wit.state("russia")["size"] > before_fork and wit.state("coalition")["size"] > before_fork
        assert _witnessed(server.url, sup.api_key)[0] == before_fork or _witnessed(server.url, sup.api_key)[0] < \
            wit.state("coalition")["size"]
        evidence = wit.evidence("coalition", "fork")[0].read_text()
        assert evidence.count("\u2014 Syria") == 0 and evidence.count("\n\u2014 ") >= 3  # both signed notes
        assert "ALARM fork" in wit.console("coalition") and "ALARM fork" in wit.console("russia")
        alarms = [e for e in sup_client_events(server.url, sup.api_key) if e["kind"] == "witness_alarm"]
        assert {e["party"] for e in alarms} >= {"coalition", "russia"}

        # The record grows well past the old copy (40 requests, 40 entries) and the two
        # witnesses shown the true history cosign it: a service restarted from the old copy
        # cannot append enough before they look to hide that it went back.
        for i in range(40):
            coalition.request("turkey", f"Tanker track {i} moves 2 NM east at 18:00", time.time() + 3600)
        grown = old_size + 40
        wait_until(lambda: all(wit.state(p)["size"] >= grown for p in ("coalition", "turkey")), 60,
              "coalition's and Turkey's witnesses cosign the grown record")

        # (b) rollback: the service restarts from the old copy of its database. Turkey's node
        # is killed (SIGKILL) first and restarted: what it cosigned survives in its store.
        cosigned = wit.state("turkey")
        before = {p: {k: len(wit.evidence(p, k)) for k in ("rollback", "entries_mismatch", "fork")}
                  for p in PARTIES}
        os.kill(wit.procs["turkey"].pid, signal.SIGKILL)
        wit.procs["turkey"].wait(10)
        server.stop()
        for f in tmp_path.glob("s.db*"):
            if f.name != "s.db.key":
                f.unlink()
        old.rename(db)
        server = _same_port(Server(agreement, db), server).start()
        wit.start(server.url, ("turkey",))
        # Each witness refuses and alarms with evidence. The other witnesses' alarms are
        # themselves appended to the rolled-back record, so a witness that looks after they
        # landed is shown a history as long as the one it cosigned but not consistent with it:
        # it alarms that (entries that do not match, or a fork) rather than a smaller size.
        refused = ("rollback", "entries_mismatch", "fork")

        def alarmed(p: str) -> set[str]:
            """The kinds of alarm p raised since the rollback (not those of the fork above)."""
            return {k for k in refused if len(wit.evidence(p, k)) > before[p][k]}

        wait_until(lambda: all(alarmed(p) for p in PARTIES), 30, "every witness alarms the rollback")
        # the two that cosigned 40 entries beyond the old copy see a smaller checkpoint
        assert all("rollback" in alarmed(p) for p in ("coalition", "turkey")), {p: alarmed(p) for p in PARTIES}
        for p in PARTIES:
            assert wit.state(p)["size"] > old_size  # never went back
        assert wit.state("turkey")["size"] >= cosigned["size"]
        time.sleep(1.5)  # a checkpoint or two of the rolled-back service: none gets witnessed
        w, _ = _witnessed(server.url, sup.api_key)
        assert w <= old_size
        # The whole record, against its own latest witnessed checkpoint, with the agreement's keys.
        whole = run_cli("verify", str(db), "--agreement", str(agreement))
        assert whole.returncode == 0, whole.stderr
        assert "match the checkpoint, cosigned by coalition, russia, turkey" in whole.stdout
    finally:
        wit.stop()
        server.stop()


def _same_port(new: Server, old: Server) -> Server:
    """The restarted service where the witnesses look for it."""
    new.port, new.url = old.port, old.url
    return new


def sup_client_events(url: str, key: str) -> list[dict]:
    return Client(url, key).events(after=0, limit=10000)
