"""Bulk CSV edit: export, preview (writes nothing), apply (all or nothing), for every kind."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from booking.extensions import db
from booking.models import ActivityLog, BookingSeat, Schedule, Seat
from booking.models.enums import Role
from booking.services import bulk
from booking.services.bulk import BulkRejected
from booking.services.bulk.cells import show_time
from tests.money_support import Boom, table_snapshot
from tests.support import NOW, make_trip, make_user


def rows_of(text: str) -> list[dict[str, str]]:
    """The rows of a CSV text."""
    return list(csv.DictReader(io.StringIO(text)))


def csv_bytes(rows: list[dict], columns=None) -> bytes:
    """A CSV file of rows (columns: the first row's keys)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns or list(rows[0]), lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def local(moment) -> str:
    """A UTC instant as the file writes it."""
    return show_time(moment)


@pytest.fixture
def boss(app_ctx):
    return make_user(Role.ADMIN, first_name="Boss")


def schedule_row(trip: Schedule, **changes) -> dict:
    row = {
        "bus_number": trip.bus.bus_number,
        "departure": local(trip.departure_at),
        "arrival": local(trip.arrival_at),
        "origin": trip.route.origin_city,
        "destination": trip.route.destination_city,
        "base_price": "500.00",
        "move_to_bus": "",
        "delete": "no",
    }
    row.update(changes)
    return row


# ---- schedules -------------------------------------------------------------------------------


def test_schedules_round_trip_export_edit_preview_apply_export(trip, boss):
    exported = bulk.export("schedules")
    rows = rows_of(exported)
    assert rows == [schedule_row(trip)]
    rows[0]["base_price"] = "550.00"
    new_departure = trip.departure_at + timedelta(days=1)
    rows.append(
        schedule_row(
            trip,
            departure=local(new_departure),
            arrival=local(new_departure + timedelta(hours=6)),
            base_price="450",
        )
    )
    data = csv_bytes(rows)
    before = table_snapshot()
    preview = bulk.preview("schedules", data, NOW)
    assert table_snapshot() == before
    assert preview.ok, preview.errors
    assert preview.counts == {"create": 1, "update": 1, "delete": 0, "unchanged": 0, "error": 0}
    update = preview.rows[0]
    assert [(c.field, c.old, c.new) for c in update.changes] == [("base_price", "500.00", "550.00")]
    applied = bulk.apply("schedules", data, NOW, boss.id)
    assert (applied.created, applied.updated) == (1, 1)
    again = rows_of(bulk.export("schedules"))
    assert [r["base_price"] for r in again] == ["550.00", "450.00"]
    created = db.session.scalar(select(Schedule).where(Schedule.departure_at == new_departure))
    assert created.available_seats == 40
    assert (
        db.session.scalar(
            select(func.count()).select_from(Seat).where(Seat.schedule_id == created.id)
        )
        == 40
    )
    actions = db.session.scalars(select(ActivityLog.action_type)).all()
    assert sorted(a for a in actions if "bulk" in a) == [
        "bulk_edit.applied",
        "schedule.bulk_created",
        "schedule.bulk_updated",
    ]
    # applying the same file again changes nothing
    assert bulk.preview("schedules", data, NOW).counts["unchanged"] == 2


def test_one_bad_row_among_500_applies_nothing_and_names_the_line(trip, boss):
    rows = []
    for n in range(500):
        departure = trip.departure_at + timedelta(days=1, hours=7 * n)
        rows.append(
            schedule_row(
                trip,
                departure=local(departure),
                arrival=local(departure + timedelta(hours=6)),
            )
        )
    rows[321]["base_price"] = "-5"
    data = csv_bytes(rows)
    preview = bulk.preview("schedules", data, NOW)
    assert [(e.line, e.column) for e in preview.errors] == [(323, "base_price")]
    assert preview.counts["create"] == 499
    before = table_snapshot()
    with pytest.raises(BulkRejected):
        bulk.apply("schedules", data, NOW, boss.id)
    assert table_snapshot() == before


def test_overlap_inside_the_file_and_with_the_database(trip, boss):
    first = trip.departure_at + timedelta(days=1)
    rows = [
        schedule_row(trip, departure=local(first), arrival=local(first + timedelta(hours=6))),
        schedule_row(
            trip,
            departure=local(first + timedelta(hours=2)),
            arrival=local(first + timedelta(hours=8)),
        ),
        schedule_row(
            trip,
            departure=local(trip.departure_at + timedelta(hours=1)),
            arrival=local(trip.departure_at + timedelta(hours=3)),
        ),
    ]
    preview = bulk.preview("schedules", csv_bytes(rows), NOW)
    messages = {e.line: e.message for e in preview.errors}
    assert set(messages) == {3, 4}
    assert "(line 2)" in messages[3]
    assert "two trips at once" in messages[4]


def test_schedule_rules_reported_per_row(trip, boss):
    other = make_trip(layout="sleeper_2x1")
    rows = [
        schedule_row(trip, departure=local(NOW - timedelta(hours=1)), arrival=local(NOW)),
        schedule_row(trip, arrival=local(trip.departure_at - timedelta(minutes=5))),
        schedule_row(trip, bus_number="NOPE1", departure=local(trip.departure_at)),
        schedule_row(other, origin="Atlantis"),
        schedule_row(other, move_to_bus="NOPE2"),
    ]
    rows[4]["departure"] = local(other.departure_at)
    rows[3]["departure"] = local(other.departure_at + timedelta(days=5))
    rows[3]["arrival"] = local(other.departure_at + timedelta(days=5, hours=3))
    preview = bulk.preview("schedules", csv_bytes(rows), NOW)
    found = {(e.line, e.column): e.message for e in preview.errors}
    assert found[(2, "departure")] == "The departure must be in the future."
    assert found[(3, "arrival")] == "The arrival must be after the departure."
    assert found[(4, "bus_number")] == "There is no bus NOPE1."
    assert "There is no route from Atlantis" in found[(5, "origin")]
    assert found[(6, "move_to_bus")] == "There is no bus NOPE2."


def test_delete_only_without_holds(trip, boss):
    from tests.money_support import hold

    customer = make_user()
    spare = make_trip()
    hold(customer.id, trip.id, ["2A"])
    rows = [schedule_row(trip, delete="yes"), schedule_row(spare, delete="yes")]
    preview = bulk.preview("schedules", csv_bytes(rows), NOW)
    assert [(e.line, e.column) for e in preview.errors] == [(2, "delete")]
    assert "1 hold(s)" in preview.errors[0].message
    rows.pop(0)
    applied = bulk.apply("schedules", csv_bytes(rows), NOW, boss.id)
    assert applied.deleted == 1
    assert db.session.get(Schedule, spare.id) is None


def test_price_change_keeps_sold_fares_and_bus_swap_must_keep_sold_seats(trip, boss):
    from tests.money_support import hold, pay_wallet

    customer = make_user(wallet="5000.00")
    pay_wallet(customer.id, hold(customer.id, trip.id, ["10A"]), ["10A"])
    fare_before = db.session.scalar(select(BookingSeat.fare))
    sleeper = make_trip(layout="sleeper_2x1", departs_in=timedelta(days=20))
    seater = make_trip(departs_in=timedelta(days=20))
    swap_to_sleeper = schedule_row(trip, move_to_bus=sleeper.bus.bus_number)
    preview = bulk.preview("schedules", csv_bytes([swap_to_sleeper]), NOW)
    assert "has no seat(s) 10A" in preview.errors[0].message

    priced = schedule_row(trip, base_price="600.00", move_to_bus=seater.bus.bus_number)
    bulk.apply("schedules", csv_bytes([priced]), NOW, boss.id)
    db.session.expire_all()
    moved = db.session.get(Schedule, trip.id)
    assert moved.bus_id == seater.bus.id and moved.base_price == Decimal("600.00")
    assert db.session.scalar(select(BookingSeat.fare)) == fare_before
    from booking.services import invariants

    assert invariants.run_all() == []


def test_150_schedules_raised_by_ten_percent(boss, app_ctx):
    trips = [make_trip(departs_in=timedelta(days=2, hours=n)) for n in range(150)]
    rows = rows_of(bulk.export("schedules"))
    assert len(rows) == 150
    for row in rows:
        row["base_price"] = f"{Decimal(row['base_price']) * Decimal('1.10'):.2f}"
    applied = bulk.apply("schedules", csv_bytes(rows), NOW, boss.id)
    assert applied.updated == 150
    prices = set(db.session.scalars(select(Schedule.base_price)))
    assert prices == {Decimal("550.00")}
    assert len(trips) == 150
    logs = db.session.scalar(
        select(func.count())
        .select_from(ActivityLog)
        .where(ActivityLog.action_type == "schedule.bulk_updated")
    )
    assert logs == 150


# ---- what a file can get wrong --------------------------------------------------------------


def problems(data: bytes, make_app=None, kind: str = "schedules") -> list[str]:
    preview = bulk.preview(kind, data, NOW)
    assert preview.rows == []
    return preview.problems


HEADER = "bus_number,departure,arrival,origin,destination,base_price\r\n"


def test_bad_files_are_refused_before_any_row_is_read(trip):
    assert problems(b"") == ["The file is empty."]
    assert problems(HEADER.encode()) == ["The file has a header but no rows."]
    assert (
        "not UTF-8" in problems(HEADER.encode() + "B1,2026-12-05 10:00,é\r\n".encode("latin-1"))[0]
    )
    assert "separated by semicolons" in problems(HEADER.replace(",", ";").encode())[0]
    assert "separated by tabs" in problems(HEADER.replace(",", "\t").encode())[0]
    header = problems(b"bus_number,fare,colour\r\nX,1,2\r\n")
    assert header == [
        "The header lacks the column(s) departure.",
        "The header has unknown column(s) colour, fare. The columns are: bus_number, departure, "
        "arrival, origin, destination, base_price, move_to_bus, delete.",
    ]


def test_a_utf8_bom_is_accepted(trip):
    data = "\ufeff".encode() + bulk.export("schedules").encode()
    preview = bulk.preview("schedules", data, NOW)
    assert preview.ok and preview.counts["unchanged"] == 1


def test_size_and_row_limits(make_app, trip):
    small = make_app(BULK_MAX_BYTES=100, BULK_MAX_ROWS=2)
    with small.app_context():
        assert "the limit is 100 bytes" in problems(b"x" * 101)[0]
        data = (HEADER + "A,1,1,a,b,1\r\n" * 3).encode()
        assert problems(data) == [
            "The file has 3 rows; the limit is 2. Split it and upload the parts."
        ]
        with pytest.raises(BulkRejected, match="100 bytes"):
            bulk.apply("schedules", b"x" * 101, NOW, None)


def test_duplicate_key_inside_the_file(trip):
    row = schedule_row(trip, base_price="501")
    preview = bulk.preview("schedules", csv_bytes([row, dict(row)]), NOW)
    assert [(e.line, e.message) for e in preview.errors] == [
        (3, "The same bus_number + departure is also on line 2: each item may appear once.")
    ]


def test_unknown_kind(app_ctx):
    from booking.services.errors import NotFound

    with pytest.raises(NotFound):
        bulk.export("planets")


def test_a_fault_in_the_middle_of_an_apply_leaves_every_table_unchanged(trip, boss, monkeypatch):
    from booking.services.bulk import schedules

    rows = rows_of(bulk.export("schedules"))
    rows[0]["base_price"] = "650.00"
    later = trip.departure_at + timedelta(days=3)
    rows.append(
        schedule_row(trip, departure=local(later), arrival=local(later + timedelta(hours=5)))
    )
    data = csv_bytes(rows)
    before = table_snapshot()
    original = schedules.Schedules._swap_bus

    def fail_after_inserts(self, rows, now, admin_id):
        real_write(self, rows, now, admin_id)
        raise Boom("injected after the writes")

    real_write = schedules.Schedules.write
    monkeypatch.setattr(schedules.Schedules, "write", fail_after_inserts)
    with pytest.raises(Boom):
        bulk.apply("schedules", data, NOW, boss.id)
    assert table_snapshot() == before
    monkeypatch.setattr(schedules.Schedules, "write", real_write)
    assert original is schedules.Schedules._swap_bus
    applied = bulk.apply("schedules", data, NOW, boss.id)
    assert (applied.created, applied.updated) == (1, 1)


def test_formula_cells_are_escaped_on_export_and_round_trip_as_text(app_ctx, boss):
    trip = make_trip(origin="=1+1", destination="@SUM(A1)")
    exported = bulk.export("schedules")
    assert ",'=1+1,'@SUM(A1)," in exported
    preview = bulk.preview("schedules", exported.encode(), NOW)
    assert preview.ok and preview.counts["unchanged"] == 1
    assert trip.route.origin_city == "=1+1"


# ---- routes, buses, promo codes ----------------------------------------------------------------


def test_routes_round_trip_and_deactivation_refused_with_sold_trips(trip, boss):
    from tests.money_support import hold, pay_wallet

    customer = make_user(wallet="5000.00")
    pay_wallet(customer.id, hold(customer.id, trip.id, ["3A"]), ["3A"])
    rows = rows_of(bulk.export("routes"))
    assert rows == [
        {
            "origin": trip.route.origin_city,
            "destination": "Chennai",
            "distance_km": "350",
            "duration_minutes": "360",
            "active": "yes",
        }
    ]
    rows[0]["duration_minutes"] = "380"
    rows.append(
        {
            "origin": "Hubli",
            "destination": "=HYPERLINK(1)",
            "distance_km": "412.5",
            "duration_minutes": "420",
            "active": "yes",
        }
    )
    applied = bulk.apply("routes", csv_bytes(rows), NOW, boss.id)
    assert (applied.created, applied.updated) == (1, 1)
    again = bulk.export("routes")
    assert "Hubli,'=HYPERLINK(1),412.5,420,yes" in again
    assert rows_of(again)[1]["duration_minutes"] == "380"

    closing = rows_of(again)
    closing[1]["active"] = "no"
    preview = bulk.preview("routes", csv_bytes(closing), NOW)
    assert [(e.line, e.column) for e in preview.errors] == [(3, "active")]
    assert "1 trip(s)" in preview.errors[0].message
    # the formula-looking city came back as text and is unchanged
    assert preview.rows[0].action == "unchanged"


def test_route_rules(app_ctx):
    data = csv_bytes(
        [
            {"origin": "Pune", "destination": "pune", "distance_km": "0", "duration_minutes": "x"},
        ]
    )
    errors = {e.column for e in bulk.preview("routes", data, NOW).errors}
    assert errors == {"destination", "distance_km", "duration_minutes"}


def test_buses_round_trip_layout_by_name_and_seat_count(trip, boss):
    rows = rows_of(bulk.export("buses"))
    assert rows[0]["seats"] == "40" and rows[0]["amenities"] == "AC"
    rows[0]["amenities"] = "AC; WiFi"
    rows.append(
        {
            "bus_number": "KA01 F 9",
            "bus_type": "sleeper",
            "seats": "",
            "layout": "sleeper_2x1",
            "amenities": "",
            "active": "yes",
        }
    )
    rows.append(dict(rows[1], bus_number="KA02", seats="7"))
    preview = bulk.preview("buses", csv_bytes(rows), NOW)
    assert [(e.line, e.column) for e in preview.errors] == [(4, "seats")]
    applied = bulk.apply("buses", csv_bytes(rows[:2]), NOW, boss.id)
    assert (applied.created, applied.updated) == (1, 1)
    again = {r["bus_number"]: r for r in rows_of(bulk.export("buses"))}
    assert again[trip.bus.bus_number]["amenities"] == "AC; WiFi"
    assert again["KA01 F 9"]["bus_type"] == "sleeper"
    assert bulk.preview("buses", bulk.export("buses").encode(), NOW).counts["unchanged"] == 2


def test_promo_codes_round_trip_and_rules(app_ctx, boss):
    from tests.money_support import make_promo

    make_promo("SAVE10")
    rows = rows_of(bulk.export("promo_codes"))
    assert rows[0]["code"] == "SAVE10" and rows[0]["kind"] == "percent"
    rows[0]["percent_off"] = "15"
    rows[0]["description"] = "=1+1"
    rows.append(
        dict(
            rows[0],
            code="flat50",
            kind="flat",
            percent_off="",
            amount_off="50",
            usage_limit="100",
        )
    )
    rows.append(dict(rows[0], code="BAD1", kind="flat"))
    preview = bulk.preview("promo_codes", csv_bytes(rows), NOW)
    assert [(e.line, e.column) for e in preview.errors] == [(4, "amount_off")]
    applied = bulk.apply("promo_codes", csv_bytes(rows[:2]), NOW, boss.id)
    assert (applied.created, applied.updated) == (1, 1)
    exported = bulk.export("promo_codes")
    again = {r["code"]: r for r in rows_of(exported)}
    assert again["SAVE10"]["percent_off"] == "15"
    assert again["SAVE10"]["description"] == "'=1+1"  # escaped for spreadsheets
    assert again["FLAT50"]["amount_off"] == "50.00"
    from booking.models import PromoCode

    saved = db.session.scalar(select(PromoCode).where(PromoCode.code == "SAVE10"))
    assert saved.description == "=1+1"  # stored as the text it is, never evaluated
    assert bulk.preview("promo_codes", exported.encode(), NOW).counts["unchanged"] == 2


def test_apply_checks_again_what_changed_since_the_preview(trip, boss):
    from tests.money_support import hold

    data = csv_bytes([schedule_row(trip, delete="yes")])
    assert bulk.preview("schedules", data, NOW).counts["delete"] == 1
    customer = make_user()
    hold(customer.id, trip.id, ["5B"])  # someone holds a seat meanwhile
    before = table_snapshot()
    with pytest.raises(BulkRejected) as refused:
        bulk.apply("schedules", data, NOW, boss.id)
    assert "1 row(s) have errors" in refused.value.message
    assert table_snapshot() == before


def test_preview_and_apply_use_a_few_statements_whatever_the_row_count(app_ctx, boss):
    from tests.support import count_statements

    trip = make_trip()
    rows = []
    for n in range(120):
        departure = trip.departure_at + timedelta(days=1, hours=7 * n)
        rows.append(
            schedule_row(
                trip, departure=local(departure), arrival=local(departure + timedelta(hours=6))
            )
        )
    rows.append(schedule_row(trip, base_price="510.00"))
    data = csv_bytes(rows)
    with count_statements() as previewed:
        assert bulk.preview("schedules", data, NOW).ok
    with count_statements() as applied:
        bulk.apply("schedules", data, NOW, boss.id)
    assert len(previewed) <= 8, previewed
    assert len(applied) <= 16, applied
