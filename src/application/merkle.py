"""Merkle trees over a seal's range of the event chain (issue #16, seals), RFC 6962/9162 style.

A seal signs one root over the chain entries of a range of log positions. The tree is the
Certificate Transparency tree (RFC 9162 §2.1): leaves and inner nodes are hashed with
different prefixes (0x00 and 0x01), so a leaf can never pass for a node; a range of any size
(odd ones, one) has exactly one root, split at the largest power of two below its size.

An inclusion proof shows that one position's chain entry is in a signed seal without the rest
of the range: the audit export ships these proofs (``InclusionProof``, plain msgspec), and a
verifier outside the system checks them with ``verify_inclusion`` and the seal's signature.
"""

import hashlib
import struct
from collections.abc import Sequence

import msgspec

_POSITION = struct.Struct(">q")


def leaf_hash(position: int, chain_hash: bytes) -> bytes:
    """The leaf of one log position: its position and its chain entry (so a proof names the
    position it is about)."""
    return hashlib.sha256(b"\x00" + _POSITION.pack(position) + chain_hash).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _levels(leaves: Sequence[bytes]) -> list[list[bytes]]:
    """The tree, level by level from the leaves up: each level pairs its nodes left to right,
    an odd last node moves up as it is. That is RFC 9162's tree (split at the largest power
    of two below the size) built bottom-up, so every node is hashed once."""
    level = list(leaves)
    levels = [level]
    while len(level) > 1:
        up = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            up.append(level[-1])
        levels.append(up)
        level = up
    return levels


def root(leaves: Sequence[bytes]) -> bytes:
    """The tree's root over ``leaves`` (leaf hashes, at least one)."""
    if not leaves:
        raise ValueError("a Merkle tree needs at least one leaf")
    return _levels(leaves)[-1][0]


def _path(levels: Sequence[Sequence[bytes]], index: int) -> list[bytes]:
    path = []
    for level in levels[:-1]:
        if (sibling := index ^ 1) < len(level):
            path.append(level[sibling])
        index >>= 1
    return path


def inclusion_path(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """The audit path of the leaf at ``index`` (RFC 9162 §2.1.3.1), from the leaf upwards."""
    if not 0 <= index < len(leaves):
        raise IndexError(f"leaf {index} is not in a tree of {len(leaves)}")
    return _path(_levels(leaves), index)


def verify_inclusion(leaf: bytes, index: int, size: int, path: Sequence[bytes], top: bytes) -> bool:
    """Whether ``leaf`` is the leaf at ``index`` of a tree of ``size`` leaves with root ``top``
    (RFC 9162 §2.1.3.2)."""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == top


class InclusionProof(msgspec.Struct, frozen=True, kw_only=True):
    """That the chain entry of ``position`` is leaf ``index`` of seal ``seal``'s tree of
    ``size`` leaves. Hashes in lowercase hex. Check it with ``check`` and the seal's root and
    number of entries (whose signature the verifier checks against the deployment's public
    key): the size must be the seal's, since a path alone fits trees of several sizes."""

    seal: int
    position: int
    chain_hash: str
    index: int
    size: int
    path: list[str]

    def check(self, seal_root: bytes, seal_entries: int) -> bool:
        if self.size != seal_entries:
            return False
        try:
            chain_hash = bytes.fromhex(self.chain_hash)
            path = [bytes.fromhex(p) for p in self.path]
        except ValueError:
            return False
        return verify_inclusion(
            leaf_hash(self.position, chain_hash), self.index, self.size, path, seal_root
        )


class Tree:
    """One seal's tree over its positions and chain entries, built once: each proof is then a
    node per level, not a pass over the range (an export proves many events of one seal)."""

    def __init__(self, positions: Sequence[int], chain_hashes: Sequence[bytes]) -> None:
        self._hashes = list(chain_hashes)
        self._index = {p: i for i, p in enumerate(positions)}
        self._levels = _levels(
            [leaf_hash(p, h) for p, h in zip(positions, self._hashes, strict=True)]
        )

    def __contains__(self, position: int) -> bool:
        return position in self._index

    def prove(self, seal: int, position: int) -> InclusionProof:
        """The proof for ``position`` (which the tree must hold)."""
        index = self._index[position]
        return InclusionProof(
            seal=seal,
            position=position,
            chain_hash=self._hashes[index].hex(),
            index=index,
            size=len(self._hashes),
            path=[h.hex() for h in _path(self._levels, index)],
        )


def prove(
    seal: int, positions: Sequence[int], chain_hashes: Sequence[bytes], position: int
) -> InclusionProof:
    """The proof for ``position`` in a seal over ``positions`` (in order) and their chain
    entries."""
    return Tree(positions, chain_hashes).prove(seal, position)
