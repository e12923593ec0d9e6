"""The seals' Merkle trees (issue #16): every leaf of trees of several sizes proves its
inclusion, and a changed leaf, index or path does not."""

import hashlib

import msgspec
import pytest

from application.merkle import (
    InclusionProof,
    Tree,
    inclusion_path,
    leaf_hash,
    prove,
    root,
    verify_inclusion,
)


def _range(size: int) -> tuple[list[int], list[bytes]]:
    positions = [10 + 3 * i for i in range(size)]  # with gaps, as on PostgreSQL
    return positions, [hashlib.sha256(str(p).encode()).digest() for p in positions]


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 33])
def test_every_position_of_a_seal_proves_its_inclusion(size: int) -> None:
    positions, hashes = _range(size)
    top = root([leaf_hash(p, h) for p, h in zip(positions, hashes, strict=True)])
    for position in positions:
        proof = prove(1, positions, hashes, position)
        assert proof.check(top, size), (size, position)
        again = msgspec.json.decode(msgspec.json.encode(proof), type=InclusionProof)
        assert again.check(top, size)
        assert not proof.check(top, size + 1), "the seal's size is part of the proof"


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8, 13])
def test_a_changed_leaf_does_not_prove(size: int) -> None:
    positions, hashes = _range(size)
    top = root([leaf_hash(p, h) for p, h in zip(positions, hashes, strict=True)])
    for index, position in enumerate(positions):
        proof = prove(1, positions, hashes, position)
        changed = bytearray(hashes[index])
        changed[0] ^= 0x01
        assert not msgspec.structs.replace(proof, chain_hash=changed.hex()).check(top, size)
        assert not msgspec.structs.replace(proof, position=position + 1).check(top, size)


def test_a_proof_at_another_index_or_size_does_not_hold() -> None:
    positions, hashes = _range(6)
    leaves = [leaf_hash(p, h) for p, h in zip(positions, hashes, strict=True)]
    top = root(leaves)
    path = inclusion_path(leaves, 2)
    assert verify_inclusion(leaves[2], 2, 6, path, top)
    assert not verify_inclusion(leaves[2], 3, 6, path, top)
    assert not verify_inclusion(leaves[2], 2, 3, path, top)  # a tree of another shape
    assert not verify_inclusion(leaves[2], 2, 6, path[:-1], top)
    assert not verify_inclusion(leaves[2], 6, 6, path, top)


def _rfc_root(leaves: list[bytes]) -> bytes:
    """RFC 9162 §2.1.1 as written: split at the largest power of two below the size."""
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return hashlib.sha256(b"\x01" + _rfc_root(leaves[:k]) + _rfc_root(leaves[k:])).digest()


def _rfc_path(leaves: list[bytes], index: int) -> list[bytes]:
    """RFC 9162 §2.1.3.1 as written."""
    if len(leaves) == 1:
        return []
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    if index < k:
        return [*_rfc_path(leaves[:k], index), _rfc_root(leaves[k:])]
    return [*_rfc_path(leaves[k:], index - k), _rfc_root(leaves[:k])]


@pytest.mark.parametrize("size", range(1, 70))
def test_the_tree_built_bottom_up_is_the_rfcs(size: int) -> None:
    positions, hashes = _range(size)
    leaves = [leaf_hash(p, h) for p, h in zip(positions, hashes, strict=True)]
    assert root(leaves) == _rfc_root(leaves)
    tree = Tree(positions, hashes)
    for index, position in enumerate(positions):
        assert inclusion_path(leaves, index) == _rfc_path(leaves, index)
        assert [bytes.fromhex(h) for h in tree.prove(1, position).path] == _rfc_path(leaves, index)


def test_a_seal_of_one_position_has_its_leaf_as_root() -> None:
    positions, hashes = _range(1)
    assert root([leaf_hash(positions[0], hashes[0])]) == leaf_hash(positions[0], hashes[0])
    assert prove(1, positions, hashes, positions[0]).path == []
