"""Outgoing e-mail: stored always, delivered through a real SMTP server when one is configured."""

from __future__ import annotations

import email
import logging
import re
import socket
from collections.abc import Iterator
from email.message import Message

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from marketplace.extensions import db
from marketplace.models import OutgoingEmail
from marketplace.services import accounts, emails
from tests.builders import make_user

NEW_PASSWORD = "purple elephants dance quietly"
LINK = re.compile(r"http\S+/auth/(?:reset|invitation)/[\w-]+")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class CollectingHandler:
    """An aiosmtpd handler that keeps every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.recipients: list[list[str]] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        self.messages.append(email.message_from_bytes(envelope.original_content or envelope.content))
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server() -> Iterator[tuple[CollectingHandler, int]]:
    handler = CollectingHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
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


def body_of(message: Message) -> str:
    return message.get_payload(decode=True).decode(message.get_content_charset() or "utf-8")


def test_password_reset_mail_arrives_over_smtp_and_its_link_works(smtp_app):
    app, handler = smtp_app
    user = make_user(email="grace@example.com", name="Grace Hopper")
    client = app.test_client()

    response = client.post("/auth/forgot-password", data={"email": "grace@example.com"})

    assert response.status_code == 302
    assert len(handler.messages) == 1
    message = handler.messages[0]
    assert handler.recipients[0] == ["grace@example.com"]
    assert message["To"] == "grace@example.com"
    assert message["Subject"] == "Reset your Tandem password"
    assert "no-reply@tandem.example" in message["From"]
    body = body_of(message)
    assert "Hello Grace" in body
    link = LINK.search(body).group(0)
    assert link.startswith("http://127.0.0.1:5000/auth/reset/")
    stored = db.session.scalar(select(OutgoingEmail))
    assert stored.delivered is True
    assert stored.body == body.replace("\r\n", "\n")

    path = link[link.index("/auth/"):]
    assert client.get(path).status_code == 200
    assert client.post(path, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}).status_code == 302
    assert accounts.authenticate(user.email, NEW_PASSWORD) is not None


def test_invitation_is_sent_over_smtp_outside_a_request(smtp_app):
    """The CSV import calls send_invitation from the CLI, where there is no request to build URLs from."""
    app, handler = smtp_app
    user = accounts.create_user("lin@example.com", "Lin Chen", None)

    mail = emails.send_invitation(user)
    db.session.commit()

    assert mail.delivered is True
    assert handler.messages[0]["Subject"] == "You are invited to Tandem"
    assert "/auth/invitation/" in body_of(handler.messages[0])


def test_without_a_mail_server_the_message_is_stored_and_logged(app, client, caplog):
    make_user(email="grace@example.com")

    with caplog.at_level(logging.INFO, logger="marketplace.services.emails"):
        response = client.post("/auth/forgot-password", data={"email": "grace@example.com"})

    assert response.status_code == 302
    stored = db.session.scalars(select(OutgoingEmail)).all()
    assert len(stored) == 1
    assert stored[0].recipient == "grace@example.com"
    assert stored[0].delivered is False
    link = LINK.search(stored[0].body).group(0)
    assert "grace@example.com" in caplog.text
    assert "Reset your Tandem password" in caplog.text
    assert link in caplog.text


def test_an_smtp_failure_is_logged_and_does_not_break_the_request(make_app, caplog):
    closed_port = free_port()  # nothing listens there: the connection is refused
    app = make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=closed_port, MAIL_BACKEND="smtp")
    with app.app_context():
        make_user(email="grace@example.com")

        with caplog.at_level(logging.ERROR, logger="marketplace.services.emails"):
            response = app.test_client().post("/auth/forgot-password", data={"email": "grace@example.com"})

        assert response.status_code == 302
        stored = db.session.scalar(select(OutgoingEmail))
        assert stored is not None
        assert stored.delivered is False
        assert "Sending e-mail to grace@example.com failed" in caplog.text
        db.session.remove()


def test_links_are_built_from_the_configured_base_url(make_app):
    app = make_app(TANDEM_BASE_URL="https://tandem.example.org/pilot/")
    with app.app_context():
        user = accounts.create_user("lin@example.com", "Lin Chen", None)
        mail = emails.send_invitation(user)
        db.session.commit()

        assert LINK.search(mail.body).group(0).startswith("https://tandem.example.org/pilot/auth/invitation/")
        db.session.remove()
