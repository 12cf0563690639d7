"""Failed sign-ins are throttled by address and by address and account (429 with a message), the
account itself is never locked, and every kind of failure takes as long as every other."""

from __future__ import annotations

import statistics
import time

import pytest

from booking.extensions import db
from booking.models import User
from booking.orm import utcnow
from booking.services import accounts
from booking.services.errors import DomainError
from tests.support import PASSWORD, make_user, text

ATTACKER = {"REMOTE_ADDR": "203.0.113.9"}
OWNER = {"REMOTE_ADDR": "198.51.100.7"}


def _try(client, email: str, password: str = "Wrong12345", where=ATTACKER):
    """One sign-in attempt from an address."""
    return client.post("/login", data={"email": email, "password": password}, environ_base=where)


def test_failures_against_many_accounts_from_one_address_hit_429(app, client):
    """25 wrong passwords against 25 accounts: the address is throttled (20 a minute)."""
    with app.app_context():
        emails = [make_user(now=utcnow()).email for _ in range(25)]
    statuses = [_try(client, email).status_code for email in emails]
    assert statuses[:20] == [400] * 20
    assert statuses[20:] == [429] * 5
    throttled = _try(client, emails[0], PASSWORD)  # even the right password waits now
    assert throttled.status_code == 429
    assert "Too many failed sign-in attempts from here" in text(throttled)
    assert int(throttled.headers["Retry-After"]) > 0
    assert _try(client, emails[0], PASSWORD, where=OWNER).status_code == 302


def test_an_attacker_cannot_lock_a_person_out(app, client):
    """Wrong passwords from one address throttle that address on that account, and only it:
    the person signs in from their own address at once."""
    with app.app_context():
        make_user(email="kiran@example.com", now=utcnow())
    statuses = [_try(client, "kiran@example.com").status_code for _ in range(8)]
    assert statuses == [400] * 5 + [429] * 3  # five a minute per address and account
    assert _try(client, "kiran@example.com", PASSWORD).status_code == 429
    owner = _try(app.test_client(), "kiran@example.com", PASSWORD, where=OWNER)
    assert owner.status_code == 302


def test_the_account_limit_is_per_account_and_successes_do_not_count(app, client):
    with app.app_context():
        make_user(email="kiran@example.com", now=utcnow())
        make_user(email="meera@example.com", now=utcnow())
    for _ in range(10):  # signing in and out all day is no failure
        assert _try(client, "kiran@example.com", PASSWORD).status_code == 302
        client.post("/logout", environ_base=ATTACKER)
    for _ in range(5):
        assert _try(client, "kiran@example.com").status_code == 400
    assert _try(client, "kiran@example.com").status_code == 429
    assert _try(client, "meera@example.com").status_code == 400  # another account: not yet


# ---- every failure takes the same time ------------------------------------------------------

SLOW_HASH = "pbkdf2:sha256:60000"  # slow enough that a skipped check would stand out
ROUNDS = 9


def _ratio(first, second) -> float:
    """Median wall time of ``first`` over that of ``second``, run in turns (so a noisy moment
    of the machine falls on both)."""
    times: tuple[list, list] = ([], [])
    for _ in range(ROUNDS):
        for kind, attempt in enumerate((first, second)):
            started = time.perf_counter()
            attempt()
            times[kind].append(time.perf_counter() - started)
    return statistics.median(times[0]) / statistics.median(times[1])


def _refused(email: str, password: str = "Wrong12345"):
    def attempt():
        with pytest.raises(DomainError):
            accounts.authenticate(email, password, utcnow())

    return attempt


@pytest.fixture
def slow_app(make_app):
    """An app hashing passwords as slowly as a real deploy would, with one of each account."""
    slow = make_app(PASSWORD_HASH_METHOD=SLOW_HASH)
    with slow.app_context():
        make_user(email="kiran@example.com", now=utcnow())
        gone = make_user(email="gone@example.com", now=utcnow())
        db.session.get(User, gone.id).is_active = False
        db.session.commit()
    return slow


@pytest.mark.parametrize(
    ("kind", "attempt"),
    [
        ("unknown email", _refused("nobody@example.com")),
        ("malformed email", _refused("not an email")),
        ("deactivated account", _refused("gone@example.com", PASSWORD)),
    ],
)
def test_every_refusal_takes_as_long_as_a_wrong_password(slow_app, kind, attempt):
    """Side by side with a wrong password for a real account (medians, interleaved by rounds),
    each other refusal is within 0.5x to 2x: the answer's timing says nothing about accounts."""
    wrong = _refused("kiran@example.com")
    with slow_app.app_context():
        attempt(), wrong()  # warm both paths up
        ratio = _ratio(attempt, wrong)
    assert 0.5 < ratio < 2, f"{kind}: {ratio:.2f}x a wrong password"


def test_a_throttled_attempt_takes_as_long_as_a_wrong_password(slow_app):
    client = slow_app.test_client()
    for _ in range(5):
        _try(client, "kiran@example.com")  # the attacker's address is now throttled on kiran
    addresses = (f"198.51.100.{n}" for n in range(1, 250))

    def throttled():
        assert _try(client, "kiran@example.com").status_code == 429

    def refused():  # from a new address each time, so never throttled itself
        where = {"REMOTE_ADDR": next(addresses)}
        assert _try(client, "kiran@example.com", where=where).status_code == 400

    throttled(), refused()
    ratio = _ratio(throttled, refused)
    assert 0.5 < ratio < 2, f"throttled: {ratio:.2f}x a wrong password"
