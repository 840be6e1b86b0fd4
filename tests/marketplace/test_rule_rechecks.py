"""Every hard rule holds at every state change: acceptance, cohort review and publishing re-check the pair,
and a change of companies or competitor links re-checks what is still pending (issue 11, point 1)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from marketplace.extensions import db
from marketplace.models import Cohort, Notification, Tandem
from marketplace.services import accounts, companies, goals, profiles, tandems
from marketplace.services.cohorts import review
from marketplace.services.cohorts.enrolment import CohortError
from tests.builders import make_goal, make_mentor, make_user


def bearer(user) -> dict[str, str]:
    token = accounts.create_api_token(user)
    db.session.commit()
    return {"Authorization": f"Bearer {token}"}


def _exclude_mentor_company(goal, mentor) -> None:
    goal.excluded_companies.append(mentor.user.company)


def _link_as_competitors(goal, mentor) -> None:
    companies.link_competitors(goal.owner.company, mentor.user.company)


def _verify_mentor_at_mentee_company(goal, mentor) -> None:
    # Straight on the row: companies.verify_company would re-check (and cancel) at once.
    mentor.user.verified_company = goal.owner.company


CHANGES = {
    "excluded_by_mentee": _exclude_mentor_company,
    "competitors": _link_as_competitors,
    "same_company": _verify_mentor_at_mentee_company,
}


def _cancel_notices(user_id: int) -> list[str]:
    return [n.message for n in db.session.query(Notification).filter_by(user_id=user_id, kind="request_cancelled")]


@pytest.mark.parametrize("reason", sorted(CHANGES))
def test_an_acceptance_that_a_rule_no_longer_allows_is_refused_and_cancelled(client, app, reason):
    mentor = make_mentor(company="Young Digital GmbH", capacity=2)
    goal = make_goal(company="Old Industry AG")
    tandem = tandems.request_tandem(goal, mentor, goal.owner)
    CHANGES[reason](goal, mentor)  # changed without the re-check, as a merge or import might leave it
    db.session.commit()

    refused = client.post(f"/api/v1/tandems/{tandem.id}/accept", headers=bearer(mentor.user))

    assert refused.status_code == 409
    assert refused.get_json()["error"]["code"] == reason
    db.session.expire_all()
    assert db.session.get(Tandem, tandem.id).status == "cancelled"
    assert goal.status == "open"
    for user_id in (goal.owner_id, mentor.user_id):
        [notice] = _cancel_notices(user_id)
        assert "cancelled" in notice and goal.title in notice


def test_the_page_says_why_the_request_was_cancelled(client, login_as, app):
    mentor = make_mentor(company="Young Digital GmbH")
    goal = make_goal(company="Old Industry AG")
    tandem = tandems.request_tandem(goal, mentor, goal.owner)
    _exclude_mentor_company(goal, mentor)
    db.session.commit()
    login_as(mentor.user)
    page = client.post(f"/tandems/{tandem.id}/answer", data={"action": "accept"}, follow_redirects=True)
    text = page.get_data(as_text=True)
    assert "can no longer be accepted and was cancelled" in text
    assert "The goal excludes the mentor" in text


def test_a_paused_mentor_may_still_accept_a_pending_request_but_not_beyond_capacity(client, app):
    mentor = make_mentor(company="Young Digital GmbH", capacity=1)
    first, second = make_goal(company="Old A AG"), make_goal(company="Old B AG")
    t1 = tandems.request_tandem(first, mentor, first.owner)
    t2 = tandems.request_tandem(second, mentor, second.owner)
    profiles.set_mentor_open(mentor, False)
    headers = bearer(mentor.user)
    assert client.post(f"/api/v1/tandems/{t1.id}/accept", headers=headers).status_code == 200
    full = client.post(f"/api/v1/tandems/{t2.id}/accept", headers=headers)
    assert full.status_code == 409 and full.get_json()["error"]["code"] == "mentor_full"
    assert db.session.get(Tandem, t2.id).status == "requested"  # full is not a broken rule: it stays open


def test_a_cohort_draft_takes_a_slot_at_acceptance(client, app):
    mentor = make_mentor(company="Young Digital GmbH", capacity=1)
    drafted, requested = make_goal(company="Old A AG"), make_goal(company="Old B AG")
    db.session.add(Tandem(goal=drafted, mentor=mentor, mentee_user_id=drafted.owner_id,
                          mentor_user_id=mentor.user_id, status="draft"))
    db.session.commit()
    with pytest.raises(tandems.TandemError) as refused:
        tandems.request_tandem(requested, mentor, requested.owner)
    assert refused.value.code == "mentor_full"  # the draft's slot counted: it was free before


def _manager_client(client, login_as):
    login_as(make_user(is_manager=True, company=None))
    return client


def test_a_new_competitor_link_cancels_pending_requests_and_tells_both(client, login_as, app):
    mentor = make_mentor(company="Bank A")
    goal = make_goal(company="Bank B")
    tandem = tandems.request_tandem(goal, mentor, goal.owner)
    company_id = companies.find_company("Bank B").id
    _manager_client(client, login_as).post(f"/manage/companies/{company_id}/competitors",
                                           data={"competitor-name": "Bank A"})
    db.session.expire_all()
    assert db.session.get(Tandem, tandem.id).status == "cancelled"
    assert _cancel_notices(goal.owner_id) and _cancel_notices(mentor.user_id)


def test_a_running_tandem_a_change_puts_at_odds_with_a_rule_stays_and_the_managers_are_told_why(
        client, login_as, app):
    from marketplace.services.notifications import text

    mentor = make_mentor(company="Bank A")
    goal = make_goal(company="Bank B")
    running = tandems.accept(tandems.request_tandem(goal, mentor, goal.owner), mentor.user)
    manager = _manager_client(client, login_as)
    company_id = companies.find_company("Bank B").id
    manager.post(f"/manage/companies/{company_id}/competitors", data={"competitor-name": "Bank A"})
    db.session.expire_all()
    assert db.session.get(Tandem, running.id).status == "active"  # never ended from elsewhere
    [told] = db.session.scalars(select(Notification).where(Notification.message_key == "running_tandem_rule_broken"))
    assert "Their companies are competitors." in text(told) and goal.title in text(told)

    manager.post(f"/manage/people/{goal.owner_id}/company", data={"company": "Bank A"})  # now one company
    keys = db.session.scalars(select(Notification.params).where(
        Notification.message_key == "running_tandem_rule_broken")).all()
    assert [k["reason_code"] for k in keys] == ["competitors", "same_company"]


def test_verifying_the_mentor_at_the_mentees_company_cancels_the_request(client, login_as, app):
    mentor = make_mentor(company="Young Digital GmbH")
    goal = make_goal(company="Old Industry AG")
    other_goal = make_goal(company="Third AG")
    tandem = tandems.request_tandem(goal, mentor, goal.owner)
    kept = tandems.request_tandem(other_goal, mentor, other_goal.owner)
    _manager_client(client, login_as).post(f"/manage/people/{mentor.user_id}/company",
                                           data={"company": "Old Industry AG"})
    db.session.expire_all()
    assert db.session.get(Tandem, tandem.id).status == "cancelled"
    assert db.session.get(Tandem, kept.id).status == "requested"
    assert tandems.recheck_open_pairings([companies.find_company("Old Industry AG").id]) == 0


def test_recheck_removes_drafts_that_are_no_longer_allowed(app):
    mentor = make_mentor(company="Bank A")
    goal = make_goal(company="Bank B")
    cohort = _matching_cohort()
    draft = Tandem(goal=goal, mentor=mentor, mentee_user_id=goal.owner_id, mentor_user_id=mentor.user_id,
                   cohort_id=cohort.id, status="draft")
    db.session.add(draft)
    db.session.commit()
    draft_id = draft.id
    _link_as_competitors(goal, mentor)
    assert tandems.recheck_open_pairings([goal.owner.company_id]) == 1
    db.session.commit()
    assert db.session.get(Tandem, draft_id) is None


def _matching_cohort() -> Cohort:
    cohort = Cohort(name="Spring", starts_on=date.today(), ends_on=date.today() + timedelta(days=120),
                    state="matching")
    db.session.add(cohort)
    db.session.commit()
    return cohort


def _draft(cohort, goal, mentor, locked=False) -> Tandem:
    draft = Tandem(goal=goal, mentor=mentor, mentee_user_id=goal.owner_id, mentor_user_id=mentor.user_id,
                   cohort_id=cohort.id, status="draft", locked=locked, score=0.5)
    db.session.add(draft)
    db.session.commit()
    return draft


def test_locking_a_draft_runs_the_pair_check(app):
    cohort = _matching_cohort()
    mentor, goal = make_mentor(company="Young AG"), make_goal(company="Old AG")
    draft = _draft(cohort, goal, mentor)
    _exclude_mentor_company(goal, mentor)
    db.session.commit()
    with pytest.raises(CohortError) as refused:
        review.set_locked(cohort, draft.id, True)
    assert refused.value.code == "excluded_by_mentee"
    assert not db.session.get(Tandem, draft.id).locked


def test_publishing_refuses_a_draft_a_rule_no_longer_allows(app):
    cohort = _matching_cohort()
    mentor, goal = make_mentor(company="Young AG", capacity=1), make_goal(company="Old AG")
    _draft(cohort, goal, mentor)
    _link_as_competitors(goal, mentor)
    db.session.commit()
    with pytest.raises(CohortError) as refused:
        review.publish(cohort)
    assert refused.value.code == "rule_broken"
    assert "competitors" in refused.value.message


def test_publishing_a_full_mentors_own_draft_is_allowed(app):
    """The draft being published takes no second slot: a mentor of capacity 1 with one draft publishes."""
    cohort = _matching_cohort()
    mentor, goal = make_mentor(company="Young AG", capacity=1), make_goal(company="Old AG")
    _draft(cohort, goal, mentor)
    assert review.publish(cohort) == 1


# --- one running tandem per goal (point 3) ---------------------------------------------------------


def test_a_goal_with_a_running_tandem_cannot_be_opened_again(client, login_as, app):
    mentor, goal = make_mentor(company="Young AG"), make_goal(company="Old AG")
    tandems.accept(tandems.request_tandem(goal, mentor, goal.owner), mentor.user)
    login_as(goal.owner)
    page = client.post(f"/goals/{goal.id}/status", data={"status": "open"}, follow_redirects=True)
    assert page.status_code == 200
    assert "A tandem is running on this goal" in page.get_data(as_text=True)
    db.session.expire_all()
    assert goal.status == "matched"
    # Requesting again on it was how a goal got a second running tandem: refused at the request now.
    with pytest.raises(tandems.TandemError) as refused:
        tandems.request_tandem(goal, make_mentor(company="Second AG"), goal.owner)
    assert refused.value.code == "goal_not_open"


def test_a_request_on_a_goal_closed_since_cannot_be_accepted(client, app):
    mentor, goal = make_mentor(company="Young AG"), make_goal(company="Old AG")
    tandem = tandems.request_tandem(goal, mentor, goal.owner)
    goals.set_goal_status(goal, "closed")
    refused = client.post(f"/api/v1/tandems/{tandem.id}/accept", headers=bearer(mentor.user))
    assert refused.status_code == 409
    assert refused.get_json()["error"]["code"] == "goal_not_open"
    db.session.expire_all()
    assert db.session.query(Tandem).filter_by(status="active").count() == 0


def test_the_database_refuses_a_second_running_tandem_on_a_goal(app):
    goal = make_goal(company="Old AG")
    first, second = make_mentor(company="A AG"), make_mentor(company="B AG")
    for mentor in (first, second):
        db.session.add(Tandem(goal=goal, mentor=mentor, mentee_user_id=goal.owner_id,
                              mentor_user_id=mentor.user_id, status="active"))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()
    ended = Tandem(goal=goal, mentor=second, mentee_user_id=goal.owner_id, mentor_user_id=second.user_id,
                   status="ended")
    db.session.add_all([ended, Tandem(goal=goal, mentor=first, mentee_user_id=goal.owner_id,
                                      mentor_user_id=first.user_id, status="active")])
    db.session.commit()  # one running and any number of finished ones are fine
