"""The exchange format of a statistics release, and its signature (issue #12, point 5).

A deployment exports a release as a ``SignedRelease``: the ``ReleaseDocument`` (every cell as
released, already under disclosure control: a withheld cell has no value and says only that it
is withheld; each table tallies the rules) and the deployment's Ed25519 signature over it.
Another deployment merges several into a macro release (``projections.statistics.merge``) after
checking each signature against the public keys it trusts, so the forum's numbers can be traced
to the deployments that released them and nobody in between could have changed one.

The signed bytes are the document's canonical JSON: ``msgspec.json.encode(document,
order="sorted")`` of the document as decoded from its own JSON, so that a value given as ``3``
where ``3.0`` is meant signs and verifies the same on both sides.
"""

import base64
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Literal

import msgspec

from application.errors import OperatorError
from application.signing import PublicKey, SigningKey, decode_signature
from projections.statistics.store import CellRow, ReleaseDescription

#: The format's name and version: a reader refuses versions it does not know.
FORMAT = "rodedraad-statistics-release/1"


class CellDocument(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One released number. ``value`` is None exactly when ``withheld`` names the rule.

    ``group`` is the category of the cell this one is read against, in the same table, region
    and sector: for a count, the group it is a part of (all-or-none); for a quantile, the count
    of the units it is a quantile of (its group size); for a rate, its denominator, with
    ``numerator`` the category of its numerator.
    """

    region: str
    sector: str
    category: str
    kind: Literal["count", "quantile", "rate"]
    value: float | None = None
    withheld: str | None = None
    quantile: float | None = None
    group: str | None = None
    numerator: str | None = None


class TableDocument(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A table's cells, how many each rule withheld, and the share of its cells it publishes."""

    name: str
    cells: list[CellDocument]
    withheld_by_rule: dict[str, int]
    published_share: float


class ReleaseDocument(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A release as it travels between deployments. ``deadline_policies`` maps each region to
    the fingerprint of the deadline policy its "in time" cells were counted under;
    ``merged_from`` names the releases a macro release was merged from (``deployment#number``),
    empty for a deployment's own."""

    format: str = FORMAT
    deployment: str
    number: int
    period: str
    computed_at: datetime
    log_position: int
    rule_set: str
    k: int
    deadline_policies: dict[str, str]
    regions: list[str]
    tables: list[TableDocument]
    merged_from: list[str] = msgspec.field(default_factory=list)

    def describe(self) -> str:
        """How errors name a release: whose, which number, which period."""
        return f"release {self.number} of deployment {self.deployment!r} ({self.period})"


class SignedRelease(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A document, the id of the key that signed it, and the signature (base64)."""

    document: ReleaseDocument
    key_id: str
    signature: str


class ReleaseNotVerified(OperatorError):
    """A signed release that cannot be trusted; the message names the release and why."""

    def __init__(self, message: str, reason: Literal["unknown_key", "bad_signature", "format"]):
        super().__init__(message)
        self.reason = reason


class UnreadableRelease(OperatorError):
    """Bytes that are no signed release of this format."""


def signed_bytes(document: ReleaseDocument) -> bytes:
    """The bytes a signature covers: the canonical JSON (see the module docstring)."""
    normalised = msgspec.json.decode(msgspec.json.encode(document), type=ReleaseDocument)
    return msgspec.json.encode(normalised, order="sorted")


def sign_release(document: ReleaseDocument, key: SigningKey) -> SignedRelease:
    signature = base64.b64encode(key.sign(signed_bytes(document))).decode()
    return SignedRelease(document=document, key_id=key.key_id, signature=signature)


def verify_release(signed: SignedRelease, trusted: Sequence[PublicKey]) -> ReleaseDocument:
    """The document, once its signature is verified by one of the ``trusted`` keys; otherwise
    ``ReleaseNotVerified`` naming the release and why (a key nobody trusts, a signature that
    does not match: the document was altered after signing)."""
    document = signed.document
    name = document.describe()
    if document.format != FORMAT:
        raise ReleaseNotVerified(
            f"{name} is in format {document.format!r}; this version reads {FORMAT!r}", "format"
        )
    keys = {key.key_id: key for key in trusted}
    key = keys.get(signed.key_id)
    if key is None:
        raise ReleaseNotVerified(
            f"{name} is signed by key {signed.key_id}, which is not among the trusted keys "
            f"({', '.join(sorted(keys)) or 'none'}); trust its deployment's public key "
            "(`rodedraad keys public` there) if you mean to",
            "unknown_key",
        )
    signature = decode_signature(signed.signature)
    if signature is None or not key.verify(signed_bytes(document), signature):
        raise ReleaseNotVerified(
            f"{name}: the signature of key {signed.key_id} does not match the document; it was "
            "altered after signing. Ask its deployment for the file again",
            "bad_signature",
        )
    return document


def encode_signed(signed: SignedRelease) -> bytes:
    return msgspec.json.format(msgspec.json.encode(signed, order="sorted")) + b"\n"


def decode_signed(data: bytes, *, source: str = "the file") -> SignedRelease:
    try:
        return msgspec.json.decode(data, type=SignedRelease)
    except (msgspec.DecodeError, msgspec.ValidationError) as e:
        raise UnreadableRelease(
            f"{source} is not a signed statistics release ({FORMAT}): {e}"
        ) from None


def cell_documents(by_region: Mapping[str, Sequence[CellRow]]) -> list[CellDocument]:
    """A table's stored cells (region → cells), as the exchange format and the API give them."""
    return [
        CellDocument(
            region=region,
            sector=c.sector,
            category=c.category,
            kind=c.kind,
            value=c.value,
            withheld=c.withheld,
            quantile=c.quantile,
            group=c.group,
            numerator=c.numerator,
        )
        for region, rows in sorted(by_region.items())
        for c in rows
    ]


def export_document(
    release: ReleaseDescription, cells: Mapping[str, Mapping[str, Sequence[CellRow]]]
) -> ReleaseDocument:
    """A stored release as the exchange document: its description, and per table (``cells``:
    table → region → cells) every cell as published — a withheld one without its value."""
    summaries = {t.name: t for t in release.tables}
    return ReleaseDocument(
        deployment=release.deployment,
        number=release.number,
        period=release.period,
        computed_at=release.computed_at,
        log_position=release.log_position,
        rule_set=release.rule_set,
        k=release.k,
        deadline_policies=dict(release.deadline_policies),
        regions=list(release.regions),
        tables=[
            TableDocument(
                name=name,
                cells=cell_documents(by_region),
                withheld_by_rule=dict(summaries[name].withheld_by_rule),
                published_share=summaries[name].published_share,
            )
            for name, by_region in cells.items()
        ],
    )
