"""The company owning a person's e-mail domain counts for every company rule, confirmed or not: typing a
shorter company name at registration must not pair someone with their own employer (issue 11 review, F1)."""

from __future__ import annotations

import pytest

from marketplace.extensions import db
from marketplace.models import Tandem
from marketplace.services import accounts, companies, tandems
from marketplace.services.matching import search
from tests.builders import make_goal, make_mentor, make_user, sign_in

PASSWORD = "purple elephants dance quietly"


def _hansekauf():
    company = companies.get_or_create_company("Hansekauf Handels AG")
    companies.set_domains(company, ["hansekauf.example"])
    db.session.commit()
    return company


def _register(client, email: str, company: str):
    client.post("/auth/register", data={"name": "Carla Fake", "email": email, "company": company,
                                        "password": PASSWORD, "confirm": PASSWORD, "language": ""})
    return accounts.find_user_by_email(email)


def test_a_shorter_company_name_does_not_pair_an_employee_with_their_own_company(client, app):
    own = _hansekauf()
    colleague = make_mentor(company="Hansekauf Handels AG")
    outsider = make_mentor(company="Young Digital GmbH")
    user = _register(client, "ceo-fake@hansekauf.example", "Hansekauf")
    assert user.effective_company.name == "Hansekauf" and user.verified_company_id is None
    goal = make_goal(owner=user, title="LinkedIn for our board", description="Personal branding on LinkedIn.")

    suggested = {m.mentor.id for m in search.suggestions_for_goal(goal, k=10)}
    found = {r.mentor.id for r in search.search_mentors("LinkedIn personal branding", user, k=10)}

    assert colleague.id not in suggested and colleague.id not in found
    assert outsider.id in suggested and outsider.id in found
    with pytest.raises(tandems.TandemError) as refused:
        tandems.request_tandem(goal, colleague, user)
    assert refused.value.code == "same_company"
    assert user.verified_company_id is None and user.domain_company_id == own.id  # restricts, proves nothing


def test_a_mentor_at_the_domain_is_not_offered_to_that_companys_people(app):
    _hansekauf()
    mentor = make_mentor(user=make_user(email="young@hansekauf.example", company="Hansekauf Digital"))
    companies.refresh_domain_company(mentor.user)
    goal = make_goal(company="Hansekauf Handels AG", excluded=())
    db.session.commit()
    assert mentor.id not in {m.mentor.id for m in search.suggestions_for_goal(goal, k=10)}


def test_a_domain_added_later_cancels_pending_requests_with_the_domains_company(client, app):
    mentor = make_mentor(company="Hansekauf Handels AG")
    user = _register(client, "ceo-fake@hansekauf.example", "Hansekauf")
    goal = make_goal(owner=user)
    pending = tandems.request_tandem(goal, mentor, user)
    db.session.commit()
    company_id = companies.find_company("Hansekauf Handels AG").id
    manager = sign_in(app.test_client(), make_user(is_manager=True, company=None))

    saved = manager.post(f"/manage/companies/{company_id}/domains", data={"domains-domains": "hansekauf.example"})
    assert saved.status_code == 302, saved.get_data(as_text=True)

    db.session.expire_all()
    assert db.session.get(Tandem, pending.id).status == "cancelled"
    user = accounts.find_user_by_email("ceo-fake@hansekauf.example")
    assert user.domain_company_id == company_id and user.verified_company_id is None
    manager.post(f"/manage/companies/{company_id}/domains", data={"domains-domains": ""})
    db.session.expire_all()
    assert accounts.find_user_by_email("ceo-fake@hansekauf.example").domain_company_id is None


def test_a_merge_moves_the_domain_company_too(client, app):
    old = _hansekauf()
    user = _register(client, "ceo-fake@hansekauf.example", "Hansekauf")
    survivor = companies.get_or_create_company("Hansekauf Group")
    db.session.commit()
    companies.merge_companies(survivor, old)
    assert accounts.find_user_by_email("ceo-fake@hansekauf.example").domain_company_id == survivor.id
    mentor = make_mentor(company="Hansekauf Group")
    with pytest.raises(tandems.TandemError):
        tandems.request_tandem(make_goal(owner=user), mentor, user)
