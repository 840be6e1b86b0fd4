"""Outgoing e-mail: stored always, delivered by the outbox job through a real SMTP server when one is configured."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from marketplace.extensions import db
from marketplace.models import OutgoingEmail, User, as_utc, utcnow
from marketplace.services import accounts, emails, outbox
from tests.builders import make_user
from tests.query_plans import plans
from tests.smtp_support import free_port, parts_of, start_server

NEW_PASSWORD = "purple elephants dance quietly"
LINK = re.compile(r"http\S+/auth/(?:reset|invitation)/[\w-]+")


def test_password_reset_mail_arrives_over_smtp_and_its_link_works(smtp_app):
    app, handler = smtp_app
    user = make_user(email="grace@example.com", name="Grace Hopper")
    client = app.test_client()

    response = client.post("/auth/forgot-password", data={"email": "grace@example.com"})
    assert response.status_code == 302
    assert handler.messages == []  # the request only wrote the outbox row; the job sends it

    assert outbox.send_due() == 1
    assert len(handler.messages) == 1
    message = handler.messages[0]
    assert handler.recipients[0] == ["grace@example.com"]
    assert message["To"] == "grace@example.com"
    assert message["Subject"] == "Reset your Tandem password"
    assert "no-reply@tandem.example" in message["From"]
    parts = parts_of(message)
    body = parts["text/plain"]
    assert "Hello Grace" in parts["text/html"]
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
    outbox.send_due()

    assert mail.delivered is True
    assert handler.messages[0]["Subject"] == "You are invited to Tandem"
    assert "/auth/invitation/" in parts_of(handler.messages[0])["text/plain"]


def test_claiming_the_next_due_message_reads_indexes_not_the_whole_outbox(app):
    """Each message the job sends is claimed (the next due row) and read again by its claim token: both by an
    index, or sending an import's thousands of invitations reads the outbox once per message."""
    for n in range(3):
        emails.send_invitation(make_user(email=f"guest{n}@example.com"))
    db.session.commit()

    claim, read_back = plans(lambda: outbox._claim_one(utcnow()), lambda sql: "outgoing_email" in sql)

    assert any("ix_outgoing_email_due" in line for line in claim), claim
    assert any("ix_outgoing_email_claim_token" in line for line in read_back), read_back


def test_without_a_mail_server_the_job_logs_each_message_once_without_its_link(app, client, caplog):
    make_user(email="grace@example.com")
    make_user(email="ada@example.com", is_manager=True)

    with caplog.at_level(logging.INFO, logger="marketplace.services.outbox"):
        response = client.post("/auth/forgot-password", data={"email": "grace@example.com"})
        emails.send_invitation(db.session.scalar(select(User).where(User.email == "ada@example.com")))
        db.session.commit()
        assert caplog.text == ""  # queued only: the job writes the log, not the request
        assert outbox.send_due() == 0  # nothing was sent ...
        outbox.send_due()  # ... and a second run logs nothing again

    assert response.status_code == 302
    reset, invitation = db.session.scalars(select(OutgoingEmail).order_by(OutgoingEmail.id)).all()
    assert reset.recipient == "grace@example.com"
    assert (reset.status, reset.delivered, invitation.status) == ("logged", False, "logged")
    link = LINK.search(reset.body).group(0)
    assert caplog.text.count("grace@example.com") == 1 and caplog.text.count("ada@example.com") == 1
    assert "Reset your Tandem password" in caplog.text
    assert link not in caplog.text  # a personal sign-in link: whoever reads the log could use it
    assert LINK.search(invitation.body).group(0) in caplog.text  # an invitation may be passed on


def test_an_smtp_failure_is_logged_retried_later_and_does_not_break_the_request(make_app, caplog):
    closed_port = free_port()  # nothing listens there: the connection is refused
    app = make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=closed_port, MAIL_BACKEND="smtp", TANDEM_MAIL_RETRY_SECONDS=60)
    with app.app_context():
        make_user(email="grace@example.com")
        response = app.test_client().post("/auth/forgot-password", data={"email": "grace@example.com"})
        assert response.status_code == 302
        now = datetime.now(UTC)

        with caplog.at_level(logging.WARNING, logger="marketplace.services.outbox"):
            assert outbox.send_due(now) == 0
        stored = db.session.scalar(select(OutgoingEmail))
        assert (stored.status, stored.attempts, stored.delivered) == ("pending", 1, False)
        assert "ConnectionRefusedError" in stored.last_error
        assert "Sending e-mail" in caplog.text and "grace@example.com" in caplog.text
        # Back-off doubles: not retried before the minute is up, and 2 minutes after the second failure.
        assert outbox.send_due(now + timedelta(seconds=30)) == 0
        assert stored.attempts == 1
        outbox.send_due(now + timedelta(seconds=61))
        assert stored.attempts == 2
        assert as_utc(stored.next_attempt_at) == now + timedelta(seconds=61 + 120)

        handler, controller, _ = start_server(closed_port)  # the server is back: the message goes, once
        try:
            assert outbox.send_due(now + timedelta(seconds=200)) == 1
            assert outbox.send_due(now + timedelta(seconds=400)) == 0
        finally:
            controller.stop()
        assert len(handler.messages) == 1 and stored.status == "sent"
        db.session.remove()


def test_links_are_built_from_the_configured_base_url(make_app):
    app = make_app(TANDEM_BASE_URL="https://tandem.example.org/pilot/")
    with app.app_context():
        user = accounts.create_user("lin@example.com", "Lin Chen", None)
        mail = emails.send_invitation(user)
        db.session.commit()

        assert LINK.search(mail.body).group(0).startswith("https://tandem.example.org/pilot/auth/invitation/")
        db.session.remove()


def test_account_mails_are_written_in_the_recipients_language_with_their_link_and_lifetime(app):
    german = make_user(email="greta@example.com", name="Greta Berg")
    german.locale = "de"
    english = make_user(email="grace@example.com", name="Grace Hopper")
    english.locale = "en"
    hours, days = app.config["PASSWORD_RESET_HOURS"], app.config["INVITATION_DAYS"]

    reset_de, reset_en = emails.send_password_reset(german), emails.send_password_reset(english)
    invitation_de = emails.send_invitation(german)
    exists_de = emails.send_account_exists(german)

    assert reset_de.subject != reset_en.subject and reset_de.language == "de"
    assert reset_de.body.startswith("Hallo Greta,\n\n") and f"{hours} Stunden" in reset_de.body
    assert reset_en.body.startswith("Hello Grace,\n\n") and f"expires in {hours} hours" in reset_en.body
    assert "/auth/reset/" in reset_de.body and "&amp;" not in reset_de.body
    assert invitation_de.body.startswith("Hallo Greta,") and f"{days} Tage" in invitation_de.body
    assert "/auth/invitation/" in invitation_de.body
    assert exists_de.body.startswith("Hallo Greta,") and "greta@example.com" in exists_de.body
    assert "/auth/login" in exists_de.body and "/auth/forgot-password" in exists_de.body
    for mail in (reset_de, invitation_de, exists_de):
        assert "Hello" not in mail.body and "{{" not in mail.body and "%(" not in mail.body
    # The HTML part says the same, its link clickable, and escapes what a person typed.
    link = LINK.search(reset_de.body).group(0)
    assert f'href="{link}"' in reset_de.html_body and "Hallo Greta," in reset_de.html_body
    assert 'lang="de"' in reset_de.html_body
    german.name = "Gr<b>eta Berg"
    typed = emails.send_password_reset(german).html_body
    assert "Hallo Gr&lt;b&gt;eta," in typed and "<b>" not in typed
