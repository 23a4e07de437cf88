"""fair_window, the pure part: lots, pseudonyms and the allocation anyone can recompute.

Every request that arrives in the first W ms after `opens_at` counts as simultaneous. The sale's
secret seed (its SHA-256 published when the sale opens) orders them: lot = SHA-256 of
`seed:pseudonym:key_hash`, lowest first. Pseudonym = HMAC-SHA-256(server secret, `sale:buyer`),
key_hash = SHA-256(idempotency key). After the window the seed and the log are published; with
them, `livecart verify-allocation` recomputes every outcome.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from livecart.features.sales import rules

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
OUTCOMES = ("won", "sold_out", "buyer_limit_reached", "refused")


def seed_hash(seed: str) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()


def pseudonym(secret: str, sale_id: int, buyer_id: int) -> str:
    return hmac.new(secret.encode(), f"{sale_id}:{buyer_id}".encode(), hashlib.sha256).hexdigest()


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def lot(seed: str, pseudonym: str, key_hash: str) -> str:
    return hashlib.sha256(f"{seed}:{pseudonym}:{key_hash}".encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Entry:
    pseudonym: str
    key_hash: str
    quantity: int
    lot: str
    outcome: str = ""


def allocate(entries: Iterable[Entry], *, allotted: int, per_buyer_limit: int) -> list[Entry]:
    """The window's result: entries in lot order, each with the outcome the rules give it."""
    terms = rules.SaleTerms(allotted, per_buyer_limit, _EPOCH, _EPOCH)  # times play no part
    taken, held = 0, dict[str, int]()
    decided = []
    for e in sorted(entries, key=lambda e: (e.lot, e.pseudonym, e.key_hash)):
        refusal = rules.decide(
            terms, taken=taken, buyer_taken=held.get(e.pseudonym, 0), quantity=e.quantity
        )
        if refusal is None:
            taken += e.quantity
            held[e.pseudonym] = held.get(e.pseudonym, 0) + e.quantity
        decided.append(Entry(e.pseudonym, e.key_hash, e.quantity, e.lot, refusal or "won"))
    return decided


def verify(document: dict[str, Any]) -> list[str]:
    """Problems found in a published allocation (`GET /api/v1/sales/{id}/allocation`); an empty
    list means the seed matches its published hash and every outcome is what the lots give."""
    problems: list[str] = []
    seed = str(document["seed"])
    if seed_hash(seed) != document["seed_hash"]:
        problems.append("the seed does not match the hash published before the sale")
    entries: Sequence[dict[str, Any]] = document["entries"]
    logged = []
    for i, e in enumerate(entries):
        expected_lot = lot(seed, e["pseudonym"], e["key_hash"])
        if expected_lot != e["lot"]:
            problems.append(f"entry {i}: lot {e['lot']} is not sha256(seed:pseudonym:key_hash)")
        logged.append(
            Entry(e["pseudonym"], e["key_hash"], int(e["quantity"]), expected_lot, e["outcome"])
        )
    recomputed = allocate(
        logged, allotted=int(document["allotted"]), per_buyer_limit=int(document["per_buyer_limit"])
    )
    by_request = {(e.pseudonym, e.key_hash): e.outcome for e in logged}
    for r in recomputed:
        if by_request[(r.pseudonym, r.key_hash)] != r.outcome:
            problems.append(
                f"request {r.key_hash[:12]} of {r.pseudonym[:12]}: logged "
                f"{by_request[(r.pseudonym, r.key_hash)]}, the lots give {r.outcome}"
            )
    return problems
