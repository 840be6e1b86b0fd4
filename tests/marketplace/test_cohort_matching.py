"""Cohort matching: a globally optimal, capacity-aware assignment that never breaks a hard rule;
review (swap, remove, lock, add) and publishing in one transaction."""

from __future__ import annotations

import itertools
import threading
from datetime import date

import numpy as np
import pytest
from sqlalchemy import select

from marketplace.extensions import db
from marketplace.models import Cohort, Notification, Tandem
from marketplace.services import companies
from marketplace.services.cohorts import assignment, explanations, review
from marketplace.services.cohorts.assignment import assign, score_matrix
from marketplace.services.cohorts.enrolment import CohortError
from marketplace.services.labels import score_percent
from marketplace.services.matching import rules
from marketplace.services.matching.search import _topic_overlap, blend_score
from tests.builders import make_goal, make_mentor, publish_from_page, sign_in
from tests.marketplace.test_cohorts import bearer, enrol, make_cohort

# --- the engine ------------------------------------------------------------------------------------


def total(scores: np.ndarray, pairs: list[tuple[int, int]]) -> float:
    return float(sum(scores[r, c] for r, c in pairs))


def test_assignment_is_globally_optimal_where_greedy_is_not():
    # Greedy takes the best cell (0.9) and leaves mentee 1 with 0.1: 1.0 in all. The optimum is 0.8 + 0.85.
    scores = np.array([[0.9, 0.8], [0.85, 0.1]])
    pairs = assign(scores, np.ones_like(scores, dtype=bool), np.array([1, 1]))
    assert sorted(pairs) == [(0, 1), (1, 0)]
    assert total(scores, pairs) == pytest.approx(1.65)


def test_assignment_pairs_as_many_people_as_the_rules_allow_before_maximising_score():
    # Mentee 0 may only take mentor 0; taking the 0.95 cell for mentee 1 would leave mentee 0 alone.
    scores = np.array([[0.2, 0.9], [0.95, 0.5]])
    allowed = np.array([[True, False], [True, True]])
    assert sorted(assign(scores, allowed, np.array([1, 1]))) == [(0, 0), (1, 1)]


def test_assignment_respects_capacity_and_never_uses_a_forbidden_cell():
    scores = np.array([[0.9, 0.1], [0.8, 0.2], [0.7, 0.3]])
    allowed = np.array([[True, True], [True, True], [True, False]])
    pairs = assign(scores, allowed, np.array([2, 1]))
    assert [c for _, c in pairs].count(0) == 2 and [c for _, c in pairs].count(1) == 1
    assert all(allowed[r, c] for r, c in pairs)
    assert assign(scores, np.zeros_like(allowed), np.array([2, 1])) == []
    assert assign(scores, allowed, np.array([0, 0])) == []


@pytest.mark.parametrize("seed", range(6))
def test_assignment_matches_brute_force_on_small_random_cohorts(seed):
    rng = np.random.default_rng(seed)
    n_mentees, n_mentors = 5, 3
    scores = rng.random((n_mentees, n_mentors))
    allowed = rng.random((n_mentees, n_mentors)) < 0.7
    capacity = rng.integers(0, 3, size=n_mentors)
    pairs = assign(scores, allowed, capacity)
    assert all(allowed[r, c] for r, c in pairs)
    assert all([c for _, c in pairs].count(j) <= capacity[j] for j in range(n_mentors))
    assert len({r for r, _ in pairs}) == len(pairs)

    slots = [j for j in range(n_mentors) for _ in range(capacity[j])]
    best = (0, 0.0)
    for choice in itertools.product([None, *range(len(slots))], repeat=n_mentees):
        used = [s for s in choice if s is not None]
        if len(used) != len(set(used)):
            continue
        chosen = [(r, slots[s]) for r, s in enumerate(choice) if s is not None]
        if not all(allowed[r, c] for r, c in chosen):
            continue
        best = max(best, (len(chosen), total(scores, chosen)))
    assert len(pairs) == best[0]
    assert total(scores, pairs) == pytest.approx(best[1])


def test_score_matrix_equals_blend_score_for_every_pair():
    rng = np.random.default_rng(3)
    goals = rng.standard_normal((4, 8)).astype(np.float32)
    mentors = rng.standard_normal((5, 8)).astype(np.float32)
    goals /= np.linalg.norm(goals, axis=1, keepdims=True)
    mentors /= np.linalg.norm(mentors, axis=1, keepdims=True)
    goal_topics = rng.random((4, 6)) < 0.4
    goal_topics[0] = False  # a goal without topics
    mentor_topics = rng.random((5, 6)) < 0.5
    matrix = score_matrix(goals, mentors, goal_topics, mentor_topics)
    for i, j in itertools.product(range(4), range(5)):
        overlap = _topic_overlap(set(np.flatnonzero(goal_topics[i])), set(np.flatnonzero(mentor_topics[j])))
        expected = blend_score(float(goals[i] @ mentors[j]), overlap)
        assert matrix[i, j] == pytest.approx(expected, abs=1e-6)


# --- a cohort run on the database -------------------------------------------------------------------

AI = dict(headline="Generative AI in everyday work",
          text="I show leaders how ChatGPT, machine learning and AI tools change daily work.",
          topic_slugs=("artificial-intelligence",))
SOCIAL = dict(headline="Social media for brands",
              text="Instagram, TikTok and LinkedIn: posting routines and community building.",
              topic_slugs=("social-media",))
AI_GOAL = dict(title="Understand generative AI", description="How will AI tools like ChatGPT change our work?",
               topic_slugs=("artificial-intelligence",))
SOCIAL_GOAL = dict(title="Our brand on social media", description="I want our company visible on Instagram and TikTok.",
                   topic_slugs=("social-media",))


def matching_cohort(mentors: list, goals: list, **cohort) -> Cohort:
    cohort = make_cohort(state=cohort.get("state", "matching"), name=cohort.get("name", "Matching round"))
    for mentor in mentors:
        enrol(cohort, mentor.user, "mentor")
    for goal in goals:
        enrol(cohort, goal.owner, "mentee", goal)
    return cohort


def assert_no_draft_breaks_a_rule(cohort: Cohort) -> None:
    drafts = list(db.session.scalars(select(Tandem).where(Tandem.cohort_id == cohort.id, Tandem.status == "draft")))
    context = rules.rule_context()
    for tandem in drafts:
        mentor = rules.mentor_facts([tandem.mentor])[0]  # drafts take their slots: none may be overdrawn
        assert rules.pair_violations(mentor, rules.mentee_facts(tandem.goal), context, check_capacity=False) == []
        assert mentor.free_capacity >= 0
    assert len({t.goal_id for t in drafts}) == len(drafts)


def test_run_pairs_by_meaning_and_explains_each_draft(app):
    ai, social = make_mentor(company="Young A", **AI), make_mentor(company="Young B", **SOCIAL)
    ai_goal, social_goal = make_goal(company="Old X", **AI_GOAL), make_goal(company="Old Y", **SOCIAL_GOAL)
    cohort = matching_cohort([ai, social], [ai_goal, social_goal])
    result = assignment.run(cohort)
    pairs = {(t.mentor_profile_id, t.goal_id) for t in result.drafts}
    assert pairs == {(ai.id, ai_goal.id), (social.id, social_goal.id)}
    assert result.unmatched == []
    draft = next(t for t in result.drafts if t.goal_id == ai_goal.id)
    assert 0 < draft.score <= 1 and draft.status == "draft" and not draft.locked
    reasons = explanations.reason_texts(draft.reasons)
    assert any("Artificial" in reason for reason in reasons)
    assert any(reason.startswith("Shared languages") for reason in reasons)
    assert_no_draft_breaks_a_rule(cohort)


def test_reasons_are_worded_in_the_readers_language_not_the_language_of_whoever_matched(app, client):
    """A German manager runs the matching; an English manager's review page, and the API answer to an English
    caller, give the reasons in English (a German caller still reads German)."""
    ai, goal = make_mentor(company="Young A", **AI), make_goal(company="Old X", **AI_GOAL)
    cohort = matching_cohort([ai], [goal])
    german, english = make_manager(), make_manager()
    german.locale, english.locale = "de", "en"
    db.session.commit()
    sign_in(client, german)
    client.post(f"/cohorts/{cohort.id}/match")
    german_page = client.get(f"/cohorts/{cohort.id}/matching").get_data(as_text=True)
    assert "Gemeinsame Sprachen: Deutsch, Englisch" in german_page and "Künstliche Intelligenz" in german_page
    [draft] = review.drafts(cohort)
    review.set_locked(cohort, draft.id, True)  # kept as stored by the next run

    sign_in(client, english)
    page = client.get(f"/cohorts/{cohort.id}/matching").get_data(as_text=True)
    assert "Shared languages: German, English" in page and "Shared topics: Artificial intelligence" in page
    assert "Gemeinsame" not in page and "Künstliche" not in page
    api, headers = app.test_client(), bearer(english)  # an API caller brings no session
    answer = api.post(f"/api/v1/cohorts/{cohort.id}/match", headers={**headers, "Accept-Language": "en"})
    [reasons] = [t["reasons"] for t in answer.get_json()["tandems"]]
    assert "Shared languages: German, English" in reasons and not any("Gemeinsame" in r for r in reasons)
    answer = api.post(f"/api/v1/cohorts/{cohort.id}/match", headers={**headers, "Accept-Language": "de"})
    assert "Gemeinsame Sprachen: Deutsch, Englisch" in answer.get_json()["tandems"][0]["reasons"]


def test_reasons_stored_as_text_before_they_were_codes_still_show(app, client):
    ai, goal = make_mentor(company="Young A", **AI), make_goal(company="Old X", **AI_GOAL)
    cohort = matching_cohort([ai], [goal])
    db.session.add(Tandem(goal=goal, mentor=ai, mentee_user_id=goal.owner_id, mentor_user_id=ai.user_id,
                          cohort_id=cohort.id, status="draft", locked=True, score=0.5,
                          reasons=["Gemeinsame Sprachen: Deutsch, Englisch"]))
    db.session.commit()
    manager = make_manager()
    sign_in(client, manager)
    assert "Gemeinsame Sprachen: Deutsch, Englisch" in client.get(f"/cohorts/{cohort.id}/matching").get_data(True)
    answer = app.test_client().post(f"/api/v1/cohorts/{cohort.id}/match", headers=bearer(manager))
    assert answer.get_json()["tandems"][0]["reasons"] == ["Gemeinsame Sprachen: Deutsch, Englisch"]


def test_run_from_enrolment_closes_it_first_and_refuses_when_nobody_is_accepted(app):
    cohort = make_cohort(state="enrolling")
    with pytest.raises(CohortError) as refused:
        assignment.run(cohort)
    assert refused.value.code == "nobody_accepted"
    enrol(cohort, make_mentor().user, "mentor")
    goal = make_goal()
    enrol(cohort, goal.owner, "mentee", goal)
    assignment.run(cohort)
    assert cohort.state == "matching"


def test_hard_rules_hold_and_people_without_a_valid_partner_are_listed_with_the_reason(app):
    mentor_a = make_mentor(company="Nordlicht GmbH", **AI)
    mentor_b = make_mentor(company="Bank A", languages="de", **SOCIAL)
    same_company = make_goal(company="Nordlicht GmbH", languages="en", **AI_GOAL)  # A: same company, B: no language
    competitor = make_goal(company="Bank B", **SOCIAL_GOAL)  # only A is allowed (B is a competitor)
    french = make_goal(company="Old Z", languages="fr", title="Lire les chiffres",
                       description="Comprendre le big data pour notre entreprise.")
    companies.link_competitors(companies.find_company("Bank A"), companies.find_company("Bank B"))
    db.session.commit()
    cohort = matching_cohort([mentor_a, mentor_b], [same_company, competitor, french])
    result = assignment.run(cohort)
    assert {(t.mentor_profile_id, t.goal_id) for t in result.drafts} == {(mentor_a.id, competitor.id)}
    reasons = {(u.user.id, u.role): u.reason_code for u in result.unmatched}
    assert reasons[(same_company.owner_id, "mentee")] == "no_valid_partner"
    assert reasons[(french.owner_id, "mentee")] == "no_valid_partner"
    assert reasons[(mentor_b.user_id, "mentor")] == "no_valid_partner"
    assert_no_draft_breaks_a_rule(cohort)


def test_capacity_limits_drafts_and_the_rest_are_told_partners_are_taken(app):
    mentor = make_mentor(company="Young A", capacity=1, **AI)
    first, second = make_goal(company="Old X", **AI_GOAL), make_goal(company="Old Y", **AI_GOAL)
    cohort = matching_cohort([mentor], [first, second])
    result = assignment.run(cohort)
    assert len(result.drafts) == 1
    assert [(u.role, u.reason_code) for u in result.unmatched] == [("mentee", "partners_taken")]
    assert [u.reason_code for u in assignment.unmatched(cohort)] == ["partners_taken"]


def test_a_mentor_with_room_for_two_takes_two_and_running_tandems_use_up_capacity(app):
    mentor = make_mentor(company="Young A", capacity=2, **AI)
    goals = [make_goal(company=f"Old {i}", **AI_GOAL) for i in range(3)]
    cohort = matching_cohort([mentor], goals)
    assert len(assignment.run(cohort).drafts) == 2

    busy = make_mentor(company="Young B", capacity=1, **SOCIAL)
    elsewhere = make_goal(company="Old Q", **SOCIAL_GOAL)
    db.session.add(Tandem(goal=elsewhere, mentor=busy, mentee_user_id=elsewhere.owner_id,
                          mentor_user_id=busy.user_id, status="active"))
    db.session.commit()
    second = matching_cohort([busy], [make_goal(company="Old R", **SOCIAL_GOAL)], name="Second round")
    result = assignment.run(second)
    assert result.drafts == []
    assert {(u.role, u.reason_code) for u in result.unmatched} == {("mentor", "mentor_full"),
                                                                   ("mentee", "partners_taken")}


def test_rerun_replaces_unlocked_drafts_and_keeps_locked_ones_with_their_slot(app):
    ai, social = make_mentor(company="Young A", **AI), make_mentor(company="Young B", **SOCIAL)
    ai_goal, social_goal = make_goal(company="Old X", **AI_GOAL), make_goal(company="Old Y", **SOCIAL_GOAL)
    cohort = matching_cohort([ai, social], [ai_goal, social_goal])
    assignment.run(cohort)
    # The manager insists on the "wrong" pair and locks it: AI mentor with the social-media goal.
    for draft in review.drafts(cohort):
        review.remove(cohort, draft.id)
    mentees = {p.user_id: p.id for p in cohort.participants if p.role == "mentee"}
    mentors = {p.user_id: p.id for p in cohort.participants if p.role == "mentor"}
    review.add_pair(cohort, mentees[social_goal.owner_id], mentors[ai.user_id])
    locked = review.drafts(cohort)[0]
    assert locked.locked

    result = assignment.run(cohort)
    pairs = {(t.mentor_profile_id, t.goal_id, t.locked) for t in result.drafts}
    assert pairs == {(ai.id, social_goal.id, True), (social.id, ai_goal.id, False)}
    assert locked.id in {t.id for t in result.drafts}
    assert_no_draft_breaks_a_rule(cohort)


def test_api_match_answers_drafts_and_unmatched_in_the_contract_shape(app, client):
    ai = make_mentor(company="Young A", **AI)
    goal, lonely = make_goal(company="Old X", **AI_GOAL), make_goal(company="Young A", **SOCIAL_GOAL)
    cohort = matching_cohort([ai], [goal, lonely])
    headers = bearer(make_mentor(company="Tandem e.V.").user)
    headers_manager = bearer(make_manager())
    assert client.post(f"/api/v1/cohorts/{cohort.id}/match", headers=headers).status_code == 403
    response = client.post(f"/api/v1/cohorts/{cohort.id}/match", headers=headers_manager)
    assert response.status_code == 200
    body = response.get_json()
    [draft] = body["tandems"]
    assert draft["mentor"] == {"id": ai.user_id, "name": ai.user.name, "company": "Young A"}
    assert draft["mentee"]["id"] == goal.owner_id and draft["goal_id"] == goal.id
    assert 0 <= draft["score"] <= 1 and isinstance(draft["reasons"], list)
    assert body["unmatched"] == [{"id": lonely.owner_id, "name": lonely.owner.name, "role": "mentee",
                                  "reason": "No valid partner: every possible pair breaks a hard rule.",
                                  "reason_code": "no_valid_partner"}]


def make_manager():
    from tests.builders import make_user

    return make_user(is_manager=True, company="Tandem e.V.")


# --- review ----------------------------------------------------------------------------------------


@pytest.fixture
def drafted(app):
    ai, social = make_mentor(company="Young A", **AI), make_mentor(company="Young B", **SOCIAL)
    ai_goal = make_goal(company="Old X", **AI_GOAL)
    social_goal = make_goal(company="Old Y", excluded=("Young A",), **SOCIAL_GOAL)
    cohort = matching_cohort([ai, social], [ai_goal, social_goal])
    assignment.run(cohort)
    return cohort, ai, social, ai_goal, social_goal


def test_a_swap_that_breaks_a_rule_is_refused_with_the_rules_reason(drafted):
    cohort, ai, social, ai_goal, social_goal = drafted
    first, second = review.drafts(cohort)
    with pytest.raises(CohortError) as refused:
        review.swap(cohort, first.id, second.id)
    assert refused.value.code == "excluded_by_mentee"
    assert rules.reason_text("excluded_by_mentee") in refused.value.message
    db.session.expire_all()
    assert {(t.mentor_profile_id, t.goal_id) for t in review.drafts(cohort)} == {(ai.id, ai_goal.id),
                                                                                (social.id, social_goal.id)}


def test_swap_remove_and_lock_through_the_review_page(drafted, client, login_as):
    cohort, ai, social, ai_goal, social_goal = drafted
    social_goal.excluded_companies = []
    db.session.commit()
    login_as(make_manager())
    page = client.get(f"/cohorts/{cohort.id}/matching").get_data(as_text=True)
    assert "average match" in page and "lowest score" in page
    first, second = review.drafts(cohort)
    before = review.summary(cohort)
    swapped = client.post(f"/cohorts/{cohort.id}/drafts/swap", data={"first": first.id, "second": second.id},
                          follow_redirects=True).get_data(as_text=True)
    assert "Mentors swapped." in swapped and f"Average match {score_percent(before.average)} →" in swapped
    db.session.expire_all()
    assert {(t.mentor_profile_id, t.goal_id) for t in review.drafts(cohort)} == {(social.id, ai_goal.id),
                                                                                (ai.id, social_goal.id)}
    assert review.summary(cohort).total <= before.total  # the engine's choice is optimal

    client.post(f"/cohorts/{cohort.id}/drafts/{first.id}/lock")
    db.session.expire_all()
    assert db.session.get(Tandem, first.id).locked
    refused = client.post(f"/cohorts/{cohort.id}/drafts/{first.id}/remove", follow_redirects=True)
    assert "Unlock this pair" in refused.get_data(as_text=True)
    client.post(f"/cohorts/{cohort.id}/drafts/{second.id}/remove")
    db.session.expire_all()
    assert [t.id for t in review.drafts(cohort)] == [first.id]
    unmatched = client.get(f"/cohorts/{cohort.id}/matching").get_data(as_text=True)
    assert "Not paired yet" in unmatched


def test_adding_a_pair_by_hand_checks_rules_and_capacity(drafted):
    cohort, ai, social, ai_goal, social_goal = drafted
    mentees = {p.user_id: p.id for p in cohort.participants if p.role == "mentee"}
    mentors = {p.user_id: p.id for p in cohort.participants if p.role == "mentor"}
    with pytest.raises(CohortError, match="already has a pair"):
        review.add_pair(cohort, mentees[ai_goal.owner_id], mentors[social.user_id])
    for draft in review.drafts(cohort):
        review.remove(cohort, draft.id)
    with pytest.raises(CohortError) as excluded:
        review.add_pair(cohort, mentees[social_goal.owner_id], mentors[ai.user_id])
    assert excluded.value.code == "excluded_by_mentee"
    review.add_pair(cohort, mentees[social_goal.owner_id], mentors[social.user_id])
    with pytest.raises(CohortError) as full:
        review.add_pair(cohort, mentees[ai_goal.owner_id], mentors[social.user_id])
    assert full.value.code == "mentor_full"
    assert [(t.mentor_profile_id, t.goal_id, t.locked) for t in review.drafts(cohort)] == [
        (social.id, social_goal.id, True)]


# --- publish ---------------------------------------------------------------------------------------


def test_publish_makes_active_tandems_notifies_both_and_a_second_publish_is_409(drafted, client):
    cohort, ai, social, ai_goal, social_goal = drafted
    headers = bearer(make_manager())
    response = client.post(f"/api/v1/cohorts/{cohort.id}/publish", headers=headers)
    assert response.status_code == 200 and response.get_json() == {"published": 2}
    db.session.expire_all()
    tandems = list(db.session.scalars(select(Tandem).where(Tandem.cohort_id == cohort.id)))
    assert {t.status for t in tandems} == {"active"}
    assert all((t.starts_on, t.ends_on) == (cohort.starts_on, cohort.ends_on) for t in tandems)
    assert ai_goal.status == "matched" and social_goal.status == "matched"
    assert cohort.state == "running"
    for user_id in (ai.user_id, social.user_id, ai_goal.owner_id, social_goal.owner_id):
        assert db.session.query(Notification).filter_by(user_id=user_id, kind="tandem_started").count() == 1
    again = client.post(f"/api/v1/cohorts/{cohort.id}/publish", headers=headers)
    assert again.status_code == 409
    assert again.get_json()["error"]["code"] == "nothing_to_publish"
    for tandem in tandems:
        assert_published_pair_is_lawful(tandem)


def assert_published_pair_is_lawful(tandem: Tandem) -> None:
    context = rules.rule_context()
    context.existing_pairs.discard((tandem.mentor_user_id, tandem.mentee_user_id))
    mentor = rules.mentor_facts([tandem.mentor])[0]
    assert rules.pair_violations(mentor, rules.mentee_facts(tandem.goal), context, check_capacity=False) == []


def test_publish_checks_every_rule_again_and_publishes_nothing_when_one_breaks(drafted):
    cohort, ai, social, ai_goal, social_goal = drafted
    # Since matching, the AI goal's owner was found to work for the AI mentor's company.
    ai_goal.owner.verified_company = companies.find_company("Young A")
    db.session.commit()
    with pytest.raises(CohortError) as refused:
        review.publish(cohort)
    assert refused.value.code == "rule_broken"
    assert rules.reason_text("same_company") in refused.value.message
    db.session.expire_all()
    assert {t.status for t in db.session.scalars(select(Tandem).where(Tandem.cohort_id == cohort.id))} == {"draft"}
    assert cohort.state == "matching"


def test_publish_from_the_page_then_the_second_click_says_nothing_left(drafted, client, login_as):
    cohort = drafted[0]
    login_as(make_manager())
    page = client.get(f"/cohorts/{cohort.id}/publish").get_data(as_text=True)
    shown = {"drafts": page.split('name="drafts" type="hidden" value="')[1].split('"')[0]}
    first = client.post(f"/cohorts/{cohort.id}/publish", data=shown, follow_redirects=True).get_data(as_text=True)
    assert "2 tandems published" in first
    second = client.post(f"/cohorts/{cohort.id}/publish", data=shown, follow_redirects=True).get_data(as_text=True)
    assert "Nothing left to publish." in second


def test_a_publish_confirmation_whose_drafts_changed_since_publishes_nothing(drafted, client, login_as):
    cohort, social_goal = drafted[0], drafted[4]
    social_goal.excluded_companies = []  # so that the two pairs may swap mentors
    db.session.commit()
    login_as(make_manager())
    page = client.get(f"/cohorts/{cohort.id}/publish").get_data(as_text=True)
    shown = {"drafts": page.split('name="drafts" type="hidden" value="')[1].split('"')[0]}
    first, second = sorted(review.drafts(cohort), key=lambda t: t.id)
    swapped = client.post(f"/cohorts/{cohort.id}/drafts/swap", data={"first": first.id, "second": second.id},
                          follow_redirects=True).get_data(as_text=True)  # in another tab
    assert "Mentors swapped." in swapped
    stale = client.post(f"/cohorts/{cohort.id}/publish", data=shown, follow_redirects=True).get_data(as_text=True)
    assert "The draft pairs changed since you looked at them" in stale
    assert {t.status for t in db.session.scalars(select(Tandem).where(Tandem.cohort_id == cohort.id))} == {"draft"}
    assert "2 tandems published" in publish_from_page(client, cohort.id).get_data(as_text=True)


def test_two_managers_publishing_at_once_give_one_winner(drafted, app):
    cohort_id = drafted[0].id
    db.session.remove()
    barrier = threading.Barrier(2)
    outcomes: list[object] = []

    def publish() -> None:
        with app.test_request_context():
            cohort = db.session.get(Cohort, cohort_id)
            barrier.wait()
            try:
                outcomes.append(review.publish(cohort))
            except CohortError as problem:
                outcomes.append(problem.code)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=publish) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes, key=str) == [2, "nothing_to_publish"]
    published = db.session.scalars(select(Tandem).where(Tandem.cohort_id == cohort_id, Tandem.status == "active"))
    assert len(list(published)) == 2
    assert db.session.query(Notification).filter_by(kind="tandem_started").count() == 4


def test_closing_completes_tandems_and_needs_no_drafts(drafted):
    cohort = drafted[0]
    review.publish(cohort)
    from marketplace.services.cohorts import enrolment

    with pytest.raises(CohortError):
        assignment.run(make_cohort(name="Closed", state="closed"))
    enrolment.close(cohort)
    assert cohort.state == "closed" and cohort.closed_at is not None
    assert {t.status for t in db.session.scalars(select(Tandem).where(Tandem.cohort_id == cohort.id))} == {"completed"}


def test_dates_of_published_tandems_come_from_the_cohort(drafted):
    cohort = drafted[0]
    review.publish(cohort)
    tandem = db.session.scalars(select(Tandem).where(Tandem.cohort_id == cohort.id)).first()
    assert tandem.starts_on == date(2027, 3, 1) and tandem.ends_on == date(2027, 9, 1)
