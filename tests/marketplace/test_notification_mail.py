"""Events reach people by e-mail, in the recipient's language, as they chose; one-click unsubscribe."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask_babel import force_locale
from sqlalchemy import select

from marketplace.extensions import db
from marketplace.models import Notification, NotificationSetting, OutgoingEmail
from marketplace.services import emails, outbox, preferences, privacy, tandems
from marketplace.services.notifications import text
from tests.builders import make_goal, make_mentor, make_user, sign_in
from tests.smtp_support import parts_of


def _pair(mentee_locale: str | None = "en", mentor_locale: str | None = None, mentor_languages: str = "de,en"):
    mentor = make_mentor(user=make_user(name="Mia Mentor", company="Young AG"), languages=mentor_languages)
    mentor.user.locale = mentor_locale
    mentee = make_user(name="Gerd Brenner", company="Old AG")
    mentee.locale = mentee_locale
    db.session.commit()
    goal = make_goal(owner=mentee, title="KI verstehen")
    return mentor, mentee, goal


def _mails_to(user) -> list[OutgoingEmail]:
    return list(db.session.scalars(
        select(OutgoingEmail).where(OutgoingEmail.recipient_user_id == user.id).order_by(OutgoingEmail.id)
    ))


def test_an_english_senders_request_reaches_a_german_mentor_in_german_over_smtp(smtp_app):
    app, handler = smtp_app
    mentor, mentee, goal = _pair(mentee_locale="en", mentor_locale=None, mentor_languages="de,en")

    with app.test_request_context(headers={"Accept-Language": "en"}):  # the sender's page is English
        tandem = tandems.request_tandem(goal, mentor, mentee)
    assert outbox.send_due() == 1

    message = handler.messages[0]
    assert handler.recipients[0] == [mentor.user.email]
    assert message["Content-Language"] == "de"
    assert message["Subject"].strip() == "Gerd Brenner bittet Sie um ein Mentoring zu „KI verstehen“."
    parts = parts_of(message)
    assert f"http://127.0.0.1:5000/tandems/{tandem.id}" in parts["text/plain"]
    assert "Tandem" in parts["text/html"] and f"/tandems/{tandem.id}" in parts["text/html"]
    assert message["List-Unsubscribe"].strip().startswith("<http://127.0.0.1:5000/unsubscribe/")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # The in-app notification is German for the German reader, English for an English one.
    notification = db.session.scalar(select(Notification).where(Notification.user_id == mentor.user_id))
    with force_locale("de"):
        assert text(notification) == "Gerd Brenner bittet Sie um ein Mentoring zu „KI verstehen“."
    with force_locale("en"):
        assert text(notification) == "Gerd Brenner asks you to mentor them on “KI verstehen”."


def test_a_german_senders_answer_reaches_an_english_mentee_in_english_with_the_partners_contact(smtp_app):
    app, handler = smtp_app
    mentor, mentee, goal = _pair(mentee_locale="en", mentor_locale="de")
    tandem = tandems.request_tandem(goal, mentor, mentee)
    with app.test_request_context(headers={"Accept-Language": "de"}):
        tandems.accept(tandem, mentor.user)
    outbox.send_due()

    by_recipient = {m["To"]: m for m in handler.messages}
    to_mentee = by_recipient[mentee.email]
    assert to_mentee["Content-Language"] == "en"
    assert to_mentee["Subject"].strip() == "Mia Mentor accepted your tandem request for “KI verstehen”."
    assert mentor.user.email in parts_of(to_mentee)["text/plain"]
    to_mentor = by_recipient[mentor.user.email]  # the request and the start of the tandem, both German
    assert to_mentor["Content-Language"] == "de"
    assert mentee.email in parts_of(to_mentor)["text/html"]
    client = sign_in(app.test_client(), mentee)
    page = client.get("/notifications").get_data(as_text=True)
    assert "Mia Mentor accepted your tandem request" in page


def test_the_recipients_language_comes_from_setting_then_profile_then_newest_goal_then_english(app):
    person = make_user()
    assert emails.recipient_locale(person) == "en"
    make_goal(owner=person, languages="fr,de")
    assert emails.recipient_locale(person) == "de"
    make_mentor(user=person, languages="it,en")
    assert emails.recipient_locale(person) == "en"  # the mentor profile comes before the goals
    person.locale = "de"
    assert emails.recipient_locale(person) == "de"


def test_html_is_escaped_and_a_declined_mentee_is_told(app):
    mentor, mentee, goal = _pair()
    mentor.user.name = "<b>Mia</b>"
    tandem = tandems.request_tandem(goal, mentor, mentee)
    tandems.decline(tandem, mentor.user)

    declined = [m for m in _mails_to(mentee) if m.kind == "request_declined"]
    assert len(declined) == 1
    assert "&lt;b&gt;Mia&lt;/b&gt;" in declined[0].html_body and "<b>Mia</b>" not in declined[0].html_body


def test_off_sends_nothing_and_the_digest_gathers_the_rest_once_a_day(app):
    mentor, mentee, goal = _pair()
    preferences.set_mode(mentor.user, "request_received", preferences.DIGEST)
    preferences.set_mode(mentor.user, "request_withdrawn", preferences.OFF)
    db.session.commit()
    tandem = tandems.request_tandem(goal, mentor, mentee)
    tandems.withdraw(tandem, mentee)
    assert [(m.kind, m.status) for m in _mails_to(mentor.user)] == [("request_received", "held")]
    from marketplace.services import digests

    now = datetime(2026, 12, 2, 8, tzinfo=UTC)
    assert digests.send_held(now) == 1
    assert digests.send_held(now + timedelta(hours=1)) == 0
    digest, = [m for m in _mails_to(mentor.user) if m.kind == "digest"]
    assert digest.status == "pending" and "Gerd Brenner" in digest.body
    assert digest.language == "de" and "Ihre Tandem-Übersicht" in digest.subject


def test_one_click_unsubscribe_works_without_a_session_or_csrf_token(csrf_app):
    mentor, mentee, goal = _pair()
    tandems.request_tandem(goal, mentor, mentee)
    mail = _mails_to(mentor.user)[0]
    url = preferences.unsubscribe_headers(mail)["List-Unsubscribe"].strip("<>")
    path = url[url.index("/unsubscribe/"):]
    client = csrf_app.test_client()

    page = client.get(path)
    assert page.status_code == 200 and "<form" in page.get_data(as_text=True)
    assert preferences.mode(mentor.user, "request_received") == preferences.INSTANTLY  # a GET changes nothing
    assert client.post(path).status_code == 200
    assert preferences.mode(mentor.user, "request_received") == preferences.OFF
    assert client.post("/unsubscribe/forged-token").status_code == 404


def test_an_old_unsubscribe_link_does_nothing_to_a_newer_account_under_the_same_id(app):
    """SQLite gives a deleted account's id to the next one: the link names the account's creation as well."""
    first = make_user(email="reuse.one@example.com")
    token = preferences.unsubscribe_token(first.id, "request_received")
    assert preferences.read_token(token) == (first, "request_received")
    first.created_at = first.created_at + timedelta(days=3)  # the same id, a later account
    db.session.commit()
    assert preferences.read_token(token) is None
    assert app.test_client().post(f"/unsubscribe/{token}").status_code == 404
    assert preferences.mode(first, "request_received") == preferences.INSTANTLY


def test_essential_mail_carries_no_unsubscribe_and_ignores_settings(app):
    person = make_user()
    mail = emails.send_password_reset(person)
    db.session.commit()
    assert preferences.unsubscribe_headers(mail) == {}
    sent = outbox.build(mail).message()
    assert sent["Content-Language"] == "en"
    assert "List-Unsubscribe" not in sent


def test_the_settings_page_stores_a_choice_per_kind(app):
    person = make_user()
    person.locale = "de"
    db.session.commit()
    client = sign_in(app.test_client(), person)
    page = client.get("/settings/notifications").get_data(as_text=True)
    assert "Tägliche Übersicht" in page
    choices = {kind: preferences.INSTANTLY for kind in preferences.KINDS} | {preferences.NEW_GOALS: "digest"}
    choices["survey_open"] = preferences.OFF
    assert client.post("/settings/notifications", data=choices).status_code == 302
    assert preferences.settings_of(person)["survey_open"] == preferences.OFF
    assert preferences.settings_of(person)[preferences.NEW_GOALS] == preferences.DIGEST
    bad = client.post("/settings/notifications", data=choices | {"survey_open": "hourly"})
    assert bad.status_code == 422


def test_export_and_deletion_cover_the_outbox_and_the_settings(app):
    mentor, mentee, goal = _pair()
    preferences.set_mode(mentor.user, "survey_open", preferences.OFF)
    tandems.request_tandem(goal, mentor, mentee)
    exported = privacy.export_user_data(mentor.user)
    assert exported["notification_settings"]["survey_open"] == "off"
    assert exported["emails"][0]["subject"].startswith("Gerd Brenner")
    user_id = mentor.user_id
    privacy.delete_account(mentor.user)
    assert db.session.scalars(select(OutgoingEmail).where(OutgoingEmail.recipient_user_id == user_id)).all() == []
    assert db.session.scalars(select(NotificationSetting).where(NotificationSetting.user_id == user_id)).all() == []


def test_a_mentor_who_opted_in_gets_one_daily_digest_of_new_goals_they_could_help_with(app):
    from marketplace.services import digests

    mentor = make_mentor(user=make_user(name="Mia Mentor", company="Young AG"), languages="en",
                         headline="Generative AI for executives", text="I explain generative AI and ChatGPT.")
    other = make_mentor(user=make_user(company="Other AG"))
    preferences.set_mode(mentor.user, preferences.NEW_GOALS, preferences.DIGEST)
    db.session.commit()
    make_goal(owner=make_user(name="Gerd Brenner", company="Old AG"), title="Understand generative AI",
              description="What ChatGPT means for my company.")
    make_goal(owner=make_user(name="Hilde Hidden", company="Old AG"), title="Secret AI plans", discoverable=False)
    tomorrow = datetime.now(UTC) + timedelta(hours=2)

    assert digests.send_new_goals(tomorrow) == 1
    assert digests.send_new_goals(tomorrow) == 0  # once a day
    mail, = _mails_to(mentor.user)
    assert mail.kind == preferences.NEW_GOALS and "Understand generative AI" in mail.body
    assert "Gerd" in mail.body and "Brenner" not in mail.body  # only the owner's first name (DESIGN.md)
    assert "Secret AI plans" not in mail.body and "Old AG" in mail.html_body
    assert _mails_to(other.user) == []  # not opted in
    assert digests.send_new_goals(tomorrow + timedelta(days=2)) == 0  # nothing new since


def test_cohort_decisions_and_the_survey_are_mailed_each_once_per_occasion(app):
    from marketplace.services.cohorts import enrolment, surveys
    from tests.marketplace.test_cohorts import enrol, make_cohort

    cohort = make_cohort(state="enrolling")
    person = make_user(name="Gerd Brenner")
    goal = make_goal(owner=person, languages="de")
    participant = enrol(cohort, person, "mentee", goal=goal, status="applied")
    enrolment.decide(participant, "waitlisted")
    enrolment.decide(participant, "accepted")
    surveys.invite_participants(cohort)
    surveys.invite_participants(cohort)
    db.session.commit()

    mails = [(m.kind, m.occasion, m.language) for m in _mails_to(person)]
    assert mails == [("cohort_enrolment", "waitlisted", "de"), ("cohort_enrolment", "accepted", "de"),
                     ("survey_open", "survey_open", "de")]
    assert "Sie sind dabei!" in _mails_to(person)[1].subject


def test_a_withdrawn_offer_is_mailed_after_the_offer_itself(app):
    """The offer and its withdrawal share a settings kind and a tandem: both reach the goal's owner."""
    mentor, mentee, goal = _pair()
    tandem = tandems.offer_help(goal, mentor.user)
    tandems.withdraw(tandem, mentor.user)

    told = db.session.scalars(select(Notification).where(Notification.user_id == mentee.id)
                              .order_by(Notification.id)).all()
    assert [n.message_key for n in told] == ["offer_received", "offer_withdrawn"]
    with force_locale("en"):
        expected = [text(n)[:255] for n in told]
    assert [m.subject for m in _mails_to(mentee)] == expected


def test_a_reason_written_over_several_lines_still_reaches_the_partner_with_a_one_line_subject(smtp_app):
    """A mail header cannot carry a line break: a multi-line end reason (a textarea) in the subject used to make
    the partner's mail fail on every attempt, for ever."""
    app, handler = smtp_app
    mentor, mentee, goal = _pair(mentee_locale="en", mentor_locale="en")
    tandem = tandems.request_tandem(goal, mentor, mentee)
    tandems.accept(tandem, mentor.user)
    outbox.send_due()
    handler.messages.clear()

    reason = "Sadly no time left.\r\nBcc: evil@example.com\r\n\r\nBest, \u202eGerd\x07\x1b " + "x" * 1900
    tandems.end(tandem, mentee, reason)
    outbox.send_due()

    assert all("evil@example.com" not in to for to in handler.recipients)  # no header was injected
    message = next(m for m in handler.messages if m["To"] == mentor.user.email)
    subject = message["Subject"]
    assert "Sadly no time left. Bcc: evil@example.com Best, Gerd" in " ".join(subject.split())
    assert len(" ".join(subject.split())) <= outbox.SUBJECT_LIMIT and subject.rstrip().endswith("…")
    assert not any(char in subject for char in "\u202e\x07\x1b")  # nothing flips or rings in a mail client
    assert message["Bcc"] is None
    assert db.session.scalar(select(OutgoingEmail).where(OutgoingEmail.recipient_user_id == mentor.user_id,
                                                         OutgoingEmail.kind == "tandem_ended")).delivered
