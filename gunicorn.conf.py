"""Gunicorn settings for the Procfile's two HTTP processes, read from the environment.

``SERVER_ROLE=web`` (the default) serves the pages: threaded workers (gthread).
``SERVER_ROLE=ws`` serves the seat-map WebSockets (``/ws/...``, routed there by the proxy):
gevent workers, so an open socket costs a greenlet, never a request thread.

| variable | meaning | default |
| --- | --- | --- |
| ``SERVER_ROLE`` | ``web`` or ``ws`` | ``web`` |
| ``GUNICORN_BIND`` | address to listen on (instead of the port) | ``0.0.0.0:`` and the port |
| ``PORT`` / ``WS_PORT`` | port of the web / ws process | 8000 / 8001 |
| ``WEB_CONCURRENCY`` | web worker processes | 2 |
| ``WEB_THREADS`` | request threads per web worker | 100 |
| ``WS_CONCURRENCY`` | ws worker processes | 1 |
| ``WS_WORKER_CONNECTIONS`` | open connections (sockets) one ws worker takes | 10000 |
| ``GUNICORN_TIMEOUT`` | seconds a silent worker is given before it is restarted | 30 |
| ``GUNICORN_GRACEFUL_TIMEOUT`` | seconds a worker has to finish its requests on restart | 30 |
| ``GUNICORN_KEEPALIVE`` | seconds an idle keep-alive connection is kept | 5 |

Several processes must meet in Redis: several web workers without ``REDIS_URL`` would each keep
their own seat maps (a hold made in one never reaches a socket of another), and a ws process
without it never hears of any change. Gunicorn refuses to start either shape, saying why.
"""

import os
import sys


def _int(name: str, default: int) -> int:
    """An integer setting from the environment."""
    raw = os.environ.get(name)
    return default if raw in (None, "") else int(raw)


def shape_problem(role: str, workers: int, redis_url: str | None) -> str | None:
    """Why this process shape would serve stale seat maps, or None when it is sound."""
    if role not in ("web", "ws"):
        return f"SERVER_ROLE must be web or ws, not {role!r}."
    if redis_url:
        return None
    if role == "ws":
        return (
            "The ws process needs REDIS_URL: without it, no change made by a web process "
            "reaches its seat maps."
        )
    if workers > 1:
        return (
            f"{workers} web workers need REDIS_URL: without it each worker keeps its own seat "
            "maps, and a hold made in one never reaches the sockets of another. Set REDIS_URL, "
            "or run one worker (WEB_CONCURRENCY=1)."
        )
    return None


role = os.environ.get("SERVER_ROLE", "web")

if role == "ws":
    worker_class = "gevent"
    workers = _int("WS_CONCURRENCY", 1)
    worker_connections = _int("WS_WORKER_CONNECTIONS", 10000)
    bind = os.environ.get("GUNICORN_BIND") or f"0.0.0.0:{_int('WS_PORT', 8001)}"
else:
    worker_class = "gthread"
    workers = _int("WEB_CONCURRENCY", 2)
    threads = _int("WEB_THREADS", 100)
    bind = os.environ.get("GUNICORN_BIND") or f"0.0.0.0:{_int('PORT', 8000)}"

timeout = _int("GUNICORN_TIMEOUT", 30)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = _int("GUNICORN_KEEPALIVE", 5)
accesslog = "-"
errorlog = "-"


def child_exit(server, worker) -> None:
    """Forget a worker's live gauges (open sockets) in PROMETHEUS_MULTIPROC_DIR."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def on_starting(server) -> None:
    """Refuse a shape that would serve stale seat maps (workers as finally configured, the
    command line's ``--workers`` included)."""
    problem = shape_problem(role, server.cfg.workers, os.environ.get("REDIS_URL"))
    if problem:
        server.log.error("refusing to start: %s", problem)
        sys.exit(f"gunicorn.conf.py: refusing to start: {problem}")
