"""German and English: every page in a pseudo-locale shows no unmarked text, the catalogues are complete,
the language follows the user's setting, then the switcher, then Accept-Language, also in the API."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from html.parser import HTMLParser

import flask_babel
import pytest
from babel import Locale
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from flask import Flask, g, url_for
from flask.testing import FlaskClient
from flask_babel import force_locale
from sqlalchemy import select

from marketplace.extensions import babel, db
from marketplace.models import (
    ApiToken,
    Cohort,
    CohortParticipant,
    Company,
    CompanyDomain,
    Goal,
    ImportJob,
    Meeting,
    MentorProfile,
    Milestone,
    Notification,
    PulseCheck,
    SurveyInvitation,
    SurveyResponse,
    Tandem,
    Topic,
    User,
    utcnow,
)
from marketplace.services import accounts, companies, emails, notifications, preferences, request_expiry, tandems
from marketplace.services.cohorts import upload as cohort_imports
from tests.builders import make_goal, make_meeting, make_mentor, make_user, participants_csv, sign_in
from tests.pseudo_locale import (
    PLACEHOLDER,
    PSEUDO_LOCALE,
    TRANSLATIONS,
    extract_messages,
    without_markers,
    write_pseudo_catalogue,
)

TODAY = date.today()
GERMAN_PO = TRANSLATIONS / "de" / "LC_MESSAGES" / "messages.po"
GERMAN_MO = TRANSLATIONS / "de" / "LC_MESSAGES" / "messages.mo"
HOW_TO_FIX = (
    "Mark the text for translation ({{ _('...') }} in templates, _() / _l() in Python), then re-extract and "
    "translate (README, 'Translations')."
)


@pytest.fixture(scope="session")
def source_messages():
    """What `pybabel extract` finds in the source right now."""
    return extract_messages()


def _message_ids(catalog) -> set:
    return {message.id for message in catalog if message.id}


# --- the catalogues ------------------------------------------------------------------------------


def test_messages_pot_is_up_to_date_with_the_source(source_messages):
    with open(TRANSLATIONS / "messages.pot", "rb") as pot:
        committed = _message_ids(read_po(pot))
    fresh = _message_ids(source_messages)
    assert fresh == committed, (
        f"messages.pot is stale: new {sorted(map(str, fresh - committed))[:10]}, "
        f"gone {sorted(map(str, committed - fresh))[:10]}. Extract and update (README, 'Translations')."
    )


def _placeholders(text: str) -> set[str]:
    return {p for p in PLACEHOLDER.findall(text) if p != "%%"}


def test_german_catalogue_is_complete_and_keeps_every_placeholder(source_messages):
    with open(GERMAN_PO, "rb") as po:
        german = read_po(po)
    assert german.num_plurals == 2
    missing, fuzzy, broken = [], [], []
    for message in source_messages:
        if not message.id:
            continue
        translated = german.get(message.id, message.context)
        strings = translated.string if translated else None
        forms = list(strings) if isinstance(strings, tuple) else [strings]
        if translated is None or not all(forms):
            missing.append(message.id)
            continue
        if translated.fuzzy:
            fuzzy.append(message.id)
        if message.pluralizable:
            singular, plural = (_placeholders(text) for text in message.id)
            # German may say "ein Tag" for one: the singular form may drop the count, never add a placeholder.
            if not _placeholders(forms[0]) <= plural or _placeholders(forms[1]) != plural:
                broken.append((message.id, forms))
        elif _placeholders(forms[0]) != _placeholders(message.id):
            broken.append((message.id, forms[0]))
    assert not missing, f"{len(missing)} messages without German translation, e.g. {missing[:5]}"
    assert not fuzzy, f"fuzzy German translations: {fuzzy[:5]}"
    assert not broken, f"placeholders differ between English and German: {broken[:5]}"
    assert not [error for _message, errors in german.check() for error in errors]


def test_compiled_german_catalogue_matches_the_po_file():
    with open(GERMAN_PO, "rb") as po, open(GERMAN_MO, "rb") as mo:
        source, compiled = read_po(po), read_mo(mo)
    def entries(catalog, skip_fuzzy: bool) -> dict:
        def key(value):
            return tuple(value) if isinstance(value, (list, tuple)) else value

        return {key(m.id): key(m.string) for m in catalog if m.id and m.string and not (skip_fuzzy and m.fuzzy)}

    expected, actual = entries(source, skip_fuzzy=True), entries(compiled, skip_fuzzy=False)
    assert actual == expected, "messages.mo is older than messages.po: `pybabel compile -d marketplace/translations`"


# --- every page in the pseudo-locale ---------------------------------------------------------------


@pytest.fixture
def pseudo_app(make_app, source_messages, tmp_path) -> Flask:
    """The app with an extra catalogue in which every translation reads ⟦...⟧, and that locale forced."""
    directory = write_pseudo_catalogue(source_messages, tmp_path / "pseudo")
    app = make_app(BABEL_TRANSLATION_DIRECTORIES=f"translations;{directory}")
    with app.app_context():
        babel.domain_instance.cache.pop((PSEUDO_LOCALE, "messages"), None)  # loaded catalogues are cached per locale
        # Tests keep one app context across requests, so `g` (and the override) lasts for all of them.
        g.locale_override = PSEUDO_LOCALE
        yield app
        babel.domain_instance.cache.pop((PSEUDO_LOCALE, "messages"), None)
        db.session.remove()


@dataclass
class Scene:
    """Data that makes every page render with its lists filled in, and the URL values that reach it."""

    manager: User
    participant: User
    values: dict[str, int | str]
    extra_urls: list[tuple[str, str, int]] = field(default_factory=list)  # (who, url, expected status)


def _build_scene(app: Flask) -> Scene:
    """Made inside a request in the pseudo-locale, so notifications and e-mails are written in it too."""
    with app.test_request_context():
        manager = make_user(name="Mia Manager", email="mia@young.example", company="Young Digital GmbH",
                            is_manager=True)
        profile = make_mentor(user=manager, capacity=5, topic_slugs=("social-media",))
        profile.city = "Cologne"
        free_tag = Topic(slug="podcasting", name_en="Podcasting", name_de="Podcasting", is_free_tag=True)
        own_goal = make_goal(owner=manager, title="Learn how boards decide", topic_slugs=("artificial-intelligence",))
        own_goal.topics.append(free_tag)

        participant = make_user(name="Paul Participant", email="paul@old.example", company="Old Industry AG")
        cohort_goal = make_goal(owner=participant, title="Understand TikTok for our brand",
                                topic_slugs=("social-media",))
        asked_goal = make_goal(owner=participant, title="Use AI in our sales team")
        requested = tandems.request_tandem(asked_goal, profile, participant, "Could we meet in Cologne?")

        declined_user = make_user(name="Dora Declined", email="dora@declined.example", company="Declined Corp")
        declined_goal = make_goal(owner=declined_user, title="Start a podcast")
        tandems.decline(tandems.request_tandem(declined_goal, profile, declined_user), manager, "Fully booked.")

        running = Cohort(name="Spring round", description="Six meetings in six months.",
                         starts_on=TODAY - timedelta(days=30), ends_on=TODAY + timedelta(days=150),
                         meeting_target=6, state="running")
        enrolling = Cohort(name="Autumn round", starts_on=TODAY + timedelta(days=60),
                           ends_on=TODAY + timedelta(days=240), meeting_target=6, state="enrolling",
                           enrolment_open=True)
        db.session.add_all([running, enrolling])
        db.session.flush()
        draft_user = make_user(name="Xenia Draft", email="xenia@draft.example", company="Draft Works AG")
        draft_goal = make_goal(owner=draft_user, title="Explain Instagram to me")
        db.session.add_all([
            CohortParticipant(cohort=running, user=manager, role="mentor", status="accepted"),
            CohortParticipant(cohort=running, user=participant, role="mentee", goal=cohort_goal, status="accepted"),
            CohortParticipant(cohort=running, user=draft_user, role="mentee", goal=draft_goal, status="accepted"),
            CohortParticipant(cohort=enrolling, user=declined_user, role="mentee", status="applied"),
        ])
        db.session.add(SurveyInvitation(cohort_id=running.id, user_id=participant.id))
        active = Tandem(goal=cohort_goal, mentor=profile, mentee_user_id=participant.id, mentor_user_id=manager.id,
                        cohort=running, status="active", starts_on=running.starts_on, ends_on=running.ends_on)
        draft = Tandem(goal=draft_goal, mentor=profile, mentee_user_id=draft_user.id, mentor_user_id=manager.id,
                       cohort=running, status="draft", score=0.62, reasons=[])
        # A tandem that ended early frees a slot; a waitlisted mentee is proposed for it on the cohort page.
        ended_user = make_user(name="Eddie Ended", email="eddie@ended.example", company="Ended Works AG")
        ended = Tandem(goal=make_goal(owner=ended_user, title="Plan our intranet"), mentor=profile,
                       mentee_user_id=ended_user.id, mentor_user_id=manager.id, cohort=running, status="ended")
        waiting_user = make_user(name="Wanda Waiting", email="wanda@waiting.example", company="Waiting AG")
        db.session.add_all([active, draft, ended, CohortParticipant(
            cohort=running, user=waiting_user, role="mentee", status="waitlisted",
            goal=make_goal(owner=waiting_user, title="Learn about LinkedIn ads"))])
        db.session.flush()
        db.session.add_all([Milestone(goal=cohort_goal, title="Post our first video", position=0, done_at=utcnow()),
                            Milestone(goal=cohort_goal, title="Reach 100 followers", position=1)])
        make_meeting(active, TODAY - timedelta(days=7), author=participant, minutes=90,
                     topics_covered="LinkedIn basics", private_note="Went well")
        planned = make_meeting(active, TODAY + timedelta(days=7), status="planned", author=manager,
                               video_url="https://meet.example/tandem")
        make_meeting(active, TODAY - timedelta(days=1), status="planned", author=manager)  # asks "did it happen?"
        make_meeting(active, TODAY - timedelta(days=14), status="missed", author=manager)
        # The participant's open pulse check (the form) and the mentor's low answer (a reason on the progress page).
        pulse_check = PulseCheck(tandem_id=active.id, user_id=participant.id, role="mentee", occasion="day-30")
        db.session.add(PulseCheck(tandem_id=active.id, user_id=manager.id, role="mentor", occasion="day-30",
                                  answered_at=utcnow(), usefulness=1, collaboration=3, comment="Slow start"))
        db.session.add(pulse_check)
        # A discoverable goal the manager (a mentor too) could help with: its page and the offer form.
        findable = make_goal(owner=make_user(name="Hanna Help", email="hanna@help.example", company="Help GmbH"),
                             title="Learn to post on LinkedIn", topic_slugs=("social-media",))
        accounts.create_api_token(manager, "Laptop script")
        emails.send_password_reset(declined_user)
        reset_token = accounts.issue_one_time_token(declined_user, "reset", timedelta(hours=1))
        invited = make_user(name="Ivy Invited", email="ivy@invited.example", company="Invited KG")
        invited.password_hash = None
        invite_token = accounts.issue_one_time_token(invited, "invite", timedelta(days=1))
        companies.set_domains(invited.company, ["invited.example"])
        confirm_token = accounts.issue_one_time_token(invited, accounts.COMPANY_CONFIRMATION, timedelta(days=1))
        paused = make_mentor(user=make_user(name="Pia Paused", email="pia@paused.example", company="Pause AG"),
                             is_open=False)
        paused.auto_paused_at = utcnow()
        import_job = ImportJob(cohort_id=running.id, user_id=manager.id, token="x" * 32, status="running",
                               total_rows=40, rows_done=10, started_at=utcnow() - timedelta(seconds=20))
        db.session.add(import_job)
        db.session.commit()
        # An upload waiting for its preview: one good row, one refused (the field column shows). Its texts and
        # file name are the scene's own, so the checker knows them as typed, not as untranslated.
        upload = cohort_imports.stage(participants_csv([
            [manager.email, manager.name, "mentor", manager.company.name, profile.headline, profile.teaching_text,
             "social-media", "de;en", "1", ""],
            [participant.email, participant.name, "boss", manager.company.name, cohort_goal.title,
             cohort_goal.description, "", "de", "", ""],
        ]).encode(), running, manager, running.name)

    values = {
        "goals.id": own_goal.id,
        "mentors.id": profile.id,
        "tandem_id": active.id,
        "goal_id": findable.id,
        "cohort_id": running.id,
        "user_id": participant.id,
        "company_id": manager.company_id,
        "topic_id": free_tag.id,
        "meeting_id": planned.id,
        "name": "meetings",
        "auth.reset_password.token": reset_token,
        "auth.accept_invitation.token": invite_token,
        "preferences.unsubscribe.token": preferences.unsubscribe_token(participant.id, "request_received"),
        "auth.confirm_company.token": confirm_token,
        "cohorts.import_preview.token": upload,
        "cohorts.change_state.action": "close",
        "cohorts.import_template.ext": "csv",
        "preferences.back.token": request_expiry.back_token(paused),
        "job_id": import_job.id,
        "goals.milestones.page.goal_id": cohort_goal.id,
        "check_id": pulse_check.id,
    }
    extra = [
        ("manager", f"/tandems/{requested.id}", 200),
        ("participant", f"/tandems/{requested.id}", 200),
        ("manager", f"/cohorts/{enrolling.id}", 200),
        ("participant", f"/cohorts/{enrolling.id}", 200),
        ("participant", f"/cohorts/{running.id}", 200),
        ("participant", f"/goals/{asked_goal.id}", 200),
        ("participant", f"/goals/{cohort_goal.id}", 200),
        ("participant", "/search/mentors?q=LinkedIn+personal+branding", 200),
        ("manager", "/mentors/?topic=social-media", 200),
        ("manager", "/manage/people?q=paul", 200),
        ("manager", "/manage/companies?q=old", 200),
        ("manager", f"/manage/topics/{db.session.scalars(select(Topic.id).limit(1)).first()}", 200),
        ("manager", "/manage/topics/new", 200),
        ("anonymous", "/auth/reset/not-a-valid-token", 404),
        ("anonymous", "/unsubscribe/not-a-valid-token", 404),
        ("anonymous", "/back/not-a-valid-token", 404),
        ("anonymous", "/auth/confirm-company/not-a-valid-token", 404),
        ("anonymous", "/no-such-page", 404),
        ("manager", "/goals/999999", 404),
        ("participant", "/manage/", 403),
    ]
    return Scene(manager, participant, values, extra)


def _user_text() -> list[str]:
    """Everything people typed (names, titles, companies, topics ...): shown as it is, never translated."""
    columns = [
        User.name, User.email, Company.name, Company.normalised_name, CompanyDomain.domain, ApiToken.name,
        ApiToken.prefix, Topic.slug, Topic.name_en, Topic.name_de, MentorProfile.headline,
        MentorProfile.teaching_text, MentorProfile.city, Goal.title, Goal.description, Cohort.name,
        Cohort.description, Tandem.request_message, Tandem.response_message, Tandem.end_reason,
        Meeting.topics_covered, Meeting.private_note, Meeting.video_url, SurveyResponse.improve, Milestone.title,
        PulseCheck.comment,
    ]
    texts = {value for column in columns for value in db.session.scalars(select(column)) if value}
    texts |= {user.first_name for user in db.session.scalars(select(User))}
    texts |= {synonym for synonyms in db.session.scalars(select(Topic.synonyms)) for synonym in synonyms or ()}
    return sorted(texts, key=len, reverse=True)


def _locale_words(locale: str) -> list[str]:
    """Month and day names (dates are formatted by Babel, not translated by us)."""
    data = Locale.parse(locale)
    words = set()
    for names in (data.months, data.days):
        for context in names.values():
            for width in context.values():
                words |= set(width.values())
    words |= set(data.periods.values())
    return sorted(words, key=len, reverse=True)


def _allowed_pattern(user_text: list[str]) -> re.Pattern:
    allowed = [*user_text, *_locale_words(PSEUDO_LOCALE), "Tandem", "English", "Deutsch"]
    email = r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"
    words = "|".join(re.escape(text) for text in allowed)
    return re.compile(rf"{email}|(?<!\w)(?:{words})(?!\w)", re.IGNORECASE)


class VisibleText(HTMLParser):
    """Text a person sees or hears: text nodes and the attributes that are read out or shown.

    Skipped: <script>, <style>, <code> and anything inside translate="no" (the HTML way to say
    "do not translate this", e.g. a sample CSV file whose column names are a fixed format).
    """

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
    SKIPPED = {"script", "style", "code", "kbd", "samp"}
    SHOWN_ATTRIBUTES = ("title", "alt", "placeholder", "aria-label")

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []
        self._stack: list[tuple[str, bool]] = []

    @property
    def _skipping(self) -> bool:
        return bool(self._stack) and self._stack[-1][1]

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        skip = self._skipping or tag in self.SKIPPED or attributes.get("translate") == "no"
        if not skip:
            self.texts.extend(attributes[name] for name in self.SHOWN_ATTRIBUTES if attributes.get(name))
            if tag == "input" and attributes.get("type") in ("submit", "button", "reset") and attributes.get("value"):
                self.texts.append(attributes["value"])
        if tag not in self.VOID:
            self._stack.append((tag, skip))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in self.VOID:
            self._stack.pop()

    def handle_endtag(self, tag):
        for index in range(len(self._stack) - 1, -1, -1):
            if self._stack[index][0] == tag:
                del self._stack[index:]
                return

    def handle_data(self, data):
        if not self._skipping:
            self.texts.append(data)


def untranslated_text(page: str, allowed: re.Pattern) -> list[str]:
    """Visible text left once translations (⟦...⟧), people's own text, numbers and punctuation are removed."""
    parser = VisibleText()
    parser.feed(page)
    left = []
    for text in parser.texts:
        rest = allowed.sub(" ", without_markers(text))
        if re.search(r"[^\W\d_]", rest):
            left.append(" ".join(text.split()))
    return left


def _url_for_rule(app: Flask, rule, values: dict) -> str | None:
    arguments = {}
    for name in rule.arguments:
        for key in (f"{rule.endpoint}.{name}", f"{rule.endpoint.split('.')[0]}.{name}", name):
            if key in values:
                arguments[name] = values[key]
                break
        else:
            return None
    with app.test_request_context():
        return url_for(rule.endpoint, **arguments)


def test_every_page_in_the_pseudo_locale_shows_only_translated_text(pseudo_app):
    scene = _build_scene(pseudo_app)
    clients: dict[str, FlaskClient] = {
        "anonymous": pseudo_app.test_client(),
        "manager": sign_in(pseudo_app.test_client(), scene.manager),
        "participant": sign_in(pseudo_app.test_client(), scene.participant),
    }
    allowed = _allowed_pattern(_user_text())
    problems: dict[str, set[str]] = {}
    unreached, unbuilt = [], []

    def check(who: str, url: str) -> int:
        response = clients[who].get(url)
        if response.mimetype == "text/html" and not 300 <= response.status_code < 400:
            page = response.get_data(as_text=True)
            assert "⟦" in page, f"{url} as {who}: the pseudo-locale did not load"
            for text in untranslated_text(page, allowed):
                problems.setdefault(text, set()).add(f"{url} ({who})")
        return response.status_code

    for rule in pseudo_app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint == "static" or rule.endpoint.startswith("api."):
            continue  # the API answers JSON; its error messages are checked below
        url = _url_for_rule(pseudo_app, rule, scene.values)
        if url is None:
            unbuilt.append(rule.rule)
            continue
        statuses = [check(who, url) for who in clients]
        if 200 not in statuses:
            unreached.append((url, statuses))
    for who, url, expected in scene.extra_urls:
        assert check(who, url) == expected, f"{url} as {who}"

    assert not unbuilt, f"add URL values for these routes to _build_scene: {unbuilt}"
    assert not unreached, f"these pages never rendered (add the data they need to _build_scene): {unreached}"
    report = "\n".join(f"  {text!r} on {', '.join(sorted(where)[:3])}" for text, where in sorted(problems.items()))
    assert not problems, f"Text outside the translations:\n{report}\n{HOW_TO_FIX}"


def test_the_checker_finds_unmarked_text():
    allowed = _allowed_pattern(["Paul Participant"])
    page = (
        "<html><head><title>⟦Ŧîŧļé⟧ · Tandem</title><style>p{}</style></head><body>"
        "<p>⟦Ĥéļļö, Paul⟧ Paul Participant · 3 · 2027-Mar-01 · paul@old.example</p><p>Not marked</p>"
        "<input type='submit' value='Save'><span aria-label='⟦Ŝàṽé⟧'></span><code>tdm_abc</code>"
        "<pre translate='no'>email,name</pre><script>var text = 'ignored';</script></body></html>"
    )
    assert untranslated_text(page, allowed) == ["Not marked", "Save"]


# --- choosing the language -------------------------------------------------------------------------


def _german(page: str) -> bool:
    return '<html lang="de">' in page


def test_the_header_switch_turns_the_dashboard_german(client, app):
    user = make_user(name="Greta Gast")
    sign_in(client, user)
    page = client.get("/dashboard").get_data(as_text=True)
    assert "My learning goals" in page and not _german(page)

    switch = client.post("/language", data={"language": "de", "next": "/dashboard"})
    assert switch.status_code == 302 and switch.headers["Location"] == "/dashboard"
    page = client.get("/dashboard").get_data(as_text=True)
    assert _german(page)
    assert "Meine Lernziele" in page and "Hallo Greta" in page and "My learning goals" not in page
    assert db.session.get(User, user.id).locale == "de"  # saved, so e-mails follow too

    client.post("/language", data={"language": "en", "next": "/dashboard"})
    assert "My learning goals" in client.get("/dashboard").get_data(as_text=True)


def test_accept_language_chooses_german_for_visitors(client):
    page = client.get("/", headers={"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"}).get_data(as_text=True)
    assert _german(page) and "Anmelden" in page and "Log in" not in page
    page = client.get("/", headers={"Accept-Language": "fr-FR,fr;q=0.9"}).get_data(as_text=True)
    assert '<html lang="en">' in page and "Log in" in page


def test_a_visitor_sent_to_log_in_reads_why_in_german(client):
    response = client.get("/dashboard", headers={"Accept-Language": "de"})
    assert response.status_code == 302
    page = client.get(response.headers["Location"], headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert "Bitte melden Sie sich an, um diese Seite zu sehen." in page


def test_the_saved_language_wins_over_the_browser(client):
    user = make_user(name="Ernst Englisch")
    sign_in(client, user)
    user.locale = "en"
    db.session.commit()
    page = client.get("/dashboard", headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert not _german(page) and "My learning goals" in page

    user.locale = "de"
    db.session.commit()
    page = client.get("/dashboard", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert _german(page) and "Meine Lernziele" in page


def test_dates_and_numbers_follow_the_language(client, login_as):
    mentor, goal = make_mentor(company="Young A"), make_goal(company="Old X")
    tandem = Tandem(goal=goal, mentor=mentor, mentee_user_id=goal.owner_id, mentor_user_id=mentor.user_id,
                    status="active", starts_on=date(2027, 3, 1), ends_on=date(2027, 9, 1))
    db.session.add(tandem)
    db.session.commit()
    login_as(goal.owner)
    page = client.get(f"/tandems/{tandem.id}").get_data(as_text=True)
    assert "Mar 1, 2027" in page and "Sep 1, 2027" in page
    client.post("/language", data={"language": "de"})
    page = client.get(f"/tandems/{tandem.id}").get_data(as_text=True)
    assert "01.03.2027" in page and "01.09.2027" in page
    with client.application.test_request_context(headers={"Accept-Language": "de"}):
        flask_babel.refresh()
        assert flask_babel.format_decimal(1234.5) == "1.234,5"


def test_api_error_messages_follow_accept_language(client):
    user = make_user()
    token = accounts.create_api_token(user)
    db.session.commit()
    bearer = {"Authorization": f"Bearer {token}"}

    english = client.get("/api/v1/goals/999999", headers=bearer).get_json()["error"]
    german = client.get("/api/v1/goals/999999", headers={**bearer, "Accept-Language": "de"}).get_json()["error"]
    assert english == {"code": "not_found", "message": "No such goal.", "fields": {}}
    assert german["code"] == "not_found" and german["message"] == "Dieses Lernziel gibt es nicht."

    unauthorised = client.get("/api/v1/goals", headers={"Accept-Language": "de"}).get_json()["error"]
    assert unauthorised["message"] == "Senden Sie ein gültiges API-Token als 'Authorization: Bearer TOKEN'."
    bad = client.get("/api/v1/goals?page=x", headers={**bearer, "Accept-Language": "de"}).get_json()["error"]
    assert bad["fields"] == {"page": "Keine ganze Zahl."}
    unknown = client.get("/api/v1/no-such-thing", headers={**bearer, "Accept-Language": "de"}).get_json()["error"]
    assert unknown["message"] == "Unter dieser Adresse gibt es nichts."


def test_error_pages_are_german_too(client):
    page = client.get("/no-such-page", headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert "Seite nicht gefunden" in page and "Unter dieser Adresse gibt es nichts." in page
    assert "The requested URL was not found" not in page


def test_notifications_are_written_in_the_recipients_language(app):
    mentor, goal = make_mentor(company="Young A"), make_goal(company="Old X")
    mentor.user.locale, goal.owner.locale = "de", "en"
    db.session.commit()
    with app.test_request_context(headers={"Accept-Language": "en"}):
        flask_babel.refresh()
        tandem = tandems.request_tandem(goal, mentor, goal.owner, "Hello")
    with app.test_request_context(headers={"Accept-Language": "de"}):
        flask_babel.refresh()
        tandems.decline(tandem, mentor.user, "Leider ausgebucht.")

    def message_to(user: User) -> str:
        """As the reader sees it: rendered at reading time, in the reader's language."""
        notification = db.session.scalars(select(Notification).where(Notification.user_id == user.id)).one()
        with force_locale(user.locale):
            return notifications.text(notification)

    assert message_to(mentor.user) == f"{goal.owner.name} bittet Sie um ein Mentoring zu „{goal.title}“."
    assert message_to(goal.owner) == f"{mentor.user.name} declined your request."


def test_a_refused_form_explains_itself_in_german(csrf_app):
    client = csrf_app.test_client()
    response = client.post("/language", data={"language": "de"}, headers={"Accept-Language": "de"})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Bitte laden Sie die Seite neu" in page and "CSRF" not in page
