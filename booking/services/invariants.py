"""The invariants of DESIGN.md as set-based checks: shared by tests, the property-based state
machine and `flask reconcile`, so the three can never disagree.

Each check returns a list of Violation (empty when the invariant holds) and reads only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import aliased

from booking.extensions import db
from booking.models import (
    Booking,
    BookingSeat,
    Cancellation,
    Payment,
    Refund,
    Reservation,
    ReservationSeat,
    Schedule,
    Seat,
    Shift,
    ShiftMovement,
    Ticket,
    Wallet,
    WalletTransaction,
)
from booking.models.enums import (
    BookingSeatStatus,
    BookingStatus,
    HoldStatus,
    LedgerKind,
    MovementKind,
    PaymentMethod,
    PaymentPurpose,
    PaymentStatus,
    RefundStatus,
    SeatStatus,
    TicketValidity,
)


@dataclass(frozen=True)
class Violation:
    """One broken invariant, with the ids a person needs to look into it."""

    invariant: str
    message: str
    ids: tuple[str, ...] = field(default_factory=tuple)

    def __str__(self) -> str:
        ids = f" [{', '.join(self.ids)}]" if self.ids else ""
        return f"{self.invariant}: {self.message}{ids}"


CHECKS: dict[str, Callable[[], list[Violation]]] = {}


def check(name: str):
    """Register an invariant check under ``name``."""

    def register(function: Callable[[], list[Violation]]):
        CHECKS[name] = function
        return function

    return register


def run_all(names: list[str] | None = None) -> list[Violation]:
    """Run every registered check (or the named ones) and return all violations."""
    violations: list[Violation] = []
    for name, function in CHECKS.items():
        if names is None or name in names:
            violations.extend(function())
    return violations


@check("one-live-claim-per-seat")
def one_live_claim_per_seat() -> list[Violation]:
    """A seat is claimed by at most one live hold or booking (invariant 1)."""
    rows = db.session.execute(
        select(ReservationSeat.seat_id, func.count())
        .where(ReservationSeat.is_live)
        .group_by(ReservationSeat.seat_id)
        .having(func.count() > 1)
    ).all()
    return [
        Violation("one-live-claim-per-seat", f"seat has {count} live claims", (str(seat_id),))
        for seat_id, count in rows
    ]


@check("seat-status-matches-claim")
def seat_status_matches_claim() -> list[Violation]:
    """A seat is available without a live claim, reserved under an active hold, booked under a
    confirmed one."""
    claim = (
        select(ReservationSeat.seat_id, Reservation.status.label("hold_status"))
        .join(Reservation, Reservation.id == ReservationSeat.reservation_id)
        .where(ReservationSeat.is_live)
        .subquery()
    )
    mismatched = or_(
        and_(Seat.status == SeatStatus.AVAILABLE, claim.c.seat_id.is_not(None)),
        and_(Seat.status != SeatStatus.AVAILABLE, claim.c.seat_id.is_(None)),
        and_(Seat.status == SeatStatus.RESERVED, claim.c.hold_status != HoldStatus.ACTIVE),
        and_(Seat.status == SeatStatus.BOOKED, claim.c.hold_status != HoldStatus.CONFIRMED),
    )
    rows = db.session.execute(
        select(Seat.id, Seat.status, claim.c.hold_status)
        .outerjoin(claim, claim.c.seat_id == Seat.id)
        .where(mismatched)
    ).all()
    return [
        Violation(
            "seat-status-matches-claim",
            f"seat is {status} but its claim is {hold_status or 'missing'}",
            (str(seat_id),),
        )
        for seat_id, status, hold_status in rows
    ]


@check("free-seat-counter")
def free_seat_counter() -> list[Violation]:
    """schedule.available_seats equals its seats with no live claim (invariant 3).

    A hold that lapsed but was not yet retired still has live claims; every reader adds its
    seats back (services.inventory.seats_left), and the next hold or the sweep retires it.
    """
    free = (
        select(func.count())
        .select_from(Seat)
        .where(Seat.schedule_id == Schedule.id, Seat.status == SeatStatus.AVAILABLE)
        .scalar_subquery()
    )
    unclaimed = (
        select(func.count())
        .select_from(Seat)
        .where(
            Seat.schedule_id == Schedule.id,
            ~select(ReservationSeat.id)
            .where(ReservationSeat.seat_id == Seat.id, ReservationSeat.is_live)
            .exists(),
        )
        .scalar_subquery()
    )
    rows = db.session.execute(
        select(Schedule.id, Schedule.available_seats, free, unclaimed).where(
            or_(Schedule.available_seats != free, Schedule.available_seats != unclaimed)
        )
    ).all()
    return [
        Violation(
            "free-seat-counter",
            f"available_seats is {counter}; {free_count} seats are available, "
            f"{unclaimed_count} unclaimed",
            (str(schedule_id),),
        )
        for schedule_id, counter, free_count, unclaimed_count in rows
    ]


@check("hold-size")
def hold_size() -> list[Violation]:
    """An active hold claims 1 to MAX_SEATS_PER_HOLD seats; an ended, unpaid hold claims none."""
    limit = current_app.config["MAX_SEATS_PER_HOLD"]
    live = (
        select(func.count())
        .select_from(ReservationSeat)
        .where(ReservationSeat.reservation_id == Reservation.id, ReservationSeat.is_live)
        .scalar_subquery()
    )
    rows = db.session.execute(
        select(Reservation.id, Reservation.status, live).where(
            or_(
                and_(Reservation.status == HoldStatus.ACTIVE, or_(live < 1, live > limit)),
                and_(
                    Reservation.status.notin_([HoldStatus.ACTIVE, HoldStatus.CONFIRMED]),
                    live > 0,
                ),
            )
        )
    ).all()
    return [
        Violation("hold-size", f"{status} hold claims {count} seats", (str(hold_id),))
        for hold_id, status, count in rows
    ]


@check("one-active-hold-per-customer")
def one_active_hold_per_customer() -> list[Violation]:
    """A customer has at most one active hold per trip."""
    rows = db.session.execute(
        select(Reservation.user_id, Reservation.schedule_id, func.count())
        .where(Reservation.status == HoldStatus.ACTIVE, Reservation.user_id.is_not(None))
        .group_by(Reservation.user_id, Reservation.schedule_id)
        .having(func.count() > 1)
    ).all()
    return [
        Violation(
            "one-active-hold-per-customer",
            f"{count} active holds on one trip",
            (str(user_id), str(schedule_id)),
        )
        for user_id, schedule_id, count in rows
    ]


# ---- money (invariant 4) and bookings ---------------------------------------------------------


def _signed_ledger_sum():
    """Credits and refunds add, debits subtract."""
    return func.coalesce(
        func.sum(
            case(
                (WalletTransaction.kind == LedgerKind.DEBIT, -WalletTransaction.amount),
                else_=WalletTransaction.amount,
            )
        ),
        0,
    )


@check("wallet-balance-matches-ledger")
def wallet_balance_matches_ledger() -> list[Violation]:
    """A wallet's balance equals the signed sum of its ledger (and is never negative)."""
    ledger = (
        select(_signed_ledger_sum())
        .where(WalletTransaction.wallet_id == Wallet.id)
        .scalar_subquery()
    )
    rows = db.session.execute(
        select(Wallet.id, Wallet.balance, ledger).where(
            or_(Wallet.balance != ledger, Wallet.balance < 0)
        )
    ).all()
    return [
        Violation("wallet-balance-matches-ledger", f"balance {b} but ledger sums to {s}", (str(i),))
        for i, b, s in rows
    ]


@check("refunds-within-their-debit")
def refunds_within_their_debit() -> list[Violation]:
    """Every refund row reverses a debit of the same wallet, and a debit's refunds never
    exceed it."""
    parent = aliased(WalletTransaction)
    wrong_parent = db.session.execute(
        select(WalletTransaction.id)
        .join(parent, parent.id == WalletTransaction.parent_id)
        .where(
            WalletTransaction.kind == LedgerKind.REFUND,
            or_(parent.kind != LedgerKind.DEBIT, parent.wallet_id != WalletTransaction.wallet_id),
        )
    ).scalars()
    over = db.session.execute(
        select(parent.id, parent.amount, func.sum(WalletTransaction.amount))
        .join(WalletTransaction, WalletTransaction.parent_id == parent.id)
        .group_by(parent.id, parent.amount)
        .having(func.sum(WalletTransaction.amount) > parent.amount)
    ).all()
    return [
        Violation(
            "refunds-within-their-debit", "refund does not reverse a debit of its wallet", (str(i),)
        )
        for i in wrong_parent
    ] + [
        Violation("refunds-within-their-debit", f"debit of {a} refunded {s}", (str(i),))
        for i, a, s in over
    ]


@check("completed-payment-belongs-to-its-booking")
def completed_payment_belongs_to_its_booking() -> list[Violation]:
    """A completed booking payment belongs to exactly one booking, the one its hold became."""
    rows = db.session.execute(
        select(Payment.id)
        .outerjoin(Booking, Booking.id == Payment.booking_id)
        .where(
            Payment.purpose == PaymentPurpose.BOOKING,
            Payment.status == PaymentStatus.COMPLETED,
            or_(Booking.id.is_(None), Booking.reservation_id != Payment.reservation_id),
        )
    ).scalars()
    return [
        Violation(
            "completed-payment-belongs-to-its-booking", "payment has no matching booking", (str(i),)
        )
        for i in rows
    ]


@check("booking-money-adds-up")
def booking_money_adds_up() -> list[Violation]:
    """What a booking kept (total less refunds) equals its payments less their refunds, and its
    seats' charges add up to its total."""
    kept = (
        select(func.coalesce(func.sum(Payment.amount - Payment.refunded_amount), 0))
        .where(
            Payment.booking_id == Booking.id,
            Payment.status.in_([PaymentStatus.COMPLETED, PaymentStatus.REFUNDED]),
        )
        .scalar_subquery()
    )
    charged = (
        select(func.coalesce(func.sum(BookingSeat.charged), 0))
        .where(BookingSeat.booking_id == Booking.id)
        .scalar_subquery()
    )
    rows = db.session.execute(
        select(Booking.id, Booking.total_amount, Booking.refunded_amount, kept, charged).where(
            or_(
                Booking.total_amount - Booking.refunded_amount != kept,
                Booking.total_amount != charged,
            )
        )
    ).all()
    return [
        Violation(
            "booking-money-adds-up",
            f"total {t} refunded {r}: payments keep {k}, seats charged {c}",
            (str(i),),
        )
        for i, t, r, k, c in rows
    ]


@check("wallet-payment-debited-once")
def wallet_payment_debited_once() -> list[Violation]:
    """A wallet payment that took money took it once, for its amount; a failed one gave it all
    back."""
    debits = (
        select(
            WalletTransaction.payment_id.label("payment_id"),
            func.count().label("count"),
            func.sum(WalletTransaction.amount).label("amount"),
        )
        .where(
            WalletTransaction.kind == LedgerKind.DEBIT, WalletTransaction.payment_id.is_not(None)
        )
        .group_by(WalletTransaction.payment_id)
        .subquery()
    )
    refunds = (
        select(
            WalletTransaction.payment_id.label("payment_id"),
            func.sum(WalletTransaction.amount).label("amount"),
        )
        .where(WalletTransaction.kind == LedgerKind.REFUND)
        .group_by(WalletTransaction.payment_id)
        .subquery()
    )
    rows = db.session.execute(
        select(Payment.id, Payment.status, debits.c.count, debits.c.amount, refunds.c.amount)
        .outerjoin(debits, debits.c.payment_id == Payment.id)
        .outerjoin(refunds, refunds.c.payment_id == Payment.id)
        .where(
            Payment.method == PaymentMethod.WALLET,
            or_(
                debits.c.count > 1,
                and_(
                    Payment.status == PaymentStatus.COMPLETED,
                    or_(debits.c.count.is_(None), debits.c.amount != Payment.amount),
                ),
                and_(
                    Payment.status == PaymentStatus.FAILED,
                    debits.c.count.is_not(None),
                    or_(refunds.c.amount.is_(None), refunds.c.amount != debits.c.amount),
                ),
            ),
        )
    ).all()
    return [
        Violation(
            "wallet-payment-debited-once",
            f"{status} wallet payment: {count or 0} debit(s) of {amount}, refunded {back}",
            (str(i),),
        )
        for i, status, count, amount, back in rows
    ]


@check("confirmed-hold-is-one-booking")
def confirmed_hold_is_one_booking() -> list[Violation]:
    """A confirmed hold became exactly one booking, and a booking's hold is confirmed."""
    rows = db.session.execute(
        select(Reservation.id, Reservation.status, Booking.id)
        .outerjoin(Booking, Booking.reservation_id == Reservation.id)
        .where(
            or_(
                and_(Reservation.status == HoldStatus.CONFIRMED, Booking.id.is_(None)),
                and_(Reservation.status != HoldStatus.CONFIRMED, Booking.id.is_not(None)),
            )
        )
    ).all()
    return [
        Violation("confirmed-hold-is-one-booking", f"{status} hold, booking {booking}", (str(i),))
        for i, status, booking in rows
    ]


@check("booked-seat-matches-claim")
def booked_seat_matches_claim() -> list[Violation]:
    """A booked seat of a booking is exactly a live claim of that booking's hold."""
    claim = aliased(ReservationSeat)
    orphans = db.session.execute(
        select(BookingSeat.id)
        .join(Booking, Booking.id == BookingSeat.booking_id)
        .outerjoin(
            claim,
            and_(
                claim.seat_id == BookingSeat.seat_id,
                claim.reservation_id == Booking.reservation_id,
                claim.is_live,
            ),
        )
        .where(BookingSeat.status == BookingSeatStatus.BOOKED, claim.id.is_(None))
    ).scalars()
    unbooked = db.session.execute(
        select(ReservationSeat.id)
        .join(Reservation, Reservation.id == ReservationSeat.reservation_id)
        .join(Booking, Booking.reservation_id == Reservation.id)
        .outerjoin(
            BookingSeat,
            and_(
                BookingSeat.booking_id == Booking.id,
                BookingSeat.seat_id == ReservationSeat.seat_id,
                BookingSeat.status == BookingSeatStatus.BOOKED,
            ),
        )
        .where(
            ReservationSeat.is_live,
            Reservation.status == HoldStatus.CONFIRMED,
            BookingSeat.id.is_(None),
        )
    ).scalars()
    return [
        Violation("booked-seat-matches-claim", "booked seat without a live claim", (str(i),))
        for i in orphans
    ] + [
        Violation("booked-seat-matches-claim", "live claim of a paid hold not booked", (str(i),))
        for i in unbooked
    ]


@check("ticket-follows-booking")
def ticket_follows_booking() -> list[Violation]:
    """Every booking has one ticket, cancelled exactly when the booking is."""
    rows = db.session.execute(
        select(Booking.id, Booking.status, Ticket.validity)
        .outerjoin(Ticket, Ticket.booking_id == Booking.id)
        .where(
            or_(
                Ticket.id.is_(None),
                and_(
                    Booking.status == BookingStatus.CANCELLED,
                    Ticket.validity != TicketValidity.CANCELLED,
                ),
                and_(
                    Booking.status != BookingStatus.CANCELLED,
                    Ticket.validity == TicketValidity.CANCELLED,
                ),
            )
        )
    ).all()
    return [
        Violation("ticket-follows-booking", f"{status} booking, ticket {validity}", (str(i),))
        for i, status, validity in rows
    ]


# ---- refunds -----------------------------------------------------------------------------------


@check("refunds-within-their-payment")
def refunds_within_their_payment() -> list[Violation]:
    """The refunds of a payment never add up to more than the payment, nor to more than it
    records as refunded."""
    rows = db.session.execute(
        select(Payment.id, Payment.amount, Payment.refunded_amount, func.sum(Refund.amount))
        .join(Refund, Refund.payment_id == Payment.id)
        .group_by(Payment.id, Payment.amount, Payment.refunded_amount)
        .having(
            or_(
                func.sum(Refund.amount) > Payment.amount,
                func.sum(Refund.amount) > Payment.refunded_amount,
            )
        )
    ).all()
    return [
        Violation(
            "refunds-within-their-payment",
            f"payment of {a} (refunded {r}) has refunds adding up to {s}",
            (str(i),),
        )
        for i, a, r, s in rows
    ]


@check("processed-refund-has-time")
def processed_refund_has_time() -> list[Violation]:
    """Every processed refund, and every cancellation whose refund is processed, says when."""
    refunds = db.session.scalars(
        select(Refund.id).where(
            Refund.status == RefundStatus.PROCESSED, Refund.processed_at.is_(None)
        )
    )
    cancellations = db.session.scalars(
        select(Cancellation.id).where(
            Cancellation.refund_status == RefundStatus.PROCESSED,
            Cancellation.processed_at.is_(None),
        )
    )
    return [
        Violation("processed-refund-has-time", "refund processed without processed_at", (str(i),))
        for i in refunds
    ] + [
        Violation(
            "processed-refund-has-time",
            "cancellation's refund processed without processed_at",
            (str(i),),
        )
        for i in cancellations
    ]


@check("cancellation-refund-adds-up")
def cancellation_refund_adds_up() -> list[Violation]:
    """A cancellation's refund rows add up to the refund it promised (cancellations made before
    refund rows existed have none and are not counted)."""
    rows = db.session.execute(
        select(Cancellation.id, Cancellation.refund_amount, func.sum(Refund.amount))
        .join(Refund, Refund.cancellation_id == Cancellation.id)
        .group_by(Cancellation.id, Cancellation.refund_amount)
        .having(func.sum(Refund.amount) != Cancellation.refund_amount)
    ).all()
    return [
        Violation(
            "cancellation-refund-adds-up", f"promised {p}, refund rows add up to {s}", (str(i),)
        )
        for i, p, s in rows
    ]


# ---- the counter's cash (shifts) --------------------------------------------------------------


@check("shift-cash-adds-up")
def shift_cash_adds_up() -> list[Violation]:
    """Every shift has one opening_float movement equal to its float, and a closed shift's
    expected_cash is its opening float plus its cash movements (sales, refunds, float changes),
    with variance = counted - expected."""
    moved = (
        select(func.coalesce(func.sum(ShiftMovement.amount), 0))
        .where(
            ShiftMovement.shift_id == Shift.id,
            ShiftMovement.kind.in_(
                [MovementKind.CASH_SALE, MovementKind.CASH_REFUND, MovementKind.FLOAT_CHANGE]
            ),
        )
        .scalar_subquery()
    )
    floats = (
        select(func.count())
        .where(
            ShiftMovement.shift_id == Shift.id,
            ShiftMovement.kind == MovementKind.OPENING_FLOAT,
            ShiftMovement.amount == Shift.opening_float,
        )
        .scalar_subquery()
    )
    openings = (
        select(func.count())
        .where(ShiftMovement.shift_id == Shift.id, ShiftMovement.kind == MovementKind.OPENING_FLOAT)
        .scalar_subquery()
    )
    rows = db.session.execute(
        select(Shift.id, Shift.opening_float, Shift.expected_cash, moved, floats, openings).where(
            or_(
                floats != 1,
                openings != 1,
                and_(
                    Shift.closed_at.is_not(None),
                    or_(
                        Shift.expected_cash != Shift.opening_float + moved,
                        Shift.variance != Shift.counted_cash - Shift.expected_cash,
                    ),
                ),
            )
        )
    ).all()
    return [
        Violation(
            "shift-cash-adds-up",
            f"float {f} and movements {m} but expected {e} ({o} opening float rows, {ok} right)",
            (str(i),),
        )
        for i, f, e, m, ok, o in rows
    ]


@check("desk-cash-sale-in-a-shift")
def desk_cash_sale_in_a_shift() -> list[Violation]:
    """Every completed cash payment (they are all desk sales) went into a shift's drawer:
    exactly one cash_sale movement, of its amount."""
    sales = (
        select(func.count())
        .where(
            ShiftMovement.payment_id == Payment.id,
            ShiftMovement.kind == MovementKind.CASH_SALE,
            ShiftMovement.amount == Payment.amount,
        )
        .scalar_subquery()
    )
    every = (
        select(func.count())
        .where(ShiftMovement.payment_id == Payment.id, ShiftMovement.kind == MovementKind.CASH_SALE)
        .scalar_subquery()
    )
    rows = db.session.execute(
        select(Payment.id, every).where(
            Payment.method == PaymentMethod.CASH,
            Payment.status == PaymentStatus.COMPLETED,
            or_(sales != 1, every != 1),
        )
    ).all()
    return [
        Violation(
            "desk-cash-sale-in-a-shift",
            f"cash payment has {n} cash_sale movement(s), not one of its amount",
            (str(i),),
        )
        for i, n in rows
    ]
