"""Service tests of every dashboard figure and report on a small world built through the real
services, whose answers are worked out by hand below; and of who the audit log names."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from booking.extensions import db
from booking.models import ActivityLog
from booking.models.enums import Channel, PaymentMethod, Role
from booking.services import cancellations, holds, insight, reports, sweep
from booking.services.insight import InsightError
from tests.money_support import cash_sale, deliver, hold, open_shift, pay_wallet, start_gateway
from tests.support import NOW, make_trip, make_user

MIN = timedelta(minutes=1)
# The figures are read half an hour after the morning's sales: Meera's unpaid hold has lapsed.
LATER = NOW + 30 * MIN
D = Decimal


@dataclass
class World:
    """The people and trips of the hand-built data set (ids only)."""

    asha: object
    ravi: object
    meera: object
    admin: object
    trip_a: object
    trip_b: object
    b1: object
    b3: object


@pytest.fixture
def world(app_ctx) -> World:
    """NOW is 1 Dec 2026 06:00 UTC (11:30 in Kolkata). Deluxe buses, Rs 500 a seat + 5% GST.

    - trip A (Mysuru to Chennai) departs NOW + 3 h, trip B (Pune to Goa) NOW + 2 days
    - yesterday: Yash pays 3C on trip B from his wallet (525.00)
    - Asha pays 3A, 3B on trip A from her wallet (1,050.00, GST 50.00)
    - a clerk sells 4A on trip A for cash (525.00)
    - Ravi pays 5A by UPI through the gateway (525.00)
    - Meera's UPI payment for 6A is declined; her hold lapses unpaid
    - Kiran's hold on 7A is released by an admin ("duplicate hold")
    - Asha cancels 3B, 3 h before departure: 50% back, 262.50, "plans changed"
    """
    trip_a = make_trip(departs_in=timedelta(hours=3), origin="Mysuru")
    trip_b = make_trip(departs_in=timedelta(days=2), origin="Pune", destination="Goa")
    asha = make_user(first_name="Asha", wallet="5000")
    yash = make_user(first_name="Yash", wallet="1000")
    ravi, meera, kiran = (make_user(first_name=name) for name in ("Ravi", "Meera", "Kiran"))
    clerk = make_user(Role.STAFF, first_name="Clerk")
    admin = make_user(Role.ADMIN, first_name="Admin")
    yesterday = NOW - timedelta(days=1)
    pay_wallet(
        yash.id, hold(yash.id, trip_b.id, ["3C"], now=yesterday), ["3C"], now=yesterday + MIN
    )
    b1 = pay_wallet(asha.id, hold(asha.id, trip_a.id, ["3A", "3B"]), ["3A", "3B"], now=NOW + MIN)
    open_shift(clerk.id)
    cash_sale(clerk.id, trip_a.id, ["4A"], tendered=D("525.00"))
    paying = start_gateway(
        ravi.id, hold(ravi.id, trip_a.id, ["5A"]), ["5A"], NOW + MIN, use_wallet=False
    )
    deliver("payment.succeeded", paying.payment_id, NOW + 2 * MIN)
    declined = start_gateway(
        meera.id, hold(meera.id, trip_a.id, ["6A"]), ["6A"], NOW + MIN, use_wallet=False
    )
    deliver("payment.failed", declined.payment_id, NOW + 2 * MIN)
    holds.admin_release(
        hold(kiran.id, trip_a.id, ["7A"]),
        admin_id=admin.id,
        reason="duplicate hold",
        now=NOW + 3 * MIN,
    )
    cancellations.cancel_booking(
        b1, actor_id=asha.id, now=NOW + 5 * MIN, seat_numbers=["3B"], reason="plans changed"
    )
    from booking.models import Payment

    b3 = db.session.get(Payment, paying.payment_id).booking_id
    return World(asha, ravi, meera, admin, trip_a.id, trip_b.id, b1, b3)


def week():
    """The last 7 days as of LATER: 25 Nov to 1 Dec."""
    return insight.resolve_period("7d", None, None, LATER)


# ---- periods and filters ------------------------------------------------------------------------


def test_periods_are_whole_local_days_ending_today(app_ctx):
    """today, 7d and 30d end on today's local date; a custom period spans its days."""
    today = insight.resolve_period("today", None, None, NOW)
    assert (today.first, today.last) == (date(2026, 12, 1), date(2026, 12, 1))
    assert today.start == datetime(2026, 11, 30, 18, 30, tzinfo=UTC)  # midnight in Kolkata
    assert week().first == date(2026, 11, 25) and len(week().days) == 7
    assert insight.resolve_period("30d", None, None, NOW).first == date(2026, 11, 2)
    custom = insight.resolve_period(None, "2026-12-02", "2026-12-04", NOW)
    assert custom.key == "custom" and len(custom.days) == 3
    assert custom.args() == {"period": "custom", "from": "2026-12-02", "to": "2026-12-04"}


@pytest.mark.parametrize(
    ("key", "first", "last", "message"),
    [
        ("year", None, None, "Choose a period"),
        ("custom", "2026-12-01", None, "needs both a first and a last day"),
        ("custom", "1 Dec", "2026-12-02", "YYYY-MM-DD"),
        ("custom", "2026-12-05", "2026-12-01", "must not be after"),
        ("custom", "2020-01-01", "2026-12-01", "at most 366 days"),
    ],
)
def test_a_period_that_cannot_be_read_is_refused_with_a_message(app_ctx, key, first, last, message):
    """Each bad period names what is wrong."""
    with pytest.raises(InsightError, match=message):
        insight.resolve_period(key, first, last, NOW)


def test_filters_refuse_an_unknown_channel_route_or_trip(app_ctx):
    """Bad filters are refused, not ignored."""
    with pytest.raises(InsightError, match="Choose a channel"):
        insight.resolve_filters(channel="fax")
    with pytest.raises(InsightError, match="route is not known"):
        insight.resolve_filters(route="not-a-uuid")
    with pytest.raises(InsightError, match="trip is not known"):
        insight.resolve_filters(trip="00000000-0000-0000-0000-000000000000")
    assert insight.resolve_filters(channel="DESK").channel == Channel.DESK


# ---- the dashboard's figures ---------------------------------------------------------------------


def test_sales_by_channel_count_bookings_seats_and_gross(world):
    """Online: Yash, Asha (2 seats), Ravi; desk: the cash sale; nothing by API."""
    rows = {row.channel: row for row in insight.sales_by_channel(week())}
    assert (rows[Channel.ONLINE].bookings, rows[Channel.ONLINE].seats) == (3, 4)
    assert rows[Channel.ONLINE].gross == D("2100.00")
    assert (rows[Channel.DESK].bookings, rows[Channel.DESK].seats, rows[Channel.DESK].gross) == (
        1,
        1,
        D("525.00"),
    )
    assert (rows[Channel.API].bookings, rows[Channel.API].gross) == (0, D("0.00"))


def test_takings_are_gross_less_refunds_with_gst_apart(world):
    """2,625.00 sold (125.00 of it GST), 262.50 refunded: 2,362.50 kept."""
    money = insight.takings(week())
    assert (money.gross, money.gst, money.refunds, money.net) == (
        D("2625.00"),
        D("125.00"),
        D("262.50"),
        D("2362.50"),
    )


def test_today_leaves_out_yesterdays_sale_and_a_channel_filter_narrows(world):
    """Today: 2,100.00; the desk alone: 525.00; trip B's route alone this week: Yash's 525.00."""
    today = insight.resolve_period("today", None, None, LATER)
    assert insight.takings(today).gross == D("2100.00")
    desk = insight.resolve_filters(channel="desk")
    assert insight.takings(week(), desk).gross == D("525.00")
    assert [row.channel for row in insight.sales_by_channel(week(), desk)] == [Channel.DESK]
    route_b = insight.resolve_filters(route=str(_route_of(world.trip_b)))
    assert insight.takings(week(), route_b).gross == D("525.00")
    assert insight.takings(week(), route_b).refunds == D("0.00")


def _route_of(trip_id):
    from booking.models import Schedule

    return db.session.get(Schedule, trip_id).route_id


def test_sales_by_day_fill_every_day_of_the_period(world):
    """Seven points; 30 Nov (Kolkata) has Yash's sale, 1 Dec the morning's three."""
    points = {p.day: p for p in insight.sales_by_day(week())}
    assert len(points) == 7
    assert (points[date(2026, 11, 30)].bookings, points[date(2026, 11, 30)].gross) == (
        1,
        D("525.00"),
    )
    assert (points[date(2026, 12, 1)].bookings, points[date(2026, 12, 1)].gross) == (
        3,
        D("2100.00"),
    )
    assert points[date(2026, 11, 25)].bookings == 0


def test_occupancy_counts_seats_still_booked_on_trips_departing_in_the_period(world):
    """Trip A departs today: 3A, 4A, 5A booked (3B cancelled) of 40; trip B leaves later."""
    [route] = insight.occupancy_by_route(week())
    assert (route.name, route.offered, route.sold, route.rate) == (
        "Mysuru to Chennai",
        40,
        3,
        D("7.5"),
    )
    [trip] = insight.occupancy_by_trip(week().start, week().end)
    assert (trip.id, trip.sold, trip.offered) == (world.trip_a, 3, 40)
    ahead = insight.resolve_period("custom", "2026-12-03", "2026-12-03", NOW)
    assert [(load.sold, load.offered) for load in insight.occupancy_by_route(ahead)] == [(1, 40)]


def test_the_hold_funnel_counts_how_holds_ended_and_a_lapsed_one_as_expired(world):
    """Six holds: four paid, Meera's lapsed (before any sweep), Kiran's released: 1 in 6."""
    funnel = insight.hold_funnel(week(), LATER)
    assert (funnel.created, funnel.confirmed, funnel.expired, funnel.released) == (6, 4, 1, 1)
    assert (funnel.dropped, funnel.live) == (0, 0)
    assert funnel.expiry_rate == D("16.7") and funnel.conversion_rate == D("66.7")
    early = insight.hold_funnel(week(), NOW + 4 * MIN)
    assert (early.expired, early.live) == (0, 1)
    sweep.expire_holds(LATER)
    assert insight.hold_funnel(week(), LATER).expired == 1  # the sweep changes no figure


def test_payment_attempts_and_success_rate_by_method(world):
    """Wallet 2 of 2, cash 1 of 1, UPI 1 of 2 (Meera's declined)."""
    rows = {row.method: row for row in insight.payment_attempts(week())}
    assert (rows[PaymentMethod.WALLET].attempts, rows[PaymentMethod.WALLET].succeeded) == (2, 2)
    assert (rows[PaymentMethod.CASH].attempts, rows[PaymentMethod.CASH].success_rate) == (
        1,
        D("100.0"),
    )
    upi = rows[PaymentMethod.UPI]
    assert (upi.attempts, upi.succeeded, upi.failed, upi.pending) == (2, 1, 1, 0)
    assert upi.success_rate == D("50.0")


def test_cancellations_by_reason_and_by_policy_band(world):
    """One cancelling act: "plans changed", the 50% band, 262.50."""
    [by_reason] = insight.cancellations_by_reason(week())
    assert (by_reason.label, by_reason.count, by_reason.refunded) == (
        "plans changed",
        1,
        D("262.50"),
    )
    [by_band] = insight.cancellations_by_band(week())
    assert (by_band.label, by_band.refunded) == ("Partial refund (50%)", D("262.50"))


def test_the_dashboard_gathers_every_figure(world):
    """Totals, live holds, trips departing in the next hours with their load, open shifts."""
    board = insight.dashboard(week(), LATER)
    assert (board.bookings, board.seats, board.cancellations) == (4, 5, 1)
    assert board.live_holds == 0
    assert [(trip.id, trip.sold) for trip in board.departing] == [(world.trip_a, 3)]
    assert len(board.open_shifts) == 1
    assert insight.live_holds(NOW + 4 * MIN) == 1  # Meera's, until it lapses


# ---- reports ------------------------------------------------------------------------------------


def test_revenue_by_route_counts_each_bookings_refund_against_it(world):
    """Route A: 3 bookings, 4 seats, 2,100.00, GST 100.00, 262.50 back; route B: Yash's."""
    report = reports.build("revenue-route", week(), insight.Filters())
    rows = {row["route"]: row for row in report.rows}
    assert rows["Mysuru to Chennai"] == {
        "route": "Mysuru to Chennai",
        "bookings": 3,
        "seats": 4,
        "gross": D("2100.00"),
        "gst": D("100.00"),
        "refunded": D("262.50"),
        "net": D("1837.50"),
    }
    assert rows["Pune to Goa"]["net"] == D("525.00")
    assert report.totals["gross"] == D("2625.00") and report.totals["net"] == D("2362.50")


def test_revenue_by_day_and_by_trip(world):
    """By day: two days with sales; by trip: trip A and trip B."""
    by_day = reports.build("revenue-day", week(), insight.Filters())
    assert [(row["day"], row["gross"]) for row in by_day.rows] == [
        ("2026-11-30", D("525.00")),
        ("2026-12-01", D("2100.00")),
    ]
    by_trip = reports.build("revenue-trip", week(), insight.Filters())
    assert {row["trip_id"]: row["bookings"] for row in by_trip.rows} == {
        world.trip_a: 3,
        world.trip_b: 1,
    }


def test_gst_report_groups_sales_by_rate(world):
    """Deluxe buses are 5%: 2,500.00 taxable, 125.00 GST, 2,625.00 charged."""
    [row] = reports.build("gst", week(), insight.Filters()).rows
    assert (row["rate"], row["bus_types"], row["bookings"]) == (D("5"), "deluxe", 4)
    assert (row["taxable"], row["gst"], row["total"]) == (D("2500.00"), D("125.00"), D("2625.00"))


def test_cancellations_report_lists_each_act_and_totals_by_state(world):
    """Asha's cancellation of 3B, refunded to her wallet at once (processed)."""
    report = reports.build("cancellations", week(), insight.Filters())
    [row] = report.rows
    assert (row["seats"], row["reason"], row["band"], row["refund"]) == (
        1,
        "plans changed",
        "Partial refund (50%)",
        D("262.50"),
    )
    assert (row["mode"], row["status"], row["channel"]) == ("wallet", "processed", "online")
    assert reports.state_totals(week(), insight.Filters()) == [("processed", 1, D("262.50"))]
    assert (
        reports.build("cancellations", week(), insight.resolve_filters(channel="desk")).rows == []
    )


def test_occupancy_report_has_a_row_per_trip_and_a_total(world):
    """Trip A: 3 of 40, 7.5%."""
    report = reports.build("occupancy", week(), insight.Filters())
    assert [(row["sold"], row["offered"], row["load"]) for row in report.rows] == [
        (3, 40, D("7.5"))
    ]
    assert report.totals == {"offered": 40, "sold": 3, "load": D("7.5")}


def test_an_unknown_report_is_refused(app_ctx):
    """A kind that is no report: the message."""
    with pytest.raises(InsightError, match="no such report"):
        reports.build("salaries", week(), insight.Filters())


def test_the_bookings_list_matches_the_dashboard_figures(world):
    """The list behind "Bookings": 4 this week, 2,625.00; the desk's one; refunded ones."""
    found = reports.booking_list(week(), insight.Filters())
    assert (found.count, found.gross, len(found.rows)) == (4, D("2625.00"), 4)
    assert [
        row.channel
        for row in reports.booking_list(week(), insight.resolve_filters(channel="desk")).rows
    ] == [Channel.DESK]
    refunded = reports.booking_list(week(), insight.Filters(), refunded_only=True)
    assert [(row.seats, row.refunded) for row in refunded.rows] == [(2, D("262.50"))]
    paged = reports.booking_list(week(), insight.Filters(), page=2, per_page=3)
    assert (len(paged.rows), paged.has_next, paged.page) == (1, False, 2)


# ---- the real actor in the audit log ------------------------------------------------------------


def test_the_customer_is_the_actor_of_their_own_gateway_payment(world):
    """Ravi's webhook-confirmed booking, its payment, ticket and the webhook row name Ravi;
    Meera's declined payment names Meera; Asha's wallet booking's ticket names Asha."""
    ravi_rows = db.session.execute(
        select(ActivityLog.action_type, ActivityLog.user_id).where(
            ActivityLog.action_type.in_(
                ["booking.confirmed", "payment.completed", "ticket.issued", "webhook.booked"]
            ),
            ActivityLog.user_id == world.ravi.id,
        )
    ).all()
    assert {action for action, _ in ravi_rows} >= {
        "booking.confirmed",
        "payment.completed",
        "ticket.issued",
    }
    failed = db.session.scalars(
        select(ActivityLog.user_id).where(ActivityLog.action_type == "payment.failed")
    ).all()
    assert failed == [world.meera.id]
    webhook_actors = set(
        db.session.scalars(
            select(ActivityLog.user_id).where(ActivityLog.action_type.like("webhook.%"))
        )
    )
    assert webhook_actors == {world.ravi.id, world.meera.id}
    tickets = set(
        db.session.scalars(
            select(ActivityLog.user_id).where(ActivityLog.action_type == "ticket.issued")
        )
    )
    assert None not in tickets and world.asha.id in tickets


def test_the_sweep_is_the_system(world):
    """The rows the sweep writes name nobody ("system") and name the seats by number."""
    sweep.expire_holds(LATER)
    expired = db.session.execute(
        select(ActivityLog.user_id, ActivityLog.details).where(
            ActivityLog.action_type == "hold.expired"
        )
    ).all()
    assert [(actor, details["seats"]) for actor, details in expired] == [(None, ["6A"])]
