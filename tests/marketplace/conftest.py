"""Fixtures for the e-mail tests: a real SMTP server on loopback and an app that sends to it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from marketplace.extensions import db
from tests.smtp_support import CollectingHandler, start_server


@pytest.fixture
def smtp_server() -> Iterator[tuple[CollectingHandler, int]]:
    handler, controller, port = start_server()
    try:
        yield handler, port
    finally:
        controller.stop()


@pytest.fixture
def smtp_app(make_app, smtp_server):
    handler, port = smtp_server
    app = make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=port, MAIL_BACKEND="smtp")
    with app.app_context():
        yield app, handler
        db.session.remove()
