"""RFC 9162 (Certificate Transparency 2.0) Merkle trees: hashing, proofs, verification.

Leaf hash = SHA-256(0x00 || leaf), node hash = SHA-256(0x01 || left || right); the root
of n leaves splits them at the largest power of two below n (RFC 9162 section 2.1.1).

Proofs are generated from a `subtree(a, b)` function giving the hash of leaves [a, b):
`MemoryTree` computes it from a list of leaf hashes (the reference the tests compare
against), `sharedsky.record.tree.TreeStore` from the perfect subtrees it keeps in SQLite
(O(log n) reads per node, so a proof at 10^6 entries takes well under a millisecond).
The verifiers follow RFC 9162 sections 2.1.3.2 and 2.1.4.2 and are written here (the
Python libraries that have one are GPL or keep it private); they reject every malformed
case of transparency-dev's test vectors.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

HASH_BYTES = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

Subtree = Callable[[int, int], bytes]


class ProofError(ValueError):
    """A proof does not verify (the message says which check failed)."""


def leaf_hash(leaf: bytes) -> bytes:
    """SHA-256(0x00 || leaf)."""
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def split_point(n: int) -> int:
    """The largest power of two smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def perfect_ranges(a: int, b: int) -> list[tuple[int, int]]:
    """[a, b) as the aligned perfect subtrees (level, index) that an RFC split of it uses.

    Only valid for ranges the RFC recursion produces (a is a multiple of the largest
    power of two not above b - a, as every right part D[k:n] of a recursion is).
    """
    out: list[tuple[int, int]] = []
    while b - a > 0:
        size = b - a
        level = size.bit_length() - 1 if size & (size - 1) == 0 else split_point(size).bit_length() - 1
        out.append((level, a >> level))
        a += 1 << level
    return out


def combine(hashes: Sequence[bytes]) -> bytes:
    """Root of perfect subtrees listed left to right, largest first (folded from the right)."""
    h = hashes[-1]
    for left in reversed(hashes[:-1]):
        h = node_hash(left, h)
    return h


def inclusion_proof(index: int, size: int, subtree: Subtree) -> list[bytes]:
    """RFC 9162 PATH(index, D[0:size]): sibling hashes from the leaf up."""
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is not in a tree of size {size}")
    out: list[bytes] = []
    a, b, m = 0, size, index
    while b - a > 1:
        k = split_point(b - a)
        if m < k:
            out.append(subtree(a + k, b))
            b = a + k
        else:
            out.append(subtree(a, a + k))
            a, m = a + k, m - k
    out.reverse()
    return out


def consistency_proof(size1: int, size2: int, subtree: Subtree) -> list[bytes]:
    """RFC 9162 PROOF(size1, D[0:size2]); empty when the sizes are equal."""
    if not 0 < size1 <= size2:
        raise ValueError(f"no consistency proof from size {size1} to size {size2}")
    out: list[bytes] = []
    a, b, m, whole = 0, size2, size1, True
    while m != b - a:
        k = split_point(b - a)
        if m <= k:
            out.append(subtree(a + k, b))
            b = a + k
        else:
            out.append(subtree(a, a + k))
            a, m, whole = a + k, m - k, False
    if not whole:
        out.append(subtree(a, b))
    out.reverse()
    return out


def _check_hash(h: bytes, what: str) -> None:
    if len(h) != HASH_BYTES:
        raise ProofError(f"{what} is {len(h)} bytes, not a {HASH_BYTES}-byte SHA-256")


def root_from_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes:
    """The root that an inclusion proof of `leaf` (a leaf hash) at `index` implies."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is not in a tree of size {size}")
    _check_hash(leaf, "leaf hash")
    fn, sn, r = index, size - 1, leaf
    for i, p in enumerate(proof):
        _check_hash(p, f"proof hash {i}")
        if sn == 0:
            raise ProofError(f"inclusion proof has {len(proof)} hashes, more than a tree of size {size} needs")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError(f"inclusion proof has {len(proof)} hashes, fewer than a tree of size {size} needs")
    return r


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> None:
    """Raise ProofError unless `leaf` (a leaf hash) is at `index` of the tree with this root."""
    _check_hash(root, "root")
    if root_from_inclusion(leaf, index, size, proof) != root:
        raise ProofError(f"inclusion proof of leaf {index} does not lead to the root of size {size}")


def verify_consistency(size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes) -> None:
    """Raise ProofError unless the tree of size2 with root2 extends the one of size1 with root1."""
    if size1 < 1:
        raise ProofError(f"no consistency to prove from size {size1}")
    if size1 > size2:
        raise ProofError(f"size {size1} is larger than size {size2}: a rollback")
    if size1 == size2:
        if proof:
            raise ProofError("equal sizes need an empty consistency proof")
        if root1 != root2:
            raise ProofError(f"two different roots for size {size1}: a fork")
        return
    _check_hash(root1, "root1")
    _check_hash(root2, "root2")
    if not proof:
        raise ProofError("empty consistency proof between different sizes")
    for i, p in enumerate(proof):
        _check_hash(p, f"proof hash {i}")
    path = list(proof)
    if size1 & (size1 - 1) == 0:
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof is longer than the sizes need")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("consistency proof is shorter than the sizes need")
    if fr != root1:
        raise ProofError(f"consistency proof does not lead to the root of size {size1}")
    if sr != root2:
        raise ProofError(f"consistency proof does not lead to the root of size {size2}")


class MemoryTree:
    """A tree over leaf hashes held in a list: the reference (tests, small copies, forks)."""

    def __init__(self, leaves: Sequence[bytes] = ()) -> None:
        self.leaves: list[bytes] = list(leaves)

    def subtree(self, a: int, b: int) -> bytes:
        """MTH(D[a:b]) by the RFC's recursion."""
        if b - a == 1:
            return self.leaves[a]
        if b <= a:
            return EMPTY_ROOT
        k = split_point(b - a)
        return node_hash(self.subtree(a, a + k), self.subtree(a + k, b))

    def root(self, size: int | None = None) -> bytes:
        return self.subtree(0, len(self.leaves) if size is None else size)

    def inclusion(self, index: int, size: int) -> list[bytes]:
        return inclusion_proof(index, size, self.subtree)

    def consistency(self, size1: int, size2: int) -> list[bytes]:
        return consistency_proof(size1, size2, self.subtree)


class CompactRange:
    """The perfect subtrees covering leaves [0, n): O(log n) hashes; append is O(log n).

    `append` returns the new nodes (level, index, hash) that completing subtrees made,
    so a store can keep every perfect subtree and serve proofs from them.
    """

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        if len(hashes) != bin(size).count("1"):
            raise ValueError(f"a compact range of size {size} has {bin(size).count('1')} hashes")
        self.size = size
        self.hashes: list[bytes] = list(hashes)

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        """Add a leaf hash; the perfect nodes it completes, itself first."""
        idx, level, h = self.size, 0, leaf
        made = [(0, idx, h)]
        while idx & 1:
            h = node_hash(self.hashes.pop(), h)
            idx >>= 1
            level += 1
            made.append((level, idx, h))
        self.hashes.append(h)
        self.size += 1
        return made

    def root(self) -> bytes:
        return combine(self.hashes) if self.hashes else EMPTY_ROOT

    @staticmethod
    def nodes_of(size: int) -> list[tuple[int, int]]:
        """(level, index) of the perfect subtrees covering [0, size), left to right."""
        out: list[tuple[int, int]] = []
        start = 0
        for level in range(size.bit_length() - 1, -1, -1):
            if size >> level & 1:
                out.append((level, start >> level))
                start += 1 << level
        return out
