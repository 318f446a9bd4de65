"""The dossier's frame, stated so `verify` can state it again: the title (the incident's entry and
time), what it was built from (window, entries cited, checkpoint, witnesses), the agreement's rules
that applied, the keys' fingerprints and the checkpoint itself.

`dossier_facts` states what the entries say; this states what the dossier says around them, from
the same proofs and the agreement, so a digit changed in the title's time, a minimum, a fingerprint
or the checkpoint size is found and named too (only the figures, drawn from the same facts, are not
compared pixel by pixel).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from sharedsky.record.checkpoint import Trust
from sharedsky.record.log import Entry, public_key_b64
from sharedsky.reports.dossier_facts import Fact, utc

NOT_WITNESSED = ("NOT witnessed: the agreement names no witnesses (or none has cosigned), so each entry is proven "
                 "against the latest checkpoint the log signed, which only the log's key vouches for")


def fingerprint(key_b64: str) -> str:
    """SHA-256 of a raw Ed25519 public key, first 16 bytes in hex groups (to read out over a line)."""
    import base64

    h = hashlib.sha256(base64.b64decode(key_b64)).hexdigest()[:32]
    return " ".join(h[i:i + 4] for i in range(0, 32, 4))


def title_of(entries: Sequence[Entry], ids: Sequence[str], anchor: int, t0: float) -> str:
    """The dossier's title: the kind of its incident's entry, the aircraft, the entry's time."""
    e = next((e for e in entries if e.seq == anchor), None)
    what = e.kind.replace("_", " ") if e is not None else "aircraft"
    return f"Incident dossier: {what} ({', '.join(ids)}), {utc(e.t if e is not None else t0, True)}"


def rules_of(agreement: Any, parties: Sequence[str]) -> list[str]:
    """The agreement's rules that applied to these parties: minima, barred airspaces, channels."""
    rules = []
    idx = [agreement.party_index(p) for p in parties if p in agreement.party_ids]
    for lv in agreement.minima_levels():
        if len(idx) >= 2:
            i, j = idx[0], idx[1]
            rules.append(f"{lv.name}: {lv.h_nm[i, j]:g} NM / {lv.v_ft[i, j]:g} ft, look-ahead {lv.t_s[i, j]:g} s")
    for a in agreement.airspaces:
        if any(p in parties for p in a.barred):
            stages = ", ".join(f"{s.name} {s.lead_s:g} s before entry" for s in a.schedule.stages)
            rules.append(f"airspace {a.name or a.id} ({a.owner}): barred to {', '.join(a.barred)}; "
                         f"floor {a.floor_ft:g} ft, ceiling {a.ceiling_ft:g} ft; warnings: {stages}")
    ch = agreement.channels
    rules.append(f"channels: distress on {', '.join(f'{f:g}' for f in ch.distress_mhz)} MHz; line "
                 f"'{ch.hotline}'; acknowledge within {ch.ack_within_s:g} s")
    return rules


def signers_of(proofs: Sequence[dict[str, Any]]) -> dict[str, tuple[str, str, int]]:
    """key_id -> (party, public key, seq of its party_key entry) of the signed messages' proofs."""
    out: dict[str, tuple[str, str, int]] = {}
    for pr in proofs:
        ke = pr.get("key_entry") if isinstance(pr, dict) else None
        if ke:
            d = json.loads(ke["entry"]["payload"])
            out[str(d["key_id"])] = (str(ke["entry"]["party"]), str(d["public_key"]), int(ke["entry"]["seq"]))
    return out


def key_facts(trust: Trust, signers: dict[str, tuple[str, str, int]]) -> list[Fact]:
    """One row per key the dossier rests on: the log's, each witness's, each message signer's."""
    keys: list[tuple[tuple[int, ...], str, str]] = []
    if trust.log_key is not None:
        keys.append(((), "log (the service)", public_key_b64(trust.log_key)))
    keys += [((), f"witness of {p}", public_key_b64(k)) for p, k in sorted(trust.witnesses.items())]
    keys += [((seq,), f"signing key of {p} (entry key_id {k})", pk) for k, (p, pk, seq) in sorted(signers.items())]
    return [Fact("keys", seqs, (name, fingerprint(k), k)) for seqs, name, k in keys]


def source_note(agreement_name: str, origin: str, built_for: str, copy_of: str, withheld: int, t0: float,
                t1: float, cited: int, size: int, cosigners: Sequence[str]) -> str:
    """What the dossier was built from, its window, and the checkpoint every entry is proven in."""
    if built_for:
        src = (f"the service's record as {built_for} may see it, at {built_for}'s request"
               + (f" (payloads of {copy_of} withheld: {withheld} cited entries shown as withheld)" if withheld
                  else " (nothing cited is withheld)"))
    elif copy_of:
        src = (f"a copy of the record held by a party (payloads of {copy_of} withheld: {withheld} cited entries "
               "shown as withheld)")
    else:
        src = "the service's record (nothing withheld)"
    witnessed = "witnessed: cosigned by " + ", ".join(sorted(cosigners)) if cosigners else NOT_WITNESSED
    return (f"Agreement: {agreement_name} (origin {origin}). Built from {src}. Window {utc(t0, True)} to "
            f"{utc(t1, True)}; {cited} entries cited, each proven in the checkpoint of {size} entries ({witnessed}).")


def frame_facts(entries: Sequence[Entry], incident: dict[str, Any], proofs: Sequence[dict[str, Any]],
                trust: Trust, checkpoint: str, cosigners: Sequence[str], agreement: Any | None) -> list[Fact]:
    """The frame's facts; without the agreement, those it alone says (rules, its name) are left out."""
    ids, anchor, t0 = [str(i) for i in incident["ids"]], int(incident["anchor"]), float(incident["t0"])
    seqs = (anchor,) if anchor else ()
    title = title_of(entries, ids, anchor, t0)
    out = [Fact("doctitle", seqs, (title,)), Fact("title", seqs, (title,))]
    if agreement is not None:
        from sharedsky.record.checkpoint import SignedNote

        cp = SignedNote.parse(checkpoint).checkpoint
        out.append(Fact("source", (), (source_note(
            agreement.name, cp.origin, str(incident.get("built_for", "")), str(incident.get("copy_of", "")),
            sum(1 for e in entries if e.payload is None), t0, float(incident["t1"]), len(proofs), cp.size,
            cosigners),)))
        out += [Fact("rules", (), (r,)) for r in rules_of(agreement, [str(p) for p in incident["parties"]])]
    out += key_facts(trust, signers_of(proofs))
    out.append(Fact("checkpoint", (), (checkpoint.strip(),)))
    return out
