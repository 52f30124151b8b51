"""OpenTimestamps proofs: batches of digests in one Merkle tree, each
document's path to the root, and the ``.ots`` file a document gets.

Each digest is first salted (append 16 random bytes, SHA-256), as the ``ots``
client does, so that a proof reveals nothing about the other documents of
its batch. The tree is the library's own ``make_merkle_tree``, whose shape is
part of the OpenTimestamps consensus.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from opentimestamps.core.notary import (
    BitcoinBlockHeaderAttestation,
    PendingAttestation,
)
from opentimestamps.core.op import Op, OpAppend, OpSHA256
from opentimestamps.core.serialize import (
    BytesDeserializationContext,
    BytesSerializationContext,
    DeserializationError,
)
from opentimestamps.core.timestamp import (
    DetachedTimestampFile,
    Timestamp,
    make_merkle_tree,
)

SALT_BYTES = 16


@dataclass(frozen=True)
class Batch:
    root: bytes
    paths: list[bytes]  # one per digest, in the order given


def build_batch(digests: list[bytes]) -> Batch:
    """Salt each digest, build the tree, and keep each one's path."""
    leaves = []
    starts = []
    for digest in digests:
        start = Timestamp(digest)
        leaf = start.ops.add(OpAppend(os.urandom(SALT_BYTES))).ops.add(OpSHA256())
        starts.append(start)
        leaves.append(leaf)
    tip = make_merkle_tree(leaves)
    return Batch(root=tip.msg, paths=[_path_to(start, tip.msg) for start in starts])


def _path_to(start: Timestamp, root: bytes) -> bytes:
    ops: list[Op] = []
    node = start
    while node.msg != root:
        # Every node below the root has exactly one operation: the tree is
        # built from single appends, prepends and hashes.
        (op, child), *_ = node.ops.items()
        ops.append(op)
        node = child
    context = BytesSerializationContext()
    context.write_varuint(len(ops))
    for op in ops:
        op.serialize(context)
    return context.getbytes()


def _read_path(path: bytes) -> list[Op]:
    context = BytesDeserializationContext(path)
    count = context.read_varuint()
    ops = [Op.deserialize(context) for _ in range(count)]
    context.assert_eof()
    return ops


# -- the batch's tree -------------------------------------------------------------


def serialize_tree(tree: Timestamp) -> bytes:
    context = BytesSerializationContext()
    tree.serialize(context)
    return context.getbytes()


def load_tree(data: bytes, root: bytes) -> Timestamp:
    return Timestamp.deserialize(BytesDeserializationContext(data), root)


def merge_into(tree: Timestamp | None, addition: Timestamp) -> Timestamp:
    if tree is None:
        return addition
    tree.merge(addition)
    return tree


def pending_commitments(tree: Timestamp) -> list[tuple[str, bytes]]:
    """(calendar URI, commitment) for every attestation still pending."""
    found = []
    for msg, attestation in tree.all_attestations():
        if isinstance(attestation, PendingAttestation):
            found.append((attestation.uri, msg))
    return found


def bitcoin_attestations(tree: Timestamp) -> list[tuple[int, bytes]]:
    """(block height, the digest the block's Merkle root must equal)."""
    return sorted(
        (attestation.height, msg)
        for msg, attestation in tree.all_attestations()
        if isinstance(attestation, BitcoinBlockHeaderAttestation)
    )


def subtree_at(tree: Timestamp, msg: bytes) -> Timestamp | None:
    """The node of ``tree`` whose message is ``msg`` (to merge an upgrade)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if node.msg == msg:
            return node
        stack.extend(node.ops.values())
    return None


# -- a document's proof -------------------------------------------------------------


class ProofUnavailable(ValueError):
    """The document is not in a submitted batch yet."""


def document_proof(digest: bytes, path: bytes, tree_data: bytes, root: bytes) -> bytes:
    """The ``.ots`` file for one document: its path, then the batch's tree."""
    start = Timestamp(digest)
    node = start
    try:
        for op in _read_path(path):
            node = node.ops.add(op)
    except DeserializationError as exc:
        raise ProofUnavailable("stored path is unreadable") from exc
    if node.msg != root:
        raise ProofUnavailable("the path does not lead to the batch root")
    node.merge(load_tree(tree_data, root))

    context = BytesSerializationContext()
    DetachedTimestampFile(OpSHA256(), start).serialize(context)
    return context.getbytes()
