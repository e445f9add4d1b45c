"""Generate a landing folder and its ground truth (the whole pipeline of the generator)."""

from __future__ import annotations

import shutil
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tools.sample_data import (
    badrows,
    balances,
    changes,
    expiry,
    feeds,
    ledger,
    reinstatements,
    simulate,
    tables,
    truth,
)
from tools.sample_data.config import DAY, NULL, Calendar, Config, ConfigError, GenerationError, iso_date, stream
from tools.sample_data.program import EXPIRY_STATUSES, TIERS
from tools.sample_data.writer import SCHEMAS, FilePlan, layout, write_file

SOURCES = tuple(SCHEMAS)  # every landing source folder (loyalty/landing/contract.py) the generator may write
TRUTH_FILES = (
    "balances.csv",
    "order_accruals.csv",
    "rejected_rows.csv",
    "duplicates.csv",
    "duplicate_files.csv",
    "tiers.csv",
    "store_eligibility.csv",
    "members.csv",
    "stores.csv",
    "store_targets.csv",
    "dimension_changes.csv",
    "expiry.csv",
    "feed_anomalies.csv",  # with --feed-anomalies only
    "summary.json",
)


@dataclass
class Result:
    rows: dict[str, int]  # rows written per source (valid + bad + repeats)
    files: dict[str, int]
    ledger_events: int  # valid ledger events
    seconds: float
    summary: dict = field(default_factory=dict)

    def line(self) -> str:
        per_source = ", ".join(f"{source}={count:,}" for source, count in self.rows.items())
        skipped = self.summary.get("expiry", {}).get("faults_skipped")
        natural = self.summary.get("feed_anomalies", {}).get("not_injected")
        return (
            f"sample data: {per_source} rows in {sum(self.files.values())} files "
            f"({self.ledger_events:,} valid ledger events) in {self.seconds:.1f} s"
            + (f"\nnote: no expiry faults injected: {skipped}" if skipped else "")
            + (f"\nnote: feed days flagged without being injected: {natural}" if natural else "")
        )


def check_directories(landing: Path, truth_dir: Path, overwrite: bool) -> tuple[Path, Path]:
    landing, truth_dir = landing.expanduser().resolve(), truth_dir.expanduser().resolve()
    if truth_dir == landing or landing in truth_dir.parents:
        raise ConfigError(
            "--truth",
            f"{truth_dir} is inside the landing folder {landing}: the loader would "
            "read the ground truth as landing data; put it elsewhere",
        )
    for directory, option in ((landing, "--out"), (truth_dir, "--truth")):
        if directory.exists() and not directory.is_dir():
            raise ConfigError(option, f"{directory} exists and is not a folder")
    existing = [p for s in SOURCES if (landing / s).is_dir() for p in (landing / s).iterdir()]
    if existing and not overwrite:
        raise ConfigError(
            "--out", f"{landing} already holds landing files (e.g. {existing[0]}); pass --overwrite to replace them"
        )
    return landing, truth_dir


def clear(landing: Path, truth_dir: Path) -> None:
    """Remove what an earlier run wrote (only the source folders and the truth files)."""
    for source in SOURCES:
        if (landing / source).is_dir():
            shutil.rmtree(landing / source)
    for name in TRUTH_FILES:
        (truth_dir / name).unlink(missing_ok=True)


def delivery_month(calendar: Calendar, seconds: np.ndarray, quarter: bool = False) -> np.ndarray:
    """Month index (clipped to the data) a row is delivered in; the quarter's first month if asked."""
    month = np.clip(calendar.month_of(seconds), 0, calendar.months - 1)
    if quarter:
        month = np.maximum(month - (month + calendar.month0 - 1) % 3, 0)
    return month


@dataclass
class World:
    """Everything simulated, with its ground truth verified, before a byte is written."""

    config: Config
    calendar: Calendar
    stores: simulate.Stores
    members: simulate.Members
    orders: simulate.Orders
    accruals: ledger.Accruals
    points_book: balances.BalanceBook
    wallet_book: balances.BalanceBook
    points: tables.Movements
    wallet: tables.Movements
    balances: list[balances.BalanceTruth]
    member_orders: np.ndarray  # order indexes of member orders
    accrual_status: np.ndarray  # per order
    posted: np.ndarray  # per order: earn + reverse points
    store_results: list[truth.StoreResult]
    expiry: list[truth.ExpiryRow]
    frames: dict[str, dict[str, np.ndarray]]  # as first delivered
    changes: changes.DimensionChanges  # later deliveries of members, stores and targets
    as_of: int  # the data's as-of (seconds): the latest recorded_at, snapshot as_of or order updated_at
    ended: int  # months 0 .. ended - 1 have ended by the as-of: the month-end evaluations' horizon


@dataclass
class Landing:
    """The planned delivery files, with their injected landing faults."""

    plans: dict[str, list[FilePlan]]
    rejected: list[badrows.Rejected]
    redelivery: FilePlan
    repeats: int
    stores_copy: FilePlan
    changed: list[list]  # (source, file, row_number, row_key, kind) of each dimension change
    # with --feed-anomalies: the flood's replay file (all its rows exact duplicates), every
    # (feed, day, quiet|flood) the warehouse should flag and the injected ones among them
    replay: FilePlan | None = None
    feed_anomalies: list[tuple[str, int, str]] = field(default_factory=list)
    injected_feed_anomalies: list[tuple[str, int, str]] = field(default_factory=list)

    @property
    def exact_duplicates(self) -> list[tuple[FilePlan, int]]:
        """(file, exact duplicate rows) of each file that repeats rows of earlier ones."""
        replayed = [(self.replay, len(self.replay.rows))] if self.replay is not None else []
        return [(self.redelivery, self.repeats), *replayed]


def simulate_world(config: Config) -> World:
    """Simulate the program and verify each truth label against the rows to be written."""
    calendar = Calendar(config.start_year_month, config.months, last_month_ended=config.as_of == "month-end")
    stores = simulate.make_stores(config, calendar)
    members = simulate.make_members(config, calendar, stores)
    orders = simulate.make_orders(config, calendar, stores, members)
    accruals = ledger.post_accruals(config, calendar, members, orders)
    as_of = balances.final_as_of(config, calendar, members.count)
    points_book = balances.points_book(config, calendar, members, orders, accruals, as_of)
    wallet_book = balances.wallet_book(config, calendar, members, orders, as_of)
    ops = simulate.make_store_ops(config, calendar, stores)
    if config.feed_anomalies:  # the quiet day: most stores' operations never happen in this world
        ops = feeds.suppress_store_operations(ops, feeds.quiet_day(calendar))
    targets = simulate.make_store_targets(config, calendar, stores, orders)
    points = tables.flatten(points_book, "E")
    wallet = tables.flatten(wallet_book, "T")
    all_truths = points_book.truth + wallet_book.truth

    # every label is derived again from the movements as they will be written
    planned = quarantined_by_balance(points_book.quarantined + wallet_book.quarantined)
    truth.verify_balances(all_truths, points, wallet, planned)
    truth.verify_tiers(calendar, accruals, points, members.count)
    member_orders, accrual_status, posted = truth.order_accruals(orders, accruals, points)
    check_sign_rules(points, wallet)

    account_ids = tables.objects(members.ids)
    store_ids = tables.objects(stores.ids)
    order_ids = tables.objects(orders.ids())
    snaps = tables.snapshots(calendar, points, wallet, all_truths, as_of)
    current_state = {  # the dimensions as their latest delivery has them
        "members": tables.members_frame(members, store_ids),
        "stores": tables.stores_frame(stores),
    }
    frames = {
        **current_state,
        "orders": tables.orders_frame(orders, account_ids, store_ids, order_ids),
        "ledger_events": tables.ledger_frame(points, accruals, account_ids, order_ids),
        "wallet_transactions": tables.wallet_frame(wallet, account_ids, order_ids),
        "balance_snapshots": {
            "account_id": account_ids[snaps["_account"]],
            "balance_type": np.where(snaps["_type"] == 0, "points", "wallet").astype(object),
            "currency": tables.take(tables.objects(ledger.CURRENCIES), snaps["_currency"]),
            "balance": snaps["balance"],
            "as_of": snaps["as_of"],
        },
        "store_operations": tables.ops_frame(ops, store_ids),
        "store_targets": tables.targets_frame(targets, store_ids, calendar),
    }
    # the month-end evaluations run through the months that ended by the data's as-of (the
    # dimensions hold no moment: their later deliveries do not move it)
    data_as_of, ended = truth.warehouse_as_of(calendar, frames)
    if config.feed_anomalies and data_as_of // DAY != feeds.as_of_day(calendar):
        raise truth.TruthError(f"the as-of {data_as_of} is not on the day the feed anomalies were planned around")
    sales = simulate.completed_sales(orders, stores, calendar.months)
    dimension_changes = changes.plan(config, calendar, stores, members, targets, sales, current_state, ended)
    frames.update(dimension_changes.first_delivery)  # members and stores as first delivered
    expiry_rows = truth.expiry_rows(calendar, points, members.count, points_book.expiry_faults, ended)
    # the truth judges the current state (closings and corrected targets included), for the
    # months that ended by the as-of
    store_results = [
        r for r in truth.store_results(calendar, stores, orders, ops, dimension_changes.targets) if r.month < ended
    ]
    return World(
        config,
        calendar,
        stores,
        members,
        orders,
        accruals,
        points_book,
        wallet_book,
        points,
        wallet,
        all_truths,
        member_orders,
        accrual_status,
        posted,
        store_results,
        expiry_rows,
        frames,
        dimension_changes,
        data_as_of,
        ended,
    )


def plan_landing(world: World) -> Landing:
    """Split every source into delivery files and add the landing faults."""
    plans = plan_files(world.calendar, world.stores, world.frames)
    rng = stream(world.config.seed, "landing_faults")
    stores_copy = badrows.copy_file(plans["stores"])
    _, redelivery, repeats = badrows.redeliver(plans["wallet_transactions"], rng)

    def width(identifier: str) -> int:
        return len(identifier) - 1

    fresh = badrows.FreshKeys(
        accounts=world.members.count,
        stores=world.stores.count,
        store_width=width(world.stores.ids[0]),
        events=len(world.points.ids),
        txns=len(world.wallet.ids),
        orders=world.orders.count,
        account_width=width(world.members.ids[0]),
        event_width=width(world.points.ids[0]),
        txn_width=width(world.wallet.ids[0]),
        order_width=width(world.orders.ids()[0]),
    )
    protected = {f"stores/{stores_copy.copy_of}", redelivery.relative}
    account_index = {account_id: index for index, account_id in enumerate(world.members.ids)}
    drifting = {
        ("points" if t.balance_type == "points" else "wallet", t.account, t.currency): t
        for t in world.balances
        if t.status in ("minor_drift", "material_mismatch")
    }

    def explains_a_drift(source: str, values: dict, reason: str) -> bool:
        """A landing fault must not become a rejected_movement the truth does not plan."""
        for key, movements in truth.quarantined_movements([(source, values, reason)], account_index).items():
            balance = drifting.get(key)
            if balance is not None and any(
                m.recorded_at <= balance.as_of and m.amount == balance.drift for m in movements
            ):
                return True
        return False

    badrows.add_bad_rows(plans, world.frames, fresh, world.calendar, rng, protected, explains_a_drift)
    quarantined = [
        quarantined_row_values(row, world.members.ids)
        for row in world.points_book.quarantined + world.wallet_book.quarantined
    ]
    badrows.add_quarantined_movements(plans, quarantined, fresh, rng, protected)
    # the later deliveries of the dimensions: valid rows in files of their own, after every fault
    placed = changes.add_files(plans, world.changes.changes)
    for source_plans in plans.values():
        for plan in source_plans:
            layout(plan)  # places the bad rows: their row numbers are known from here on
    replay, found, injected = None, [], []
    if world.config.feed_anomalies:
        calendar = world.calendar
        try:
            replay = feeds.replay_file(plans, world.frames, feeds.flood_day(calendar), feeds.as_of_day(calendar))
            found, injected = feeds.judge(plans, world.frames, calendar)
        except feeds.FeedAnomalyError as error:
            raise GenerationError(f"--feed-anomalies: {error}") from error
    rejected = badrows.rejected_rows(plans)
    # the balance labels again, now with every quarantined movement as the files will hold it
    written = [(plan.source, bad.values, bad.reason) for files in plans.values() for plan in files for bad in plan.bad]
    truth.verify_balances(
        world.balances, world.points, world.wallet, truth.quarantined_movements(written, account_index)
    )
    return Landing(
        plans, rejected, redelivery, repeats, stores_copy, changes.change_rows(placed), replay, found, injected
    )


def generate(config: Config, landing_dir: Path, truth_dir: Path, overwrite: bool = False) -> Result:
    started = time.perf_counter()
    config.validate()
    landing_dir, truth_dir = check_directories(landing_dir, truth_dir, overwrite)
    world = simulate_world(config)
    landing = plan_landing(world)
    if overwrite:
        clear(landing_dir, truth_dir)
    landing_dir.mkdir(parents=True, exist_ok=True)
    truth_dir.mkdir(parents=True, exist_ok=True)
    rows_written: dict[str, int] = {}
    files_written: dict[str, int] = {}
    # the sources the generator simulates; a registry source it does not know is left unwritten
    for source, plans in landing.plans.items():
        rows_written[source] = files_written[source] = 0
        for plan in plans:
            if plan.copy_of:
                shutil.copyfile(landing_dir / source / plan.copy_of, landing_dir / source / plan.name)
                rows_written[source] += len(plan.rows)
            else:
                rows_written[source] += write_file(landing_dir, plan, world.frames[source])
            files_written[source] += 1
    write_truth(truth_dir, world, landing)
    summary = build_summary(world, landing, rows_written, files_written)
    truth.write_json(truth_dir / "summary.json", summary)
    return Result(rows_written, files_written, len(world.points.ids), time.perf_counter() - started, summary)


def quarantined_by_balance(rows: list[balances.QuarantinedRow]) -> truth.QuarantinedMovements:
    out: truth.QuarantinedMovements = {}
    for row in rows:
        key = ("points" if row.currency < 0 else "wallet", row.account, row.currency)
        out.setdefault(key, []).append(row.movement())
    return out


def quarantined_row_values(row: balances.QuarantinedRow, account_ids: list[str]) -> tuple[str, dict, str]:
    """(source, column values without the key, reason) of a rejected_movement fault's landing row."""
    if row.currency < 0:
        values = {
            "account_id": account_ids[row.account],
            "event_type": row.movement_type,
            "points": row.amount,
            "occurred_at": row.occurred,
            "recorded_at": row.recorded,
            "order_id": None,
            "reverses_event_id": None,
            "source": "backoffice",
        }
        return "ledger_events", values, row.reason
    values = {
        "account_id": account_ids[row.account],
        "currency": ledger.CURRENCIES[row.currency],
        "txn_type": row.movement_type,
        "amount": row.amount,
        "occurred_at": row.occurred,
        "recorded_at": row.recorded,
        "order_id": None,
    }
    return "wallet_transactions", values, row.reason


def plan_files(calendar: Calendar, stores: simulate.Stores, frames: dict[str, dict]) -> dict[str, list[FilePlan]]:
    """Delivery files per source, named after the month (or day) they arrive; names sort in delivery order."""
    day = 86_400
    by_month = calendar.label
    plans = {
        "members": badrows.split("members", delivery_month(calendar, frames["members"]["enrolled_at"], True), by_month),
        "stores": badrows.split("stores", delivery_month(calendar, stores.opened_day * day), by_month),
        "orders": badrows.split("orders", delivery_month(calendar, frames["orders"]["updated_at"]), by_month),
        "ledger_events": badrows.split(
            "ledger_events", delivery_month(calendar, frames["ledger_events"]["recorded_at"]), by_month
        ),
        "wallet_transactions": badrows.split(
            "wallet_transactions", delivery_month(calendar, frames["wallet_transactions"]["recorded_at"]), by_month
        ),
        "balance_snapshots": badrows.split("balance_snapshots", frames["balance_snapshots"]["as_of"] // day, iso_date),
        "store_operations": badrows.split(
            "store_operations",
            delivery_month(calendar, frames["store_operations"]["business_date"] * day, True),
            by_month,
        ),
        "store_targets": badrows.split(
            "store_targets", delivery_month(calendar, frames["store_targets"]["period_month"] * day, True), by_month
        ),
    }
    return plans


def check_sign_rules(points: tables.Movements, wallet: tables.Movements) -> None:
    kind, amount = points.kind, points.amount
    rules = {
        "earn": (kind == ledger.EARN, amount > 0),
        "redeem": (kind == ledger.REDEEM, amount < 0),
        "expire": (kind == ledger.EXPIRE, amount < 0),
        # a reversal of an earn takes points back, a reversal of a redemption gives them back
        "reverse": (kind == ledger.REVERSE, np.where(points.reverses >= 0, amount > 0, amount < 0)),
        "correct": (kind == ledger.CORRECT, amount != 0),
    }
    for name, (which, ok) in rules.items():
        if (which & ~ok).any():
            raise truth.TruthError(f"a {name} event breaks the sign rule")
    w_kind, w_amount = wallet.kind, wallet.amount
    for code, ok in (
        (ledger.TOP_UP, w_amount > 0),
        (ledger.SPEND, w_amount < 0),
        (ledger.REFUND, w_amount > 0),
        (ledger.CASHBACK, w_amount > 0),
        (ledger.ADJUST, w_amount != 0),
    ):
        if ((w_kind == code) & ~ok).any():
            raise truth.TruthError(f"a {ledger.TXN_TYPES[code]} transaction breaks the sign rule")
    if (points.recorded < points.occurred).any() or (wallet.recorded < wallet.occurred).any():
        raise truth.TruthError("a movement is recorded before it occurred")


def write_truth(truth_dir: Path, world: World, landing: Landing) -> None:
    members, orders, accruals = world.members, world.orders, world.accruals
    truth.write_csv(
        truth_dir / "balances.csv",
        ["account_id", "balance_type", "currency", "expected_status", "expected_cause", "expected_drift"],
        truth.balance_rows(world.balances, members.ids),
    )
    order_ids = orders.ids()
    truth.write_csv(
        truth_dir / "order_accruals.csv",
        ["order_id", "account_id", "expected_status", "expected_points", "posted_points"],
        (
            [
                order_ids[k],
                members.ids[orders.account[k]],
                world.accrual_status[k],
                int(accruals.expected[k]),
                int(world.posted[k]),
            ]
            for k in world.member_orders.tolist()
        ),
    )
    truth.write_csv(
        truth_dir / "rejected_rows.csv",
        ["source", "file", "row_number", "row_key", "reason"],
        ([r.source, r.file, r.row_number, r.row_key, r.reason] for r in landing.rejected),
    )
    truth.write_csv(
        truth_dir / "duplicates.csv",
        ["source", "file", "exact_duplicate_rows"],
        [[plan.source, plan.relative, rows] for plan, rows in landing.exact_duplicates],
    )
    if world.config.feed_anomalies:
        truth.write_csv(
            truth_dir / "feed_anomalies.csv",
            ["landing_source", "business_date", "volume_status"],
            ([source, iso_date(day), status] for source, day, status in landing.feed_anomalies),
        )
    copy = landing.stores_copy
    truth.write_csv(
        truth_dir / "duplicate_files.csv",
        ["source", "file", "copy_of"],
        [[copy.source, copy.relative, f"{copy.source}/{copy.copy_of}"]],
    )
    truth.write_csv(
        truth_dir / "tiers.csv",
        ["account_id", "month", "tier", "qualifying_points"],
        truth.tier_rows(world.calendar, members, accruals, world.ended),
    )
    first_days = [world.calendar.label(m) + "-01" for m in range(world.calendar.months)]
    truth.write_csv(
        truth_dir / "expiry.csv",
        ["account_id", "due_month", "expected_status", "expected_points", "posted_points"],
        ([members.ids[r.account], first_days[r.month], r.status, r.expected, r.posted] for r in world.expiry),
    )
    truth.write_dimensions(truth_dir, world.calendar, members, world.stores, world.changes, landing.changed)
    truth.write_csv(
        truth_dir / "store_eligibility.csv",
        ["store_id", "period_month", "eligible"],
        (
            [world.stores.ids[r.store], first_days[r.month], "true" if r.eligible else "false"]
            for r in world.store_results
        ),
    )


def build_summary(world: World, landing: Landing, rows: dict[str, int], files: dict[str, int]) -> dict:
    """Counts per class of everything injected (no timings: the file must be reproducible)."""
    config, accruals = world.config, world.accruals
    balance_classes: dict[str, Counter] = {}
    for t in world.balances:
        group = "points" if t.balance_type == "points" else f"wallet/{ledger.CURRENCIES[t.currency]}"
        balance_classes.setdefault(group, Counter())[f"{t.status}/{t.cause}"] += 1
    tiers_now = Counter(accruals.tier[world.ended].tolist())
    members = world.members
    copy = landing.stores_copy
    return {
        "arguments": {
            "accounts": config.accounts,
            "months": config.months,
            "seed": config.seed,
            "start": config.start,
            "as_of": config.as_of,
            **({"feed_anomalies": True} if config.feed_anomalies else {}),
        },
        "as_of": truth.as_of_summary(world.calendar, world.as_of, world.ended),
        "lapsed_members": truth.lapsed_summary(world.calendar, members, accruals, world.ended),
        "rows_written": rows,
        "files_written": files,
        "valid_ledger_events": len(world.points.ids),
        "ledger_events_by_type": dict(
            sorted(Counter(ledger.EVENT_TYPES[k] for k in world.points.kind.tolist()).items())
        ),
        "valid_wallet_transactions": len(world.wallet.ids),
        "balances": {group: dict(sorted(counts.items())) for group, counts in sorted(balance_classes.items())},
        "order_accruals": dict(sorted(Counter(world.accrual_status[world.member_orders].tolist()).items())),
        "rejected_rows": dict(sorted(Counter(r.reason for r in landing.rejected).items())),
        "rejected_rows_by_source": dict(sorted(Counter(r.source for r in landing.rejected).items())),
        "exact_duplicate_rows": {plan.relative: rows for plan, rows in landing.exact_duplicates},
        "duplicate_files": {copy.relative: f"{copy.source}/{copy.copy_of}"},
        "dimension_changes": dict(sorted(Counter(row[4] for row in landing.changed).items())),
        "tier_changes": truth.tier_movements(accruals, world.ended),
        "tiers_after_last_month": {name: int(tiers_now.get(code, 0)) for code, name in enumerate(TIERS)},
        "store_eligibility": truth.eligibility_summary(world.store_results),
        "expiry": expiry_summary(world),
        "clawback_accounts": [members.ids[a] for a in world.points_book.specials.get("clawback", [])],
        "reinstated_accounts": {
            kind: [members.ids[a] for a in world.points_book.specials.get(f"reinstated/{kind}", [])]
            for kind in reinstatements.KINDS
        },
        "recompleted_orders": [
            world.orders.ids()[k] for k in np.flatnonzero(world.orders.recompleted != NULL).tolist()
        ],
        "recorded_after_as_of_accounts": {
            "points": [members.ids[a] for a in world.points_book.specials.get("straddle", [])],
            "wallet": [members.ids[a] for a in world.wallet_book.specials.get("straddle", [])],
        },
        **({"feed_anomalies": feed_anomaly_summary(landing)} if config.feed_anomalies else {}),
    }


def feed_anomaly_summary(landing: Landing) -> dict:
    """The feed days the warehouse should flag: those injected and any other (natural) one."""

    def named(days: list[tuple[str, int, str]]) -> list[str]:
        return [f"{source} {iso_date(day)} {status}" for source, day, status in days]

    assert landing.replay is not None
    return {
        "injected": named(landing.injected_feed_anomalies),
        "replay_file": landing.replay.relative,
        "not_injected": named([d for d in landing.feed_anomalies if d not in landing.injected_feed_anomalies]),
    }


def expiry_summary(world: World) -> dict:
    """Expiry rows per status, and the faults injected per kind (or why none were)."""
    statuses = Counter(r.status for r in world.expiry)
    out: dict = {
        "rows": len(world.expiry),
        "by_status": {status: statuses.get(status, 0) for status in EXPIRY_STATUSES},
        "faults": dict(sorted(Counter(f.slot for f in world.points_book.expiry_faults).items())),
    }
    reason = expiry.skipped_reason(world.calendar.months)
    if reason:
        out["faults_skipped"] = reason
    return out
