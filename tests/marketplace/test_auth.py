"""Accounts on the web: registration, login and logout, passwords, one-time links and API tokens."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask, request
from flask.testing import FlaskClient
from sqlalchemy import func, select

from marketplace.extensions import db
from marketplace.models import OneTimeToken, OutgoingEmail, User, as_utc, utcnow
from marketplace.services import account_actions, accounts, companies, emails
from tests.builders import DEFAULT_PASSWORD, at_once, make_user
from tests.query_plans import plans

NEW_PASSWORD = "purple elephants dance quietly"
LINK = re.compile(r"http\S+/auth/(?:reset|invitation|confirm-company)/[\w-]+")
DEMO_FILE = Path(__file__).resolve().parents[2] / "marketplace" / "data" / "demo.json"
TOKEN = re.compile(r"tdm_[\w-]+")


def registration(**overrides: str) -> dict[str, str]:
    data = {
        "name": "Ada Lovelace",
        "email": "ada@example.com",
        "company": "Analytical Engines AG",
        "password": NEW_PASSWORD,
        "confirm": NEW_PASSWORD,
        "language": "",
    }
    data.update(overrides)
    return data


def is_logged_in(client: FlaskClient) -> bool:
    return client.get("/auth/account").status_code == 200


def last_link(recipient: str) -> str:
    mail = db.session.scalar(
        select(OutgoingEmail).where(OutgoingEmail.recipient == recipient).order_by(OutgoingEmail.id.desc())
    )
    assert mail is not None, f"no e-mail to {recipient}"
    match = LINK.search(mail.body)
    assert match, mail.body
    return match.group(0)


def path_of(link: str) -> str:
    return link[link.index("/auth/"):]


def bearer_user(app: Flask, token: str) -> User | None:
    with app.test_request_context(headers={"Authorization": f"Bearer {token}"}):
        return accounts.load_user_from_bearer_token(request)


# --- registration -------------------------------------------------------------------------------


def test_register_creates_account_with_scrypt_hash_and_logs_in(client):
    response = client.post("/auth/register", data=registration(language="de"))

    assert response.status_code == 302
    assert response.headers["Location"] == "/dashboard"
    user = accounts.find_user_by_email("ada@example.com")
    assert user is not None
    assert user.name == "Ada Lovelace"
    assert user.password_hash.startswith("scrypt:")
    assert NEW_PASSWORD not in user.password_hash
    assert user.company.name == "Analytical Engines AG"
    assert user.verified_company is None
    assert user.locale == "de"
    page = client.get("/auth/account").get_data(as_text=True)
    assert "Ada Lovelace" in page
    assert "Willkommen bei Tandem" in page  # the flash, already in the language just chosen


def engines_company():
    company = companies.get_or_create_company("Analytical Engines AG")
    companies.set_domains(company, ["engines.example"])
    db.session.commit()
    return company


def test_a_known_domain_verifies_the_company_only_after_the_mailbox_link(client):
    company = engines_company()

    client.post("/auth/register", data=registration(email="ceo-fake@engines.example", company="Something Else"))

    user = accounts.find_user_by_email("ceo-fake@engines.example")
    assert user.verified_company_id is None  # the address alone proves nothing
    assert user.effective_company.name == "Something Else"  # self-declared for every rule until then
    account = client.get("/auth/account").get_data(as_text=True)
    assert "company not yet confirmed" in account and "Resend confirmation" in account
    link = last_link("ceo-fake@engines.example")
    assert "/auth/confirm-company/" in link

    page = client.get(path_of(link))  # a mail scanner fetching the link confirms nothing
    assert page.status_code == 200 and "Analytical Engines AG" in page.get_data(as_text=True)
    db.session.refresh(user)
    assert user.verified_company_id is None
    assert client.post(path_of(link)).status_code == 302

    db.session.refresh(user)
    assert user.verified_company_id == company.id
    assert "verified" in client.get("/auth/account").get_data(as_text=True)
    assert client.post(path_of(link)).status_code == 404  # single use


def test_a_mailbox_link_never_overrides_a_managers_verification(client):
    engines_company()
    client.post("/auth/register", data=registration(email="ada@engines.example"))
    link = last_link("ada@engines.example")
    user = accounts.find_user_by_email("ada@engines.example")
    manager_choice = companies.verify_company(user, "Engines Spin-off GmbH")
    db.session.commit()

    client.post(path_of(link))

    db.session.refresh(user)
    assert user.verified_company == manager_choice
    assert "Resend confirmation" not in client.get("/auth/account").get_data(as_text=True)


def test_company_links_expire_and_a_resent_link_replaces_the_old_one(client):
    engines_company()
    client.post("/auth/register", data=registration(email="ada@engines.example"))
    first = last_link("ada@engines.example")

    assert client.post("/auth/account/confirm-company").status_code == 302
    second = last_link("ada@engines.example")
    assert second != first
    assert client.post(path_of(first)).status_code == 404
    token = db.session.scalar(select(OneTimeToken).where(OneTimeToken.used_at.is_(None)))
    token.expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()

    assert client.post(path_of(second)).status_code == 404
    assert accounts.find_user_by_email("ada@engines.example").verified_company_id is None


def test_a_lookup_by_address_reads_an_index_not_the_whole_table(app):
    """find_user_by_email compares lower(email): an index on that expression answers it (a login or an import
    row used to read every account)."""
    make_user("ada@example.com")
    db.session.commit()

    [plan] = plans(lambda: accounts.find_user_by_email("ADA@example.com"), lambda sql: "lower(" in sql.lower())

    assert any("ix_user_email_lower" in line for line in plan), plan


def test_a_full_width_look_alike_address_is_the_same_address(client):
    company = engines_company()

    client.post("/auth/register", data=registration(email="ＡＤＡ＠ｅｎｇｉｎｅｓ.example"))
    client.post("/auth/logout")
    again = client.post("/auth/register", data=registration(email="ada@engines.example"))

    user = accounts.find_user_by_email("ada@engines.example")
    assert user is not None and user.email == "ada@engines.example"
    assert "already exists" not in client.get(again.headers["Location"]).get_data(as_text=True)
    assert db.session.scalar(select(func.count(User.id))) == 1
    assert companies.unconfirmed_domain_company(user) == company  # the domain matched once normalised
    login = client.post("/auth/login", data={"email": "ａｄａ＠engines.example", "password": NEW_PASSWORD})
    assert login.status_code == 302


def test_every_address_the_demo_seed_and_imports_accept_can_log_in_and_reset(app):
    data = json.loads(DEMO_FILE.read_text(encoding="utf-8"))
    addresses = [entry["email"] for entry in data["mentors"] + data["goals"]]
    one_per_domain = list({address.split("@")[1]: address for address in addresses}.values())
    assert any(address.endswith(".test") for address in one_per_domain)
    for address in one_per_domain:
        user = make_user(email=address)
        client = app.test_client()

        assert client.post("/auth/login", data={"email": address, "password": DEFAULT_PASSWORD}).status_code == 302
        client.post("/auth/logout")
        assert client.post("/auth/forgot-password", data={"email": address}).status_code == 302
        assert last_link(user.email)


def test_register_with_a_taken_email_says_nothing_on_the_page_and_mails_the_address(client):
    existing = make_user(email="ada@example.com", name="Ada King")

    response = client.post("/auth/register", data=registration(email="  Ada@Example.COM "))

    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "already" not in page
    assert "We have sent a message to ada@example.com: please open it to continue." in page
    assert db.session.scalar(select(func.count(User.id))) == 1
    assert not is_logged_in(client)
    mail = db.session.scalar(select(OutgoingEmail).where(OutgoingEmail.kind == "account_exists"))
    assert mail.recipient == "ada@example.com" and mail.recipient_user_id == existing.id
    assert mail.subject == "You already have a Tandem account"
    assert "Hello Ada," in mail.body and "/auth/login" in mail.body and "/auth/forgot-password" in mail.body


def test_register_with_a_taken_email_refuses_a_weak_password_as_for_a_new_address(client):
    make_user(email="ada@example.com")
    taken = client.post("/auth/register", data=registration(password="password", confirm="password"))
    fresh = client.post("/auth/register", data=registration(email="new@example.com", password="password",
                                                           confirm="password"))
    assert taken.status_code == fresh.status_code == 200
    assert db.session.scalar(select(func.count(OutgoingEmail.id))) == 0


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short pw", "Use at least 12 characters."),
        ("passwort1234", "This password is too common"),
        ("aaaaaaaaaaaaaaaa", "This password is too common"),
    ],
)
def test_register_refuses_a_weak_password(client, password, message):
    response = client.post("/auth/register", data=registration(password=password, confirm=password))

    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    assert accounts.find_user_by_email("ada@example.com") is None


def test_register_refuses_a_mismatched_confirmation_and_a_bad_email(client):
    response = client.post("/auth/register", data=registration(email="not-an-address", confirm="something else 123"))

    page = response.get_data(as_text=True)
    assert "The two passwords do not match." in page
    assert "Enter a valid e-mail address." in page
    assert db.session.scalar(select(func.count(User.id))) == 0


def test_register_form_marks_fields_and_keeps_no_password(client):
    page = client.post("/auth/register", data=registration(password="short pw", confirm="short pw")).get_data(
        as_text=True
    )
    assert 'aria-invalid="true"' in page
    assert "short pw" not in page


# --- login and logout ---------------------------------------------------------------------------


def test_login_starts_a_fresh_session(client):
    user = make_user()
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"

    response = client.post("/auth/login", data={"email": user.email.upper(), "password": DEFAULT_PASSWORD})

    assert response.status_code == 302
    assert response.headers["Location"] == "/dashboard"
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session["_user_id"] == user.get_id()
    assert is_logged_in(client)


def test_login_remember_me_sets_a_long_lived_cookie(client):
    user = make_user()
    client.post("/auth/login", data={"email": user.email, "password": DEFAULT_PASSWORD, "remember": "y"})
    assert client.get_cookie("remember_token") is not None


def test_wrong_password_and_unknown_email_get_the_same_generic_answer(client):
    user = make_user()

    wrong = client.post("/auth/login", data={"email": user.email, "password": "not the password!"})
    unknown = client.post("/auth/login", data={"email": "nobody@example.com", "password": "not the password!"})

    message = "The e-mail address or the password is not correct."
    for response in (wrong, unknown):
        assert response.status_code == 200
        assert message in response.get_data(as_text=True)
    assert not is_logged_in(client)


def test_login_follows_a_local_next(client):
    user = make_user()
    response = client.post(
        "/auth/login?next=/goals/?page=2", data={"email": user.email, "password": DEFAULT_PASSWORD}
    )
    assert response.headers["Location"] == "/goals/?page=2"


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/phish",
        "//evil.example/phish",
        "javascript:alert(1)",
        "evil.example",
        "/\\evil.example",
        "/\t/evil.example",
    ],
)
def test_login_refuses_an_open_redirect(client, target):
    user = make_user()
    response = client.post(
        "/auth/login", query_string={"next": target}, data={"email": user.email, "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/dashboard"


def test_login_page_is_shown_to_anonymous_visitors(client):
    page = client.get("/auth/login?next=/goals/").get_data(as_text=True)
    assert 'name="password"' in page
    assert "next=/goals/" in page or "next=%2Fgoals%2F" in page


def test_account_page_needs_a_login(client):
    response = client.get("/auth/account")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/auth/login?next=")


def test_logout_is_post_only(login_as):
    client = login_as(make_user())

    assert client.get("/auth/logout").status_code == 405
    assert is_logged_in(client)
    response = client.post("/auth/logout")

    assert response.status_code == 302
    assert not is_logged_in(client)


def copied_client(app: Flask, source: FlaskClient, *cookies: str) -> FlaskClient:
    """Another browser holding copies of `source`'s cookies (stolen, or restored from a backup)."""
    copy = app.test_client()
    for name in cookies:
        copy.set_cookie(name, source.get_cookie(name).value)
    return copy


def test_logout_ends_this_session_and_every_copy_of_its_cookies_but_not_other_devices(app):
    user = make_user()
    laptop = app.test_client()
    laptop.post("/auth/login", data={"email": user.email, "password": DEFAULT_PASSWORD, "remember": "y"})
    phone = app.test_client()
    phone.post("/auth/login", data={"email": user.email, "password": DEFAULT_PASSWORD})
    session_copy = copied_client(app, laptop, "session")
    remember_copy = copied_client(app, laptop, "remember_token")
    assert is_logged_in(session_copy) and is_logged_in(remember_copy)

    assert laptop.post("/auth/logout").status_code == 302

    assert not is_logged_in(laptop)
    assert not is_logged_in(session_copy)
    assert not is_logged_in(remember_copy)
    assert is_logged_in(phone)


# --- change password ----------------------------------------------------------------------------


def test_change_password_ends_other_sessions_but_keeps_this_one(app, login_as):
    user = make_user()
    other_device = app.test_client()
    other_device.post("/auth/login", data={"email": user.email, "password": DEFAULT_PASSWORD, "remember": "y"})
    remembered_device = app.test_client()
    remembered_device.set_cookie("remember_token", other_device.get_cookie("remember_token").value)
    assert is_logged_in(other_device)
    assert is_logged_in(remembered_device)
    client = login_as(user)

    response = client.post(
        "/auth/account/password",
        data={"current_password": DEFAULT_PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )

    assert response.status_code == 302
    assert is_logged_in(client)
    assert not is_logged_in(other_device)
    assert not is_logged_in(remembered_device)
    assert accounts.authenticate(user.email, DEFAULT_PASSWORD) is None
    assert accounts.authenticate(user.email, NEW_PASSWORD) is not None


def test_change_password_needs_the_current_password(login_as):
    user = make_user()
    client = login_as(user)

    response = client.post(
        "/auth/account/password",
        data={"current_password": "a wrong guess!!", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )

    assert response.status_code == 200
    assert "This is not your current password." in response.get_data(as_text=True)
    assert accounts.authenticate(user.email, DEFAULT_PASSWORD) is not None


# --- password reset -----------------------------------------------------------------------------


def test_password_reset_full_flow_and_the_link_works_once(client):
    user = make_user(email="grace@example.com")

    response = client.post("/auth/forgot-password", data={"email": "Grace@example.com"})
    assert response.status_code == 302
    link = last_link("grace@example.com")
    assert link.startswith("http://127.0.0.1:5000/auth/reset/")

    page = client.get(path_of(link))
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    assert "grace@example.com" in page.get_data(as_text=True)
    response = client.post(path_of(link), data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})

    assert response.status_code == 302
    assert response.headers["Location"] == "/dashboard"
    assert is_logged_in(client)
    assert accounts.authenticate(user.email, NEW_PASSWORD) is not None
    assert accounts.authenticate(user.email, DEFAULT_PASSWORD) is None
    again = client.post(path_of(link), data={"password": "another long password", "confirm": "another long password"})
    assert again.status_code == 404
    assert "This link is no longer valid" in again.get_data(as_text=True)
    assert accounts.authenticate(user.email, NEW_PASSWORD) is not None


def test_password_reset_ends_every_session_and_revokes_the_api_tokens(app, client):
    user = make_user(email="grace@example.com")
    secret = accounts.create_api_token(user, "Script")
    db.session.commit()
    laptop = app.test_client()
    laptop.post("/auth/login", data={"email": user.email, "password": DEFAULT_PASSWORD, "remember": "y"})
    remember_copy = copied_client(app, laptop, "remember_token")
    client.post("/auth/forgot-password", data={"email": user.email})
    link = last_link(user.email)
    page = client.get(path_of(link)).get_data(as_text=True)
    assert "revokes all its API tokens" in page

    client.post(path_of(link), data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})

    assert is_logged_in(client)
    assert not is_logged_in(laptop)
    assert not is_logged_in(remember_copy)
    assert bearer_user(app, secret) is None
    assert accounts.active_tokens(user) == []


def test_the_reset_page_names_the_token_revocation_in_german(client):
    user = make_user(email="grace@example.com")
    user.locale = "de"
    db.session.commit()
    client.post("/auth/forgot-password", data={"email": user.email})

    page = client.get(path_of(last_link(user.email)), headers={"Accept-Language": "de"}).get_data(as_text=True)

    assert "API-Tokens" in page


def test_forgot_password_answers_the_same_whether_or_not_the_account_exists(client):
    make_user(email="grace@example.com")

    known = client.post("/auth/forgot-password", data={"email": "grace@example.com"}, follow_redirects=True)
    unknown = client.post("/auth/forgot-password", data={"email": "nobody@example.com"}, follow_redirects=True)

    def flash_of(response) -> str:
        return re.search(r'class="flash[^"]*">([^<]*)<', response.get_data(as_text=True)).group(1)

    assert flash_of(known).replace("grace", "X") == flash_of(unknown).replace("nobody", "X")
    recipients = list(db.session.scalars(select(OutgoingEmail.recipient)))
    assert recipients == ["grace@example.com"]


def test_expired_and_unknown_reset_links_are_refused_clearly(client):
    user = make_user()
    secret = accounts.issue_one_time_token(user, "reset", timedelta(hours=2))
    db.session.scalar(select(OneTimeToken)).expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()

    for path in (f"/auth/reset/{secret}", "/auth/reset/made-up-token"):
        response = client.get(path)
        assert response.status_code == 404
        assert "expired, has already been used" in response.get_data(as_text=True)
    response = client.post(f"/auth/reset/{secret}", data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 404
    assert accounts.authenticate(user.email, DEFAULT_PASSWORD) is not None


def test_a_newer_reset_link_replaces_the_older_one(client):
    make_user(email="grace@example.com")
    client.post("/auth/forgot-password", data={"email": "grace@example.com"})
    first = last_link("grace@example.com")
    client.post("/auth/forgot-password", data={"email": "grace@example.com"})
    second = last_link("grace@example.com")

    assert first != second
    assert client.get(path_of(first)).status_code == 404
    assert client.get(path_of(second)).status_code == 200


def test_reset_refuses_a_weak_password_and_keeps_the_link_usable(client):
    user = make_user()
    secret = accounts.issue_one_time_token(user, "reset", timedelta(hours=2))
    db.session.commit()

    response = client.post(f"/auth/reset/{secret}", data={"password": "password", "confirm": "password"})

    assert response.status_code == 200
    assert "Use at least 12 characters." in response.get_data(as_text=True)
    assert client.get(f"/auth/reset/{secret}").status_code == 200


# --- invitation ---------------------------------------------------------------------------------


def test_invitation_lets_an_imported_person_set_a_password(app, client):
    user = accounts.create_user("lin@example.com", "Lin Chen", None, company_name="Acme AG")
    mail = emails.send_invitation(user)
    db.session.commit()
    assert mail.recipient == "lin@example.com"
    assert accounts.authenticate("lin@example.com", "") is None
    link = last_link("lin@example.com")
    assert "/auth/invitation/" in link
    assert client.get(path_of(link).replace("/invitation/", "/reset/")).status_code == 404  # wrong purpose

    page = client.get(path_of(link))
    assert page.status_code == 200
    assert "Welcome to Tandem, Lin" in page.get_data(as_text=True)
    response = client.post(path_of(link), data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})

    assert response.status_code == 302
    assert is_logged_in(client)
    assert client.get(path_of(link)).status_code == 404
    fresh = app.test_client()
    assert fresh.post("/auth/login", data={"email": "lin@example.com", "password": NEW_PASSWORD}).status_code == 302


def test_a_password_set_any_way_voids_every_reset_and_invitation_link_still_out(app, client):
    """An invitation forwarded, or read on the managers' outbox page, must not take over an account whose owner
    has since set a password through a reset; nor an old reset link after a change on the account page."""
    user = accounts.create_user("lin@example.com", "Lin Chen", None, company_name="Acme AG")
    emails.send_invitation(user)
    db.session.commit()
    invitation = last_link("lin@example.com")
    client.post("/auth/forgot-password", data={"email": "lin@example.com"})
    reset = last_link("lin@example.com")
    assert "/auth/reset/" in reset
    assert client.post(path_of(reset), data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}).status_code == 302

    stranger = app.test_client()
    assert stranger.get(path_of(invitation)).status_code == 404
    guess = "a stranger's password"
    taken = stranger.post(path_of(invitation), data={"password": guess, "confirm": guess})
    assert taken.status_code == 404 and accounts.authenticate("lin@example.com", NEW_PASSWORD) is not None

    stranger.post("/auth/forgot-password", data={"email": "lin@example.com"})
    second_reset = last_link("lin@example.com")
    changed = client.post("/auth/account/password", data={
        "current_password": NEW_PASSWORD, "password": "an even newer long password",
        "confirm": "an even newer long password"})
    assert changed.status_code == 302
    assert stranger.get(path_of(second_reset)).status_code == 404


def test_one_link_used_four_times_at_once_sets_one_password(app):
    """A forwarded invitation used at the same moment as the owner's: one use wins, the others set nothing."""
    user = accounts.create_user("lin@example.com", "Lin Chen", None, company_name="Acme AG")
    emails.send_invitation(user)
    db.session.commit()
    secret = path_of(last_link("lin@example.com")).rsplit("/", 1)[1]
    passwords = [f"password number {index} is long enough" for index in range(4)]
    user_id = user.id

    def use(index: int) -> object:
        with app.test_request_context():
            try:
                found = account_actions.use_one_time_token(secret, "invite", passwords[index])
                return found.id if found is not None else None
            finally:
                db.session.remove()

    results = at_once(use, 4)
    assert [r for r in results if r is not None] == [user_id], results
    winner = passwords[results.index(user_id)]
    assert [accounts.authenticate("lin@example.com", p) is not None for p in passwords] == [p == winner
                                                                                           for p in passwords]


def test_invitation_expires_after_the_configured_days(client):
    user = accounts.create_user("lin@example.com", "Lin Chen", None)
    emails.send_invitation(user)
    db.session.commit()
    token = db.session.scalar(select(OneTimeToken).where(OneTimeToken.purpose == "invite"))
    lifetime = token.expires_at - token.created_at
    assert timedelta(days=13, hours=23) < lifetime <= timedelta(days=14)

    token.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    response = client.get(path_of(last_link("lin@example.com")))
    assert response.status_code == 404
    assert "invitation link has expired" in response.get_data(as_text=True)


# --- account page and API tokens ----------------------------------------------------------------


def test_account_page_shows_details_and_saves_the_language(login_as):
    user = make_user(name="Ada Lovelace", company="Analytical Engines AG")
    client = login_as(user)

    page = client.get("/auth/account").get_data(as_text=True)
    assert "Ada Lovelace" in page
    assert user.email in page
    assert "Analytical Engines AG" in page
    assert "not verified yet" in page

    response = client.post("/auth/account/settings", data={"locale": "de"})
    assert response.status_code == 302
    assert db.session.get(User, user.id).locale == "de"
    assert client.post("/auth/account/settings", data={"locale": "fr"}).status_code == 200
    assert db.session.get(User, user.id).locale == "de"


def test_a_person_who_signs_up_on_the_german_page_is_written_to_in_german(client):
    german = {"Accept-Language": "de-DE,de;q=0.9"}
    form = client.get("/auth/register", headers=german).get_data(as_text=True)
    assert 'selected value="de"' in form
    client.post("/auth/register", data=registration(language=""), headers=german)
    user = db.session.scalar(select(User).where(User.email == "ada@example.com"))
    assert user.locale == "de"


def test_the_account_page_offers_the_language_it_is_shown_in_when_none_was_chosen(login_as):
    user = make_user()
    assert user.locale is None
    client = login_as(user)
    page = client.get("/auth/account", headers={"Accept-Language": "de-DE,de;q=0.9"}).get_data(as_text=True)
    assert '<option lang="de" selected value="de">' in page or 'selected value="de"' in page
    assert 'selected value="en"' not in page


def test_api_token_created_on_the_page_is_shown_once_and_can_be_revoked(app, login_as):
    user = make_user()
    client = login_as(user)

    response = client.post("/auth/account/tokens", data={"token_name": "Reporting script"})

    assert response.headers["Cache-Control"] == "no-store"
    secret = TOKEN.search(response.get_data(as_text=True)).group(0)
    assert bearer_user(app, secret).id == user.id
    page = client.get("/auth/account").get_data(as_text=True)
    assert "Reporting script" in page
    assert secret[:10] in page
    assert secret not in page
    token = accounts.active_tokens(user)[0]
    assert token.last_used_at is not None

    response = client.post(f"/auth/account/tokens/{token.id}/revoke")

    assert response.status_code == 302
    assert bearer_user(app, secret) is None
    assert accounts.active_tokens(user) == []
    assert "Reporting script" not in client.get("/auth/account").get_data(as_text=True)


def test_token_last_used_is_kept_to_the_minute_without_a_write_per_request(app):
    user = make_user()
    secret = accounts.create_api_token(user, "Script")
    db.session.commit()  # the stamp is written on its own connection, which sees committed tokens only
    token = accounts.active_tokens(user)[0]

    assert bearer_user(app, secret).id == user.id
    first_use = token.last_used_at
    assert first_use is not None
    assert bearer_user(app, secret).id == user.id
    assert token.last_used_at == first_use

    token.last_used_at = utcnow() - accounts.TOKEN_LAST_USED_RESOLUTION - timedelta(seconds=1)
    db.session.commit()
    assert bearer_user(app, secret).id == user.id
    db.session.refresh(token)
    assert utcnow() - as_utc(token.last_used_at) < timedelta(seconds=30)


def test_nobody_revokes_someone_elses_token(app, login_as):
    owner = make_user()
    secret = accounts.create_api_token(owner, "Owner's token")
    db.session.commit()
    token_id = accounts.active_tokens(owner)[0].id
    client = login_as(make_user())

    assert client.post(f"/auth/account/tokens/{token_id}/revoke").status_code == 404
    assert bearer_user(app, secret).id == owner.id


def test_cli_tokens_create_prints_only_the_token(app, runner):
    user = make_user(email="robot-owner@example.com")

    result = runner.invoke(args=["tokens", "create", "robot-owner@example.com"])

    assert result.exit_code == 0, result.output
    assert TOKEN.fullmatch(result.output.strip())
    assert result.output.count("\n") == 1
    secret = result.output.strip()
    assert bearer_user(app, secret).id == user.id
    assert bearer_user(app, secret + "x") is None
    assert accounts.revoke_api_token(user, accounts.active_tokens(user)[0].id)
    db.session.commit()
    assert bearer_user(app, secret) is None


# --- CSRF and rate limits -----------------------------------------------------------------------


def csrf_token_from(client: FlaskClient, path: str) -> str:
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)


def test_login_without_csrf_token_is_refused(csrf_app):
    user = make_user()
    client = csrf_app.test_client()

    refused = client.post("/auth/login", data={"email": user.email, "password": DEFAULT_PASSWORD})
    assert refused.status_code == 400
    assert not is_logged_in(client)

    token = csrf_token_from(client, "/auth/login")
    accepted = client.post("/auth/login", data={"email": user.email, "password": DEFAULT_PASSWORD, "csrf_token": token})
    assert accepted.status_code == 302


def test_logout_and_revoke_without_csrf_token_are_refused(csrf_app):
    user = make_user()
    accounts.create_api_token(user, "Kept")
    db.session.commit()
    client = csrf_app.test_client()
    token = csrf_token_from(client, "/auth/login")
    client.post("/auth/login", data={"email": user.email, "password": DEFAULT_PASSWORD, "csrf_token": token})
    token_id = accounts.active_tokens(user)[0].id

    assert client.post("/auth/logout").status_code == 400
    assert client.post(f"/auth/account/tokens/{token_id}/revoke").status_code == 400
    assert is_logged_in(client)
    assert len(accounts.active_tokens(user)) == 1
    token = csrf_token_from(client, "/auth/account")
    assert client.post(f"/auth/account/tokens/{token_id}/revoke", data={"csrf_token": token}).status_code == 302
    assert client.post("/auth/logout", data={"csrf_token": token}).status_code == 302
    assert not is_logged_in(client)


def test_login_is_rate_limited(rate_limited_app):
    client = rate_limited_app.test_client()

    def wrong(n: int) -> dict[str, str]:  # a new address each time: the per-IP limit, not the account's
        return {"email": f"someone{n}@example.com", "password": "guess number n"}

    statuses = [client.post("/auth/login", data=wrong(n)).status_code for n in range(10)]
    eleventh = client.post("/auth/login", data=wrong(10))

    assert statuses == [200] * 10
    assert eleventh.status_code == 429
    assert "Too many failed attempts" in eleventh.get_data(as_text=True)
    assert client.get("/auth/login").status_code == 200  # looking at the form is not limited


def test_register_is_rate_limited(rate_limited_app):
    client = rate_limited_app.test_client()
    bad = registration(password="short", confirm="short")

    statuses = [client.post("/auth/register", data=bad).status_code for _ in range(6)]

    assert statuses == [200] * 5 + [429]


@pytest.mark.parametrize(("role", "next_page"), [("mentor", "/mentors/me/edit"), ("mentee", "/goals/new")])
def test_registering_from_a_role_button_goes_straight_to_that_step(client, role, next_page):
    response = client.post(f"/auth/register?role={role}", data=registration(email=f"{role}@example.com"))
    assert response.status_code == 302
    assert response.headers["Location"] == next_page


def test_a_wrong_password_costs_the_same_hashing_for_known_and_unknown_addresses(app, monkeypatch):
    """Timing must not tell which addresses have accounts: one scrypt check with the same parameters
    on either path (measured wall-clock time is too noisy on a shared machine to assert directly)."""
    import hashlib

    user = make_user(email="known@example.com")
    user.password_hash = accounts.hash_password(DEFAULT_PASSWORD)  # the parameters a real account has
    db.session.commit()
    real_scrypt, calls = hashlib.scrypt, []

    def counting_scrypt(*args, **kwargs):
        calls.append((kwargs.get("n"), kwargs.get("r"), kwargs.get("p")))
        return real_scrypt(*args, **kwargs)

    monkeypatch.setattr(hashlib, "scrypt", counting_scrypt)
    accounts.authenticate("nobody@example.com", "wrong password")  # may set up its comparison hash once

    def work(email: str) -> list:
        calls.clear()
        assert accounts.authenticate(email, "wrong password") is None
        return list(calls)

    known, unknown = work("known@example.com"), work("nobody@example.com")
    assert len(known) == 1 and unknown == known


def test_the_account_page_mentions_a_confirmation_link_only_once_one_was_sent(client):
    client.post("/auth/register", data=registration(email="ada@engines.example"))  # domain not known yet: no mail
    engines_company()  # a manager adds the domain afterwards
    page = client.get("/auth/account").get_data(as_text=True)
    assert "company not yet confirmed" in page
    assert "Open the link we sent" not in page and "Send confirmation link" in page

    client.post("/auth/account/confirm-company")

    page = client.get("/auth/account").get_data(as_text=True)
    assert "Open the link we sent to ada@engines.example" in page and "Resend confirmation" in page
