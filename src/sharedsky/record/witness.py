"""A party's witness: follows the record, keeps its own copy, cosigns only consistent checkpoints.

Each step reads the service's latest checkpoint, fetches the entries it does not have
(`/api/v1/record?after=`), checks each one (salted commitment where the payload is
visible, the log's signature of its leaf, the parties' signatures), computes the root
itself and checks the consistency proof from the last checkpoint it cosigned. Only then
does it save the new checkpoint (atomically: written, fsynced, renamed) and, after
that, send its C2SP cosignature: a kill -9 anywhere leaves it with a checkpoint it will
never go back behind.

It refuses, keeps the evidence (both signed notes, in `evidence/`) and raises an alarm
(on its console and to the service) when it is shown a checkpoint smaller than one it
cosigned (rollback), one not consistent with its own (fork), entries that do not match
the root, or another witness's cosigned checkpoint that its own copy contradicts.
"""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from sharedsky.record.audit import check_entry
from sharedsky.record.checkpoint import (
    NoteError,
    SignedNote,
    Trust,
    cosign,
    verify_cosignature,
    verify_log_signature,
)
from sharedsky.record.log import Entry, load_public_key
from sharedsky.record.merkle import ProofError, verify_consistency
from sharedsky.record.tree import TreeStore

PAGE = 5000


@dataclass
class State:
    """The last checkpoint this witness cosigned."""

    size: int = 0
    root: bytes = b""
    note: str = ""


def write_atomically(path: Path, text: str) -> None:
    """Write, fsync, rename over, fsync the directory: the file is the old or the new, whole."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Witness:
    """One party's witness over one service; `step()` once, `run()` until stopped."""

    def __init__(self, party: str, key: Ed25519PrivateKey, trust: Trust, server: str, api_key: str,
                 store: Path, out: TextIO = sys.stderr, timeout_s: float = 30.0) -> None:
        self.party, self.key, self.trust, self.out = party, key, trust, out
        self.store = store
        store.mkdir(parents=True, exist_ok=True)
        (store / "evidence").mkdir(exist_ok=True)
        self.http = httpx.Client(base_url=server.rstrip("/"), timeout=timeout_s,
                                 headers={"Authorization": f"Bearer {api_key}"})
        self.conn = sqlite3.connect(str(store / "copy.db"), isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")
        self.conn.execute("CREATE TABLE IF NOT EXISTS copy (seq INTEGER PRIMARY KEY, kind TEXT NOT NULL, "
                          "line TEXT NOT NULL)")
        self.tree = TreeStore(self.conn)
        self.state = self._load_state()
        self.party_keys: dict[str, Ed25519PublicKey] = {}
        self.server_key: Ed25519PublicKey | None = trust.log_key
        for (line,) in self.conn.execute("SELECT line FROM copy WHERE kind IN ('genesis', 'party_key') "
                                         "ORDER BY seq").fetchall():
            self._learn(Entry.from_dict(json.loads(line)))
        self.alarms: list[tuple[str, str]] = []
        self._raised: set[str] = set()

    # -- persistence ------------------------------------------------------------------------
    def _load_state(self) -> State:
        path = self.store / "state.json"
        if not path.exists():
            return State()
        d = json.loads(path.read_text(encoding="utf-8"))
        return State(int(d["size"]), base64.b64decode(d["root"]), str(d["note"]))

    def _save_state(self, st: State) -> None:
        write_atomically(self.store / "state.json", json.dumps(
            {"size": st.size, "root": base64.b64encode(st.root).decode("ascii"), "note": st.note}))
        self.state = st

    def _learn(self, e: Entry) -> None:
        if e.payload is None:
            return
        d = e.data
        if e.kind == "genesis" and self.server_key is None:
            self.server_key = load_public_key(str(d["server_public_key"]))
        elif e.kind == "party_key":
            self.party_keys[str(d["key_id"])] = load_public_key(str(d["public_key"]))

    # -- alarms -----------------------------------------------------------------------------
    def alarm(self, kind: str, detail: str, evidence: list[str], about: str | None = None) -> None:
        """Say it on the console, keep the evidence, tell the service (if it listens).

        Raised once per kind and `about` (default: the first piece of evidence, i.e. the
        checkpoint this witness holds), so a service that keeps lying is not answered by
        an alarm a second."""
        key = kind + "\n" + (about if about is not None else evidence[0] if evidence else detail)
        if key in self._raised:
            return
        self._raised.add(key)
        self.alarms.append((kind, detail))
        print(f"ALARM {kind} ({self.party}'s witness): {detail}", file=self.out, flush=True)
        name = f"{time.strftime('%Y%m%dT%H%M%S')}-{len(self.alarms):04d}-{kind}.txt"
        write_atomically(self.store / "evidence" / name,
                         f"{kind}: {detail}\n\n" + "\n\n".join(evidence) + "\n")
        try:
            self.http.post("/api/v1/alarm", json={"kind": kind, "detail": detail, "evidence": evidence})
        except httpx.HTTPError:
            pass

    # -- one step ---------------------------------------------------------------------------
    def step(self) -> str:
        """Check the latest checkpoint and cosign it if it is consistent; what happened."""
        r = self.http.get("/api/v1/checkpoint")
        r.raise_for_status()
        text = r.text
        try:
            note = SignedNote.parse(text)
            cp = note.checkpoint
            if cp.origin != self.trust.origin:
                raise NoteError(f"origin {cp.origin!r} is not the agreement's {self.trust.origin!r}")
            if self.server_key is not None:
                verify_log_signature(note, self.trust.origin, self.server_key)
        except NoteError as exc:
            self.alarm("bad_checkpoint", str(exc), [text])
            return "refused"
        st = self.state
        if cp.size < st.size:
            self.alarm("rollback", f"shown a checkpoint of size {cp.size}, smaller than the one of size "
                       f"{st.size} this witness cosigned", [st.note, text])
            return "refused"
        if cp.size == st.size:
            if cp.root != st.root:
                self.alarm("fork", f"shown a checkpoint of size {cp.size} with another root than the one this "
                           "witness cosigned", [st.note, text])
                return "refused"
            self.gossip()
            return "nothing new"
        if not self._catch_up(note, text, st):
            return "refused"
        if st.size > 0:
            p = self.http.get("/api/v1/proof/consistency", params={"from": st.size, "to": cp.size})
            try:
                p.raise_for_status()
                proof = [base64.b64decode(h) for h in p.json()["hashes"]]
                verify_consistency(st.size, cp.size, proof, st.root, cp.root)
            except (httpx.HTTPError, ProofError, KeyError, ValueError) as exc:
                self.alarm("fork", f"checkpoint {cp.size} is not proven consistent with {st.size} ({exc})",
                           [st.note, text])
                return "refused"
        # Saved before the cosignature leaves: a crash now cannot let it cosign an older one later.
        self._save_state(State(cp.size, cp.root, text))
        ts = int(time.time())
        note.add(self.party, cosign(self.key, self.party, note.body, ts))
        try:
            self.http.post("/api/v1/cosign", json={"checkpoint": note.text()}).raise_for_status()
        except httpx.HTTPError as exc:
            print(f"{self.party}'s witness: cosignature of {cp.size} not accepted ({exc})", file=self.out)
        self.gossip()
        return f"cosigned {cp.size}"

    def _catch_up(self, note: SignedNote, text: str, st: State) -> bool:
        """Fetch and check the entries up to the checkpoint; keep them only if the root matches."""
        cp = note.checkpoint
        have = self.tree.size
        if have > cp.size or (0 < st.size < have and self.tree.root(st.size) != st.root):
            # Entries beyond the cosigned size from an earlier, refused history: drop them.
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.execute("DELETE FROM copy WHERE seq > ?", (st.size,))
            self.conn.execute("DELETE FROM merkle_node")
            self.conn.execute("COMMIT")
            self._rebuild_tree()
            have = self.tree.size
        rows: list[tuple[int, str, str]] = []
        snap = self.tree.snapshot()
        leaves: list[bytes] = []
        cr = self.tree.snapshot()
        while have + len(rows) < cp.size:
            after = have + len(rows)
            r = self.http.get("/api/v1/record", params={"after": after, "limit": min(PAGE, cp.size - after)})
            r.raise_for_status()
            lines = [ln for ln in r.text.split("\n") if ln.strip()]
            if not lines:
                self.alarm("entries_mismatch", f"the checkpoint covers {cp.size} entries, the service gave "
                           f"{after}", [text])
                return False
            for ln in lines:
                try:
                    e = Entry.from_dict(json.loads(ln))
                except (ValueError, KeyError, TypeError) as exc:
                    self.alarm("bad_entry", f"entry after {after}: malformed ({exc})", [text])
                    return False
                if e.seq != have + len(rows) + 1:
                    self.alarm("bad_entry", f"expected entry {have + len(rows) + 1}, got {e.seq}", [text])
                    return False
                # The leaves are checked together against the signed root below; each entry's
                # own commitment and party signature here.
                why = check_entry(e, None, self.party_keys)
                if why is not None:
                    self.alarm("bad_entry", f"entry {e.seq}: {why}", [text])
                    return False
                self._learn(e)
                rows.append((e.seq, e.kind, ln))
                h = e.leaf_hash()
                leaves.append(h)
                cr.append(h)
        if cr.root() != cp.root:
            self.alarm("entries_mismatch", f"the {cp.size} entries served do not have the checkpoint's root",
                       [st.note, text] if st.note else [text])
            self.tree.restore(snap)
            return False
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            self.conn.executemany("INSERT INTO copy VALUES (?,?,?)", rows)
            self.tree.append(leaves)
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            self.tree.restore(snap)
            raise
        return True

    def _rebuild_tree(self) -> None:
        self.tree = TreeStore(self.conn)
        leaves = [Entry.from_dict(json.loads(line)).leaf_hash()
                  for (line,) in self.conn.execute("SELECT line FROM copy ORDER BY seq").fetchall()]
        self.conn.execute("BEGIN IMMEDIATE")
        self.tree.append(leaves)
        self.conn.execute("COMMIT")

    def gossip(self) -> None:
        """Compare the other witnesses' cosigned checkpoints with this copy; keep the witnessed one."""
        try:
            r = self.http.get("/api/v1/witnesses")
            r.raise_for_status()
            notes = r.json().get("notes", {})
        except (httpx.HTTPError, ValueError):
            return
        for party, text in sorted(notes.items()):
            key = self.trust.witnesses.get(party)
            if party == self.party or key is None or not isinstance(text, str):
                continue
            try:
                other = SignedNote.parse(text)
                ocp = other.checkpoint
                if self.server_key is not None:
                    verify_log_signature(other, self.trust.origin, self.server_key)
            except NoteError:
                continue
            if not any(n == party and verify_cosignature(other.body, party, key, s) is not None
                       for n, s in other.sigs):
                continue
            if 0 < ocp.size <= self.state.size and self.tree.root(ocp.size) != ocp.root:
                self.alarm("fork", f"{party}'s witness cosigned a checkpoint of size {ocp.size} whose root is "
                           f"not the one of this witness's copy: the service shows parties different histories",
                           [self.state.note, text], about=party)
        try:
            r = self.http.get("/api/v1/checkpoint/witnessed")
            if r.status_code != 200:
                return
            w = SignedNote.parse(r.text)
            wcp, _ = self.trust.check(w, self.server_key)
        except (httpx.HTTPError, NoteError):
            return
        if wcp.size <= self.state.size and self.tree.root(wcp.size) == wcp.root:
            write_atomically(self.store / "witnessed.note", w.text())

    def run(self, stop: threading.Event, poll_s: float = 0.5) -> None:
        """Step every `poll_s` until `stop`; a service that is down is waited for."""
        while not stop.is_set():
            try:
                what = self.step()
                if what.startswith("cosigned"):
                    print(f"{self.party}'s witness: {what}", file=self.out, flush=True)
            except httpx.HTTPError as exc:
                print(f"{self.party}'s witness: service unreachable ({exc})", file=self.out, flush=True)
            stop.wait(poll_s)

    def copy_lines(self) -> list[str]:
        """This witness's copy of the record as JSON lines (what `verify` reads)."""
        return [line for (line,) in self.conn.execute("SELECT line FROM copy ORDER BY seq").fetchall()]

    def close(self) -> None:
        self.http.close()
        self.conn.close()


def own_note(store: Path) -> dict[str, Any]:
    """What a witness store holds: its state and latest witnessed checkpoint (for tests and humans)."""
    st = json.loads((store / "state.json").read_text()) if (store / "state.json").exists() else {}
    w = (store / "witnessed.note").read_text() if (store / "witnessed.note").exists() else None
    return {"state": st, "witnessed": w, "evidence": sorted(p.name for p in (store / "evidence").glob("*.txt"))}
