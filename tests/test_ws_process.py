"""The production shape of the sockets: gunicorn settings for the web and ws processes, the
seat map's socket address, and the idle timeout and per-address cap of the socket route."""

from __future__ import annotations

import contextlib
import os
import runpy
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from simple_websocket import Client, ConnectionClosed
from wsproto.events import CloseConnection
from wsproto.frame_protocol import CloseReason

from booking.web.live.routes import IDLE, TOO_MANY, address_quota
from tests.test_realtime import (  # noqa: F401
    hold,
    live_app,
    serve,
    shared_redis,
    shows,
    trip_with_customer,
    wait_for,
)

ROOT = Path(__file__).resolve().parents[1]
GUNICORN_CONF = ROOT / "gunicorn.conf.py"


# ---- gunicorn.conf.py -----------------------------------------------------------------------


def gunicorn_settings(monkeypatch, **env) -> dict:
    """The names gunicorn.conf.py defines, read with this environment."""
    for name in (
        "SERVER_ROLE",
        "GUNICORN_BIND",
        "PORT",
        "WS_PORT",
        "WEB_CONCURRENCY",
        "WEB_THREADS",
        "WS_CONCURRENCY",
        "GUNICORN_TIMEOUT",
    ):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(GUNICORN_CONF))


def test_the_web_process_runs_threaded_workers_with_defaults(monkeypatch):
    settings = gunicorn_settings(monkeypatch)
    assert settings["worker_class"] == "gthread"
    assert (settings["workers"], settings["threads"]) == (2, 100)
    assert settings["bind"] == "0.0.0.0:8000"
    assert settings["timeout"] == 30


def test_the_web_process_reads_its_sizes_from_the_environment(monkeypatch):
    settings = gunicorn_settings(
        monkeypatch, WEB_CONCURRENCY="4", WEB_THREADS="16", PORT="9000", GUNICORN_TIMEOUT="60"
    )
    assert (settings["workers"], settings["threads"], settings["timeout"]) == (4, 16, 60)
    assert settings["bind"] == "0.0.0.0:9000"
    assert gunicorn_settings(monkeypatch, GUNICORN_BIND="127.0.0.1:7")["bind"] == "127.0.0.1:7"


def test_the_ws_process_runs_gevent_so_sockets_hold_no_thread(monkeypatch):
    settings = gunicorn_settings(monkeypatch, SERVER_ROLE="ws")
    assert settings["worker_class"] == "gevent"
    assert settings["workers"] == 1
    assert settings["worker_connections"] == 10000
    assert settings["bind"] == "0.0.0.0:8001"


@pytest.mark.parametrize(
    ("role", "workers", "redis_url", "refused"),
    [
        ("web", 1, None, False),
        ("web", 2, None, True),
        ("web", 2, "redis://127.0.0.1:6379/0", False),
        ("ws", 1, None, True),
        ("ws", 1, "redis://127.0.0.1:6379/0", False),
        ("both", 1, "redis://127.0.0.1:6379/0", True),
    ],
)
def test_a_shape_that_would_serve_stale_seat_maps_is_refused(
    monkeypatch, role, workers, redis_url, refused
):
    shape_problem = gunicorn_settings(monkeypatch)["shape_problem"]
    assert (shape_problem(role, workers, redis_url) is not None) is refused


def test_gunicorn_refuses_several_web_workers_without_redis(tmp_path):
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("REDIS_URL", "SERVER_ROLE", "WEB_CONCURRENCY")
    }
    env.update(SECRET_KEY="x", DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--config",
            str(GUNICORN_CONF),
            "--bind",
            "127.0.0.1:0",
            "--workers",
            "3",
            "wsgi:app",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "3 web workers need REDIS_URL" in result.stderr


def test_the_procfile_runs_web_and_ws_through_gunicorn_conf():
    processes = dict(
        line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line
    )
    assert processes["web"] == "gunicorn --config gunicorn.conf.py wsgi:app"
    assert "SERVER_ROLE=ws gunicorn --config gunicorn.conf.py" in processes["ws"]
    assert {"worker", "beat"} <= set(processes)


def free_port() -> int:
    """A loopback port nobody listens on (for a moment)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
def test_the_ws_process_under_gevent_pushes_a_hold_made_by_another_process(
    live_app,  # noqa: F811
    shared_redis,  # noqa: F811
    database_url,
    tmp_path,
):
    """gunicorn.conf.py's ws role, started as the Procfile starts it: a seat map opened on it
    gets the whole trip, then a hold made by another app (a web process) through Redis."""
    client, channel = shared_redis
    redis_url = client.connection_pool.connection_kwargs
    redis_url = f"redis://{redis_url['host']}:{redis_url['port']}/{redis_url.get('db', 0)}"
    web = live_app(REDIS_URL=redis_url, REALTIME_CHANNEL=channel)
    made = trip_with_customer(web)
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("GUNICORN")}
    env.update(
        SERVER_ROLE="ws",
        GUNICORN_BIND=f"127.0.0.1:{port}",
        REDIS_URL=redis_url,
        REALTIME_CHANNEL=channel,
        DATABASE_URL=database_url,
        SECRET_KEY="test-secret",
    )
    log = tmp_path / "ws.log"
    with log.open("w") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--config", str(GUNICORN_CONF), "wsgi:app"],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    ws = None
    try:
        url = f"ws://127.0.0.1:{port}/ws/schedules/{made['trip']}/seats"
        ws = connect_when_up(url, server, log)
        assert "seat-" in ws.receive(timeout=10)
        seat_id = made["seats"]["1A"]
        wait_for(lambda: client.pubsub_numsub(channel)[0][1] > 0, what="the ws subscriber")
        hold(web, made["customer"], made["trip"], "1A")
        frame = ws.receive(timeout=10)
        assert frame is not None and shows(seat_id, "held")(frame)
    finally:
        if ws is not None:
            with contextlib.suppress(ConnectionClosed):
                ws.close()
        server.terminate()
        server.wait(timeout=30)
    assert "gevent" in log.read_text()  # gunicorn names its worker class at start


def connect_when_up(url: str, server: subprocess.Popen, log: Path, attempts: int = 100) -> Client:
    """Open a socket once the server listens (it is polled, every 0.1 s).

    :raise AssertionError: when the server exits first or never listens.
    """
    import time

    for _ in range(attempts):
        if server.poll() is not None:
            pytest.fail(f"the ws process exited: {log.read_text()}")
        try:
            socket.create_connection(("127.0.0.1", urlsplit(url).port), timeout=1).close()
        except OSError:
            time.sleep(0.1)
            continue
        return Client.connect(url)
    pytest.fail("the ws process never listened")


# ---- where the seat map connects ------------------------------------------------------------


def test_the_seat_map_connects_to_this_site_by_default(client, app):
    trip = trip_with_customer(app)["trip"]
    page = client.get(f"/schedules/{trip}").get_data(as_text=True)
    assert f'data-ws-connect="ws://localhost/ws/schedules/{trip}/seats"' in page


def test_the_seat_map_connects_to_the_ws_process_named_by_ws_base_url(live_app):  # noqa: F811
    application = live_app(WS_BASE_URL="wss://ws.example.com/")
    trip = trip_with_customer(application)["trip"]
    response = application.test_client().get(f"/schedules/{trip}")
    page = response.get_data(as_text=True)
    assert f'data-ws-connect="wss://ws.example.com/ws/schedules/{trip}/seats"' in page
    connect_src = next(
        part
        for part in response.headers["Content-Security-Policy"].split(";")
        if part.strip().startswith("connect-src")
    )
    assert "wss://ws.example.com" in connect_src.split()


# ---- the socket route's limits --------------------------------------------------------------


def close_code(ws: Client, timeout: float = 5.0) -> int:
    """Read frames until the server closes the socket; the close code."""
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            if ws.receive(timeout=timeout) is None:
                pytest.fail("the socket stayed open")
    if closed.value.reason == CloseReason.NO_STATUS_RCVD:
        # The close frame came in the handshake's packet (see test_security.close_of).
        for event in ws.ws.events():
            if isinstance(event, CloseConnection):
                return event.code
    return closed.value.reason


@pytest.fixture
def sockets():
    """Open seat-map sockets (optionally with an Origin); each is closed afterwards."""
    opened: list[Client] = []

    def open_socket(base: str, trip, origin: str | None = None) -> Client:
        headers = {"Origin": origin} if origin else None
        opened.append(Client.connect(f"{base}/ws/schedules/{trip}/seats", headers=headers))
        return opened[-1]

    yield open_socket
    for ws in opened:
        with contextlib.suppress(ConnectionClosed):
            ws.close()
        ws.thread.join(timeout=5)


def test_an_idle_seat_socket_is_closed_after_ws_idle_seconds(live_app, serve, sockets):  # noqa: F811
    application = live_app(WS_IDLE_SECONDS=0.3)
    trip = trip_with_customer(application)["trip"]
    ws = sockets(serve(application), trip)
    assert "seat-" in ws.receive(timeout=5)  # the whole seat map first
    assert close_code(ws) == IDLE


def test_a_busy_seat_socket_is_not_closed_as_idle(live_app, serve, sockets):  # noqa: F811
    application = live_app(WS_IDLE_SECONDS=60)
    trip = trip_with_customer(application)["trip"]
    ws = sockets(serve(application), trip)
    assert "seat-" in ws.receive(timeout=5)
    assert ws.receive(timeout=0.5) is None  # still open, nothing to say
    assert ws.connected


def test_one_address_gets_at_most_ws_max_per_address_sockets(live_app, serve, sockets):  # noqa: F811
    application = live_app(WS_MAX_PER_ADDRESS=2)
    trip = trip_with_customer(application)["trip"]
    base = serve(application)
    first, second = sockets(base, trip), sockets(base, trip)
    assert "seat-" in first.receive(timeout=5)
    assert "seat-" in second.receive(timeout=5)
    assert close_code(sockets(base, trip)) == TOO_MANY

    first.close()
    quota = address_quota(application)
    wait_for(lambda: quota.count("127.0.0.1") == 1, what="the closed socket to be given back")
    assert "seat-" in sockets(base, trip).receive(timeout=5)


def test_a_page_host_named_in_ws_allowed_origins_may_open_sockets(live_app, serve, sockets):  # noqa: F811
    application = live_app(WS_ALLOWED_ORIGINS=("www.example.com",))
    trip = trip_with_customer(application)["trip"]
    base = serve(application)
    assert "seat-" in sockets(base, trip, origin="https://www.example.com").receive(timeout=5)
    assert close_code(sockets(base, trip, origin="https://evil.example")) == 1008


@pytest.mark.parametrize("value", ["https://ws.example.com", "ws.example.com", "wss://"])
def test_a_ws_base_url_that_is_no_websocket_address_is_refused_at_start(
    monkeypatch, tmp_path, value
):
    from booking.config import load_config

    monkeypatch.setenv("WS_BASE_URL", value)
    with pytest.raises(RuntimeError, match="WS_BASE_URL must be a ws:// or wss:// address"):
        load_config(str(tmp_path))


class FakeClock:
    """time.monotonic for the socket route, moved only by the fake socket's waits."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class PushedWhileWaiting:
    """A socket whose first ``pushes`` waits each end with a frame pushed to it, then silence."""

    def __init__(self, clock: FakeClock, seat_map_socket, pushes: int) -> None:
        self.clock, self.seat_map_socket, self.pushes = clock, seat_map_socket, pushes
        self.waits: list[float] = []
        self.closed_with = None

    def receive(self, timeout=None):
        self.waits.append(timeout)
        self.clock.now += timeout
        if self.pushes:
            self.pushes -= 1
            self.seat_map_socket.last_pushed = self.clock.now
        return None

    def close(self, reason=None, message=None):
        self.closed_with = reason

    class thread:
        @staticmethod
        def join(timeout=None):
            return None


def test_every_frame_pushed_restarts_the_idle_clock(monkeypatch):
    from types import SimpleNamespace

    from booking.web.live import routes

    clock = FakeClock()
    monkeypatch.setattr(routes.time, "monotonic", clock)
    seat_map_socket = SimpleNamespace(last_pushed=clock.now)
    ws = PushedWhileWaiting(clock, seat_map_socket, pushes=3)
    routes.wait_while_active(ws, seat_map_socket, idle_seconds=10)
    assert ws.waits == [10, 10, 10, 10]  # three pushes kept it open, then 10 s of silence
    assert ws.closed_with == IDLE
