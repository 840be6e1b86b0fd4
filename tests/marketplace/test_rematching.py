"""Re-matching: a tandem ended early or a declined request offers the mentee the next best mentors at once;
a slot freed in a cohort is proposed to the waiting list and paired only when the manager confirms, under the
same rules as any cohort pair (checked again at the confirmation, and once when two managers confirm at once)."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from babel.dates import format_date
from sqlalchemy import func, select

from marketplace.extensions import db
from marketplace.models import (
    Cohort,
    CohortParticipant,
    Meeting,
    MentorProfile,
    Milestone,
    Notification,
    OutgoingEmail,
    Tandem,
    User,
)
from marketplace.services import companies, privacy, rematching, tandems
from marketplace.services.cohorts.enrolment import CohortError
from tests.builders import DEFAULT_PASSWORD, make_goal, make_meeting, make_mentor, make_user, sign_in
from tests.marketplace.test_cohorts import bearer, enrol, make_cohort


def _mentors(*names: str, capacity: int = 2) -> list[MentorProfile]:
    return [make_mentor(user=make_user(name=name, company=f"{name} GmbH"), capacity=capacity) for name in names]


def _mail(user, kind: str) -> OutgoingEmail:
    [mail] = db.session.scalars(
        select(OutgoingEmail).where(OutgoingEmail.recipient_user_id == user.id, OutgoingEmail.kind == kind)
    )
    return mail


def _running(goal, mentor, cohort: Cohort | None = None) -> Tandem:
    tandem = Tandem(goal=goal, mentor=mentor, mentee_user_id=goal.owner_id, mentor_user_id=mentor.user_id,
                    cohort_id=cohort.id if cohort else None, status="active", starts_on=date.today())
    goal.status = "matched"
    db.session.add(tandem)
    db.session.commit()
    return tandem


# --- the mentee hears who could help next -----------------------------------------------------------------


def test_a_tandem_the_mentor_ends_early_reopens_the_goal_and_names_the_next_mentors_in_german(app):
    former, fresh = _mentors("Mia Mentor", "Otto Other")
    mentee = make_user(name="Gerd Brenner", company="Old AG")
    mentee.locale = "de"
    goal = make_goal(owner=mentee)
    tandem = tandems.request_tandem(goal, former, mentee)
    tandems.accept(tandem, former.user)

    tandems.end(tandem, former.user, "Mir fehlt die Zeit")
    assert goal.status == "open"
    mail = _mail(mentee, "tandem_ended")
    assert mail.language == "de"
    assert "hat Ihr Tandem" in mail.body and "Mir fehlt die Zeit" in mail.body
    suggestions = mail.body.split("Nächstes helfen könnten:")[1]
    assert "Otto Other" in suggestions and "Mia Mentor" not in suggestions
    assert f"/goals/{goal.id}#next-suggestions" in mail.body
    client = sign_in(app.test_client(), mentee)
    page = client.get(f"/goals/{goal.id}").get_data(as_text=True)
    section = page[page.index('id="next-suggestions"'):]
    assert "Otto Other" in section and "Mia Mentor" not in section
    assert f'href="/goals/{goal.id}#next-suggestions"' in client.get(f"/tandems/{tandem.id}").get_data(as_text=True)


def test_a_mentee_who_ends_early_gets_the_next_mentors_and_the_mentor_the_reason(app):
    former, fresh = _mentors("Mia Mentor", "Otto Other")
    goal = make_goal(owner=make_user(company="Old AG"))
    tandem = _running(goal, former)
    tandems.end(tandem, goal.owner, "We do not click")
    assert "We do not click" in _mail(former.user, "tandem_ended").body
    mine = _mail(goal.owner, "tandem_ended")
    assert "has ended and your goal is open again" in mine.body and "Otto Other" in mine.body


def test_the_page_of_an_ended_tandem_says_so_reads_only_and_leads_the_mentee_to_the_next_mentors(client, login_as):
    mentor = _mentors("Mia Mentor")[0]
    goal = make_goal(owner=make_user(name="Anna Alt", company="Old AG"))
    tandem = _running(goal, mentor)
    tandem.ends_on = date.today() + timedelta(days=212)
    goal.milestones.append(Milestone(title="Publish the first post", position=0))
    db.session.commit()
    login_as(goal.owner)
    live = client.get(f"/cohorts/tandems/{tandem.id}").get_data(as_text=True)
    assert "Until the end date" in live and "Kick-off checklist" in live and "Mark as reached" in live
    tandems.end(tandem, mentor.user, "I am moving abroad.")
    page = client.get(f"/cohorts/tandems/{tandem.id}").get_data(as_text=True)
    ended_on = format_date(tandem.ended_at, locale="en")
    assert f"This tandem ended on {ended_on}: I am moving abroad." in page
    for gone in ("Until the end date", "212 days", "Kick-off checklist", "Mark as reached", "Move down", "Remove",
                 "Add milestone", "Plan or log a meeting", "Find a time together", "Plan your first one above",
                 "Next planned meeting"):
        assert gone not in page, gone
    assert "Publish the first post" in page  # read only, still there
    assert f'href="/goals/{goal.id}#next-suggestions"' in page and "See the next suggestions" in page
    # The owner still edits the goal's milestones on the goal page.
    assert "Mark as reached" in client.get(f"/goals/{goal.id}").get_data(as_text=True)
    goal.owner.locale = "de"
    db.session.commit()
    german = client.get(f"/cohorts/tandems/{tandem.id}").get_data(as_text=True)
    assert f"Dieses Tandem endete am {format_date(tandem.ended_at, locale='de')}: I am moving abroad." in german
    client.post("/auth/logout")
    login_as(mentor.user)  # the former mentor (if the page opens at all) gets no link to the mentee's goal
    other = client.get(f"/cohorts/tandems/{tandem.id}")
    assert "next-suggestions" not in other.get_data(as_text=True)


def test_a_declined_request_names_the_next_mentors(app):
    declined, fresh = _mentors("Dora Decline", "Fritz Fresh")
    goal = make_goal(owner=make_user(company="Old AG"))
    tandems.decline(tandems.request_tandem(goal, declined, goal.owner), declined.user)
    mail = _mail(goal.owner, "request_declined")
    assert "Dora Decline declined your request" in mail.body
    assert "Fritz Fresh" in mail.body.split("next:")[1] and "Dora" not in mail.body.split("next:")[1]


# --- a freed cohort slot goes to the waiting list --------------------------------------------------------


@pytest.fixture
def freed(app):
    """A running cohort: Mia's tandem with Anna ended early. Waiting: Bert (waitlisted) and Carla (accepted,
    unmatched, but at Mia's company). Nothing else."""
    cohort = make_cohort(state="running", starts_on=date.today() - timedelta(days=30),
                         ends_on=date.today() + timedelta(days=150))
    mia = make_mentor(user=make_user(name="Mia Mentor", company="Young AG"), capacity=1)
    enrol(cohort, mia.user, "mentor")
    people = {}
    for name, company, status in (("Anna Ended", "Old A", "accepted"), ("Bert Waiting", "Old B", "waitlisted"),
                                  ("Carla Colleague", "Young AG", "accepted")):
        goal = make_goal(owner=make_user(name=name, company=company))
        people[name.split()[0].lower()] = enrol(cohort, goal.owner, "mentee", goal=goal, status=status)
    tandem = _running(people["anna"].goal, mia, cohort)
    manager = make_user(name="Manu Manager", is_manager=True, company=None)
    tandems.end(tandem, people["anna"].user, "Moved abroad")
    return {"cohort": cohort, "mia": mia, "manager": manager, **people}


def _active(cohort) -> list[Tandem]:
    return list(db.session.scalars(select(Tandem).where(Tandem.cohort_id == cohort.id, Tandem.status == "active")))


def test_the_freed_slot_proposes_the_best_allowed_waiting_mentee_and_waits_for_the_manager(freed, client, login_as):
    cohort, mia = freed["cohort"], freed["mia"]
    [slot] = rematching.freed_slots(cohort)
    # Anna was Mia's partner already, Carla works at Mia's company: Bert is proposed.
    assert (slot.mentor.id, slot.free, slot.proposal.participant.id) == (mia.id, 1, freed["bert"].id)
    assert _active(cohort) == []  # nothing happens without the manager's confirmation
    assert db.session.scalar(select(func.count(Notification.id)).where(
        Notification.user_id == freed["manager"].id, Notification.message_key == "cohort_slot_freed")) == 1
    login_as(freed["manager"])
    page = client.get(f"/cohorts/{cohort.id}").get_data(as_text=True)
    assert "Slot freed: propose Bert Waiting with Mia Mentor" in page


def test_the_manager_confirms_on_the_page_and_both_are_told(freed, client, login_as):
    cohort, mia, bert = freed["cohort"], freed["mia"], freed["bert"]
    login_as(freed["manager"])
    response = client.post(f"/cohorts/{cohort.id}/freed-slots",
                           data={"mentor_id": mia.id, "participant_id": bert.id}, follow_redirects=True)
    assert "Mia Mentor and Bert Waiting are paired" in response.get_data(as_text=True)
    [tandem] = _active(cohort)
    assert (tandem.mentor_profile_id, tandem.mentee_user_id, tandem.starts_on) == (mia.id, bert.user_id, date.today())
    assert bert.status == "accepted" and bert.goal.status == "matched"
    assert "Mia Mentor will mentor you" in _mail(bert.user, "tandem_started").body
    assert "you mentor Bert Waiting" in _mail(mia.user, "tandem_started").body
    assert rematching.freed_slots(cohort) == []
    again = client.post(f"/cohorts/{cohort.id}/freed-slots", data={"mentor_id": mia.id, "participant_id": bert.id},
                        follow_redirects=True)
    assert "This slot is no longer free." in again.get_data(as_text=True) and len(_active(cohort)) == 1


def test_the_pair_rules_hold_at_the_confirmation(freed):
    cohort, mia, bert = freed["cohort"], freed["mia"], freed["bert"]
    assert rematching.freed_slots(cohort)[0].proposal.participant.id == bert.id
    companies.link_competitors(companies.get_or_create_company("Young AG"), bert.user.company)  # since the proposal
    db.session.commit()
    with pytest.raises(CohortError) as refused:
        rematching.confirm(cohort, mia.id, bert.id)
    assert refused.value.code == "competitors"
    with pytest.raises(CohortError) as colleague:  # never the rules' exception, whatever the form sent
        rematching.confirm(cohort, mia.id, freed["carla"].id)
    assert colleague.value.code == "same_company"
    with pytest.raises(CohortError) as before:
        rematching.confirm(cohort, mia.id, freed["anna"].id)
    assert before.value.code == "paired_before"
    assert _active(cohort) == []
    assert rematching.freed_slots(cohort)[0].proposal is None


def test_the_api_lists_and_confirms_freed_slots_for_managers_only(freed, client):
    cohort, mia, bert, manager = freed["cohort"], freed["mia"], freed["bert"], freed["manager"]
    url = f"/api/v1/cohorts/{cohort.id}/freed-slots"
    assert client.get(url, headers=bearer(bert.user)).status_code == 403
    [slot] = client.get(url, headers=bearer(manager)).get_json()["slots"]
    assert slot["mentor_id"] == mia.id and slot["proposal"]["participant_id"] == bert.id
    assert slot["proposal"]["status"] == "waitlisted"
    missing = client.post(url, json={"mentor_id": mia.id}, headers=bearer(manager))
    assert missing.status_code == 422 and "participant_id" in missing.get_json()["error"]["fields"]
    wrong = client.post(url, json={"mentor_id": "x", "participant_id": bert.id}, headers=bearer(manager))
    assert wrong.status_code == 422 and "mentor_id" in wrong.get_json()["error"]["fields"]
    assert client.post(url, json={"mentor_id": 2**40, "participant_id": bert.id},
                       headers=bearer(manager)).status_code == 404
    outsider = make_mentor(user=make_user(name="Otto Outside", company="Elsewhere AG"), capacity=3)
    other = make_cohort(name="Other", state="running", starts_on=cohort.starts_on, ends_on=cohort.ends_on)
    sara = make_user(name="Sara Stranger", company="Old S")
    stranger = enrol(other, sara, "mentee", goal=make_goal(owner=sara), status="waitlisted")
    for body in ({"mentor_id": outsider.id, "participant_id": bert.id},  # a mentor outside the cohort
                 {"mentor_id": mia.id, "participant_id": stranger.id}):  # a mentee waiting in another cohort
        foreign = client.post(url, json=body, headers=bearer(manager))
        assert foreign.status_code == 404 and foreign.get_json()["error"]["code"] == "not_found", body
    created = client.post(url, json={"mentor_id": mia.id, "participant_id": bert.id}, headers=bearer(manager))
    assert created.status_code == 201 and created.get_json()["status"] == "active"
    second = client.post(url, json={"mentor_id": mia.id, "participant_id": bert.id}, headers=bearer(manager))
    assert second.status_code == 409 and second.get_json()["error"]["code"] == "slot_taken"


def test_two_managers_confirming_at_once_make_one_tandem(make_app):
    app = make_app()
    if app.config["SQLALCHEMY_DATABASE_URI"] in ("sqlite://", "sqlite:///:memory:"):
        pytest.skip("needs a database file shared by several connections")
    with app.app_context():
        cohort = make_cohort(state="running")
        mia = make_mentor(user=make_user(name="Mia Mentor", company="Young AG"), capacity=1)
        enrol(cohort, mia.user, "mentor")
        waiting = []
        for n in range(3):
            goal = make_goal(owner=make_user(name=f"Mentee {n}", company=f"Old {n}"))
            waiting.append(enrol(cohort, goal.owner, "mentee", goal=goal, status="waitlisted" if n else "accepted"))
        tandems.end(_running(waiting[0].goal, mia, cohort), mia.user, "Too busy")
        ids = (cohort.id, mia.id, [p.id for p in waiting[1:]])
        db.session.remove()
    barrier = threading.Barrier(3)
    outcomes: list[str] = []

    def confirm(participant_id: int) -> None:
        with app.test_request_context():
            cohort = db.session.get(Cohort, ids[0])
            barrier.wait()
            try:
                rematching.confirm(cohort, ids[1], participant_id)
                outcomes.append("ok")
            except CohortError as problem:
                outcomes.append(problem.code)
            except Exception as problem:  # a deadlock, say
                outcomes.append(repr(problem))
            finally:
                db.session.remove()

    # One manager confirms the proposal twice (a double click), another a different waiting mentee.
    threads = [threading.Thread(target=confirm, args=(pid,)) for pid in (ids[2][0], ids[2][0])]
    threads.append(threading.Thread(target=confirm, args=(ids[2][1],)))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["ok", "slot_taken", "slot_taken"]
    with app.app_context():
        running = db.session.scalars(select(Tandem).where(Tandem.cohort_id == ids[0], Tandem.status == "active"))
        assert len(list(running)) == 1
        waitlisted = db.session.scalars(select(CohortParticipant.status).where(CohortParticipant.id.in_(ids[2])))
        assert sorted(waitlisted) == ["accepted", "waitlisted"]
        db.session.remove()


def test_a_mentee_who_deletes_the_account_frees_the_slot_for_the_waiting_list(freed):
    cohort, mia, bert, manager = freed["cohort"], freed["mia"], freed["bert"], freed["manager"]
    rematching.confirm(cohort, mia.id, bert.id)
    assert rematching.freed_slots(cohort) == []
    privacy.delete_account(bert.user)
    [tandem] = db.session.scalars(select(Tandem).where(Tandem.cohort_id == cohort.id, Tandem.mentee_user_id.is_(None)))
    assert tandem.status == "ended" and tandem.ended_at is not None
    bodies = db.session.scalars(select(OutgoingEmail.body).where(OutgoingEmail.recipient_user_id == mia.user_id,
                                                                 OutgoingEmail.kind == "tandem_ended")).all()
    assert any("your mentee deleted their account" in body for body in bodies)
    assert db.session.scalar(select(func.count(Notification.id)).where(
        Notification.user_id == manager.id, Notification.message_key == "cohort_slot_freed")) == 2
    [slot] = rematching.freed_slots(cohort)
    assert slot.mentor.id == mia.id and slot.proposal is None  # Carla is Mia's colleague; nobody else waits


# --- a partner who deletes their account ends the tandem, whichever side they were on ---------------------


@pytest.mark.parametrize("leaver", ["mentor", "mentee"])
def test_a_partner_who_deletes_the_account_ends_the_tandem_and_the_other_is_told_in_their_language(app, leaver):
    former, fresh = _mentors("Mia Mentor", "Otto Other")
    mentee = make_user(name="Gerd Brenner", company="Old AG")
    goal = make_goal(owner=mentee)
    tandem = _running(goal, former)
    ahead = make_meeting(tandem, datetime.now(UTC) + timedelta(days=3), status="planned", author=mentee)
    db.session.commit()
    ahead_id = ahead.id
    leaving, staying = (former.user, mentee) if leaver == "mentor" else (mentee, former.user)
    staying.locale = "de"
    db.session.commit()
    client = sign_in(app.test_client(), staying)
    assert client.post("/auth/logout").status_code == 302
    staying_id = staying.id
    sign_in(app.test_client(), leaving).post("/auth/account/delete", data={"password": DEFAULT_PASSWORD})

    db.session.expire_all()
    staying = db.session.get(User, staying_id)
    tandem = db.session.get(Tandem, tandem.id)
    assert tandem.status == "ended" and tandem.ended_at is not None and tandem.end_reason
    assert db.session.get(Meeting, ahead_id) is None  # cancelled, with the calendar's cancellation
    assert "abgesagt" in _mail(staying, "meeting_planned").body
    told = _mail(staying, "tandem_ended")
    assert told.language == "de" and "Konto gelöscht" in told.body
    refused = app.test_client().post(f"/api/v1/tandems/{tandem.id}/proposals", headers=bearer(staying), json={
        "slots": [{"starts_at": (datetime.now(UTC) + timedelta(days=5)).isoformat()}]})
    assert refused.status_code == 409
    client = sign_in(app.test_client(), staying)
    page = client.get(f"/cohorts/tandems/{tandem.id}").get_data(as_text=True)
    assert "Dieses Tandem endete am" in page and "Die Tandem-Partner:in hat das Konto gelöscht." in page
    assert "Treffen planen oder eintragen" not in page
    if leaver == "mentor":  # the goal is open again, with the next mentors (never the one who left)
        assert goal.status == "open"
        suggestions = told.body.split("Nächstes helfen könnten:")[1]
        assert "Otto Other" in suggestions and "Mia Mentor" not in suggestions
        assert f"/goals/{goal.id}#next-suggestions" in told.body
        section = client.get(f"/goals/{goal.id}").get_data(as_text=True).split('id="next-suggestions"')[1]
        assert "Otto Other" in section
    else:
        assert "Ihr Platz ist wieder frei" in told.body


def test_a_mentor_who_deletes_the_account_puts_the_mentee_back_on_the_cohorts_waiting_list(app, client, login_as):
    cohort = make_cohort(state="running", starts_on=date.today() - timedelta(days=30),
                         ends_on=date.today() + timedelta(days=150))
    mia, nora = (make_mentor(user=make_user(name=name, company=f"{name} GmbH"), capacity=1)
                 for name in ("Mia Mentor", "Nora Leaving"))
    people = {}
    for name in ("Anna Ended", "Dora Left"):
        goal = make_goal(owner=make_user(name=name, company=f"{name} Old"))
        people[name.split()[0].lower()] = enrol(cohort, goal.owner, "mentee", goal=goal)
    for mentor in (mia, nora):
        enrol(cohort, mentor.user, "mentor")
    ended = _running(people["anna"].goal, mia, cohort)
    left = _running(people["dora"].goal, nora, cohort)
    manager = make_user(name="Manu Manager", is_manager=True, company=None)
    tandems.end(ended, people["anna"].user, "Moved abroad")
    assert [slot.proposal for slot in rematching.freed_slots(cohort)] == [None]  # nobody waits yet
    health = client.get(f"/api/v1/cohorts/{cohort.id}/health", headers=bearer(manager)).get_json()
    assert [row["id"] for row in health["tandems"]] == [left.id]

    privacy.delete_account(nora.user)

    dora = people["dora"]
    assert dora.goal.status == "open" and left.status == "ended"
    health = client.get(f"/api/v1/cohorts/{cohort.id}/health", headers=bearer(manager)).get_json()
    assert health["tandems"] == []
    told = db.session.scalars(select(Notification).where(
        Notification.user_id == manager.id, Notification.kind == "cohort_slot_freed")).all()
    assert sorted(n.message_key for n in told) == ["cohort_mentor_left", "cohort_slot_freed"]  # Anna's end, then this
    assert any("Dora Left waits for a new mentor" in n.message for n in told)
    [slot] = rematching.freed_slots(cohort)
    assert slot.mentor.id == mia.id and slot.proposal.participant.id == dora.id
    login_as(manager)
    page = client.get(f"/cohorts/{cohort.id}").get_data(as_text=True)
    assert "Slot freed: propose Dora Left with Mia Mentor" in page


def test_a_deleted_accounts_pending_requests_and_offers_end_and_the_other_side_is_told(app):
    leaving, fresh = _mentors("Lena Leaving", "Otto Other")
    asker = make_user(name="Gerd Brenner", company="Old AG")
    asked_goal = make_goal(owner=asker, title="Understand TikTok")
    tandems.request_tandem(asked_goal, leaving, asker)
    owner = make_user(name="Karl Maier", company="Older AG")
    offered_goal = make_goal(owner=owner, title="Our brand on LinkedIn")
    tandems.offer_help(offered_goal, leaving.user)

    privacy.delete_account(leaving.user)

    assert db.session.scalars(select(Tandem)).all() == []
    ended = _mail(asker, "request_declined").body
    assert "Your request for “Understand TikTok” has ended: the mentor deleted their account." in ended
    assert "Otto Other" in ended.split("next:")[1] and "Lena" not in ended
    offer_mails = db.session.scalars(select(OutgoingEmail.body).where(
        OutgoingEmail.recipient_user_id == owner.id, OutgoingEmail.kind == "offer_received").order_by(OutgoingEmail.id))
    assert "The offer to help with “Our brand on LinkedIn” has ended: the mentor deleted their account." in \
        offer_mails.all()[-1]  # after the offer's own e-mail
    assert asked_goal.status == "open" and offered_goal.status == "open"


def test_a_deleted_mentees_pending_request_and_the_offer_to_them_end_and_the_mentors_are_told(app):
    asked, offering = _mentors("Mia Mentor", "Otto Offer")
    mentee = make_user(name="Gerd Brenner", company="Old AG")
    tandems.request_tandem(make_goal(owner=mentee, title="Understand TikTok"), asked, mentee)
    tandems.offer_help(make_goal(owner=mentee, title="Our brand on LinkedIn"), offering.user)

    privacy.delete_account(mentee)

    assert db.session.scalars(select(Tandem)).all() == []
    assert "A tandem request to you was withdrawn." in _mail(asked.user, "request_withdrawn").body
    assert "Your offer to help with “Our brand on LinkedIn” has ended: the goal's owner deleted their account." in \
        _mail(offering.user, "offer_answered").body
