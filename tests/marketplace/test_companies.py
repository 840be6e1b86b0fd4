"""Company identity: one key per company for every rule, and managers merging two companies."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from marketplace.extensions import db
from marketplace.models import Company, CompanyDomain, User, competitor_links
from marketplace.services import companies, tandems
from marketplace.services.tandems import TandemError
from tests.builders import make_goal, make_mentor, make_user

# The same company as typed by four people: plain, with its legal form, with a Cyrillic "а"
# (U+0430) and with a zero-width space (U+200B) inside.
SPELLINGS = ("Hansekauf", "Hansekauf GmbH", "H\u0430nsekauf", "Hanse\u200bkauf")


@pytest.mark.parametrize("name", [
    *SPELLINGS, "HANSEKAUF GmbH & Co. KG", "Hansekauf e.V.", "Hansekauf AG", "Hanse-Kauf S.A.", "Hansekauf Inc.",
    "Hansekauf Ltd.", "Hansekauf LLC", "Hansekauf SE", "Hansekauf B.V.", "Hansekauf PLC", "\uff28\uff41nsekauf",
    "\u0397\u0391NSEKAUF",  # Greek capital eta and alpha
])
def test_every_spelling_has_one_key(name):
    assert companies.company_key(name) == "hansekauf"


@pytest.mark.parametrize("name", [
    "Hansekauf Handels AG", "Hansekauf Handels A.G.", "Hansekauf Handels A. G.", "Hansekauf Handels Aktiengesellschaft",
    "Hansekauf Handels G.m.b.H.", "Hansekauf Handels Gesellschaft mit beschränkter Haftung",
    "Hansekauf Handels GmbH & Co. Kommanditgesellschaft", "Hansekauf Handels e. V.", "Hansekauf Handels S. A.",
    "Hansekauf Handels Inc.", "Hansekauf Handels Incorporated", "Hansekauf Handels Limited",
    "Hansekauf Handels Corporation", "Hansekauf Handels Company", "Hansekauf Handels Sp. z o.o.",
])
def test_a_legal_form_with_dots_or_spelled_out_is_still_the_legal_form(name):
    assert companies.company_key(name) == "hansekaufhandels"


@pytest.mark.parametrize(("a", "b"), [
    ("Vogtmann Präzisionsteile GmbH & Co. KG", "Vogtmann Praezisionsteile GmbH & Co. KG"),
    ("Müller Öl Süd", "Mueller Oel Sued"), ("Großhandel Nord", "Grosshandel Nord"),
])
def test_umlauts_and_their_spelling_without_them_are_one_company(a, b):
    assert companies.company_key(a) == companies.company_key(b)


def test_an_exclusion_typed_without_umlauts_applies_to_the_company(app):
    mentor = make_mentor(company="Vogtmann Präzisionsteile GmbH & Co. KG")
    goal = make_goal(company="Old Industry AG", excluded=("Vogtmann Praezisionsteile GmbH & Co. KG",))
    with pytest.raises(TandemError) as refused:
        tandems.request_tandem(goal, mentor, goal.owner)
    assert refused.value.code == "excluded_by_mentee"


@pytest.mark.parametrize(("a", "b"), [
    ("Hansekauf", "Hansekraft"), ("AG", "KG"), ("Газпром", "Гaзпром"), ("Nordlicht Media", "Nordlicht"),
])
def test_different_companies_keep_different_keys(a, b):
    """Only legal forms go; a real Cyrillic name is not turned into Latin letter salad."""
    assert companies.company_key(a) != companies.company_key(b)
    assert companies.company_key("ГАЗПРОМ") == companies.company_key("Газпром")


def test_registration_profile_and_goal_exclusion_find_one_company(client, login_as):
    """Registering, a profile and a goal's exclusions with four spellings end at one company row."""
    for n, name in enumerate(SPELLINGS[:2]):
        password = "a long enough passphrase 42"
        client.post("/auth/register", data={"name": f"Person {n}", "email": f"p{n}@example.com", "company": name,
                                             "password": password, "confirm": password, "language": ""})
        client.post("/auth/logout")
    owner = make_user(company=SPELLINGS[2])
    login_as(owner)
    client.post("/goals/new", data={"title": "Learn TikTok", "description": "How do young people use it?",
                                    "languages": ["en"], "excluded_companies": SPELLINGS[3], "discoverable": "y"})
    assert db.session.scalar(select(func.count(Company.id))) == 1
    [company] = db.session.scalars(select(Company))
    assert [u.company_id for u in db.session.scalars(select(User))] == [company.id] * 3
    assert [c.id for c in owner.goals[0].excluded_companies] == [company.id]


def test_the_managers_company_search_finds_legal_forms_and_umlauts_and_no_wildcards(client, login_as):
    for name in ("Klarwerk Analytics GmbH", "Müller Logistik AG", "Nordlicht Energie"):
        companies.get_or_create_company(name)
    login_as(make_user(is_manager=True, company="Tandem Community"))
    db.session.commit()

    def found(term: str) -> set[str]:
        page = client.get("/manage/companies", query_string={"q": term}).get_data(as_text=True)
        return {n for n in ("Klarwerk Analytics GmbH", "Müller Logistik AG", "Nordlicht Energie") if n in page}

    assert found("GmbH") == {"Klarwerk Analytics GmbH"}  # the key leaves legal forms out; the name keeps them
    assert found("mueller") == {"Müller Logistik AG"} and found("Klarwerk") == {"Klarwerk Analytics GmbH"}
    assert found("%") == found("_") == found("-") == set()  # not every company


def test_same_company_and_exclusion_rules_see_through_spellings(app):
    mentor = make_mentor(company="H\u0430nsekauf GmbH")
    same = make_goal(company="Hansekauf")
    with pytest.raises(TandemError) as refused:
        tandems.request_tandem(same, mentor, same.owner)
    assert refused.value.code == "same_company"
    excluding = make_goal(company="Elsewhere", excluded=("Hanse\u200bkauf AG",))
    with pytest.raises(TandemError) as refused:
        tandems.request_tandem(excluding, mentor, excluding.owner)
    assert refused.value.code == "excluded_by_mentee"


@pytest.fixture
def two_nordlichts(app):
    """'Nordlicht' and 'Nordlicht Digital' (one firm, two rows), with people, exclusions, links, domains."""
    keep = companies.get_or_create_company("Nordlicht")
    gone = companies.get_or_create_company("Nordlicht Digital")
    rival, other_rival = companies.get_or_create_company("Rival"), companies.get_or_create_company("Other Rival")
    companies.set_domains(gone, ["nordlicht.example"])
    companies.link_competitors(keep, rival)
    companies.link_competitors(rival, gone)  # repeats keep-rival once merged
    companies.link_competitors(gone, other_rival)  # moves
    companies.link_competitors(gone, keep)  # would be keep-keep
    stated, verified = make_user(company="Nordlicht Digital"), make_user(company="Somewhere")
    verified.verified_company = gone
    both = make_goal(company="Outside", excluded=("Nordlicht", "Nordlicht Digital"))  # collapses to one
    one = make_goal(company="Outside 2", excluded=("Nordlicht Digital",))  # moves
    own = make_goal(owner=stated, excluded=("Nordlicht",))  # would exclude its owner's own company
    mentor = make_mentor(company="Nordlicht")
    mentor.excluded_companies = [gone]  # would exclude the mentor's own company
    db.session.commit()
    return {"keep": keep, "gone": gone, "rival": rival, "other_rival": other_rival, "stated": stated,
            "verified": verified, "both": both, "one": one, "own": own, "mentor": mentor}


def test_manager_reviews_then_merges_two_companies(client, login_as, two_nordlichts):
    w = two_nordlichts
    keep_id, gone_id = w["keep"].id, w["gone"].id
    login_as(make_user(is_manager=True, company=None))
    assert "Merge into another company" in client.get(f"/manage/companies/{gone_id}").get_data(as_text=True)

    unknown = client.post(f"/manage/companies/{gone_id}/merge/review", data={"merge-into": "Nobody Known"})
    assert unknown.status_code == 400 and "No company is called" in unknown.get_data(as_text=True)
    itself = client.post(f"/manage/companies/{gone_id}/merge/review", data={"merge-into": "nordlicht digital"})
    assert itself.status_code == 400 and "cannot be merged with itself" in itself.get_data(as_text=True)

    review = client.post(f"/manage/companies/{gone_id}/merge/review", data={"merge-into": "NORDLICHT"})
    page = review.get_data(as_text=True)
    assert review.status_code == 200
    assert "Merge Nordlicht Digital into Nordlicht" in page
    for line in ("who state or are verified at Nordlicht Digital: 2", "Goals that exclude Nordlicht Digital: 2",
                 "Mentor profiles that exclude Nordlicht Digital: 1", "Competitor links: 3", "E-mail domains: 1"):
        assert line in page
    assert db.session.get(Company, gone_id) is not None  # the review changes nothing

    done = client.post(f"/manage/companies/{gone_id}/merge", data={"survivor_id": keep_id})
    assert done.status_code == 302 and done.headers["Location"] == f"/manage/companies/{keep_id}"
    assert "Nordlicht Digital was merged into Nordlicht" in client.get(done.headers["Location"]).get_data(as_text=True)

    db.session.expire_all()
    assert db.session.get(Company, gone_id) is None
    assert db.session.get(User, w["stated"].id).company_id == keep_id
    assert db.session.get(User, w["verified"].id).verified_company_id == keep_id
    assert [c.id for c in w["both"].excluded_companies] == [keep_id]
    assert [c.id for c in w["one"].excluded_companies] == [keep_id]
    assert w["own"].excluded_companies == [] and w["mentor"].excluded_companies == []
    assert companies.competitor_ids(keep_id) == {w["rival"].id, w["other_rival"].id}
    assert db.session.scalar(select(func.count()).select_from(competitor_links)) == 2
    assert db.session.scalar(select(CompanyDomain.company_id).where(CompanyDomain.domain == "nordlicht.example")) \
        == keep_id


def test_a_merge_needs_its_confirmation_form(client, login_as, two_nordlichts):
    gone_id = two_nordlichts["gone"].id
    login_as(make_user(is_manager=True, company=None))
    response = client.post(f"/manage/companies/{gone_id}/merge", data={"survivor_id": gone_id})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Company, gone_id) is not None


def test_a_failed_merge_changes_nothing(two_nordlichts, monkeypatch):
    """One transaction: a failure after people moved leaves them where they were."""
    w = two_nordlichts

    def broken(*args):
        raise RuntimeError("disk full")

    monkeypatch.setattr(companies, "_move_competitor_links", broken)
    with pytest.raises(RuntimeError):
        companies.merge_companies(w["keep"], w["gone"])
    db.session.expire_all()
    assert db.session.get(User, w["stated"].id).company_id == w["gone"].id
    assert [c.id for c in w["one"].excluded_companies] == [w["gone"].id]


def test_a_merge_names_the_running_tandems_it_leaves_inside_one_company(client, login_as, app):
    from marketplace.models import Notification, Tandem

    keep, gone = companies.get_or_create_company("Nordlicht"), companies.get_or_create_company("Nordlicht Digital")
    mentor = make_mentor(user=make_user(name="Mia Mentor", company="Nordlicht Digital"))
    goal = make_goal(owner=make_user(name="Otto Owner", company="Nordlicht"), title="AI for the board")
    inside = tandems.accept(tandems.request_tandem(goal, mentor, goal.owner), mentor.user)
    other_mentor = make_mentor(user=make_user(name="Nils Nordlicht", company="Nordlicht"))
    outside_goal = make_goal(owner=make_user(name="Erna Elsewhere", company="Outside AG"))
    tandems.accept(tandems.request_tandem(outside_goal, other_mentor, outside_goal.owner), other_mentor.user)
    db.session.commit()
    manager = make_user(name="Maren Manager", is_manager=True, company=None)
    login_as(manager)

    review = client.post(f"/manage/companies/{gone.id}/merge/review", data={"merge-into": "Nordlicht"})
    page = review.get_data(as_text=True)
    assert "1 running tandem will then be inside one company" in page and "Otto Owner – Mia Mentor" in page
    assert "Erna Elsewhere" not in page

    client.post(f"/manage/companies/{gone.id}/merge", data={"survivor_id": keep.id})

    db.session.expire_all()
    assert db.session.get(Tandem, inside.id).status == "active"  # not ended automatically
    [notice] = db.session.query(Notification).filter_by(user_id=manager.id, kind="company_merge").all()
    assert "Otto Owner – Mia Mentor" in notice.message and "AI for the board" in notice.message
    assert "Erna Elsewhere" not in notice.message
