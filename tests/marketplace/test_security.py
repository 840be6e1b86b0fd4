"""Sessions, cookies, headers, body size and rate limits, as an attacker would probe them."""

from __future__ import annotations

import os
import socket

import pytest

from marketplace import config
from marketplace.extensions import db, limiter
from marketplace.services import accounts
from tests.builders import DEFAULT_PASSWORD, make_user


def test_pages_carry_security_headers(client):
    response = client.get("/")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_cookies_are_secure_unless_development_is_switched_on(monkeypatch, tmp_path):
    for name in ("TANDEM_DEVELOPMENT", "FLASK_DEBUG", "TANDEM_INSECURE_COOKIES"):
        monkeypatch.delenv(name, raising=False)
    production = config.from_environment(tmp_path)
    assert production["SESSION_COOKIE_SECURE"] and production["REMEMBER_COOKIE_SECURE"]
    monkeypatch.setenv("TANDEM_DEVELOPMENT", "1")
    assert not config.from_environment(tmp_path)["SESSION_COOKIE_SECURE"]


def test_session_cookie_is_httponly_samesite_and_secure(make_app):
    app = make_app(SESSION_COOKIE_SECURE=True)
    with app.app_context():
        user = make_user()
        response = app.test_client().post("/auth/login", data={"email": user.email, "password": DEFAULT_PASSWORD})
    cookie = next(value for value in response.headers.getlist("Set-Cookie") if value.startswith("session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie


def test_login_starts_a_new_session(client):
    user = make_user()
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"
    client.post("/auth/login", data={"email": user.email, "password": DEFAULT_PASSWORD})
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session.get("_user_id")


def test_huge_bodies_are_refused_with_413(client):
    response = client.post("/auth/login", data={"email": "x" * (5 * 1024 * 1024), "password": "y"})
    assert response.status_code == 413
    token = accounts.create_api_token(make_user())
    db.session.commit()
    api = client.post("/api/v1/tandems", data=b"x" * (5 * 1024 * 1024), content_type="application/json",
                      headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 413
    assert api.get_json()["error"]["code"] == "request_entity_too_large"




def _redis_answers(host: str = "127.0.0.1", port: int = 6379) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _require_redis() -> None:
    if not _redis_answers():
        if os.environ.get("CI"):
            pytest.fail("CI must test the Redis-backed rate limit, but Redis does not answer on 127.0.0.1:6379")
        pytest.skip("no Redis on 127.0.0.1:6379")


def test_registration_is_rate_limited_through_redis(make_app):
    _require_redis()
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI="redis://127.0.0.1:6379/15")
    with app.app_context():
        limiter.reset()
        client = app.test_client()
        statuses = [
            client.post("/auth/register", data={"email": f"bot{i}@example.com"}).status_code for i in range(6)
        ]
        assert statuses[-1] == 429
        assert "redis" in type(limiter._storage).__name__.lower()
        limiter.reset()


def test_with_redis_the_per_ip_login_limit_is_shared_through_redis(make_app):
    _require_redis()
    redis = {"RATELIMIT_ENABLED": True, "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/2"}
    first, second = make_app(**redis), make_app(**redis)
    with first.app_context():
        limiter.reset()
    statuses = []
    for n in range(11):  # a new address each time: the IP's limit, not an account's
        worker = first if n % 2 else second
        with worker.app_context():
            wrong = {"email": f"guess{n}@example.com", "password": "wrong password!"}
            statuses.append(worker.test_client().post("/auth/login", data=wrong).status_code)
    with first.app_context():
        limiter.reset()

    assert statuses == [200] * 10 + [429]
