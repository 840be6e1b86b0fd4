"""The CLI contract and the participants import: all rows or none, bad rows named."""

from __future__ import annotations

from sqlalchemy import func, select

from marketplace.extensions import db
from marketplace.models import Cohort, CohortParticipant, Goal, MentorProfile, OutgoingEmail, Topic, User
from marketplace.services import accounts, companies, demo
from tests.builders import make_user
from tests.builders import participants_csv as csv_bytes

GOOD_ROWS = [
    ["lea@young.example", "Lea Young", "mentor", "Young Digital", "LinkedIn for leaders",
     "I coach executives on LinkedIn posting and personal branding.", "digital-reputation;Podcasting", "de;en",
     "2", ""],
    ["kurt@old.example", "Kurt Old", "mentee", "Old Industry AG", "KI verstehen",
     "Ich möchte verstehen, was KI für unseren Mittelstand bedeutet.", "artificial-intelligence", "de", "",
     "Young Rivals GmbH"],
    ["kurt@old.example", "Kurt Old", "mentee", "Old Industry AG", "TikTok verstehen",
     "Meine Kinder sagen, ich sollte auf TikTok sein.", "social-media", "de", "", ""],
]


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def write(tmp_path, text: str, name: str = "people.csv", encoding: str = "utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return str(path)


def test_import_creates_people_profiles_goals_and_invitations(runner, tmp_path):
    result = runner.invoke(args=["participants", "import", write(tmp_path, csv_bytes(GOOD_ROWS))])
    assert result.exit_code == 0, result.output
    assert count(User) == 2 and count(MentorProfile) == 1 and count(Goal) == 2
    profile = db.session.scalars(select(MentorProfile)).one()
    assert profile.vector is not None and profile.capacity == 2
    assert {t.name_en for t in profile.topics} >= {"Podcasting"}
    kurt = accounts.find_user_by_email("kurt@old.example")
    assert kurt.password_hash is None
    assert [g.excluded_companies[0].name for g in kurt.goals if g.excluded_companies] == ["Young Rivals GmbH"]
    assert db.session.scalar(select(func.count()).select_from(OutgoingEmail)) == 2  # invitation links


def test_a_managers_import_vouches_for_the_company_of_a_known_domain(runner, tmp_path):
    young = companies.get_or_create_company("Young Digital")
    companies.set_domains(young, ["young.example"])
    db.session.commit()

    assert runner.invoke(args=["participants", "import", write(tmp_path, csv_bytes(GOOD_ROWS))]).exit_code == 0

    assert accounts.find_user_by_email("lea@young.example").verified_company == young
    assert accounts.find_user_by_email("kurt@old.example").verified_company is None  # no known domain


def test_demo_people_are_verified_at_their_domains_company(runner):
    assert runner.invoke(args=["seed-demo"]).exit_code == 0

    mentor = accounts.find_user_by_email(demo.DEMO_LOGINS["mentor"])
    assert mentor.verified_company is not None
    assert mentor.verified_company == companies.company_for_email(mentor.email)


def test_reimport_updates_and_embeds_nothing_new(runner, tmp_path):
    path = write(tmp_path, csv_bytes(GOOD_ROWS))
    runner.invoke(args=["participants", "import", path])
    vectors_before = [p.vector for p in db.session.scalars(select(MentorProfile))]
    again = runner.invoke(args=["participants", "import", path])
    assert again.exit_code == 0, again.output
    assert "0 texts embedded" in again.output
    assert count(User) == 2 and count(Goal) == 2 and count(MentorProfile) == 1
    db.session.expire_all()
    assert [p.vector for p in db.session.scalars(select(MentorProfile))] == vectors_before


def test_a_bad_row_imports_nothing_and_is_named(runner, tmp_path):
    rows = [*GOOD_ROWS, ["not-an-email", "X", "boss", "Co", "Title", "Text", "", "xx", "0", ""]]
    result = runner.invoke(args=["participants", "import", write(tmp_path, csv_bytes(rows))])
    assert result.exit_code == 1
    assert "row 5:" in result.output
    assert "valid e-mail" in result.output and "role" in result.output and "language" in result.output
    assert count(User) == 0 and count(Goal) == 0


def test_disagreeing_person_fields_and_duplicates_are_refused(runner, tmp_path):
    rows = [*GOOD_ROWS, ["kurt@old.example", "Kurt Older", "mentee", "Old Industry AG", "KI verstehen",
                         "Noch einmal, mit einem anderen Namen.", "", "de", "", ""]]
    result = runner.invoke(args=["participants", "import", write(tmp_path, csv_bytes(rows))])
    assert result.exit_code == 1
    assert "row 5: kurt@old.example: name differs from row 3." in result.output
    assert "duplicate goal" in result.output


def test_wrong_encoding_and_missing_column_are_named(runner, tmp_path):
    # Windows-1252 is read (German Excel), but a byte it leaves undefined is neither: refused, by position.
    undefined = tmp_path / "undefined.csv"
    undefined.write_bytes(csv_bytes(GOOD_ROWS).encode("cp1252") + b"\x81")
    latin = runner.invoke(args=["participants", "import", str(undefined)])
    assert latin.exit_code == 1 and "neither UTF-8 nor Windows-1252" in latin.output
    broken = "email,name,role\nx@y.example,X,mentor\n"
    missing = runner.invoke(args=["participants", "import", write(tmp_path, broken, "b.csv")])
    assert missing.exit_code == 1 and "Missing column(s): company" in missing.output
    assert count(User) == 0


def test_import_into_a_cohort_needs_an_existing_cohort(runner, tmp_path):
    path = write(tmp_path, csv_bytes(GOOD_ROWS))
    missing = runner.invoke(args=["participants", "import", path, "--cohort", "Nope"])
    assert missing.exit_code == 1 and "No cohort called 'Nope'" in missing.output
    assert count(User) == 0
    from datetime import date

    db.session.add(Cohort(name="Spring", starts_on=date(2027, 3, 1), ends_on=date(2027, 9, 1)))
    db.session.commit()
    ok = runner.invoke(args=["participants", "import", path, "--cohort", "Spring"])
    assert ok.exit_code == 0, ok.output
    statuses = {(p.role, p.status) for p in db.session.scalars(select(CohortParticipant))}
    assert statuses == {("mentor", "accepted"), ("mentee", "accepted")}


def test_import_into_a_closed_cohort_is_refused_whole_as_the_browser_refuses_it(runner, tmp_path):
    from datetime import date

    db.session.add(Cohort(name="Autumn", starts_on=date(2026, 3, 1), ends_on=date(2026, 9, 1), state="closed"))
    db.session.commit()
    closed = runner.invoke(args=["participants", "import", write(tmp_path, csv_bytes(GOOD_ROWS)), "--cohort", "Autumn"])
    assert closed.exit_code == 1
    assert "A closed cohort cannot take new participants." in closed.output and "row 0" not in closed.output
    assert count(User) == 0 and count(CohortParticipant) == 0


def test_init_db_and_seed_demo_are_idempotent(runner):
    assert runner.invoke(args=["init-db"]).exit_code == 0
    first = runner.invoke(args=["seed-demo"])
    assert first.exit_code == 0, first.output
    counts = [count(m) for m in (User, MentorProfile, Goal, Topic, Cohort)]
    assert counts[1] >= 30 and counts[2] >= 20 and counts[4] == 1
    assert runner.invoke(args=["init-db"]).exit_code == 0
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    assert [count(m) for m in (User, MentorProfile, Goal, Topic, Cohort)] == counts


def test_create_manager_and_token_commands(runner):
    result = runner.invoke(args=["users", "create-manager", "cm@tandem.example", "--name", "Clara",
                                 "--password", "a long enough passphrase"])
    assert result.exit_code == 0, result.output
    assert accounts.find_user_by_email("cm@tandem.example").is_manager
    weak = runner.invoke(args=["users", "create-manager", "cm2@tandem.example", "--name", "C", "--password", "short"])
    assert weak.exit_code != 0
    token = runner.invoke(args=["tokens", "create", "cm@tandem.example"]).output.strip()
    assert token.startswith("tdm_") and "\n" not in token
    assert accounts.load_user_from_bearer_token(
        type("Request", (), {"headers": {"Authorization": f"Bearer {token}"}})()
    ).email == "cm@tandem.example"


def test_index_rebuild_reports_counts(runner, app):
    make_user()
    runner.invoke(args=["seed-demo"])
    result = runner.invoke(args=["index", "rebuild"])
    assert result.exit_code == 0, result.output
    assert "index holds" in result.output
