"""Live seat maps: seat cells pushed over a real WebSocket, in one process and through Redis."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
import redis
from flask import url_for
from simple_websocket import Client, ConnectionClosed
from sqlalchemy import select
from werkzeug.serving import make_server

from booking import realtime
from booking.extensions import db
from booking.models import Seat
from booking.orm import utcnow
from booking.realtime import SeatMapHub, SeatMapSocket, SeatUpdate
from booking.services import holds
from booking.services.inventory import SeatView
from tests.support import PASSWORD, count_statements, make_trip, make_user

SHARED_REDIS = "redis://127.0.0.1:6379/0"
CELL = re.compile(r'<label id="seat-([0-9a-f-]{36})"[^>]*?data-state="(\w+)"')
MARKER = re.compile(
    r'<div id="seat-map-version" data-version="(\d+)" data-hx-swap-oob="true"></div>'
)


# ---- reading frames -------------------------------------------------------------------------


def cells(frame: str) -> dict[str, str]:
    """Seat id -> state of every seat cell in a frame."""
    return dict(CELL.findall(frame))


def version(frame: str) -> int:
    """The seat-map version a frame carries (exactly one marker per frame)."""
    (number,) = MARKER.findall(frame)
    return int(number)


def next_frame(ws: Client, match: Callable[[str], bool] = bool, timeout: float = 3.0) -> str:
    """The next frame ``match`` accepts, within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        frame = ws.receive(timeout=left)
        if frame is not None and match(frame):
            return frame
    pytest.fail(f"no matching frame within {timeout} s")


def wait_for(condition: Callable[[], bool], timeout: float = 5.0, what: str = "condition"):
    """Poll ``condition`` until it holds or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    pytest.fail(f"{what} not met within {timeout} s")


def shows(seat_id, state: str) -> Callable[[str], bool]:
    """A frame matcher: the seat appears in ``state``."""
    return lambda frame: cells(frame).get(str(seat_id)) == state


# ---- fakes and fixtures ---------------------------------------------------------------------


class RecordingSocket:
    """A WebSocket that keeps what it was sent."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def send(self, data: str) -> None:
        """Keep the frame."""
        self.sent.append(data)


class BrokenSocket:
    """A WebSocket whose browser has gone: every send fails."""

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.attempts = 0

    def send(self, data: str) -> None:
        """Fail like a closed socket."""
        self.attempts += 1
        raise self.error


def seat_view(state: str = "available", holder_id: uuid.UUID | None = None) -> SeatView:
    """A seat as read from the database."""
    return SeatView(
        id=uuid.uuid4(),
        number="3B",
        deck=0,
        row=2,
        column=1,
        seat_type="standard",
        ladies_only=False,
        is_window=True,
        fare=Decimal("550.00"),
        state=state,
        holder_id=holder_id,
    )


@pytest.fixture
def live_app(make_app, app):
    """Build apps with the seat-map socket (``app`` so the tables are emptied afterwards)."""
    built = []

    def build(**config):
        built.append(make_app(**config))
        return built[-1]

    return build


@pytest.fixture
def serve(live_app):
    """Serve apps over real HTTP in threads; returns the ws:// base URL. Stopped afterwards."""
    running = []

    def start(application) -> str:
        server = make_server("127.0.0.1", 0, application, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        running.append((server, thread))
        return f"ws://127.0.0.1:{server.port}"

    yield start
    for server, thread in running:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()


@pytest.fixture
def connect(serve):
    """Open seat-map WebSockets; each is closed afterwards."""
    opened: list[Client] = []

    def open_socket(base: str, schedule_id, cookie: str | None = None) -> Client:
        headers = {"Cookie": cookie} if cookie else None
        opened.append(Client.connect(f"{base}/ws/schedules/{schedule_id}/seats", headers=headers))
        return opened[-1]

    yield open_socket
    for ws in opened:
        with contextlib.suppress(ConnectionClosed):
            ws.close()
        ws.thread.join(timeout=5)


def redis_needed(reason: str) -> None:
    """Fail in CI, where Redis must be there; elsewhere skip, saying why."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI must provide Redis: {reason}")
    pytest.skip(reason)


@pytest.fixture
def shared_redis():
    """The Redis every process meets in, and a channel of this test's own."""
    client = redis.Redis.from_url(SHARED_REDIS, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError as error:
        client.close()
        redis_needed(f"Redis is not reachable at {SHARED_REDIS}: {error}")
    yield client, f"booking-test:{uuid.uuid4().hex}:seats"
    client.close()


class RedisServer:
    """A private redis-server on a port of its own, to stop and start at will."""

    def __init__(self, binary: str) -> None:
        self.binary = binary
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        """Start it and wait until it answers."""
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.2)
        try:
            wait_for(lambda: self._answers(client), what="private redis-server up")
        finally:
            client.close()

    def stop(self) -> None:
        """Stop it (as a restart or a crash would)."""
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def subscribers(self, channel: str) -> int:
        """How many connections are subscribed to ``channel``."""
        client = redis.Redis.from_url(self.url)
        try:
            return dict(client.pubsub_numsub(channel)).get(channel.encode(), 0)
        finally:
            client.close()

    @staticmethod
    def _answers(client) -> bool:
        """Whether the server answers a PING."""
        try:
            return client.ping()
        except redis.RedisError:
            return False


@pytest.fixture
def private_redis():
    """A redis-server of this test's own (stopped afterwards)."""
    binary = shutil.which("redis-server")
    if binary is None:
        redis_needed("redis-server is not installed")
    server = RedisServer(binary)
    yield server
    server.stop()


def trip_with_customer(application) -> dict:
    """A trip on sale now and a customer, created through ``application``; their ids."""
    with application.app_context():
        now = utcnow()
        customer = make_user(now=now)
        trip = make_trip(now=now)
        seats = dict(
            db.session.execute(
                select(Seat.seat_number, Seat.id).where(Seat.schedule_id == trip.id)
            ).all()
        )
        return {
            "trip": trip.id,
            "version": trip.seat_version,
            "customer": customer.id,
            "email": customer.email,
            "seats": seats,
        }


def hold(application, customer_id, schedule_id, number: str) -> None:
    """The customer holds one seat, through ``application``."""
    with application.app_context():
        holds.hold_seats(
            customer_id=customer_id, schedule_id=schedule_id, seat_numbers=[number], now=utcnow()
        )


# ---- frames for each viewer -----------------------------------------------------------------


def test_a_held_seat_shows_as_yours_to_its_holder_and_held_to_everyone_else(app_ctx):
    """One update, rendered per viewer; the holder's id never reaches any browser."""
    holder_id, other_id = uuid.uuid4(), uuid.uuid4()
    held, free = seat_view("held", holder_id), seat_view()
    hub = SeatMapHub()
    trip_id = uuid.uuid4()
    viewers = {"holder": holder_id, "other": other_id, "guest": None}
    sockets = {name: RecordingSocket() for name in viewers}
    for name, viewer_id in viewers.items():
        hub.add(trip_id, SeatMapSocket(sockets[name], viewer_id))

    hub.deliver(SeatUpdate(trip_id, 7, (held, free)))

    frames = {name: ws.sent for name, ws in sockets.items()}
    assert all(len(sent) == 1 for sent in frames.values())
    assert cells(frames["holder"][0]) == {str(held.id): "yours", str(free.id): "available"}
    assert cells(frames["other"][0]) == {str(held.id): "held", str(free.id): "available"}
    assert cells(frames["guest"][0]) == {str(held.id): "held", str(free.id): "available"}
    for (frame,) in frames.values():
        assert version(frame) == 7
        assert frame.count('data-hx-swap-oob="true"') == 3  # two seat cells and the version marker
        assert str(holder_id) not in frame


def test_a_socket_that_fails_is_dropped_and_the_others_still_get_the_update(app_ctx):
    """A browser that went away costs one failed send, then it is forgotten."""
    hub = SeatMapHub()
    trip_id = uuid.uuid4()
    closed = BrokenSocket(ConnectionClosed())
    reset = BrokenSocket(BrokenPipeError())
    healthy = RecordingSocket()
    for ws in (closed, reset, healthy):
        hub.add(trip_id, SeatMapSocket(ws, None))

    hub.deliver(SeatUpdate(trip_id, 2, (seat_view(),)))
    hub.deliver(SeatUpdate(trip_id, 3, (seat_view("booked"),)))

    assert hub.count(trip_id) == 1
    assert (closed.attempts, reset.attempts) == (1, 1)
    assert len(healthy.sent) == 2


def test_an_older_update_never_paints_over_a_newer_seat_state(app_ctx):
    """Updates from several processes may cross; each seat keeps its newest state."""
    ws = RecordingSocket()
    seat_map = SeatMapSocket(ws, None)
    seat, other = seat_view("held", uuid.uuid4()), seat_view()
    freed = replace(seat, state="available", holder_id=None)
    trip_id = uuid.uuid4()

    assert seat_map.push(SeatUpdate(trip_id, 6, (seat,)))
    assert seat_map.push(SeatUpdate(trip_id, 5, (freed,)))
    assert seat_map.push(SeatUpdate(trip_id, 8, (seat,)))  # nothing new to show, but newer
    assert seat_map.push(SeatUpdate(trip_id, 7, (freed, other)))

    assert len(ws.sent) == 2
    assert cells(ws.sent[1]) == {str(other.id): "available"}
    assert version(ws.sent[1]) == 8  # the newest version this map has been given


def test_a_seat_map_is_sent_only_the_seats_that_changed_for_its_viewer(app_ctx):
    """A resync leaves alone the cells a browser already shows (a ticked box stays ticked)."""
    holder_id = uuid.uuid4()
    held, free = seat_view("held", holder_id), seat_view()
    trip_id = uuid.uuid4()
    holder_ws, guest_ws = RecordingSocket(), RecordingSocket()
    holder, guest = SeatMapSocket(holder_ws, holder_id), SeatMapSocket(guest_ws, None)
    for seat_map in (holder, guest):
        seat_map.push(SeatUpdate(trip_id, 4, (held, free)))

    # The hold passes to another customer: the same 'held' for a guest, news for the old holder.
    passed_on = replace(held, holder_id=uuid.uuid4())
    resync = SeatUpdate(trip_id, 5, (passed_on, free))
    for seat_map in (holder, guest):
        seat_map.push(resync)

    assert cells(holder_ws.sent[-1]) == {str(held.id): "held"}
    assert version(holder_ws.sent[-1]) == 5
    assert len(holder_ws.sent) == 2
    assert len(guest_ws.sent) == 1


def test_a_seat_update_crosses_processes_as_json_with_every_field():
    """The Redis message carries everything a cell needs, the holder included."""
    update = SeatUpdate(uuid.uuid4(), 12, (seat_view("held", uuid.uuid4()), seat_view()))

    text = update.to_json()

    assert SeatUpdate.from_json(text) == update
    assert SeatUpdate.from_json(text.encode()) == update  # Redis hands over bytes


# ---- seats_changed never breaks a booking ---------------------------------------------------


def test_seats_changed_never_raises_when_publishing_fails(app_ctx, monkeypatch, caplog):
    """The seat change is committed: a failed broadcast is logged, never raised."""
    trip = make_trip()
    trip_id, trip_version = trip.id, trip.seat_version
    seat_id = db.session.scalar(select(Seat.id).where(Seat.schedule_id == trip_id).limit(1))
    published = []

    def refuse(message: str) -> None:
        published.append(json.loads(message))
        raise ConnectionError("the publisher is down")

    live = realtime.publisher_for()
    live.hub.add(trip_id, SeatMapSocket(RecordingSocket(), None))
    monkeypatch.setattr(live, "publish", refuse)
    with caplog.at_level(logging.ERROR, logger="booking.realtime"):
        realtime.seats_changed(trip_id, [seat_id])

    assert not db.session().in_transaction()
    assert [m["seats"][0]["id"] for m in published] == [str(seat_id)]
    assert published[0]["version"] == trip_version
    assert "was not broadcast" in caplog.text


def test_seats_changed_reads_nothing_while_no_seat_map_of_the_trip_is_open(app_ctx):
    """In-process, nobody watching means no reads; a watched trip costs two statements."""
    trip = make_trip()
    trip_id = trip.id
    seat_ids = list(db.session.scalars(select(Seat.id).where(Seat.schedule_id == trip_id)))
    ws = RecordingSocket()

    with count_statements() as unwatched:
        realtime.seats_changed(trip_id, seat_ids)
    seat_map = SeatMapSocket(ws, None)
    realtime.publisher_for().hub.add(trip_id, seat_map)
    try:
        with count_statements() as watched:
            realtime.seats_changed(trip_id, seat_ids)
    finally:
        realtime.publisher_for().hub.discard(trip_id, seat_map)

    assert unwatched == []
    assert len(watched) == 2  # the trip's version, then the seats: once for all of them
    assert len(cells(ws.sent[0])) == len(seat_ids)


def test_seats_changed_never_raises_when_redis_is_down(live_app, caplog):
    """With Redis down a booking still completes, promptly."""
    application = live_app(REDIS_URL="redis://127.0.0.1:1/0")
    ids = trip_with_customer(application)
    started = time.monotonic()
    with application.app_context(), caplog.at_level(logging.ERROR, logger="booking.realtime"):
        realtime.seats_changed(ids["trip"], list(ids["seats"].values())[:2])
        assert not db.session().in_transaction()

    assert time.monotonic() - started < 5
    assert "was not broadcast" in caplog.text
    assert isinstance(realtime.publisher_for(application), realtime.RedisPublisher)


# ---- a real server and a real WebSocket client ----------------------------------------------


def test_a_seat_map_gets_the_whole_trip_then_every_change_live(live_app, serve, connect):
    """A real server and client: full resync first, then the hold, per viewer."""
    application = live_app()
    base = serve(application)
    ids = trip_with_customer(application)
    browser = application.test_client()
    browser.post("/login", data={"email": ids["email"], "password": PASSWORD})
    cookie = f"session={browser.get_cookie('session').value}"

    guest = connect(base, ids["trip"])
    holder = connect(base, ids["trip"], cookie)

    every_seat_free = {str(seat_id): "available" for seat_id in ids["seats"].values()}
    for ws in (guest, holder):
        resync = next_frame(ws)
        assert cells(resync) == every_seat_free
        assert version(resync) == ids["version"]
    with application.app_context():
        # Idle seat maps hold no database connection, so no transaction either.
        assert db.engine.pool.checkedout() == 0

    seat_id = ids["seats"]["1A"]
    hold(application, ids["customer"], ids["trip"], "1A")

    seen_by_guest = next_frame(guest, shows(seat_id, "held"), timeout=2)
    seen_by_holder = next_frame(holder, shows(seat_id, "yours"), timeout=2)
    assert version(seen_by_guest) > ids["version"]
    assert version(seen_by_holder) == version(seen_by_guest)
    assert str(ids["customer"]) not in seen_by_guest


def test_the_seat_map_page_finds_the_socket_as_live_seats(live_app):
    """The seat map template builds the socket URL from the endpoint live.seats."""
    application = live_app()
    trip_id = uuid.uuid4()

    with application.test_request_context():
        url = url_for("live.seats", schedule_id=trip_id)

    assert url == f"ws://localhost/ws/schedules/{trip_id}/seats"  # werkzeug builds ws(s):// URLs


def test_a_socket_for_an_unknown_trip_is_closed_with_a_reason(live_app, serve, connect):
    """An unknown trip closes the socket with code 4404 and a reason."""
    base = serve(live_app())

    ws = connect(base, uuid.uuid4())

    with pytest.raises(ConnectionClosed) as closed:
        ws.receive(timeout=3)
    assert closed.value.reason == 4404
    assert closed.value.message == "We could not find that trip."


# ---- several processes through Redis --------------------------------------------------------

HOLD_IN_ANOTHER_PROCESS = """
import json, sys, uuid
from booking import create_app
from booking.extensions import db
from booking.orm import utcnow
from booking.services import holds

job = json.loads(sys.argv[1])
app = create_app(job["config"])
with app.app_context():
    holds.hold_seats(customer_id=uuid.UUID(job["customer"]), schedule_id=uuid.UUID(job["trip"]),
                     seat_numbers=[job["seat"]], now=utcnow())
    db.session.remove()
    db.engine.dispose()
"""


def test_a_hold_made_in_another_process_reaches_the_socket_through_redis(
    live_app, serve, connect, shared_redis
):
    """A hold made by a second process reaches a socket served by this one."""
    client, channel = shared_redis
    application = live_app(REDIS_URL=SHARED_REDIS, REALTIME_CHANNEL=channel)
    base = serve(application)
    ids = trip_with_customer(application)
    guest = connect(base, ids["trip"])
    assert version(next_frame(guest)) == ids["version"]
    wait_for(
        lambda: dict(client.pubsub_numsub(channel)).get(channel.encode()) == 1,
        what="this process subscribed",
    )

    config = {
        key: application.config[key]
        for key in (
            "TESTING",
            "SECRET_KEY",
            "GATEWAY_WEBHOOK_SECRET",
            "SQLALCHEMY_DATABASE_URI",
            "REDIS_URL",
            "REALTIME_CHANNEL",
        )
    }
    job = {
        "config": config,
        "customer": str(ids["customer"]),
        "trip": str(ids["trip"]),
        "seat": "2C",
    }
    child = subprocess.run(
        [sys.executable, "-c", HOLD_IN_ANOTHER_PROCESS, json.dumps(job)],
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == 0, child.stderr

    frame = next_frame(guest, shows(ids["seats"]["2C"], "held"), timeout=3)
    assert version(frame) > ids["version"]


def test_seat_maps_catch_up_after_redis_restarts(live_app, serve, connect, private_redis):
    """A change lost while Redis was down is resent once the subscriber is back."""
    private_redis.start()
    channel = f"booking-test:{uuid.uuid4().hex}:seats"
    application = live_app(REDIS_URL=private_redis.url, REALTIME_CHANNEL=channel)
    base = serve(application)
    ids = trip_with_customer(application)
    guest = connect(base, ids["trip"])
    next_frame(guest)
    wait_for(lambda: private_redis.subscribers(channel) == 1, what="this process subscribed")

    private_redis.stop()
    hold(application, ids["customer"], ids["trip"], "1A")  # committed; its broadcast is lost
    private_redis.start()

    caught_up = next_frame(guest, shows(ids["seats"]["1A"], "held"), timeout=10)
    assert version(caught_up) > ids["version"]
    hold(application, ids["customer"], ids["trip"], "1B")  # the hold moves from 1A to 1B
    moved = next_frame(guest, shows(ids["seats"]["1B"], "held"), timeout=3)
    assert cells(moved)[str(ids["seats"]["1A"])] == "available"
