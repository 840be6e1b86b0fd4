"""Guessing passwords: the per-account and per-IP login throttles, shared by every worker process."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import select

from marketplace.extensions import db, limiter
from marketplace.models import LoginThrottle
from marketplace.services import throttle
from tests.builders import DEFAULT_PASSWORD, Clock, make_user, set_clock

WRONG = "not the password!"


def attempt(app: Flask, email: str, password: str = WRONG, ip: str = "198.51.100.7"):
    return app.test_client().post(
        "/auth/login", data={"email": email, "password": password}, environ_overrides={"REMOTE_ADDR": ip}
    )


@pytest.fixture
def clock(app: Flask) -> Clock:
    return set_clock(app)


def test_after_five_failures_the_account_waits_doubling_up_to_fifteen_minutes(app, clock):
    user = make_user()

    assert [attempt(app, user.email).status_code for _ in range(5)] == [200] * 5
    refused = attempt(app, user.email, DEFAULT_PASSWORD)  # even the right password waits

    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "30"
    assert "Too many failed attempts for this account" in refused.get_data(as_text=True)
    waits = []
    for _ in range(8):
        clock.advance(int(attempt(app, user.email).headers["Retry-After"]) + 1)  # wait it out
        assert attempt(app, user.email).status_code == 200  # the wait is over: one more guess, counted
        waits.append(int(attempt(app, user.email).headers["Retry-After"]))
    assert waits == [60, 120, 240, 480, 900, 900, 900, 900]


def test_the_wait_is_a_refusal_never_a_lock_out_and_a_success_clears_it(app, clock):
    user = make_user()
    for _ in range(5):
        attempt(app, user.email)
    assert attempt(app, user.email).status_code == 429
    for _ in range(20):  # refused attempts are not counted: a stranger cannot lengthen the wait
        attempt(app, user.email)

    clock.advance(31)
    assert attempt(app, user.email, DEFAULT_PASSWORD).status_code == 302

    assert [attempt(app, user.email).status_code for _ in range(5)] == [200] * 5


def test_parallel_guesses_cannot_slip_through_before_the_first_is_counted(app, clock):
    user = make_user()
    # Six attempts in flight at once (their password checks not finished): each is counted on admission.
    for _ in range(5):
        throttle.admit(user.email, None)

    with pytest.raises(throttle.TooManyAttempts) as refused:
        throttle.admit(user.email, None)
    assert refused.value.retry_after == 30


def test_unknown_addresses_are_throttled_alike(app, clock):
    for _ in range(5):
        attempt(app, "nobody@example.com")
    assert attempt(app, "NOBODY@example.com").status_code == 429


def test_two_workers_share_the_account_count(make_app):
    first, second = make_app(), make_app()
    with first.app_context():
        email = make_user().email
    with first.app_context():
        assert [attempt(first, email).status_code for _ in range(3)] == [200] * 3
    with second.app_context():
        assert [attempt(second, email).status_code for _ in range(2)] == [200] * 2
        assert attempt(second, email, DEFAULT_PASSWORD).status_code == 429
    with first.app_context():
        assert attempt(first, email, DEFAULT_PASSWORD).status_code == 429


def test_two_workers_share_the_per_ip_count_without_redis(make_app):
    first, second = make_app(RATELIMIT_ENABLED=True), make_app(RATELIMIT_ENABLED=True)
    limiter.reset()
    statuses = []
    for n in range(10):  # a new address each time: the IP's limit, not an account's
        worker = first if n % 2 else second
        with worker.app_context():
            statuses.append(attempt(worker, f"guess{n}@example.com").status_code)
    # In one test process both apps share Flask-Limiter's memory; a real second worker starts with its own
    # empty memory, so empty it: only a count outside the process survives.
    limiter.reset()
    with first.app_context():
        eleventh = attempt(first, "guess10@example.com")
        other_network = attempt(first, "guess11@example.com", ip="203.0.113.9")

    assert statuses == [200] * 10
    assert eleventh.status_code == 429
    assert 0 < int(eleventh.headers["Retry-After"]) <= 60
    assert "Too many failed attempts from your network" in eleventh.get_data(as_text=True)
    assert other_network.status_code == 200


def test_the_per_ip_window_ends(app, clock):
    app.config["RATELIMIT_ENABLED"] = True
    for n in range(10):
        attempt(app, f"guess{n}@example.com")
    assert attempt(app, "guess10@example.com").status_code == 429

    clock.advance(61)

    assert attempt(app, "guess11@example.com").status_code == 200


def test_failures_are_forgotten_after_a_day(app, clock):
    user = make_user()
    for _ in range(5):
        attempt(app, user.email)

    clock.advance(24 * 3600 + 1)

    assert attempt(app, user.email, DEFAULT_PASSWORD).status_code == 302
    assert attempt(app, "someone-else@example.com").status_code == 200
    assert db.session.scalars(select(LoginThrottle.key)).all() == ["account:someone-else@example.com"]


def test_the_wait_grows_by_doubling_and_is_capped():
    waits = [throttle.account_wait(n).total_seconds() for n in range(4, 12)]
    assert waits == [0, 30, 60, 120, 240, 480, 900, 900]
    assert throttle.account_wait(10_000) == throttle.ACCOUNT_MAX_WAIT
