"""Ops commands: `flask demo`, `flask seed [verify]`, `flask users create-admin`, `flask holds
expire|list`, `flask trips cancel|complete`, `flask reconcile`, `flask refunds retry`,
`flask payments settle|reconcile`."""

from __future__ import annotations

import json
import os

import click
from flask import Flask, current_app
from flask.cli import AppGroup, run_command, with_appcontext
from flask_migrate import upgrade

from booking.extensions import db
from booking.formatting import money
from booking.orm import utcnow
from booking.services import accounts, catalog, demo_sales, holds
from booking.services import seed as seed_service
from booking.services.errors import DomainError


def register_cli(app: Flask) -> None:
    """Attach the command groups to the app."""
    app.cli.add_command(seed_group)
    app.cli.add_command(users_group)
    app.cli.add_command(demo_command)
    app.cli.add_command(holds_group)
    app.cli.add_command(trips_group)
    app.cli.add_command(reconcile_command)
    app.cli.add_command(refunds_group)
    app.cli.add_command(payments_group)


@click.group("seed", cls=AppGroup, invoke_without_command=True)
@with_appcontext
@click.pass_context
def seed_group(ctx: click.Context) -> None:
    """Create the demo data (idempotent). `flask seed verify` checks it against the repo."""
    if ctx.invoked_subcommand is not None:
        return
    now = utcnow()
    click.echo("Seeding demo data…")
    added = seed_service.seed(
        catalog.local_today(now), now, progress=lambda m: click.echo(f"  {m}")
    )
    click.echo("Added: " + ", ".join(f"{k} {v}" for k, v in added.items()))


@seed_group.command("verify")
@click.option("--write", is_flag=True, help="Store the current snapshot as the expected one.")
def seed_verify(write: bool) -> None:
    """Print table counts and the seed checksum; exit 1 when they differ from the repo's."""
    today = catalog.local_today(utcnow())
    for table, count in seed_service.table_counts().items():
        click.echo(f"  {table:<22} {count:>7}")
    actual = seed_service.snapshot(today)
    click.echo(f"seeded content: {json.dumps(actual['counts'])}")
    click.echo(f"checksum: {actual['checksum']}")
    if write:
        path = os.path.join(current_app.root_path, "seed_expected.json")
        with open(path, "w") as handle:
            json.dump(actual, handle, indent=2, sort_keys=True)
            handle.write("\n")
        click.echo(f"wrote {path}")
        return
    problems = seed_service.differences(actual, seed_service.expected())
    if problems:
        for problem in problems:
            click.echo(f"MISMATCH {problem}", err=True)
        raise SystemExit(1)
    click.echo("OK: seed parity verified.")


@click.group("users", cls=AppGroup)
def users_group() -> None:
    """Manage accounts."""


@users_group.command("create-admin")
@click.argument("email")
@click.password_option(
    envvar="ADMIN_PASSWORD", help="Asked for when not given (or read from ADMIN_PASSWORD)."
)
def create_admin(email: str, password: str) -> None:
    """Create an admin account (or promote an existing one and set its password)."""
    try:
        user = accounts.create_admin(email, password, utcnow())
    except DomainError as error:
        raise click.ClickException(error.message) from error
    click.echo(f"Admin ready: {user.email}")


@users_group.command("station")
@click.argument("email")
@click.argument("city")
def users_station(email: str, city: str) -> None:
    """Set a staff member's home station (the city a new shift of theirs defaults to)."""
    try:
        user = accounts.set_home_station(email, city, utcnow())
    except DomainError as error:
        raise click.ClickException(error.message) from error
    click.echo(f"{user.email} works at {user.home_station}.")


@click.group("holds", cls=AppGroup)
def holds_group() -> None:
    """Look at and tidy seat holds."""


@holds_group.command("expire")
@click.option("--dry-run", is_flag=True, help="List what would be retired; change nothing.")
@click.option("--batch-size", type=int, help="Holds a transaction  [default: SWEEP_BATCH_SIZE]")
def holds_expire(dry_run: bool, batch_size: int | None) -> None:
    """Retire every hold past its expiry (the beat does this every SWEEP_INTERVAL_SECONDS)."""
    from booking import metrics
    from booking.services import sweep

    now = utcnow()
    batch_size = batch_size or current_app.config["SWEEP_BATCH_SIZE"]
    if dry_run:
        result = sweep.expire_holds(now, batch_size=batch_size, dry_run=True)
    else:
        with metrics.timing_sweep():
            result = sweep.run(now, batch_size=batch_size)
    verb = "would retire" if dry_run else "retired"
    for hold in result.retired:
        click.echo(f"  {hold.id}  trip {hold.schedule_id}  {len(hold.seat_ids)} seat(s)")
    click.echo(f"{verb} {len(result.retired)} lapsed hold(s)")
    if result.skipped:
        click.echo(
            f"skipped {result.skipped} lapsed hold(s) locked by another transaction "
            "(the next sweep retires them)"
        )
    if not dry_run:
        returned = result.wallet_parts_released
        click.echo(f"gave back {returned} wallet part(s) of unfinished gateway payments")


@holds_group.command("list")
@click.option("--schedule", "schedule_id", type=click.UUID, help="Only holds on this trip.")
def holds_list(schedule_id) -> None:
    """Active holds with the time they have left (0s: lapsed, waiting for the sweep)."""
    rows = holds.active_holds(utcnow(), schedule_id)
    for row in rows:
        left = f"{row.seconds_left // 60}m{row.seconds_left % 60:02d}s"
        click.echo(
            f"  {row.id}  {left:>7}  {row.route:<28} {','.join(row.seat_numbers):<20} "
            f"{row.customer}"
        )
    click.echo(f"{len(rows)} active hold(s)")


@click.group("trips", cls=AppGroup)
def trips_group() -> None:
    """Operator actions on trips."""


@trips_group.command("cancel")
@click.argument("schedule_id", type=click.UUID)
@click.option("--reason", required=True, help="Why; passengers read it in their email.")
@click.option("--admin", "admin_email", required=True, help="Email of the admin acting.")
def trips_cancel(schedule_id, reason: str, admin_email: str) -> None:
    """Cancel a trip: stop sales, release every hold, refund every booking in full to its
    original methods. Running it again changes nothing more."""
    from booking.services import cancellations

    try:
        admin = accounts.admin_by_email(admin_email)
        done = cancellations.cancel_trip(
            schedule_id, admin_id=admin.id, reason=reason, now=utcnow()
        )
    except DomainError as error:
        raise click.ClickException(error.message) from error
    click.echo(
        f"Trip {schedule_id} cancelled: {done.bookings_cancelled} booking(s) refunded "
        f"{money(done.refunded)} in all, {done.holds_released} hold(s) released."
    )


@trips_group.command("complete")
def trips_complete() -> None:
    """Complete every trip past its arrival and its confirmed bookings (the beat does this
    every TRIPS_COMPLETE_INTERVAL_SECONDS). Running it again changes nothing more."""
    from booking.services import timetable

    count = timetable.complete_trips(utcnow())
    click.echo(f"{count} trip(s) completed.")


@click.command("reconcile")
@click.option("--only", multiple=True, help="Run only the named check (repeatable).")
@with_appcontext
def reconcile_command(only: tuple[str, ...]) -> None:
    """Check every invariant of DESIGN.md over the whole database; exit 1 on any violation."""
    from booking.services import invariants

    unknown = set(only) - set(invariants.CHECKS)
    if unknown:
        raise click.BadParameter(
            f"unknown check(s): {', '.join(sorted(unknown))}", param_hint="--only"
        )
    failed = 0
    for name in invariants.CHECKS:
        if only and name not in only:
            continue
        violations = invariants.run_all([name])
        db.session.rollback()
        click.echo(f"{'FAIL' if violations else 'ok  '} {name}")
        for violation in violations:
            click.echo(f"     {violation}")
        failed += len(violations)
    if failed:
        click.echo(f"{failed} violation(s)", err=True)
        raise SystemExit(1)
    click.echo("All invariants hold.")


@click.group("refunds", cls=AppGroup)
def refunds_group() -> None:
    """Refunds waiting for the gateway."""


@refunds_group.command("retry")
@click.option(
    "--cancellation",
    "cancellation_id",
    type=click.UUID,
    help="Every gateway refund of this cancellation that is pending or failed, now.",
)
@click.option("--refund", "refund_id", type=click.UUID, help="This gateway refund, now.")
def refunds_retry(cancellation_id, refund_id) -> None:
    """Retry gateway refunds by hand: one refund, a cancellation's, or (with neither) every
    pending one whose next attempt is due (what the beat does every minute)."""
    from booking.services import refund_queue

    now = utcnow()
    try:
        if refund_id:
            states = [refund_queue.retry_gateway_refund(refund_id, now)]
        elif cancellation_id:
            states = refund_queue.retry_refund(cancellation_id, now)
        else:
            click.echo(f"{refund_queue.process_due_refunds(now)} due refund(s) attempted.")
            return
    except DomainError as error:
        raise click.ClickException(error.message) from error
    click.echo("Refund(s) now: " + ", ".join(state.value for state in states))
    if any(state != "processed" for state in states):
        raise SystemExit(1)


@click.group("payments", cls=AppGroup)
def payments_group() -> None:
    """Gateway payments: settle the unsettled, reconcile a day with the gateway."""


@payments_group.command("settle")
@click.option("--payment", "payment_id", type=click.UUID, help="Only this payment, now.")
@click.option(
    "--older-than",
    type=int,
    default=None,
    help="Minutes a payment has been pending  [default: the settle delay, "
    "RAZORPAY_SETTLE_DELAY_SECONDS]",
)
def payments_settle(payment_id, older_than: int | None) -> None:
    """Ask the gateway about gateway payments still pending (one, or every one older than the
    settle delay) and apply its answer as its webhook would have been."""
    from datetime import timedelta

    from booking.gateway import GatewayError
    from booking.services import settlement

    now = utcnow()
    try:
        if payment_id is not None:
            results = [settlement.settle_payment(payment_id, now)]
        else:
            seconds = (
                older_than * 60
                if older_than is not None
                else int(current_app.config["RAZORPAY_SETTLE_DELAY_SECONDS"])
            )
            results = settlement.settle_pending(now, timedelta(seconds=seconds))
    except (GatewayError, DomainError) as error:
        raise click.ClickException(error.message) from None
    for result in results:
        click.echo(f"{result.payment_id}: {result.outcome}")
    click.echo(f"asked the gateway about {len(results)} payment(s)")


@payments_group.command("reconcile")
@click.option(
    "--date",
    "day",
    required=True,
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="The day (operator's time zone), as YYYY-MM-DD.",
)
def payments_reconcile(day) -> None:
    """List every difference between the gateway's captured payments and refunds of a day and
    the database; exit 1 when there is any."""
    from booking.services import gateway_reconcile

    try:
        differences = gateway_reconcile.reconcile_day(day.date())
    except gateway_reconcile.ReconcileError as error:
        raise click.ClickException(error.message) from None
    for difference in differences:
        click.echo(str(difference))
    if differences:
        click.echo(f"{len(differences)} difference(s) on {day.date()}", err=True)
        raise SystemExit(1)
    click.echo(f"No differences on {day.date()}.")


@click.command("demo")
@with_appcontext
@click.option("--port", default=5000, show_default=True)
@click.pass_context
def demo_command(ctx: click.Context, port: int) -> None:
    """Migrate, seed and serve the app on http://127.0.0.1:PORT with the embedded defaults."""
    upgrade()
    ctx.invoke(seed_group)
    sold = demo_sales.sell_a_morning(utcnow())
    if sold:
        click.echo(f"Demo sales: {sold} bookings this morning, one with a cancelled seat.")
    db.session.remove()
    click.echo("Demo accounts: admin@example.com / Admin1234, staff@example.com / Staff1234,")
    click.echo("               asha@example.com / Customer1234, ravi@example.com / Customer1234")
    ctx.invoke(run_command, host="127.0.0.1", port=port, reload=False, debugger=False)
