"""Counter shifts: a clerk opens a shift with a float, every cash sale and cash refund at the
desk moves money in or out of its drawer (card and UPI sales are kept for the report), and the
clerk closes it with the cash counted: expected = float + movements, variance = counted -
expected.

Movements are append-only and signed (what each changed in the drawer); ``record_cash`` is
called inside the transaction of the sale or refund it belongs to, so both commit together.
One open shift per clerk is decided by the partial unique index ``uq_shifts_one_open_per_clerk``.
Lock order: a shift row is locked after the hold or booking it serves, before seats.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from booking.database import unit_of_work
from booking.extensions import db
from booking.formatting import local_time
from booking.models import Shift, ShiftMovement, User
from booking.models.enums import CASH_MOVEMENTS, MovementKind, Role
from booking.services import audit, catalog
from booking.services.errors import DomainError, NotFound

ZERO = Decimal("0.00")
CENT = Decimal("0.01")
MAX_CASH = Decimal("1000000.00")
OPEN_INDEX = "uq_shifts_one_open_per_clerk"

MESSAGES = {
    "staff_only": "Only counter staff can work a shift.",
    "already_open": "You already have a shift open since {opened}. Close it before opening "
    "another.",
    "bad_amount": "Enter {what} in rupees, 0 or more, with at most two decimals.",
    "not_found": "We could not find that shift.",
    "not_yours": "Only the clerk who opened this shift, or an admin, can close it.",
    "already_closed": "This shift was closed already.",
    "closed": "That shift is closed; open a new shift to take or pay back cash.",
    "amount_sign": "A {kind} movement needs {sign} amount.",
    "note_too_long": "Keep the note under 500 characters.",
}

SIGNS = {
    MovementKind.OPENING_FLOAT: 1,
    MovementKind.CASH_SALE: 1,
    MovementKind.CASH_REFUND: -1,
    MovementKind.CARD_SALE: 1,
    MovementKind.UPI_SALE: 1,
}


class ShiftError(DomainError):
    """A shift rule refused the request; nothing changed."""

    status = 409


@dataclass(frozen=True)
class Tally:
    """How many movements of one kind and their sum (refunds summed as money paid out: > 0)."""

    count: int = 0
    total: Decimal = ZERO


@dataclass(frozen=True)
class ShiftReport:
    """A shift's cash report: by payment method, the drawer's expected cash and (closed) the
    count and variance. For an open shift ``expected_cash`` is the running figure."""

    shift: Shift
    clerk_name: str
    opening_float: Decimal
    cash_sales: Tally
    cash_refunds: Tally
    float_changes: Tally
    card_sales: Tally
    upi_sales: Tally
    expected_cash: Decimal
    counted_cash: Decimal | None
    variance: Decimal | None
    movements: list[ShiftMovement] = field(default_factory=list)

    @property
    def is_open(self) -> bool:
        """Whether the shift is still open."""
        return self.shift.closed_at is None

    @property
    def sales_total(self) -> Decimal:
        """Everything taken, by every method."""
        return self.cash_sales.total + self.card_sales.total + self.upi_sales.total


@dataclass(frozen=True)
class ShiftRow:
    """One line of the admin's list of shifts."""

    id: uuid.UUID
    clerk_name: str
    clerk_email: str
    station: str | None
    opened_at: datetime
    closed_at: datetime | None
    opening_float: Decimal
    expected_cash: Decimal
    counted_cash: Decimal | None
    variance: Decimal | None
    open_overnight: bool


# ---- opening ---------------------------------------------------------------------------------


def open_shift(
    clerk_id: uuid.UUID, opening_float: Decimal, now: datetime, station: str | None = None
) -> Shift:
    """Open a shift for a clerk with the cash put in the drawer (an opening_float movement).

    The station defaults to the clerk's home station.

    :raise ShiftError: when the clerk has an open shift already (also when another request
        opened one at the same moment: the unique index decides); for a bad float or a clerk
        who is not staff.
    """
    amount = cash_amount(opening_float, "the opening float")
    try:
        with unit_of_work() as session:
            clerk = _staff(session, clerk_id)
            existing = _open_shift_of(session, clerk_id)
            if existing is not None:
                raise _already_open(existing)
            shift = Shift(
                id=uuid.uuid4(),
                clerk_id=clerk_id,
                station=((station or "").strip() or clerk.home_station or None),
                opened_at=now,
                opening_float=amount,
                created_at=now,
                updated_at=now,
            )
            session.add(shift)
            session.flush()
            session.add(
                ShiftMovement(
                    shift_id=shift.id,
                    kind=MovementKind.OPENING_FLOAT,
                    amount=amount,
                    actor_id=clerk_id,
                    created_at=now,
                )
            )
            audit.record(
                "shift",
                shift.id,
                "shift.opened",
                actor_id=clerk_id,
                at=now,
                station=shift.station,
                opening_float=amount,
            )
    except IntegrityError as error:
        if OPEN_INDEX not in str(error.orig) and "shifts.clerk_id" not in str(error.orig):
            raise
        db.session.rollback()
        existing = _open_shift_of(db.session, clerk_id)
        if existing is None:  # closed again meanwhile: still, this open lost the race
            raise ShiftError(MESSAGES["already_open"].format(opened="a moment ago")) from None
        raise _already_open(existing) from None
    return shift


def current_shift(clerk_id: uuid.UUID) -> Shift | None:
    """The clerk's open shift, if any."""
    return _open_shift_of(db.session, clerk_id)


def current_report(clerk_id: uuid.UUID) -> ShiftReport | None:
    """The report of the clerk's open shift so far (the desk's shift page), or None."""
    shift = current_shift(clerk_id)
    return _report(shift) if shift is not None else None


# ---- inside other services' transactions ---------------------------------------------------


def lock_open_shift(clerk_id: uuid.UUID) -> Shift | None:
    """Inside a transaction: the clerk's open shift, locked (None when there is none)."""
    return db.session.scalar(
        select(Shift)
        .where(Shift.clerk_id == clerk_id, Shift.closed_at.is_(None))
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def record_cash(
    shift: Shift,
    kind: MovementKind,
    amount: Decimal,
    now: datetime,
    payment_id: uuid.UUID | None = None,
    booking_id: uuid.UUID | None = None,
    actor_id: uuid.UUID | None = None,
) -> ShiftMovement:
    """Add a movement to an open shift, inside the caller's transaction (never its own).

    ``amount`` is given as a positive sum for a sale or a refund (a refund is stored negative:
    cash out of the drawer) and signed for a float change (+ added, - taken out).

    :raise ShiftError: when the shift has been closed meanwhile (the caller's transaction then
        rolls back: no sale without its movement).
    """
    locked = db.session.scalar(
        select(Shift)
        .where(Shift.id == shift.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if locked is None or locked.closed_at is not None:
        raise ShiftError(MESSAGES["closed"])
    sign = SIGNS.get(kind)
    if sign is not None:
        if amount <= 0:
            raise ShiftError(MESSAGES["amount_sign"].format(kind=kind.value, sign="a positive"))
        amount = amount * sign
    elif amount == 0:
        raise ShiftError(MESSAGES["amount_sign"].format(kind=kind.value, sign="a non-zero"))
    movement = ShiftMovement(
        shift_id=locked.id,
        kind=kind,
        amount=amount,
        payment_id=payment_id,
        booking_id=booking_id,
        actor_id=actor_id or locked.clerk_id,
        created_at=now,
    )
    db.session.add(movement)
    db.session.flush()
    return movement


# ---- closing and reporting -------------------------------------------------------------------


def close_shift(
    shift_id: uuid.UUID,
    clerk_id: uuid.UUID,
    counted_cash: Decimal,
    now: datetime,
    note: str | None = None,
) -> ShiftReport:
    """Close a shift with the cash counted in the drawer; returns its report.

    ``clerk_id`` is who closes it: the shift's own clerk, or an admin closing someone else's.

    :raise NotFound: for an unknown shift; ShiftError when someone else's (unless admin),
        closed already, or for a bad count.
    """
    counted = cash_amount(counted_cash, "the cash counted")
    note = (note or "").strip() or None
    if note and len(note) > 500:
        raise ShiftError(MESSAGES["note_too_long"])
    with unit_of_work() as session:
        closer = session.get(User, clerk_id)
        shift = session.scalar(
            select(Shift)
            .where(Shift.id == shift_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        if shift is None or closer is None:
            raise NotFound(MESSAGES["not_found"])
        if shift.clerk_id != closer.id and closer.role != Role.ADMIN:
            raise ShiftError(MESSAGES["not_yours"])
        if shift.closed_at is not None:
            raise ShiftError(MESSAGES["already_closed"])
        expected = drawer_total(shift.id)
        closed = session.execute(
            update(Shift)
            .where(Shift.id == shift.id, Shift.closed_at.is_(None))
            .values(
                closed_at=now,
                closed_by_id=closer.id,
                counted_cash=counted,
                expected_cash=expected,
                variance=counted - expected,
                closing_note=note,
                updated_at=now,
            )
        )
        if closed.rowcount != 1:  # closed by another request between our read and now
            raise ShiftError(MESSAGES["already_closed"])
        audit.record(
            "shift",
            shift.id,
            "shift.closed",
            actor_id=closer.id,
            at=now,
            expected=expected,
            counted=counted,
            variance=counted - expected,
            note=note,
        )
    return _report(_fresh(shift_id))


def shift_report(shift_id: uuid.UUID, viewer: User) -> ShiftReport:
    """A shift's report, for its own clerk or an admin.

    :raise NotFound: for an unknown shift, or someone else's to a non-admin.
    """
    shift = _fresh(shift_id)
    if shift is None or viewer is None:
        raise NotFound(MESSAGES["not_found"])
    if shift.clerk_id != viewer.id and viewer.role != Role.ADMIN:
        raise NotFound(MESSAGES["not_found"])
    return _report(shift)


def shifts_for_admin(
    now: datetime, *, open_only: bool = False, clerk_id: uuid.UUID | None = None, limit: int = 200
) -> list[ShiftRow]:
    """Every shift, newest first, with its (running, while open) expected cash, the count and
    variance, and ``open_overnight``: still open and opened before today's local midnight."""
    midnight, _ = catalog.local_day_bounds(catalog.local_today(now))
    drawer = (
        select(func.coalesce(func.sum(ShiftMovement.amount), 0))
        .where(ShiftMovement.shift_id == Shift.id, ShiftMovement.kind.in_(CASH_MOVEMENTS))
        .scalar_subquery()
    )
    query = (
        select(Shift, User, drawer)
        .join(User, User.id == Shift.clerk_id)
        .order_by(Shift.opened_at.desc())
        .limit(limit)
    )
    if open_only:
        query = query.where(Shift.closed_at.is_(None))
    if clerk_id is not None:
        query = query.where(Shift.clerk_id == clerk_id)
    rows = []
    for shift, clerk, running in db.session.execute(query).all():
        expected = shift.expected_cash if shift.expected_cash is not None else _money(running)
        rows.append(
            ShiftRow(
                id=shift.id,
                clerk_name=clerk.full_name,
                clerk_email=clerk.email,
                station=shift.station,
                opened_at=shift.opened_at,
                closed_at=shift.closed_at,
                opening_float=shift.opening_float,
                expected_cash=expected,
                counted_cash=shift.counted_cash,
                variance=shift.variance,
                open_overnight=shift.closed_at is None and shift.opened_at < midnight,
            )
        )
    return rows


def drawer_total(shift_id: uuid.UUID) -> Decimal:
    """The cash the drawer should hold: the sum of the shift's cash movements (the opening
    float is one of them)."""
    total = db.session.scalar(
        select(func.coalesce(func.sum(ShiftMovement.amount), 0)).where(
            ShiftMovement.shift_id == shift_id, ShiftMovement.kind.in_(CASH_MOVEMENTS)
        )
    )
    return _money(total)


def cash_amount(value, what: str) -> Decimal:
    """A sum of cash typed by a person: 0 or more, whole paise.

    :raise ShiftError: otherwise, naming ``what``.
    """
    try:
        amount = Decimal(str(value))
    except (ArithmeticError, ValueError, TypeError):
        raise ShiftError(MESSAGES["bad_amount"].format(what=what)) from None
    # The bounds before quantize(): quantizing a huge amount overflows Decimal's context.
    if not amount.is_finite() or amount < 0 or amount > MAX_CASH or amount != amount.quantize(CENT):
        raise ShiftError(MESSAGES["bad_amount"].format(what=what))
    return amount.quantize(CENT)


# ---- helpers -----------------------------------------------------------------------------------


def _report(shift: Shift) -> ShiftReport:
    """Tally a shift's movements by kind."""
    movements = list(
        db.session.scalars(
            select(ShiftMovement)
            .where(ShiftMovement.shift_id == shift.id)
            .order_by(ShiftMovement.created_at, ShiftMovement.kind)
        )
    )

    def tally(kind: MovementKind) -> Tally:
        chosen = [m.amount for m in movements if m.kind == kind]
        return Tally(len(chosen), abs(sum(chosen, ZERO)))

    float_changes = [m.amount for m in movements if m.kind == MovementKind.FLOAT_CHANGE]
    running = sum((m.amount for m in movements if m.kind in CASH_MOVEMENTS), ZERO)
    expected = shift.expected_cash if shift.expected_cash is not None else running
    clerk = db.session.get(User, shift.clerk_id)
    return ShiftReport(
        shift=shift,
        clerk_name=clerk.full_name if clerk else "",
        opening_float=shift.opening_float,
        cash_sales=tally(MovementKind.CASH_SALE),
        cash_refunds=tally(MovementKind.CASH_REFUND),
        float_changes=Tally(len(float_changes), sum(float_changes, ZERO)),
        card_sales=tally(MovementKind.CARD_SALE),
        upi_sales=tally(MovementKind.UPI_SALE),
        expected_cash=expected,
        counted_cash=shift.counted_cash,
        variance=shift.variance,
        movements=movements,
    )


def _staff(session, clerk_id: uuid.UUID) -> User:
    """:raise ShiftError: unless the user is staff or an admin."""
    clerk = session.get(User, clerk_id)
    if clerk is None or clerk.role not in (Role.STAFF, Role.ADMIN):
        raise ShiftError(MESSAGES["staff_only"])
    return clerk


def _open_shift_of(session, clerk_id: uuid.UUID) -> Shift | None:
    """The clerk's open shift, read fresh."""
    return session.scalar(
        select(Shift)
        .where(Shift.clerk_id == clerk_id, Shift.closed_at.is_(None))
        .execution_options(populate_existing=True)
    )


def _fresh(shift_id: uuid.UUID) -> Shift | None:
    """A shift read again from the database."""
    return db.session.scalar(
        select(Shift).where(Shift.id == shift_id).execution_options(populate_existing=True)
    )


def _already_open(existing: Shift) -> ShiftError:
    """The refusal of a second open shift, saying since when the first is open."""
    return ShiftError(
        MESSAGES["already_open"].format(opened=local_time(existing.opened_at, "%d %b %H:%M"))
    )


def _money(value) -> Decimal:
    """A sum of Money read back from SQL (the Money type has already made it a Decimal)."""
    return Decimal(value or 0).quantize(CENT)


__all__ = [
    "ShiftError",
    "ShiftReport",
    "ShiftRow",
    "Tally",
    "cash_amount",
    "close_shift",
    "current_report",
    "current_shift",
    "drawer_total",
    "lock_open_shift",
    "open_shift",
    "record_cash",
    "shift_report",
    "shifts_for_admin",
]
