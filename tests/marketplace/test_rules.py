"""The hard rules: the single-pair form and the vectorised mask must always agree."""

from __future__ import annotations

import random

import numpy as np
import pytest

from marketplace.services.matching.rules import MenteeFacts, MentorFacts, RuleContext, allowed_mask, pair_violations


def _mentor(**overrides) -> MentorFacts:
    base = dict(id=1, user_id=10, company_id=1, excluded_company_ids=frozenset(), languages=frozenset({"en"}),
                is_open=True, free_capacity=1)
    base.update(overrides)
    return MentorFacts(**base)


def _mentee(**overrides) -> MenteeFacts:
    base = dict(goal_id=1, user_id=20, company_id=2, excluded_company_ids=frozenset(), languages=frozenset({"en"}))
    base.update(overrides)
    return MenteeFacts(**base)


@pytest.mark.parametrize(
    ("mentor", "mentee", "context", "reason"),
    [
        (_mentor(company_id=5), _mentee(company_id=5), RuleContext(), "same_company"),
        (_mentor(company_id=3), _mentee(excluded_company_ids=frozenset({3})), RuleContext(), "excluded_by_mentee"),
        (_mentor(excluded_company_ids=frozenset({2})), _mentee(company_id=2), RuleContext(), "excluded_by_mentor"),
        (_mentor(company_id=1), _mentee(company_id=2), RuleContext(competitor_pairs={(2, 1)}), "competitors"),
        (_mentor(is_open=False), _mentee(), RuleContext(), "mentor_paused"),
        (_mentor(free_capacity=0), _mentee(), RuleContext(), "mentor_full"),
        (_mentor(languages=frozenset({"de"})), _mentee(languages=frozenset({"en"})), RuleContext(),
         "no_shared_language"),
        (_mentor(), _mentee(), RuleContext(existing_pairs={(10, 20)}), "already_paired"),
        (_mentor(user_id=7), _mentee(user_id=7), RuleContext(), "same_person"),
        # The company owning a person's e-mail domain counts too, confirmed or not, on either side.
        (_mentor(company_id=5), _mentee(company_id=9, domain_company_id=5), RuleContext(), "same_company"),
        (_mentor(company_id=9, domain_company_id=5), _mentee(company_id=5), RuleContext(), "same_company"),
        (_mentor(company_id=9, domain_company_id=3), _mentee(excluded_company_ids=frozenset({3})), RuleContext(),
         "excluded_by_mentee"),
        (_mentor(excluded_company_ids=frozenset({4})), _mentee(company_id=9, domain_company_id=4), RuleContext(),
         "excluded_by_mentor"),
        (_mentor(company_id=1), _mentee(company_id=9, domain_company_id=2), RuleContext(competitor_pairs={(2, 1)}),
         "competitors"),
        (_mentor(company_id=8, domain_company_id=1), _mentee(company_id=None, domain_company_id=2),
         RuleContext(competitor_pairs={(1, 2)}), "competitors"),
    ],
)
def test_each_rule_forbids_its_pair_in_both_forms(mentor, mentee, context, reason):
    assert reason in pair_violations(mentor, mentee, context)
    assert not allowed_mask([mentee], [mentor], context)[0, 0]


def test_a_fair_pair_is_allowed_and_shows_no_reason():
    assert pair_violations(_mentor(), _mentee(), RuleContext()) == []
    assert allowed_mask([_mentee()], [_mentor()], RuleContext())[0, 0]


def test_competitor_links_work_in_either_direction():
    stored_one_way = RuleContext(competitor_pairs={(1, 2)})
    assert "competitors" in pair_violations(_mentor(company_id=2), _mentee(company_id=1), stored_one_way)
    assert not allowed_mask([_mentee(company_id=1)], [_mentor(company_id=2)], stored_one_way)[0, 0]


def test_unknown_companies_are_not_the_same_company():
    assert pair_violations(_mentor(company_id=None), _mentee(company_id=None), RuleContext()) == []


def test_capacity_can_be_left_to_the_caller():
    full = _mentor(free_capacity=0)
    assert pair_violations(full, _mentee(), RuleContext(), check_capacity=False) == []
    assert allowed_mask([_mentee()], [full], RuleContext(), check_capacity=False)[0, 0]


@pytest.mark.parametrize("seed", range(5))
def test_mask_and_single_pair_form_always_agree(seed):
    rng = random.Random(seed)
    companies = [None, *range(1, 9)]
    languages = ["de", "en", "fr"]

    def langs() -> frozenset[str]:
        return frozenset(rng.sample(languages, rng.randint(1, 2)))

    def excluded() -> frozenset[int]:
        return frozenset(rng.sample(range(1, 9), rng.choice([0, 0, 1, 2])))

    def domain_company() -> int | None:  # most addresses are at no registered domain
        return rng.choice(companies) if rng.random() < 0.4 else None

    mentors = [
        MentorFacts(id=i, user_id=rng.randint(1, 60), company_id=rng.choice(companies), excluded_company_ids=excluded(),
                    languages=langs(), is_open=rng.random() > 0.15, free_capacity=rng.randint(-1, 2),
                    domain_company_id=domain_company())
        for i in range(60)
    ]
    mentees = [  # languages None: someone searching without a language filter
        MenteeFacts(goal_id=i, user_id=rng.randint(1, 60), company_id=rng.choice(companies),
                    excluded_company_ids=excluded(), languages=langs() if rng.random() > 0.2 else None,
                    domain_company_id=domain_company())
        for i in range(50)
    ]
    context = RuleContext(
        competitor_pairs={(rng.randint(1, 8), rng.randint(1, 8)) for _ in range(6)},
        existing_pairs={(rng.randint(1, 60), rng.randint(1, 60)) for _ in range(40)},
    )
    for check_capacity in (True, False):
        mask = allowed_mask(mentees, mentors, context, check_capacity=check_capacity)
        expected = np.array(
            [[not pair_violations(m, e, context, check_capacity) for m in mentors] for e in mentees]
        )
        assert mask.shape == (50, 60)
        assert (mask == expected).all()
        assert 0 < mask.sum() < mask.size  # both outcomes occur, so the comparison means something


@pytest.mark.parametrize("seed", range(2))
def test_search_shows_exactly_the_mentors_the_vectorised_rules_allow(app, seed):
    """The search path (index over-fetch, candidate facts, filters) against allowed_mask for the searcher."""
    from marketplace.extensions import db
    from marketplace.models import Tandem
    from marketplace.services import companies
    from marketplace.services.matching import rules, search
    from tests.builders import make_goal, make_mentor, make_user

    rng = random.Random(seed)
    firms = [f"Firm {i} AG" for i in range(5)]
    viewer = make_user(company=rng.choice(firms))
    mentors = []
    for _ in range(14):
        mentor = make_mentor(company=rng.choice(firms), languages=rng.choice(["en", "de", "en,de", "fr"]),
                             is_open=rng.random() > 0.15, capacity=rng.choice([1, 2]))
        mentor.excluded_companies = [companies.get_or_create_company(n) for n in rng.sample(firms, rng.choice([0, 1]))]
        if rng.random() < 0.3:  # a slot taken by a running tandem or a cohort draft
            goal = make_goal(company="Mentee AG")
            db.session.add(Tandem(goal=goal, mentor=mentor, mentee_user_id=goal.owner_id,
                                  mentor_user_id=mentor.user_id, status=rng.choice(["active", "draft"])))
        mentors.append(mentor)
    for _ in range(2):
        first, second = rng.sample(firms, 2)
        companies.link_competitors(companies.find_company(first), companies.find_company(second))
    db.session.commit()
    language = rng.choice([None, "en", "de"])
    filtered = [companies.find_company(n).id for n in rng.sample(firms, rng.choice([0, 1]))]

    found = {m.mentor.id for m in search.search_mentors(
        "LinkedIn and personal branding", viewer, k=search.MAX_K, language=language, exclude_company_ids=filtered)}

    searcher = rules.searcher_facts(viewer, filtered, language)
    facts = rules.mentor_facts(mentors)
    mask = rules.allowed_mask([searcher], facts, rules.rule_context(with_pairs=False))[0]
    assert found == {fact.id for fact, allowed in zip(facts, mask, strict=True) if allowed}
    assert 0 < len(found) < len(mentors)  # both outcomes occur
