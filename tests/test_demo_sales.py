"""`flask demo`'s morning of sales: made through the services, idempotent, and the books add up."""

from __future__ import annotations

from sqlalchemy import func, select

from booking.extensions import db
from booking.models import Booking, Cancellation
from booking.models.enums import Channel
from booking.orm import utcnow
from booking.services import demo_sales, insight
from booking.services import seed as seed_service
from booking.services.invariants import run_all


def test_the_demo_morning_sells_at_the_counter_and_online_and_the_dashboard_shows_it(
    midmorning, app
):
    with app.app_context():
        now = utcnow()
        seed_service.seed(now.date(), now)
        made = demo_sales.sell_a_morning(now)
        assert made == len(demo_sales.COUNTER_SALES) + 1
        channels = dict(
            db.session.execute(
                select(Booking.channel, func.count(Booking.id)).group_by(Booking.channel)
            ).all()
        )
        assert channels == {Channel.DESK: len(demo_sales.COUNTER_SALES), Channel.ONLINE: 1}
        assert db.session.scalar(select(func.count(Cancellation.id))) == 1
        assert run_all() == []  # every invariant holds: shift cash, wallet, seats, refunds

        board = insight.dashboard(insight.resolve_period("today", None, None, now), now)
        assert board.bookings == made and board.cancellations == 1
        assert board.takings.gross > 0
        # A second run (a restarted demo) sells nothing more.
        assert demo_sales.sell_a_morning(now) == 0
