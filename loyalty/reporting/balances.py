"""The shapes of a balance and its movements as the report reads them from
``marts.fct_balance_reconciliation`` and ``marts.fct_account_ledger_timeline``
(docs/marts.md), shared by the report and its charts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from loyalty.reporting.formatting import amount, moment, number, unit

LAST_MOVEMENTS = 10


@dataclass
class Movement:
    movement_id: str
    movement_type: str
    amount: Decimal
    occurred_at: datetime | None
    recorded_at: datetime
    running_balance: Decimal
    sequence: int


@dataclass
class Balance:
    """One row of fct_balance_reconciliation, with its own movements (oldest first)."""

    account_id: str
    balance_type: str
    currency: str | None
    snapshot_as_of: datetime | None
    snapshot_balance: Decimal | None
    computed_balance: Decimal | None
    drift: Decimal | None
    drift_status: str
    likely_cause: str
    explanation: str
    evidence_movement_id: str | None = None
    movements_count: int | None = None
    late_recorded_movements: int | None = None
    in_balance_tolerance: Decimal | None = None
    minor_drift_tolerance: Decimal | None = None
    movements: list[Movement] = field(default_factory=list)

    @property
    def anchor(self) -> str:
        """The page id of the balance's section: balance-<account>-<type>[-<currency>]."""
        return "balance-" + "-".join(
            "".join(char if char.isalnum() else "_" for char in part)
            for part in (self.account_id, self.balance_type, self.currency or "")
            if part
        )

    @property
    def unit(self) -> str:
        return unit(self.balance_type, self.currency)

    def facts(self) -> list[tuple[str, str]]:
        """(what, value as text) pairs beside the timeline: snapshot, ledger, drift, counts."""
        bt, currency = self.balance_type, self.currency
        if self.snapshot_as_of is None:
            facts = [("snapshot", "none"), ("ledger balance", amount(self.computed_balance, bt, currency))]
        else:
            facts = [
                ("snapshot", f"{amount(self.snapshot_balance, bt, currency)} as of {moment(self.snapshot_as_of)}"),
                ("ledger at that time", amount(self.computed_balance, bt, currency)),
                ("drift", amount(self.drift, bt, currency, signed=True)),
            ]
        facts.append(("movements", number(self.movements_count)))
        if self.late_recorded_movements:
            facts.append(("recorded late", f"{self.late_recorded_movements:,} (occurred before, recorded after)"))
        if self.evidence_movement_id:
            facts.append(("evidence", self.evidence_movement_id))
        if self.in_balance_tolerance is not None and self.minor_drift_tolerance is not None:
            in_balance, minor = number(self.in_balance_tolerance, bt), number(self.minor_drift_tolerance, bt)
            facts.append(("tolerances", f"in balance ≤ {in_balance}, minor ≤ {minor}"))
        return facts

    def shown_movements(self) -> tuple[list[tuple[Movement, bool, bool]], bool]:
        """The movements the table lists as (movement, is the evidence, recorded after the
        snapshot): the evidence movement first when it is older than the last LAST_MOVEMENTS,
        then those; and whether the evidence was put first."""
        last = self.movements[-LAST_MOVEMENTS:]
        shown_ids = {movement.movement_id for movement in last}
        evidence = [
            movement
            for movement in self.movements
            if movement.movement_id == self.evidence_movement_id and movement.movement_id not in shown_ids
        ]
        rows = [
            (
                movement,
                movement.movement_id == self.evidence_movement_id,
                self.snapshot_as_of is not None and movement.recorded_at > self.snapshot_as_of,
            )
            for movement in evidence + last
        ]
        return rows, bool(evidence)
