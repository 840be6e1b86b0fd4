"""Each role's main path in headless Chromium, through the real pages: typing into fields, pressing buttons.

Screenshots of the final pages land in test-artifacts/browser/ (a failing test leaves its page there too).
"""

from __future__ import annotations

import csv
import re
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from flask_babel import force_locale, gettext
from selenium.webdriver.common.by import By
from sqlalchemy import select

from marketplace.extensions import db
from marketplace.models import Meeting, ProposalSlot, Tandem, User, utcnow
from marketplace.services import pulse, scheduling, timezones
from marketplace.services.cohorts.enrolment import add_months
from tests.builders import DEFAULT_PASSWORD, make_goal, make_meeting, make_mentor, make_user
from tests.marketplace.test_cohorts import enrol, make_cohort

if TYPE_CHECKING:  # pytest imports it as a plugin (below), so that its asserts are rewritten too
    from flask import Flask
    from selenium.webdriver.remote.webelement import WebElement

    from tests.marketplace.browser_support import Browser

pytest_plugins = ["tests.marketplace.browser_support"]
pytestmark = [pytest.mark.browser, pytest.mark.once]

MENTOR = {"name": "Mia Wagner", "email": "mia@young-digital.example", "company": "Young Digital GmbH"}
EXECUTIVE = {"name": "Klaus Becker", "email": "klaus.becker@old-industry.example", "company": "Old Industry AG"}
GOAL_TITLE = "Use generative AI in our family business"


def register(browser: Browser, link: str, person: dict[str, str], greeting: str | None = None) -> None:
    """Sign up from the landing page's call to action, as a newcomer would; the welcome uses the first name."""
    browser.visit("/")
    browser.follow(link)
    browser.fill("Name", person["name"])
    browser.fill("E-mail", person["email"])
    browser.fill("Company", person["company"])
    browser.fill("Password", DEFAULT_PASSWORD)
    browser.fill("Repeat the password", DEFAULT_PASSWORD)
    browser.press("Create account")
    first_name = greeting or person["name"].split()[0]
    assert f"Welcome to Tandem, {first_name}! Your account is ready." in browser.flashes


def result_card(browser: Browser, mentor_name: str) -> WebElement:
    """One mentor's entry in a list of search results or suggestions."""
    return browser.find(f'//li[contains(@class, "result")][.//h3[normalize-space()="{mentor_name}"]]',
                        f"result for {mentor_name}")


def mentor_posts_a_profile(browser: Browser) -> None:
    """Path 1: sign up as a mentor and post an #OpenToMentor profile."""
    register(browser, "Register as a mentor", MENTOR)
    assert browser.heading == "Create my mentor profile"
    assert browser.field("Company").get_attribute("value") == MENTOR["company"]  # carried over from sign-up
    browser.fill("Headline", "I show leaders how generative AI changes everyday work")
    browser.fill("What I can teach", "ChatGPT, Copilot and prompting in daily work: what AI tools can and cannot "
                                     "do, and how a team starts using them safely.")
    browser.tick("Artificial intelligence")
    browser.tick("Collaboration and communication tools")
    browser.fill("Other topics", "Hackathons")
    browser.tick("German")
    browser.fill("How many tandems at a time", "2")
    browser.fill("Meetings per month", "2")
    browser.choose("Meeting format", "Hybrid")
    browser.fill("City", "Cologne")
    browser.press("Save profile")

    assert "Your profile is live: #OpenToMentor." in browser.flashes
    assert browser.heading == "My mentor profile"
    page = browser.text
    for shown in ("#OpenToMentor", "I show leaders how generative AI changes everyday work", "Artificial intelligence",
                  "Collaboration and communication tools", "Hackathons", MENTOR["company"], "Hybrid", "Cologne",
                  "2 tandems at a time", "2 meetings per month"):
        assert shown in page, shown
    languages = browser.find('//dt[normalize-space()="Languages"]/following-sibling::dd[1]', "languages").text
    assert set(languages.split(", ")) == {"English", "German"}
    browser.screenshot("1-mentor-profile")


GOAL_DESCRIPTION = ("I run a mid-sized manufacturer and want to understand how tools like ChatGPT could help my "
                    "managers day to day.")
REQUEST_MESSAGE = "Your profile fits exactly what my managers need. Could we meet online?"


def executive_requests_a_tandem(browser: Browser) -> None:
    """Path 2, in one walk: sign up as an executive, post a goal, search in one's own words, and ask the mentor of
    path 1 for a tandem from the search results."""
    browser.log_out()
    register(browser, "Register as an executive", EXECUTIVE)
    assert browser.heading == "New goal"
    browser.fill("Title", GOAL_TITLE)
    browser.fill("What I want to learn", GOAL_DESCRIPTION)
    browser.tick("Artificial intelligence")
    browser.press("Save goal")
    assert "Your goal is saved." in browser.flashes
    assert browser.heading == GOAL_TITLE

    browser.follow("Find mentors")
    browser.fill("What would you like to learn?", "How can my leadership team work with ChatGPT?")
    browser.press("Search")
    card = result_card(browser, MENTOR["name"]).text
    assert MENTOR["company"] in card
    assert re.search(r"Shared topics:.*Artificial intelligence", card), card
    assert re.search(r"Languages: .*English", card), card
    # A mentor on just this subject, but from the executive's own company, is never shown.
    assert "Jonas Hausmann" not in browser.text

    browser.follow("Ask for a tandem", within=result_card(browser, MENTOR["name"]))
    assert browser.heading == MENTOR["name"]
    browser.choose("For which goal?", GOAL_TITLE)
    browser.fill("A short personal message", REQUEST_MESSAGE)
    browser.press("Send the request")
    assert f"Your request went to {MENTOR['name']}." in browser.flashes
    assert browser.heading == GOAL_TITLE
    requests = browser.find('//h2[normalize-space()="Requests and tandems"]/..', "requests").text
    assert MENTOR["name"] in requests and "Requested" in requests
    browser.screenshot("2-executive-requested")


def mentor_accepts(browser: Browser) -> None:
    """Path 3: the mentor finds the request on the dashboard and accepts it."""
    browser.log_out()
    browser.log_in(MENTOR["email"], DEFAULT_PASSWORD)
    requests = browser.find('//h2[starts-with(normalize-space(), "Requests for you")]/..', "requests for you")
    assert EXECUTIVE["name"] in requests.text and GOAL_TITLE in requests.text
    browser.follow("Answer the request", within=requests)
    assert browser.heading == f"Tandem: {GOAL_TITLE}"
    page = browser.text
    # The mentor decides on what the request is about, not on its title alone.
    for shown in (GOAL_DESCRIPTION, "Artificial intelligence", "English", REQUEST_MESSAGE, EXECUTIVE["company"]):
        assert shown in page, shown
    assert EXECUTIVE["email"] not in page  # contact details only once accepted
    browser.fill("Message", "Happy to help. Shall we meet next week?")
    browser.press("Accept")

    assert "Tandem accepted. You can now see each other's e-mail address." in browser.flashes
    assert browser.find('//main//span[contains(@class, "badge")]', "status").text == "Active"
    page = browser.text
    assert EXECUTIVE["email"] in page and "Happy to help. Shall we meet next week?" in page
    assert "Meetings and notes" in page and "End this tandem early" in page
    browser.screenshot("3-mentor-accepted")
    browser.follow("My tandems")
    assert GOAL_TITLE in browser.text and "Active" in browser.text


def test_mentor_posts_a_profile_executive_requests_mentor_accepts(browser: Browser, live_app: Flask) -> None:
    """The marketplace path: what one role types in is what the next one finds."""
    colleague = make_user(email="jonas@old-industry.example", name="Jonas Hausmann", company=EXECUTIVE["company"])
    make_mentor(user=colleague, headline="ChatGPT for your leadership team",
                text="How leadership teams work with ChatGPT and generative AI every day.",
                topic_slugs=("artificial-intelligence",), languages="en")

    mentor_posts_a_profile(browser)
    executive_requests_a_tandem(browser)
    mentor_accepts(browser)


def test_partners_tick_a_milestone_then_the_freed_slot_goes_to_the_waiting_list(browser: Browser,
                                                                               live_app: Flask) -> None:
    """The mentee adds a milestone on the tandem page, the mentor ticks it and later ends the tandem early,
    and the manager confirms the waitlisted mentee the cohort page proposes for the freed slot."""
    cohort = make_cohort(name="Herbst", state="running", starts_on=date.today(), ends_on=add_months(date.today(), 6))
    mentor = make_mentor(user=make_user(email="mia@young.example", name="Mia Mentor", company="Young GmbH"))
    enrol(cohort, mentor.user, "mentor")
    goal = make_goal(owner=make_user(email="anna@old.example", name="Anna Alt", company="Old AG"))
    enrol(cohort, goal.owner, "mentee", goal)
    waiting = make_goal(owner=make_user(name="Bert Warte", company="Wait AG"), title="LinkedIn for our board")
    enrol(cohort, waiting.owner, "mentee", waiting, status="waitlisted")
    tandem = Tandem(goal=goal, mentor=mentor, mentee_user_id=goal.owner_id, mentor_user_id=mentor.user_id,
                    cohort_id=cohort.id, status="active", starts_on=cohort.starts_on, ends_on=cohort.ends_on)
    goal.status = "matched"
    db.session.add(tandem)
    make_user(email="manu@tandem.example", name="Manu Manager", company=None, is_manager=True)
    ids = {"tandem": tandem.id, "cohort": cohort.id}
    db.session.commit()  # the live server's threads write to the same database: no read may stay open here

    browser.log_in("anna@old.example", DEFAULT_PASSWORD)
    browser.visit(f"/cohorts/tandems/{ids['tandem']}")
    browser.fill("Milestone", "Publish the first LinkedIn post")
    browser.press("Add milestone")
    assert "Milestone added." in browser.flashes
    assert "Milestones reached: 0 of 1" in browser.text
    browser.log_out()

    browser.log_in("mia@young.example", DEFAULT_PASSWORD)
    browser.visit(f"/cohorts/tandems/{ids['tandem']}")
    title = "Publish the first LinkedIn post"
    item = browser.find(f'//li[contains(@class, "milestone")][.//span[normalize-space()="{title}"]]', "the milestone")
    browser.press("Mark as reached", within=item)
    assert "Milestones reached: 1 of 1" in browser.text
    browser.screenshot("milestone-ticked")
    browser.follow("Tandem details")
    browser.follow("End tandem")
    browser.fill("Why does the tandem end?", "I am moving abroad.")
    browser.press("End tandem")
    assert "The tandem has ended." in browser.flashes
    browser.log_out()

    browser.log_in("manu@tandem.example", DEFAULT_PASSWORD)
    browser.visit(f"/cohorts/{ids['cohort']}")
    assert "Slot freed: propose Bert Warte with Mia Mentor" in browser.text
    browser.screenshot("freed-slot")
    browser.press("Confirm this pair")
    assert "Mia Mentor and Bert Warte are paired; both are told." in browser.flashes
    assert "Slot freed" not in browser.text


PARTICIPANTS = [
    # email, name, role, company, headline, text, topics, languages, capacity, exclude_companies
    ["lena@young-media.example", "Lena Berg", "mentor", "Young Media GmbH", "I explain TikTok and LinkedIn",
     "Short video, LinkedIn posting routines and personal branding for leaders.", "social-media", "de;en", "1", ""],
    ["omar@data-crew.example", "Omar Haddad", "mentor", "Data Crew GmbH", "Generative AI in everyday work",
     "ChatGPT, prompting and machine learning explained for daily work.", "artificial-intelligence", "de;en", "1", ""],
    ["kurt@old-industry.example", "Kurt Alt", "mentee", "Old Industry AG", "Understand social media",
     "Our brand needs a voice on social media and I want to lead that.", "social-media", "de", "", ""],
    ["petra@steelworks.example", "Petra Stahl", "mentee", "Stahlwerk AG", "Generative KI für unsere Werke",
     "I want to know what ChatGPT and machine learning can do for our engineers.", "artificial-intelligence",
     "de;en", "", ""],
]


def participants_csv(folder: Path) -> Path:
    """The file a manager saves from German Excel: `;` between cells, `,` between list items, Windows-1252."""
    path = folder / "participants.csv"
    with path.open("w", newline="", encoding="cp1252") as out:
        writer = csv.writer(out, delimiter=";")
        writer.writerow(["email", "name", "role", "company", "headline", "text", "topics", "languages", "capacity",
                         "exclude_companies"])
        writer.writerows([[cell.replace(";", ",") for cell in row] for row in PARTICIPANTS])
    return path


def stat(browser: Browser, label: str) -> str:
    """The figure on one of the cohort page's stat tiles."""
    return browser.find(f'//span[normalize-space()="{label}"]/preceding-sibling::span[@class="stat-value"]', label).text


def test_manager_runs_a_cohort_from_plan_to_report(browser: Browser, live_app: Flask, tmp_path: Path) -> None:
    """Create, import, match, publish, then the report with its charts as the manager's browser shows them."""
    make_user(email="carla@tandem.example", name="Carla Brandt", company="Tandem e.V.", is_manager=True)
    browser.log_in("carla@tandem.example", DEFAULT_PASSWORD)

    browser.follow("Cohorts")
    browser.follow("New cohort")
    start = date.today()
    browser.fill("Name", "Rhineland spring round")
    browser.fill_date("Start date", start)
    browser.fill_date("End date", add_months(start, 6))
    browser.fill("Meeting target per tandem", "6")
    browser.tick("Social media")
    browser.tick("Artificial intelligence")
    browser.press("Save cohort")
    assert "Cohort “Rhineland spring round” created. Open its enrolment or import participants next." in browser.flashes
    assert browser.heading == "Rhineland spring round Draft"

    browser.follow("Import participants")
    browser.attach("Participants file (CSV or Excel)", participants_csv(tmp_path))
    browser.press("Check the file")
    assert "participants.csv · 4 to create, 0 to update, 0 refused" in browser.text
    assert "Read as: Windows-1252" in browser.text and "Generative KI für unsere Werke" in browser.text
    browser.screenshot("4-manager-import-preview")
    # The preview is a page of its own (the upload answered 303): reloading it posts nothing again.
    preview_url = browser.driver.current_url
    browser.driver.refresh()
    assert browser.driver.current_url == preview_url and "4 to create" in browser.text
    browser.press("Import these participants")
    assert browser.heading == "Import done"
    browser.follow("Back to the cohort")
    assert (stat(browser, "accepted mentors"), stat(browser, "accepted mentees")) == ("2", "2")

    browser.press("Close enrolment and start matching")
    assert "The cohort is now: Matching." in browser.flashes
    browser.follow("Open matching")
    browser.press("Run matching")
    assert "2 draft tandems proposed; 0 people are unmatched." in browser.flashes
    # Mentor cell: name, company. Mentee cell: name, company, goal. Each executive gets a mentor on their subject.
    pairs = {mentor.split("\n")[0]: mentee.split("\n")[0] for mentor, mentee, *_ in browser.table_rows()}
    assert pairs == {"Lena Berg": "Kurt Alt", "Omar Haddad": "Petra Stahl"}
    browser.follow("Publish 2 tandems")  # first a page that says what publishing does
    assert "2 draft tandems start now; both partners are notified." in browser.text
    browser.press("Publish 2 tandems")
    assert any(flash.startswith("2 tandems published.") for flash in browser.flashes)

    browser.follow("Report")
    assert browser.heading == "Report: Rhineland spring round Running"
    assert re.search(r"100\s?%\nof mentees matched \(2 tandems\)", browser.text), browser.text
    charts = browser.images()
    assert [Path(chart["src"]).name for chart in charts] == ["meetings.svg?lang=en", "scores.svg?lang=en"]
    assert all(chart["complete"] and chart["width"] > 0 for chart in charts), charts
    browser.screenshot("4-manager-report")
    # 12: an export people can open: the workbook the report links to.
    excel = browser.find('//a[normalize-space()="Tandems, progress and figures as Excel"]', "Excel export")
    status, kind, first_bytes = browser.driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch(arguments[0]).then(r => r.arrayBuffer().then(b => done([r.status, r.headers.get('content-type'),"
        " Array.from(new Uint8Array(b.slice(0, 2)))])));", excel.get_attribute("href"))
    assert (status, first_bytes) == (200, [0x50, 0x4B]), (status, kind)  # a zip: an .xlsx workbook
    assert kind.startswith("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"), kind

    # 10: closing asks first and says what it does to tandems below their meeting target.
    browser.follow("Overview")
    browser.follow("Close the cohort and send the survey")
    assert "2 running tandems are marked completed now." in browser.text
    assert "2 of them held fewer meetings than the target of 6." in browser.text
    browser.screenshot("4-manager-close-asks-first")
    browser.press("Close the cohort and send the survey")
    assert "The cohort is now: Closed." in browser.flashes

    # 9: the same people imported into a new cohort can be matched again (their tandems have ended).
    browser.follow("Cohorts")
    browser.follow("New cohort")
    browser.fill("Name", "Rhineland autumn round")
    browser.fill_date("Start date", start)
    browser.fill_date("End date", add_months(start, 6))
    browser.press("Save cohort")
    browser.follow("Import participants")
    browser.attach("Participants file (CSV or Excel)", participants_csv(tmp_path))
    browser.press("Check the file")
    assert "participants.csv · 0 to create, 4 to update, 0 refused" in browser.text
    browser.press("Import these participants")
    assert browser.heading == "Import done"
    browser.follow("Back to the cohort")
    browser.press("Close enrolment and start matching")
    browser.follow("Open matching")
    browser.press("Run matching")
    assert "2 draft tandems proposed; 0 people are unmatched." in browser.flashes
    browser.screenshot("4-manager-second-cohort-matched")


def test_a_partner_answers_the_pulse_check_and_the_manager_sees_health_and_nudges(browser: Browser,
                                                                                 live_app: Flask) -> None:
    """Forty days into a cohort without a meeting: the mentee's pulse check, answered low, makes the pair one to
    check in with; the manager reads why on the progress page and e-mails both partners."""
    start = date.today() - timedelta(days=40)
    cohort = make_cohort(name="Hamburg Herbstrunde", state="running", starts_on=start, ends_on=add_months(start, 6))
    mentor = make_mentor(user=make_user(email="mia@young-digital.example", name="Mia Wagner",
                                        company="Young Digital GmbH"))
    goal = make_goal(owner=make_user(email="klaus@old-industry.example", name="Klaus Becker",
                                     company="Old Industry AG"), title=GOAL_TITLE)
    tandem = Tandem(goal=goal, mentor=mentor, mentee_user_id=goal.owner_id, mentor_user_id=mentor.user_id,
                    cohort_id=cohort.id, status="active", starts_on=start, ends_on=cohort.ends_on)
    db.session.add(tandem)
    make_user(email="carla@tandem.example", name="Carla Brandt", company="Tandem e.V.", is_manager=True)
    db.session.commit()
    assert pulse.ask_due(utcnow()) == 2  # the periodic job's day-30 question, to both partners
    cohort_id, tandem_id = cohort.id, tandem.id
    db.session.commit()

    browser.log_in("klaus@old-industry.example", DEFAULT_PASSWORD)
    browser.visit(f"/cohorts/tandems/{tandem_id}")
    browser.follow("Answer the pulse check")
    assert browser.heading == "How is your tandem with Mia Wagner going?"
    assert "Mia Wagner never sees your answers." in browser.text
    browser.find('//label[@for="usefulness-1"]', "usefulness 2").click()
    browser.find('//label[@for="collaboration-3"]', "working together 4").click()
    browser.fill("Anything you would like to add? (optional)", "We have not found a date yet.")
    browser.press("Send my answers")
    assert "Thank you! Your partner never sees your answers." in browser.flashes
    assert "Answer the pulse check" not in browser.text
    browser.screenshot("6-mentee-pulse-answered")
    browser.log_out()

    browser.log_in("carla@tandem.example", DEFAULT_PASSWORD)
    browser.visit(f"/cohorts/{cohort_id}/progress")
    row = browser.find(f'//tr[@id="health-{tandem_id}"]', "the tandem's health row")
    assert "Needs check-in" in row.text
    for reason in ("behind the plan: 0 meetings held, about 1 expected by now", "a low pulse answer (2 of 5)"):
        assert reason in row.text, row.text
    assert "no activity" not in row.text  # answering the pulse check was activity
    assert "We have not found a date yet." not in browser.text  # the manager never reads one person's answer
    assert "Not nudged yet" in row.text
    browser.press("E-mail both partners", within=row)
    assert "Both partners were e-mailed: you asked how their tandem is going." in browser.flashes
    assert "Last nudge:" in browser.find(f'//tr[@id="health-{tandem_id}"]', "the health row").text
    browser.screenshot("6-manager-pair-health")


PHONE = (390, 844)


def phone_world() -> dict[str, str | int]:
    """Someone of every role with something on each main page: a running tandem, a cohort in matching with drafts
    and an unmatched executive, a running cohort with meetings for progress and report."""
    mentor = make_mentor(user=make_user(email="mia@young-digital.example", name="Mia Wagner-Schulze",
                                        company="Young Digital GmbH"),
                         headline="I show leaders how generative AI changes everyday work",
                         text="ChatGPT, Copilot and prompting in daily work: what AI tools can and cannot do.",
                         topic_slugs=("artificial-intelligence", "social-media"), languages="de,en")
    executive = make_user(email="karl@hansekauf.example", name="Prof. Dr. Karl Hansekauf", company="Hansekauf AG")
    goal = make_goal(owner=executive, title="Verstehen, was generative KI für unser Familienunternehmen bedeutet",
                     topic_slugs=("artificial-intelligence",), languages="de")
    manager = make_user(email="carla@tandem.example", name="Carla Brandt", company="Tandem e.V.", is_manager=True)

    matching = make_cohort(name="Rheinland Frühjahrsrunde", state="matching")
    running = make_cohort(name="Hamburg Herbstrunde", state="running", starts_on=date.today().replace(day=1),
                          ends_on=add_months(date.today().replace(day=1), 6))
    tandems = []
    for i in range(3):
        young = make_mentor(company=f"Junge Agentur {i} GmbH", topic_slugs=("social-media", "new-work"))
        aim = make_goal(company=f"Traditionsbetrieb {i} AG", title=f"Unsere Marke in den sozialen Medien {i}",
                        topic_slugs=("social-media",))
        for cohort, status in ((matching, "draft"), (running, "active")):
            enrol(cohort, young.user, "mentor")
            enrol(cohort, aim.owner, "mentee", aim)
            tandem = Tandem(goal=aim, mentor=young, mentee_user_id=aim.owner_id, mentor_user_id=young.user_id,
                            cohort_id=cohort.id, status=status, score=0.52 + i / 10,
                            reasons=["Shared topics: Social media", "Shared languages: German, English"],
                            starts_on=cohort.starts_on, ends_on=cohort.ends_on)
            db.session.add(tandem)
            tandems.append(tandem)
    enrol(matching, executive, "mentee", goal)
    enrol(running, executive, "mentee", goal)
    direct = Tandem(goal=goal, mentor=mentor, mentee_user_id=executive.id, mentor_user_id=mentor.user_id,
                    cohort_id=running.id, status="active", request_message="Ich freue mich auf den Austausch.",
                    starts_on=running.starts_on, ends_on=running.ends_on)
    db.session.add(direct)
    db.session.commit()
    make_meeting(tandems[1], date.today(), author=tandems[1].mentee)
    make_meeting(direct, date.today(), author=executive, minutes=45)
    world = {"mentor": mentor.user.email, "executive": executive.email, "manager": manager.email,
             "mentor_profile": mentor.id, "executive_id": executive.id, "company": executive.company_id,
             "goal": goal.id, "matching": matching.id, "running": running.id, "tandem": direct.id}
    # The live server's threads write to the same database (on SQLite, an open read here would block them).
    db.session.commit()
    return world


# What the phone test reads and presses, per interface language.
WORDS = {"en": {"menu": "Menu", "log in": "Log in", "log out": "Log out", "e-mail": "E-mail", "password": "Password",
                "lock": "Lock"},
         "de": {"menu": "Menü", "log in": "Anmelden", "log out": "Abmelden", "e-mail": "E-Mail", "password": "Passwort",
                "lock": "Fixieren"}}


def open_menu(browser: Browser) -> None:
    """On a phone the links sit behind the menu button; it opens without script (a checkbox and its label)."""
    if not browser.driver.find_element(By.ID, "nav-toggle").is_selected():
        browser.driver.find_element(By.CSS_SELECTOR, "label[for=nav-toggle]").click()
    assert browser.driver.find_element(By.ID, "nav-links").is_displayed()


def log_in_on_a_phone(browser: Browser, email: str, words: dict[str, str]) -> None:
    browser.visit("/")
    open_menu(browser)
    browser.follow(words["log in"])
    browser.fill(words["e-mail"], email)
    browser.fill(words["password"], DEFAULT_PASSWORD)
    browser.press(words["log in"])


def fits_the_screen(browser: Browser, shot: str) -> None:
    """Nothing wider than the phone: the page never scrolls sideways."""
    page, screen = browser.driver.execute_script("return [document.documentElement.scrollWidth, window.innerWidth];")
    assert page <= screen, f"{browser.driver.current_url} is {page} px wide on a {screen} px screen"
    browser.screenshot(shot)


def test_every_main_page_fits_a_phone_in_english_and_german(browser: Browser, live_app: Flask) -> None:
    """Each role's main pages at 390 px, in one browser session: the menu folds, tables become cards."""
    world = phone_world()
    browser.driver.set_window_size(*PHONE)
    matching, running = world["matching"], world["running"]
    pages = {
        "anonymous": (None, ["/", "/auth/login", "/auth/register", "/auth/forgot-password"]),
        "mentor": (world["mentor"], ["/dashboard", "/mentors/me", "/mentors/me/edit", "/mentors/",
                                     "/search/mentors?q=Social+Media+f%C3%BCr+Traditionsbetriebe",
                                     "/tandems/", f"/tandems/{world['tandem']}", "/notifications", "/auth/account"]),
        "executive": (world["executive"], ["/dashboard", "/goals/", "/goals/new", f"/goals/{world['goal']}",
                                           f"/mentors/{world['mentor_profile']}", f"/cohorts/{running}",
                                           f"/cohorts/tandems/{world['tandem']}"]),
        "manager": (world["manager"], ["/dashboard", "/manage/", "/manage/people",
                                       f"/manage/people/{world['executive_id']}", "/manage/companies",
                                       f"/manage/companies/{world['company']}", "/manage/topics", "/manage/outbox",
                                       "/cohorts/", "/cohorts/new", f"/cohorts/{matching}",
                                       f"/cohorts/{matching}/import", f"/cohorts/{matching}/matching",
                                       f"/cohorts/{running}/progress", f"/cohorts/{running}/report"]),
    }
    for language, words in WORDS.items():
        for role, (email, paths) in pages.items():
            if email is not None:
                log_in_on_a_phone(browser, email, words)
            for number, path in enumerate(paths, 1):
                browser.visit(path)
                assert browser.driver.find_element(By.CSS_SELECTOR, "label[for=nav-toggle]").text == words["menu"]
                fits_the_screen(browser, f"phone-{language}-{role}-{number:02d}")
            if role == "manager":
                # A table row is a card on the phone: a draft pair's actions stay on the screen.
                browser.visit(f"/cohorts/{matching}/matching")
                lock = browser.find(f'//button[normalize-space()="{words["lock"]}"]', "lock button")
                assert lock.is_displayed() and lock.rect["x"] + lock.rect["width"] <= PHONE[0]
                browser.visit(f"/cohorts/{running}/report")
                charts = browser.images()
                assert [Path(chart["src"]).name for chart in charts] == [f"meetings.svg?lang={language}",
                                                                         f"scores.svg?lang={language}"]
                assert all(chart["complete"] and chart["width"] > 0 for chart in charts), charts
            if email is not None:
                open_menu(browser)
                browser.press(words["log out"])
        if language == "en":
            browser.visit("/")
            open_menu(browser)
            browser.press("Deutsch")


def test_partners_in_two_time_zones_propose_and_pick_a_meeting(browser: Browser, live_app: Flask) -> None:
    """Propose, then pick: the mentor in New York states when she is free and proposes a time inside both
    windows; the executive in Berlin sees it in his own zone and picks it, and it is planned for both."""
    mentor = make_mentor(user=make_user(email=MENTOR["email"], name=MENTOR["name"], company=MENTOR["company"]))
    executive = make_user(email=EXECUTIVE["email"], name=EXECUTIVE["name"], company=EXECUTIVE["company"])
    mentor.user.time_zone, executive.time_zone = "America/New_York", "Europe/Berlin"
    goal = make_goal(owner=executive, title=GOAL_TITLE)
    tandem = Tandem(goal=goal, mentor=mentor, mentee_user_id=executive.id, mentor_user_id=mentor.user_id,
                    status="active", starts_on=date.today(), ends_on=date.today() + timedelta(days=120))
    db.session.add(tandem)
    db.session.commit()
    scheduling.add_window(executive, 1, 17 * 60, 21 * 60)  # Tuesdays 17:00-21:00 in Berlin
    tandem_id, page = tandem.id, f"/cohorts/tandems/{tandem.id}"

    browser.log_in(MENTOR["email"], DEFAULT_PASSWORD)
    browser.visit("/auth/account")
    browser.choose("Day", "Tuesday")
    browser.choose("From", "11:00")
    browser.choose("To", "15:00")
    browser.press("Add this window")
    assert "Window added: Tuesday 11:00–15:00." in browser.flashes
    browser.visit(page)
    offered = browser.find('//fieldset[legend[normalize-space()="Times inside both your windows"]]', "suggestions")
    offered.find_element(By.CSS_SELECTOR, "input[type=checkbox]").click()
    browser.fill("Video-call link (optional)", "https://meet.example/mia-klaus")
    browser.press("Propose these times")
    assert f"Your times went to {EXECUTIVE['name']}, each in their own time zone." in browser.flashes[0]

    slot = db.session.scalars(select(ProposalSlot)).one()
    with live_app.test_request_context():
        in_new_york = timezones.format_instant(slot.starts_at, db.session.get(User, mentor.user_id), with_zone=False)
        in_berlin = timezones.format_instant(slot.starts_at, db.session.get(User, executive.id), with_zone=False)
    db.session.commit()  # end the read: the live server's threads write next
    assert in_new_york != in_berlin and in_new_york in browser.text and "America/New_York" in browser.text
    browser.screenshot("propose-1-mentor-proposed")

    browser.log_out()
    browser.log_in(EXECUTIVE["email"], DEFAULT_PASSWORD)
    browser.visit(page)
    assert "Europe/Berlin" in browser.text and in_new_york not in browser.text
    proposed = browser.find(f'//li[.//strong[normalize-space()="{in_berlin}"]]', "the proposed time")
    browser.press("Pick this time", within=proposed)
    assert "Meeting planned. You both get the invite by e-mail; download it below." in browser.flashes
    meetings = browser.find('//h2[normalize-space()="Meetings"]/../..', "meetings").text
    assert in_berlin in meetings and "https://meet.example/mia-klaus" in meetings
    assert "Download the invite (.ics)" in browser.text
    browser.screenshot("propose-2-executive-picked")
    meeting = db.session.scalars(select(Meeting).where(Meeting.tandem_id == tandem_id)).one()
    assert (meeting.status, meeting.author_id, meeting.starts_at) == ("planned", mentor.user_id, slot.starts_at)
    db.session.commit()
KARL = {"name": "Dr. Karl Brenner", "email": "karl.brenner@hafen-logistik.example", "company": "Hafen Logistik AG"}


def in_german(text: str) -> str:
    """What the German interface shows for an English text (the catalogue the app serves)."""
    with force_locale("de"):
        return gettext(text)


def open_notifications(browser: Browser) -> None:
    """The navigation's link, which carries the unread count beside its name."""
    browser.click(browser.find('//nav//a[starts-with(normalize-space(), "Notifications")]', "notifications link"))


def test_a_newcomer_meets_no_dead_end_from_sign_up_to_a_second_mentor(browser: Browser, live_app: Flask) -> None:
    """The dead ends of issue #13, walked by an executive and a mentor: a greeting without the title, German ticked
    for a German interface, asking from the search without a goal yet, scores on one scale, the next suggestions
    after a decline, notifications that go read when opened, a mentor offering help on a goal, an end that asks
    first, and a second sign-up with the same address that gives nothing away."""
    mia = make_mentor(user=make_user(email="mia@young-digital.example", name="Mia Wagner",
                                     company="Young Digital GmbH"),
                      headline="I show leaders how generative AI changes everyday work",
                      text="ChatGPT, Copilot and prompting in daily work for leadership teams.",
                      topic_slugs=("artificial-intelligence",), languages="de,en")
    make_mentor(user=make_user(email="nora@ki-werkstatt.example", name="Nora Schmidt", company="KI Werkstatt GmbH"),
                headline="Generative KI im Alltag von Führungskräften",
                text="ChatGPT und Copilot für Führungsteams, praktisch erklärt.",
                topic_slugs=("artificial-intelligence",), languages="de")  # German only
    anna = make_user(email="anna@baeckerei-korn.example", name="Anna Korn", company="Bäckerei Korn KG")
    make_goal(owner=anna, title="Künstliche Intelligenz in der Backstube", topic_slugs=("artificial-intelligence",),
              languages="de,en")
    db.session.commit()

    # 4: a leading title is not a first name.
    register(browser, "Register as an executive", KARL, greeting="Karl")
    assert browser.heading == "New goal"
    # 2: in the German interface a new goal has German ticked.
    browser.press("Deutsch")
    assert browser.heading == in_german("New goal")
    assert browser.field("Deutsch").is_selected()
    browser.press("English")

    # 1: ask for a tandem from the search before having a goal; the goal written next keeps the mentor.
    browser.follow("Find mentors")
    browser.fill("What would you like to learn?", "How can my leadership team work with ChatGPT?")
    browser.press("Search")
    card = result_card(browser, "Mia Wagner").text
    assert re.search(r"Match \d{1,3}\s?%", card), card  # 15: one scale, 0-100 with a label
    browser.follow("Ask for a tandem", within=result_card(browser, "Mia Wagner"))
    assert browser.heading == "Mia Wagner"
    assert "Write one first: you come back here to send the request." in browser.text
    browser.follow("Write a new goal for this request")
    browser.fill("Title", GOAL_TITLE)
    browser.fill("What I want to learn", GOAL_DESCRIPTION)
    browser.tick("Artificial intelligence")
    browser.tick("German")
    browser.press("Save goal")
    assert "Your goal is saved. Now send your request to Mia Wagner." in browser.flashes
    assert browser.heading == "Mia Wagner"
    browser.fill("A short personal message", REQUEST_MESSAGE)
    browser.press("Send the request")
    assert "Your request went to Mia Wagner." in browser.flashes
    browser.screenshot("5-newcomer-requested-from-search")

    # 3: the mentor declines; the mentee sees the next suggestions right there, without the one who declined.
    browser.log_out()
    browser.log_in(mia.user.email, DEFAULT_PASSWORD)
    requests = browser.find('//h2[starts-with(normalize-space(), "Requests for you")]/..', "requests for you")
    browser.follow("Answer the request", within=requests)
    assert "Hafen Logistik AG" in browser.text and REQUEST_MESSAGE in browser.text  # 5: what it is about
    browser.fill("Message", "Sorry, I am fully booked until summer.")
    browser.press("Decline")
    assert "Request declined." in browser.flashes

    # 6: the same mentor finds a goal she could help with, opens it and offers help.
    browser.follow("My profile")
    goals = browser.find('//h2[normalize-space()="Goals you could help with"]/..', "goals you could help with")
    browser.follow("Künstliche Intelligenz in der Backstube", within=goals)
    browser.fill("A short message to the goal's owner", "I help bakeries start with AI.")
    browser.press("Offer help")
    assert "Your offer went to Anna." in browser.flashes

    browser.log_out()
    browser.log_in(KARL["email"], DEFAULT_PASSWORD)
    # 7: "My tandems" in the navigation; opening what a notification links to marks it read.
    open_notifications(browser)
    unread = browser.driver.find_elements(By.CSS_SELECTOR, "ul.notifications li.unread a")
    assert unread, browser.text
    browser.click(unread[0])
    assert "Next suggestions" in browser.text  # the declined request's page points on
    browser.follow("See the next suggestions")
    suggestions = browser.find('//section[@id="next-suggestions"]', "next suggestions").text
    assert "Nora Schmidt" in suggestions and "Mia Wagner" not in suggestions  # German ticked: Nora fits
    browser.screenshot("5-newcomer-next-suggestions")
    open_notifications(browser)
    assert not browser.driver.find_elements(By.CSS_SELECTOR, "ul.notifications li.unread")
    browser.follow("My tandems")
    assert "Mia Wagner" in browser.text and "Declined" in browser.text

    # 6 (owner's side): Anna accepts the offer, which starts the tandem; 10: ending it asks first.
    browser.log_out()
    browser.log_in(anna.email, DEFAULT_PASSWORD)
    open_notifications(browser)
    browser.click(browser.driver.find_elements(By.CSS_SELECTOR, "ul.notifications li.unread a")[0])
    assert "I help bakeries start with AI." in browser.text
    browser.press("Accept")
    assert "Tandem accepted. You can now see each other's e-mail address." in browser.flashes
    browser.follow("End tandem")
    assert browser.heading == "End this tandem early?"
    assert "You held 0 of 6 meetings." in browser.text
    browser.screenshot("5-owner-end-asks-first")
    browser.follow("Cancel")
    assert browser.find('//main//span[contains(@class, "badge")]', "status").text == "Active"

    # 17: signing up again with an address that has an account says nothing about it on the page.
    browser.log_out()
    browser.follow("Register as an executive")
    browser.fill("Name", "Someone Else")
    browser.fill("E-mail", KARL["email"])
    browser.fill("Company", "Other AG")
    browser.fill("Password", DEFAULT_PASSWORD)
    browser.fill("Repeat the password", DEFAULT_PASSWORD)
    browser.press("Create account")
    assert f"We have sent a message to {KARL['email']}: please open it to continue." in browser.flashes
    assert "already" not in browser.text.lower()
