"""The Merkle tree: every transparency-dev vector, and proofs against a brute-force tree."""

from __future__ import annotations

import base64
import hashlib
import json
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sharedsky.record.merkle import (
    CompactRange,
    MemoryTree,
    ProofError,
    leaf_hash,
    node_hash,
    verify_consistency,
    verify_inclusion,
)
from sharedsky.record.tree import TreeStore

from conftest import SHARED_DATA

VECTORS = SHARED_DATA / "merkle" / "testdata"


def _cases(kind: str) -> list[Path]:
    return sorted((VECTORS / kind).rglob("*.json"))


def _b(text: str | None) -> bytes:
    return base64.b64decode(text or "")


def _proof(d: dict) -> list[bytes]:
    return [_b(p) for p in d.get("proof") or []]


def test_the_vectors_are_all_there() -> None:
    assert len(_cases("inclusion")) + len(_cases("consistency")) == 196


@pytest.mark.parametrize("path", _cases("inclusion"), ids=lambda p: str(p.relative_to(VECTORS)))
def test_inclusion_vector(path: Path) -> None:
    d = json.loads(path.read_text())
    args = (_b(d["leafHash"]), int(d["leafIdx"]), int(d["treeSize"]), _proof(d), _b(d["root"]))
    if d["wantErr"]:
        with pytest.raises(ProofError):
            verify_inclusion(*args)
    else:
        verify_inclusion(*args)


@pytest.mark.parametrize("path", _cases("consistency"), ids=lambda p: str(p.relative_to(VECTORS)))
def test_consistency_vector(path: Path) -> None:
    d = json.loads(path.read_text())
    args = (int(d["size1"]), int(d["size2"]), _proof(d), _b(d["root1"]), _b(d["root2"]))
    if d["wantErr"]:
        with pytest.raises(ProofError):
            verify_consistency(*args)
    else:
        verify_consistency(*args)


def _brute_root(leaves: list[bytes]) -> bytes:
    """MTH by the RFC's definition, written independently of the module."""
    if len(leaves) == 0:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return node_hash(_brute_root(leaves[:k]), _brute_root(leaves[k:]))


def _leaves(n: int) -> list[bytes]:
    return [leaf_hash(f"entry {i}".encode()) for i in range(n)]


def test_known_root_of_the_rfc_test_tree() -> None:
    """transparency-dev's eight-leaf reference tree (the vectors' size-8 root)."""
    data = [b"", b"\x00", b"\x10", b"\x20\x21", b"\x30\x31", b"\x40\x41\x42\x43",
            b"\x50\x51\x52\x53\x54\x55\x56\x57", b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f"]
    root = MemoryTree([leaf_hash(x) for x in data]).root()
    assert base64.b64encode(root).decode() == "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg="


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 300), st.data())
def test_inclusion_proofs_against_brute_force(n: int, data: st.DataObject) -> None:
    leaves = _leaves(n)
    tree = MemoryTree(leaves)
    size = data.draw(st.integers(1, n))
    i = data.draw(st.integers(0, size - 1))
    root = _brute_root(leaves[:size])
    assert tree.root(size) == root
    proof = tree.inclusion(i, size)
    verify_inclusion(leaves[i], i, size, proof, root)
    # The same proof for another leaf, index, size or root is refused.
    j = (i + 1) % size
    if j != i:
        with pytest.raises(ProofError):
            verify_inclusion(leaves[j], i, size, proof, root)
        with pytest.raises(ProofError):
            verify_inclusion(leaves[i], j, size, proof, root)
    if size > 1:
        with pytest.raises(ProofError):
            verify_inclusion(leaves[i], i, size * 2, proof, root)
    if proof:
        bad = list(proof)
        bad[data.draw(st.integers(0, len(bad) - 1))] = leaf_hash(b"forged")
        with pytest.raises(ProofError):
            verify_inclusion(leaves[i], i, size, bad, root)


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 300), st.data())
def test_consistency_proofs_against_brute_force(n: int, data: st.DataObject) -> None:
    leaves = _leaves(n)
    tree = MemoryTree(leaves)
    size2 = data.draw(st.integers(1, n))
    size1 = data.draw(st.integers(1, size2))
    r1, r2 = _brute_root(leaves[:size1]), _brute_root(leaves[:size2])
    proof = tree.consistency(size1, size2)
    verify_consistency(size1, size2, proof, r1, r2)
    if size1 < size2:
        # A fork: the same sizes over a history with one leaf changed below size1.
        forked = list(leaves)
        forked[data.draw(st.integers(0, size1 - 1))] = leaf_hash(b"rewritten")
        with pytest.raises(ProofError):
            verify_consistency(size1, size2, proof, _brute_root(forked[:size1]), r2)
        with pytest.raises(ProofError):
            verify_consistency(size1, size2, proof, r1, _brute_root(forked[:size2]))
        with pytest.raises(ProofError):
            verify_consistency(size2, size1, proof, r2, r1)


def test_store_matches_memory_tree_and_reopens(tmp_path: Path) -> None:
    """The SQLite store: compact-range appends in batches give the roots and proofs of the
    brute-force tree at every size, also after reopening."""
    leaves = _leaves(200)
    conn = sqlite3.connect(tmp_path / "t.db", isolation_level=None)
    store = TreeStore(conn)
    cr = CompactRange()
    for a in range(0, 200, 37):
        conn.execute("BEGIN")  # one transaction per batch, as the record appends
        store.append(leaves[a:a + 37])
        conn.execute("COMMIT")
        for x in leaves[a:a + 37]:
            cr.append(x)
        assert store.root() == _brute_root(leaves[:store.size]) == cr.root()
    store = TreeStore(conn)  # reopened: the compact range is read back
    assert store.size == 200 and store.root() == _brute_root(leaves)
    mem = MemoryTree(leaves)
    for size in (1, 2, 3, 7, 64, 100, 199, 200):
        assert store.root(size) == _brute_root(leaves[:size])
        for i in {0, size // 2, size - 1}:
            assert store.inclusion(i, size) == mem.inclusion(i, size)
        for s1 in {1, size // 3 or 1, size}:
            assert store.consistency(s1, size) == mem.consistency(s1, size)
