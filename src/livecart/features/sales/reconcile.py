"""The reconciler: do the gate's counters and the database agree? If not, repair from the claims.

Three views of one sale: the claims (the truth: live units per buyer, every winning request), the
database's counters (`flash_sales.taken`, `sale_buyers.taken`, which the CHECKs guard) and the
arbiter's counters (Redis, or this process's memory). Repair makes the other two equal the first.
It also counts references of the sale's rows that do not resolve (`unmatched`: a claim whose
user is gone, a claim without its order...): the winners' tables have no foreign keys (ADR 0004),
so this is where a broken one would show. Repair does not touch those; they need a person.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from livecart.db.uow import UnitOfWork
from livecart.errors import NotFound
from livecart.features.sales.arbiter import Ledger
from livecart.features.sales.gate import SaleGate, sale_info
from livecart.features.sales.repository import SalesRepository


@dataclass
class Report:
    sale_id: int
    backend: str
    allotted: int
    claimed: int  # live units in claims: sold (paid) + reserved (awaiting payment)
    left: int  # allotted - claimed
    db_taken: int
    gate_taken: int | None  # None: the arbiter holds nothing for this sale (loads on first use)
    db_buyers_differ: int  # buyers whose sale_buyers.taken is not their live units
    gate_buyers_differ: int | None
    gate_requests_missing: int | None  # winning requests the arbiter does not know
    gate_requests_extra: int | None  # requests the arbiter holds that never became claims
    agree: bool
    # References of the sale's rows that do not resolve, by kind (repair cannot fix these).
    unmatched: dict[str, int] = field(default_factory=dict)
    references_resolve: bool = True
    repaired: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _buyers_differ(truth: Ledger, other: Ledger) -> int:
    ids = {b for b, t in truth.buyers.items() if t} | {b for b, t in other.buyers.items() if t}
    return sum(1 for b in ids if truth.buyers.get(b, 0) != other.buyers.get(b, 0))


async def reconcile(gate: SaleGate, sale_id: int, *, repair: bool = False) -> Report:
    await gate.writer.idle()  # this process's winners in flight count once they are written
    async with UnitOfWork(gate.factory) as uow:
        repo = SalesRepository(uow.session)
        sale = await repo.sale(sale_id)
        if sale is None:
            raise NotFound("sale", sale_id=sale_id)
        info = sale_info(sale)
        truth = await repo.claimed(sale_id)
        counters = await repo.counters(sale_id)
        hook = gate.writer.hook
        unmatched = await repo.unmatched(sale_id, hook.unmatched_sql if hook else "")
    held = await gate.arbiter.counters(info)
    report = Report(
        sale_id=sale_id,
        backend=gate.backend,
        allotted=info.allotted,
        claimed=truth.taken,
        left=info.allotted - truth.taken,
        db_taken=counters.taken,
        gate_taken=None if held is None else held.taken,
        db_buyers_differ=_buyers_differ(truth, counters),
        gate_buyers_differ=None if held is None else _buyers_differ(truth, held),
        gate_requests_missing=(
            None if held is None else len(truth.requests.keys() - held.requests.keys())
        ),
        gate_requests_extra=(
            None if held is None else len(held.requests.keys() - truth.requests.keys())
        ),
        agree=False,
        unmatched=unmatched,
        references_resolve=not any(unmatched.values()),
    )
    report.agree = (
        report.db_taken == report.claimed
        and report.db_buyers_differ == 0
        and (held is None or (report.gate_taken == report.claimed and not _gate_differs(report)))
    )
    if repair and not report.agree:
        async with UnitOfWork(gate.factory) as uow:
            await SalesRepository(uow.session).set_counters(sale_id, truth, info.per_buyer_limit)
        await gate.arbiter.load(info, truth)
        report.repaired = True
    return report


def _gate_differs(report: Report) -> bool:
    return bool(
        report.gate_buyers_differ or report.gate_requests_missing or report.gate_requests_extra
    )
