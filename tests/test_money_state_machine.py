"""Property-based: top-ups, holds, payments by every method, webhooks in any order (replays,
late ones, wrong amounts), cancellations, a trip cancellation, sweeps and clock jumps by several
customers and a clerk; after every step every invariant of DESIGN.md holds."""

from __future__ import annotations

import os
import uuid
from contextlib import suppress
from datetime import timedelta
from decimal import Decimal

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import delete, insert, select, update

from booking.extensions import db
from booking.models import (
    Booking,
    Bus,
    Payment,
    Route,
    Schedule,
    Seat,
    User,
    Wallet,
    WalletTransaction,
)
from booking.models.enums import (
    BookingSeatStatus,
    LedgerKind,
    PaymentMethod,
    PaymentPurpose,
    PaymentStatus,
    RefundMode,
    Role,
    ScheduleStatus,
    SeatStatus,
)
from booking.services import cancellations, desk_sales, holds, invariants, payments, shifts, sweep
from booking.services.errors import DomainError
from tests.money_support import deliver, desk_hold, details, hold
from tests.support import NOW, make_trip, make_user

EXAMPLES = int(os.environ.get("HYPOTHESIS_EXAMPLES", "20"))
STEPS = int(os.environ.get("HYPOTHESIS_STEPS", "30"))
SEATS = ["2A", "2B", "2C", "3A", "3B", "4A"]  # a crowded corner; 3A, 3B and 4A are ladies-only
OPENING = Decimal("600.00")  # one seat from the wallet; two need the gateway too
# Success twice as likely as each way of failing.
EVENTS = ["payment.succeeded", "payment.failed", "payment.succeeded", "payment.abandoned"]
KEPT_TABLES = {Route.__tablename__, Bus.__tablename__, Schedule.__tablename__}
KEPT_TABLES |= {Seat.__tablename__, User.__tablename__, Wallet.__tablename__}

anyone = st.integers(0, 2)


class MoneyMachine(RuleBasedStateMachine):
    """Three customers, a clerk and an admin working one trip while the clock moves."""

    trip_id = customers = clerk = admin = None  # built once by the test (the slow part)

    def __init__(self):
        super().__init__()
        reset_money(self.trip_id, self.customers)
        self.now = NOW
        for person in (self.clerk, self.admin):  # cash sales and cash refunds need a shift
            shifts.open_shift(person, Decimal("500.00"), NOW)
        self.holds: dict[int, uuid.UUID] = {}
        self.gateway_payments: list[uuid.UUID] = []
        self.topups: list[uuid.UUID] = []
        self.delivered: list[tuple[str, uuid.UUID, str]] = []
        self.bookings: list[uuid.UUID] = []

    # ---- money in ----------------------------------------------------------------------------

    @rule(who=anyone, amount=st.sampled_from(["100.00", "250.50", "1000.00"]))
    def start_topup(self, who, amount):
        started = payments.start_topup(
            customer_id=self.customers[who],
            amount=Decimal(amount),
            method=PaymentMethod.UPI,
            now=self.now,
            return_url="/wallet",
        )
        self.topups.append(started.payment_id)

    # ---- holds -------------------------------------------------------------------------------

    @rule(who=anyone, seats=st.lists(st.sampled_from(SEATS), min_size=1, max_size=3))
    def hold_seats(self, who, seats):
        with suppress(DomainError):
            self.holds[who] = hold(self.customers[who], self.trip_id, seats, now=self.now)

    @rule(who=anyone)
    def revive(self, who):
        if who in self.holds:
            with suppress(DomainError):
                holds.revive_hold(self.holds[who], customer_id=self.customers[who], now=self.now)

    @rule()
    def sweep(self):
        sweep.expire_holds(self.now, batch_size=2)

    @rule(minutes=st.sampled_from([1, 4, 11, 16, 240, 1200]))
    def clock_moves(self, minutes):
        self.now += timedelta(minutes=minutes)

    # ---- paying ------------------------------------------------------------------------------

    def _seats_of(self, who) -> list[str]:
        return [seat.seat_number for seat in holds.held_seats(self.holds[who])]

    @rule(who=anyone, seats=st.lists(st.sampled_from(SEATS), min_size=1, max_size=2))
    def hold_and_pay_from_the_wallet_at_once(self, who, seats):
        with suppress(DomainError):
            self.holds[who] = hold(self.customers[who], self.trip_id, seats, now=self.now)
            booking = payments.pay_with_wallet(
                hold_id=self.holds[who],
                customer_id=self.customers[who],
                details=details(self._seats_of(who)),
                now=self.now,
            )
            self.bookings.append(booking.id)
            event("held and paid from the wallet")

    @precondition(lambda self: self.holds)
    @rule(data=st.data(), key=st.sampled_from([None, "same-key"]))
    def pay_with_wallet(self, data, key):
        who = data.draw(st.sampled_from(sorted(self.holds)))
        with suppress(DomainError):
            booking = payments.pay_with_wallet(
                hold_id=self.holds[who],
                customer_id=self.customers[who],
                details=details(self._seats_of(who)),
                now=self.now,
                idempotency_key=f"{key}-{self.holds[who]}" if key else None,
            )
            self.bookings.append(booking.id)
            event("paid from the wallet")

    @precondition(lambda self: self.holds)
    @rule(
        data=st.data(),
        use_wallet=st.booleans(),
        method=st.sampled_from([PaymentMethod.UPI, PaymentMethod.CREDIT_CARD]),
    )
    def start_gateway_payment(self, data, use_wallet, method):
        who = data.draw(st.sampled_from(sorted(self.holds)))
        with suppress(DomainError):
            started = payments.start_gateway_payment(
                hold_id=self.holds[who],
                customer_id=self.customers[who],
                details=details(self._seats_of(who)),
                method=method,
                use_wallet=use_wallet,
                now=self.now,
                return_url="/r",
            )
            self.gateway_payments.append(started.payment_id)

    @rule(
        who=anyone,
        seats=st.lists(st.sampled_from(SEATS), min_size=1, max_size=2),
        use_wallet=st.booleans(),
    )
    def hold_and_start_a_gateway_payment_at_once(self, who, seats, use_wallet):
        with suppress(DomainError):
            self.holds[who] = hold(self.customers[who], self.trip_id, seats, now=self.now)
            started = payments.start_gateway_payment(
                hold_id=self.holds[who],
                customer_id=self.customers[who],
                details=details(self._seats_of(who)),
                method=PaymentMethod.NET_BANKING,
                use_wallet=use_wallet,
                now=self.now,
                return_url="/r",
            )
            self.gateway_payments.append(started.payment_id)

    @rule(seats=st.lists(st.sampled_from(SEATS), min_size=1, max_size=2))
    def desk_cash_sale(self, seats):
        with suppress(DomainError):
            hold_id = desk_hold(self.clerk, self.trip_id, seats, now=self.now)
            booking = desk_sales.sell_at_desk(
                hold_id=hold_id,
                clerk_id=self.clerk,
                details=details(holds_seat_numbers(hold_id)),
                now=self.now,
            )
            self.bookings.append(booking.id)
            event("sold at the desk")

    # ---- the gateway calling back ------------------------------------------------------------

    @precondition(lambda self: self.gateway_payments)
    @rule(
        data=st.data(),
        event_type=st.sampled_from(EVENTS),
        wrong_amount=st.sampled_from([False, False, False, True]),
    )
    def webhook(self, data, event_type, wrong_amount):
        self._deliver(data.draw(st.sampled_from(self._pending_first())), event_type, wrong_amount)

    @precondition(lambda self: self.topups)
    @rule(data=st.data(), event_type=st.sampled_from(EVENTS))
    def topup_webhook(self, data, event_type):
        self._deliver(data.draw(st.sampled_from(self.topups[::-1])), event_type, wrong_amount=False)

    def _pending_first(self) -> list[uuid.UUID]:
        """The booking payments, those still waiting for the gateway first (so most events are
        about a live attempt, some arrive late or twice)."""
        pending = set(
            db.session.scalars(
                select(Payment.id).where(
                    Payment.id.in_(self.gateway_payments), Payment.status == PaymentStatus.PENDING
                )
            )
        )
        return sorted(self.gateway_payments[::-1], key=lambda p: p not in pending)

    def _deliver(self, payment_id, event_type, wrong_amount):
        """A fresh gateway event about a payment, now."""
        event_id = f"evt_{uuid.uuid4().hex}"
        amount = None
        if wrong_amount and event_type == "payment.succeeded":
            amount = db.session.get(Payment, payment_id).amount + Decimal("1.00")
        outcome = deliver(event_type, payment_id, self.now, event_id=event_id, amount=amount)
        assert outcome.outcome != "duplicate"
        event(f"webhook {event_type}: {outcome.outcome}")
        self.delivered.append((event_type, payment_id, event_id))
        if outcome.booking_id and outcome.outcome.startswith("confirmed"):
            self.bookings.append(outcome.booking_id)

    @precondition(lambda self: self.delivered)
    @rule(data=st.data())
    def webhook_replayed(self, data):
        event_type, payment_id, event_id = data.draw(st.sampled_from(self.delivered))
        outcome = deliver(event_type, payment_id, self.now, event_id=event_id)
        assert outcome.outcome == "duplicate"

    # ---- cancelling --------------------------------------------------------------------------

    @precondition(lambda self: self.bookings)
    @rule(
        data=st.data(),
        partial=st.booleans(),
        mode=st.sampled_from([None, RefundMode.WALLET, RefundMode.ORIGINAL]),
        by_staff=st.booleans(),
    )
    def cancel(self, data, partial, mode, by_staff):
        booking = db.session.get(Booking, data.draw(st.sampled_from(self.bookings)))
        booked = [s.seat_number for s in booking.seats if s.status == BookingSeatStatus.BOOKED]
        actor = self.admin if by_staff or booking.user_id is None else booking.user_id
        with suppress(DomainError):
            done = cancellations.cancel_booking(
                booking.id,
                actor_id=actor,
                now=self.now,
                seat_numbers=booked[:1] if partial and booked else None,
                refund_mode=mode,
            )
            event(f"cancelled at {done.refund_percent}%")

    # Late in an example only: a cancelled trip leaves nothing more to explore.
    @precondition(lambda self: len(self.bookings) >= 3)
    @rule()
    def operator_cancels_the_trip(self):
        with suppress(DomainError):
            cancellations.cancel_trip(
                self.trip_id, admin_id=self.admin, reason="Road closed", now=self.now
            )

    # ---- what must always hold ---------------------------------------------------------------

    @invariant()
    def every_invariant_holds(self):
        db.session.expire_all()
        assert [str(v) for v in invariants.run_all()] == []

    @invariant()
    def every_topup_credited_at_most_once(self):
        credits = db.session.execute(
            select(WalletTransaction.payment_id)
            .join(Payment, Payment.id == WalletTransaction.payment_id)
            .where(
                WalletTransaction.kind == LedgerKind.CREDIT,
                Payment.purpose == PaymentPurpose.TOPUP,
            )
        ).scalars()
        credited = list(credits)
        assert len(credited) == len(set(credited))


def holds_seat_numbers(hold_id) -> list[str]:
    """The seat numbers a hold claims."""
    return [seat.seat_number for seat in holds.held_seats(hold_id)]


def reset_money(trip_id, customer_ids) -> None:
    """Forget every hold, payment, booking and ledger row: the trip all free and on sale, each
    customer's wallet holding its opening credit again."""
    db.session.remove()
    for table in reversed(db.metadata.sorted_tables):
        if table.name not in KEPT_TABLES:
            db.session.execute(delete(table))
    db.session.execute(update(Seat).values(status=SeatStatus.AVAILABLE))
    db.session.execute(
        update(Schedule)
        .where(Schedule.id == trip_id)
        .values(available_seats=40, status=ScheduleStatus.SCHEDULED)
    )
    db.session.execute(update(Wallet).values(balance=0))
    db.session.execute(
        update(Wallet).where(Wallet.user_id.in_(customer_ids)).values(balance=OPENING)
    )
    wallets = db.session.scalars(select(Wallet.id).where(Wallet.user_id.in_(customer_ids)))
    db.session.execute(
        insert(WalletTransaction),
        [
            {
                "id": uuid.uuid4(),
                "wallet_id": wallet_id,
                "kind": LedgerKind.CREDIT,
                "amount": OPENING,
                "balance_after": OPENING,
                "description": "Opening credit (test)",
                "created_at": NOW,
            }
            for wallet_id in wallets.all()
        ],
    )
    db.session.commit()


def test_money_state_machine(app_ctx):
    """Run the machine (HYPOTHESIS_EXAMPLES and HYPOTHESIS_STEPS raise it by hand)."""
    MoneyMachine.trip_id = make_trip().id
    MoneyMachine.customers = [make_user().id for _ in range(3)]
    MoneyMachine.clerk = make_user(Role.STAFF).id
    MoneyMachine.admin = make_user(Role.ADMIN).id
    run_state_machine_as_test(
        MoneyMachine,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
