"""Participant files as people really save them (issue 13, points 8, 9 and 11): German Excel's `;`-separated
Windows-1252 CSV, Excel's UTF-16 "Unicode text", .xlsx workbooks and templates; re-importing people into a
new cohort; the upload answered by a redirect to its preview."""

from __future__ import annotations

import codecs
import io

from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from marketplace.extensions import db
from marketplace.models import CohortParticipant, Goal, MentorProfile, User
from marketplace.services import accounts
from marketplace.services.cohorts import assignment, enrolment, imports, review
from tests.builders import make_user
from tests.marketplace.test_cohorts import make_cohort

HEADER = imports.COLUMNS
MENTOR = ["jörg@jung.example", "Jörg Müßig", "mentor", "Jung & Söhne GmbH", "Ich erkläre Führungskräften TikTok",
          "Kurzvideos, LinkedIn und persönliche Marke für Führungskräfte, auf Deutsch oder Englisch.",
          "social-media, personal-branding", "de, en", "2", ""]
MENTEE = ["käthe@alt.example", "Käthe Groß", "mentee", "Altbau AG", "Soziale Medien verstehen",
          "Unsere Marke braucht eine Stimme in den sozialen Medien, und ich möchte das selbst führen.",
          "social-media", "de", "", "Konkurrenz KG|Rivale AG"]


def german_excel_csv(rows: list[list[str]]) -> bytes:
    """What German Excel's "CSV (Trennzeichen-getrennt)" writes: `;` between cells, Windows-1252, CRLF."""
    lines = [";".join(HEADER)] + [";".join(f'"{cell}"' if ";" in cell else cell for cell in row) for row in rows]
    return ("\r\n".join(lines) + "\r\n").encode("cp1252")


def unicode_text(rows: list[list[str]]) -> bytes:
    """Excel's "Unicode text": UTF-16 little-endian with a BOM, tab-separated; list items with `;`."""
    rows = [[cell.replace(", ", ";") for cell in row] for row in rows]
    return codecs.BOM_UTF16_LE + "\r\n".join("\t".join(row) for row in [HEADER, *rows]).encode("utf-16-le")


def workbook(rows: list[list[object]]) -> bytes:
    book = Workbook()
    sheet = book.active
    for row in [HEADER, *rows]:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def imported_as_written() -> None:
    mentor = accounts.find_user_by_email("jörg@jung.example")
    assert mentor is not None and mentor.name == "Jörg Müßig"
    profile = db.session.scalars(select(MentorProfile)).one()
    assert profile.headline == "Ich erkläre Führungskräften TikTok" and profile.capacity == 2
    assert profile.languages == "de,en" and len(profile.topics) == 2
    goal = db.session.scalars(select(Goal)).one()
    assert sorted(c.name for c in goal.excluded_companies) == ["Konkurrenz KG", "Rivale AG"]


def test_a_german_excel_csv_semicolons_and_windows_1252_imports_with_its_umlauts(runner, tmp_path):
    path = tmp_path / "teilnehmende.csv"
    path.write_bytes(german_excel_csv([MENTOR, MENTEE]))
    result = runner.invoke(args=["participants", "import", str(path)])
    assert result.exit_code == 0, result.output
    imported_as_written()


def test_excels_unicode_text_utf16_with_tabs_imports(app):
    result = imports.import_participants(unicode_text([MENTOR, MENTEE]), invite=False)
    assert result.ok, result.errors
    assert result.encoding == "UTF-16"
    imported_as_written()


def test_an_xlsx_workbook_imports_and_the_cli_keeps_all_rows_or_none(runner, tmp_path):
    bad = workbook([MENTOR, [*MENTEE[:7], "xx", "", ""]])
    (tmp_path / "bad.xlsx").write_bytes(bad)
    refused = runner.invoke(args=["participants", "import", str(tmp_path / "bad.xlsx")])
    assert refused.exit_code == 1 and "row 3: käthe@alt.example:" in refused.output and "xx" in refused.output
    assert count(User) == 0

    numbers = [*MENTOR[:8], 2, None]  # Excel stores a typed capacity as a number, an empty cell as None
    (tmp_path / "good.xlsx").write_bytes(workbook([numbers, MENTEE]))
    done = runner.invoke(args=["participants", "import", str(tmp_path / "good.xlsx")])
    assert done.exit_code == 0, done.output
    imported_as_written()


def test_a_file_that_is_no_workbook_is_refused_by_name(app):
    result = imports.import_participants(b"PK\x03\x04 broken zip")
    assert not result.ok and "Excel" in result.errors[0].message


def test_a_refused_row_names_the_person_and_the_field(app):
    bad = [*MENTEE[:7], "de, klingonisch", "", ""]
    result = imports.import_participants(german_excel_csv([MENTOR, bad]), dry_run=True)
    assert [(p.row, p.email, p.fields) for p in result.errors] == [(3, "käthe@alt.example", ["languages"])]


def test_the_preview_says_which_encoding_was_read_and_names_the_refused_field(app, client, login_as, tmp_path):
    app.config["TANDEM_UPLOAD_DIR"] = str(tmp_path)
    login_as(make_user(is_manager=True))
    cohort = make_cohort(state="enrolling")
    for data, name, encoding in ((german_excel_csv([MENTOR, MENTEE]), "leute.csv", "Windows-1252"),
                                 (workbook([MENTOR, MENTEE]), "leute.xlsx", "Excel (.xlsx)")):
        page = client.post(f"/cohorts/{cohort.id}/import", data={"file": (io.BytesIO(data), name)},
                           content_type="multipart/form-data", follow_redirects=True).get_data(as_text=True)
        assert f"Read as: {encoding}" in page and page.count('badge success">create') == 2, page
    bad = german_excel_csv([MENTOR, [*MENTEE[:2], "boss", *MENTEE[3:]]])
    page = client.post(f"/cohorts/{cohort.id}/import", data={"file": (io.BytesIO(bad), "leute.csv")},
                       content_type="multipart/form-data", follow_redirects=True).get_data(as_text=True)
    assert "<code>role</code>" in page and "käthe@alt.example" in page and "import/confirm" not in page


def test_both_templates_download_and_import_as_they_are(app, client, login_as):
    login_as(make_user(is_manager=True))
    csv_template = client.get("/cohorts/import-template.csv")
    assert csv_template.status_code == 200 and csv_template.mimetype == "text/csv"
    xlsx_template = client.get("/cohorts/import-template.xlsx")
    assert xlsx_template.status_code == 200 and xlsx_template.mimetype.endswith("spreadsheetml.sheet")
    header = [cell.value for cell in next(load_workbook(io.BytesIO(xlsx_template.data)).active.iter_rows())]
    assert header == HEADER
    for template in (csv_template.data, xlsx_template.data):
        checked = imports.import_participants(template, dry_run=True)
        assert checked.ok and [p.action for p in checked.planned] == ["create", "create"], checked.errors


# --- point 9: the same people again, in a new cohort ----------------------------------------------


def import_into(cohort, rows) -> imports.ImportResult:
    result = imports.import_participants(german_excel_csv(rows), cohort_name=cohort.name, invite=False)
    assert result.ok, result.errors
    db.session.commit()
    return result


def match_and_publish(cohort) -> None:
    assignment.run(cohort)
    assert len(review.drafts(cohort)) == 1
    review.publish(cohort)


def test_people_imported_again_into_a_new_cohort_are_matched_again(app):
    spring = make_cohort("Spring", state="enrolling")
    import_into(spring, [MENTOR, MENTEE])
    match_and_publish(spring)
    enrolment.close(spring)

    autumn = make_cohort("Autumn", state="enrolling")
    preview = imports.import_participants(german_excel_csv([MENTOR, MENTEE]), cohort_name="Autumn", dry_run=True)
    assert [p.note for p in preview.planned] == ["", "The goal re-opens for this cohort."]
    import_into(autumn, [MENTOR, MENTEE])
    result = assignment.run(autumn)
    assert result.new_drafts == 1 and result.unmatched == []


def test_a_goal_in_a_running_tandem_stays_unmatched_and_says_where(app):
    spring = make_cohort("Spring", state="enrolling")
    import_into(spring, [MENTOR, MENTEE])
    match_and_publish(spring)  # still running
    other_mentor = [f"neu@{MENTOR[0].split('@')[1]}", "Neu Mentorin", *MENTOR[2:]]

    autumn = make_cohort("Autumn", state="enrolling")
    preview = imports.import_participants(german_excel_csv([other_mentor, MENTEE]), cohort_name="Autumn",
                                          dry_run=True)
    assert preview.planned[1].note == "Already in a running tandem (cohort Spring): stays unmatched."
    import_into(autumn, [other_mentor, MENTEE])
    result = assignment.run(autumn)
    reasons = {(u.role, u.reason) for u in result.unmatched}
    assert ("mentee", "Already in a running tandem (cohort Spring).") in reasons
    assert ("mentor", "No mentee of this cohort has an open learning goal to pair with.") in reasons
    assert {u.reason for u in assignment.unmatched(autumn)} == {u.reason for u in result.unmatched}
    assert count(CohortParticipant) == 4
