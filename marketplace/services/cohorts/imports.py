"""Participants import from CSV or .xlsx (DESIGN.md): every row or none, bad rows named, re-imports update.

Rows are numbered as in a spreadsheet: the header is row 1, the first person row 2.

Files as people really save them: the delimiter (`,`, `;` or tab) is read from the header line; the
encoding is UTF-8 (with or without BOM), UTF-16 (Excel's "Unicode text", which has a BOM) or, when a
file is not valid UTF-8, Windows-1252 (German Excel's "CSV"); an .xlsx workbook is read with openpyxl
(its first sheet). Inside a cell, list items are separated by `;` or `|` when the delimiter is `,` (or
tab), by `,` or `|` when it is `;`, and by any of `;`, `,` and `|` in a workbook.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import hashlib
import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from ...extensions import db
from ...input_checks import has_visible_text, single_line, text_problem
from ...models import Cohort, CohortParticipant, Company, Goal, MentorProfile, Tandem, Topic, User
from ...states import GoalStatus, ParticipantStatus, TandemStatus
from .. import accounts, companies, exports, fields, goals, profiles, tandems
from ..errors import CohortError, ImportConflict
from ..matching import taxonomy, vectors
from ..topics import MAX_TOPICS, TOPIC_MAX_LENGTH, planned_topics, resolve_topics
from . import enrolment

COLUMNS = ["email", "name", "role", "company", "headline", "text", "topics", "languages", "capacity",
           "exclude_companies"]
MAX_ROWS = 20_000


@dataclass
class RowProblem:
    row: int
    message: str
    email: str = ""  # whose row it is, as written in the file
    fields: list[str] = field(default_factory=list)  # the columns at fault, as named in the header


# The forms' limits, so that a row the preview accepts is one the database stores (PostgreSQL enforces them).
# Names and titles, stored as single lines (input_checks.single_line) as the forms store them.
LINE_COLUMNS = ("name", "company", "headline")
FIELD_LIMITS = {
    "name": (1, accounts.NAME_MAX),
    "company": (1, fields.COMPANY_MAX),
    "headline": (1, profiles.HEADLINE_MAX),
    "text": (fields.TEXT_MIN, fields.TEXT_MAX),
}


@dataclass
class PlannedRow:
    row: int
    email: str
    role: str
    action: str  # "create" or "update"
    title: str
    note: str = ""  # what else happens to this row, e.g. a finished goal re-opening for the cohort
    changes: str = ""  # what it rewrites of an existing account, profile or goal (the preview names it)


@dataclass
class ImportResult:
    errors: list[RowProblem] = field(default_factory=list)
    planned: list[PlannedRow] = field(default_factory=list)
    users_created: int = 0
    users_updated: int = 0
    mentors_saved: int = 0
    goals_saved: int = 0
    embedded: int = 0
    invited: list[str] = field(default_factory=list)
    dry_run: bool = False
    encoding: str = ""  # how the file was read ("UTF-8", "Windows-1252", "Excel workbook (.xlsx)", ...)

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        return _(
            "Imported %(rows)d rows: %(created)d new and %(updated)d existing people, %(mentors)d mentor "
            "profiles, %(goals)d goals; %(embedded)d texts embedded, %(invited)d invitations sent.",
            rows=len(self.planned), created=self.users_created, updated=self.users_updated,
            mentors=self.mentors_saved, goals=self.goals_saved, embedded=self.embedded, invited=len(self.invited),
        )


@dataclass
class ParsedRow:
    row: int
    email: str
    name: str
    role: str
    company: str
    headline: str
    text: str
    topics: list[str]
    languages: list[str]
    capacity: int
    exclude_companies: list[str]


# List items inside a cell, by the file's delimiter. A workbook (None) has no delimiter, so any of the three
# separates: people type "de, en" there as readily as "de;en".
LIST_SEPARATORS = {",": ";|", ";": ",|", "\t": ";|", None: ",;|"}
XLSX_LABEL = "Excel (.xlsx)"
TEMPLATE_ROWS = [
    ["lena@young.example", "Lena Berg", "mentor", "Young Digital GmbH", "I explain TikTok and LinkedIn",
     "Short video and personal branding for leaders.", "social-media;personal-branding", "de;en", "2", ""],
    ["kurt@old.example", "Kurt Alt", "mentee", "Old Industry AG", "Understand social media",
     "Our brand needs a voice on social media.", "social-media", "de", "", "Rival AG"],
]


def template_csv() -> str:
    """The import template as CSV: the header and two example rows, ready for Excel."""
    return exports.write_csv(COLUMNS, TEMPLATE_ROWS)


def template_xlsx() -> bytes:
    """The import template as a workbook (the same header and examples)."""
    return exports.write_xlsx([("participants", COLUMNS, TEMPLATE_ROWS)])


@dataclass
class SourceTable:
    """A file's cells, header first, as read: what the parser needs, whatever the format."""

    rows: list[list[str]]
    encoding: str  # shown in the preview
    separators: str  # the characters that separate list items inside a cell


def decode(data: bytes) -> tuple[str, str]:
    """The text of a CSV file and the name of the encoding it was read in.

    A BOM decides (UTF-16 or UTF-8); else UTF-8 when the bytes are valid UTF-8, else Windows-1252, the
    encoding of German Excel's "CSV" (a byte Windows-1252 leaves undefined is refused, naming its position).
    """
    for bom, codec, label in ((codecs.BOM_UTF16_LE, "utf-16", "UTF-16"), (codecs.BOM_UTF16_BE, "utf-16", "UTF-16"),
                              (codecs.BOM_UTF8, "utf-8-sig", "UTF-8")):
        if data.startswith(bom):
            try:
                return data.decode(codec), label
            except UnicodeDecodeError as problem:
                raise ValueError(_("The file starts like %(encoding)s but is not (byte %(pos)d). Save it again "
                                   "as 'CSV UTF-8' and try again.", encoding=label, pos=problem.start)) from None
    try:
        return data.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "Windows-1252"
    except UnicodeDecodeError as problem:
        raise ValueError(
            _("The file is neither UTF-8 nor Windows-1252 (byte %(pos)d). Save it as 'CSV UTF-8' and try again.",
              pos=problem.start)
        ) from None


def sniff_delimiter(text: str) -> str:
    """The delimiter of a CSV text: whichever of `,`, `;` and tab the header line holds most of."""
    header = text.split("\n", 1)[0]
    return max((",", ";", "\t"), key=header.count)


def _xlsx_text(value: object) -> str:
    """A workbook cell as the text a CSV would hold (2.0 typed as a capacity is "2")."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _read_xlsx(data: bytes) -> SourceTable:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError):
        raise ValueError(_("The file is not a readable Excel workbook (.xlsx). Save it again and try again.")) from None
    try:
        sheet = book.worksheets[0]
        rows = []
        for values in sheet.iter_rows(values_only=True):
            rows.append([_xlsx_text(value) for value in values])
            if len(rows) > MAX_ROWS + 1:
                break
    finally:
        book.close()
    return SourceTable(rows, XLSX_LABEL, LIST_SEPARATORS[None])


def read_table(data: bytes) -> SourceTable:
    """The cells of an uploaded file (CSV in any of the encodings above, or .xlsx); ValueError names the problem."""
    if data.startswith(b"PK\x03\x04"):  # a zip archive: the only spreadsheet format we read is .xlsx
        return _read_xlsx(data)
    text, encoding = decode(data)
    delimiter = sniff_delimiter(text)
    return SourceTable(list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)), encoding,
                       LIST_SEPARATORS[delimiter])


def parse(table: SourceTable) -> tuple[list[ParsedRow], list[RowProblem]]:
    """Check every row; answers the parsed rows and every problem found (all of them, not the first)."""
    if not table.rows:
        return [], [RowProblem(1, _("Missing column(s): %(cols)s.", cols=", ".join(COLUMNS)))]
    header = [name.strip().lower() for name in table.rows[0]]
    missing = [name for name in COLUMNS if name not in header]
    if missing:
        return [], [RowProblem(1, _("Missing column(s): %(cols)s.", cols=", ".join(missing)), fields=missing)]
    problems: list[RowProblem] = []
    rows: list[ParsedRow] = []
    for number, cells in enumerate(table.rows[1:], start=2):
        if number - 1 > MAX_ROWS:
            problems.append(RowProblem(number, _("Too many rows; at most %(n)d per file.", n=MAX_ROWS)))
            break
        if any(cell.strip() for cell in cells[len(header):]):
            problems.append(RowProblem(number, _("More fields than columns (a missing quote?).")))
            continue
        values = {name: (cells[i] if i < len(cells) else "").strip() for i, name in enumerate(header) if name}
        values.update({name: single_line(values[name]) for name in LINE_COLUMNS})
        if not any(values.values()):
            continue
        parsed = _parse_row(number, values, table.separators)
        if isinstance(parsed, RowProblem):
            problems.append(parsed)
        else:
            rows.append(parsed)
    problems.extend(_cross_row_problems(rows))
    return rows, problems


def _parse_row(number: int, values: dict[str, str], split: str) -> ParsedRow | RowProblem:
    """One non-empty row's cells (by column name) as a ParsedRow, or every reason it cannot be imported."""
    reasons = _unstorable(values)
    email = values["email"]
    try:
        email = accounts.clean_email(email)
    except accounts.AccountError:
        reasons.append(("email", _("'%(value)s' is not a valid e-mail address.", value=values["email"])))
    role = values["role"].lower()
    if role not in ("mentor", "mentee"):
        reasons.append(("role", _("role must be 'mentor' or 'mentee', not '%(value)s'.", value=values["role"])))
    reasons += _length_problems(values)
    excluded = fields.split_entries(values["exclude_companies"], split)
    try:
        goals.parse_company_names(excluded)
    except fields.ProfileError as problem:
        reasons.append(("exclude_companies", _("exclude_companies: %(problem)s",
                                               problem=problem.fields["excluded_companies"])))
    languages = [code.lower() for code in fields.split_entries(values["languages"], split)]
    reasons += _language_problems(languages)
    capacity, capacity_problems = _parse_capacity(values["capacity"])
    reasons += capacity_problems
    topics = fields.split_entries(values["topics"], split)
    reasons += _topic_problems(topics)
    if reasons:
        return RowProblem(number, "; ".join(message for _column, message in reasons), values["email"],
                          list(dict.fromkeys(column for column, _message in reasons)))
    return ParsedRow(number, email, values["name"], role, values["company"], values["headline"], values["text"],
                     topics, languages, capacity, excluded)


def _language_problems(languages: list[str]) -> list[tuple[str, str]]:
    if not languages:
        return [("languages", _("languages is empty (use ISO codes such as de;en)."))]
    bad = [code for code in languages if code not in fields.LANGUAGES]
    if bad:
        return [("languages", _("unknown language code(s): %(codes)s.", codes=", ".join(bad)))]
    return []


def _parse_capacity(cell: str) -> tuple[int, list[tuple[str, str]]]:
    """A mentor's capacity (1 when the cell is empty) and the problem with it, if any."""
    if not cell:
        return 1, []
    if not cell.isdigit() or not profiles.CAPACITY_MIN <= int(cell) <= profiles.CAPACITY_MAX:
        return 1, [("capacity", _("capacity must be a whole number from %(low)d to %(high)d.",
                                  low=profiles.CAPACITY_MIN, high=profiles.CAPACITY_MAX))]
    return int(cell), []


def _topic_problems(topics: list[str]) -> list[tuple[str, str]]:
    reasons = []
    if len(topics) > MAX_TOPICS:
        reasons.append(("topics", _("at most %(n)d topics.", n=MAX_TOPICS)))
    if any(len(topic) > TOPIC_MAX_LENGTH for topic in topics):
        reasons.append(("topics", _("a topic may have at most %(n)d characters.", n=TOPIC_MAX_LENGTH)))
    return reasons


def _unstorable(values: dict[str, str]) -> list[tuple[str, str]]:
    """Fields holding a NUL byte, which PostgreSQL cannot store."""
    return [(name, _("%(column)s: %(problem)s", column=name, problem=problem))
            for name, value in values.items() if (problem := text_problem(value))]


def _length_problems(values: dict[str, str]) -> list[tuple[str, str]]:
    reasons = []
    for name, (low, high) in FIELD_LIMITS.items():
        if not has_visible_text(values[name]):
            reasons.append((name, _("%(column)s is empty.", column=name)))
        elif not low <= len(values[name]) <= high:
            reasons.append((name, _("%(column)s must have %(low)d to %(high)d characters, not %(n)d.",
                                    column=name, low=low, high=high, n=len(values[name]))))
    return reasons


def _cross_row_problems(rows: list[ParsedRow]) -> list[RowProblem]:
    """A person's name, company and languages must agree across their rows; no duplicate entries."""
    problems = []
    first_row: dict[str, ParsedRow] = {}
    seen_entries: dict[tuple, int] = {}
    for row in rows:
        first = first_row.setdefault(row.email, row)
        if first is not row:
            for label, mine, theirs in (
                ("name", row.name, first.name),
                ("company", companies.company_key(row.company),
                 companies.company_key(first.company)),
                ("languages", sorted(row.languages), sorted(first.languages)),
            ):
                if mine != theirs:
                    problems.append(RowProblem(row.row, _("%(column)s differs from row %(other)d.",
                                                          column=label, other=first.row),
                                               row.email, [label]))
        key = (row.email, "mentor") if row.role == "mentor" else (row.email, "goal", row.headline.casefold())
        if key in seen_entries:
            what = _("mentor profile") if row.role == "mentor" else _("goal")
            problems.append(RowProblem(row.row, _("duplicate %(what)s, already in row %(other)d.",
                                                  what=what, other=seen_entries[key]),
                                       row.email, ["role" if row.role == "mentor" else "headline"]))
        else:
            seen_entries[key] = row.row
    return problems


def import_participants_file(
    path: Path, cohort_name: str | None = None, progress: Callable[[int, int], None] | None = None
) -> ImportResult:
    return import_participants(path.read_bytes(), cohort_name=cohort_name, progress=progress)


def import_participants(
    data: bytes,
    cohort_name: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    dry_run: bool = False,
    invite: bool = True,
    expected_plan: str | None = None,
) -> ImportResult:
    """Validate everything, encode the new texts with no transaction open, then write every row in one short
    transaction, or nothing; raises ImportConflict when someone changed the same people meanwhile. With
    `expected_plan` (a preview's plan_fingerprint), nothing is written unless the rows would do what it showed."""
    result = ImportResult(dry_run=dry_run)
    try:
        table = read_table(data)
    except ValueError as problem:
        result.errors.append(RowProblem(0, str(problem)))
        return result
    result.encoding = table.encoding
    rows, problems = parse(table)
    cohort = None
    if cohort_name:
        cohort = db.session.scalar(select(Cohort).where(Cohort.name == cohort_name))
        if cohort is None:
            problems.insert(0, RowProblem(0, _("No cohort called '%(name)s'. Create it first.", name=cohort_name)))
        else:
            try:
                enrolment.can_import(cohort)
            except CohortError as refusal:
                problems.insert(0, RowProblem(0, refusal.message))
    if not rows and not problems:
        problems.append(RowProblem(0, _("The file has no participant rows.")))
    existing = _existing_users(rows)
    problems.extend(_manager_rows(rows, existing))
    result.errors = problems
    result.planned = _plan(rows, existing, cohort)
    if not problems and expected_plan is not None and plan_fingerprint(result.planned) != expected_plan:
        problems.append(RowProblem(0, _("The people in this file changed since you checked the import (another "
                                        "import or an edit). Nothing was imported: check the import again.")))
    if problems or dry_run:
        return result
    # Encode first, with no transaction open: a 1,000-row import spent 53 s in the encoder inside its write
    # transaction, and SQLite refused every other request meanwhile ("database is locked").
    wanted = _texts_to_encode(rows, existing)
    db.session.commit()  # ends the read transaction (nothing was written): no lock or snapshot while encoding
    encoded = vectors.encode_texts(wanted, progress=progress)
    try:
        _write(rows, cohort, result, encoded, invite)
    except (ImportConflict, IntegrityError):
        db.session.rollback()
        raise ImportConflict() from None
    except Exception:
        db.session.rollback()
        raise
    return result


def _texts_to_encode(rows: list[ParsedRow], existing: dict[str, User]) -> list[str]:
    """The texts the rows will embed whose vector is not stored yet; reads, writes nothing."""
    config = vectors.encoder().config
    planned: dict[tuple[str, ...], list[Topic]] = {}
    detect = taxonomy.TopicDetector()  # one taxonomy read for the whole file
    wanted = []
    for row in rows:
        key = tuple(row.topics)
        if key not in planned:
            planned[key] = planned_topics(row.topics)
        user = existing.get(row.email)
        if row.role == "mentor":
            text = vectors.mentor_text_of(row.headline, row.text, planned[key])
            entity = user.mentor_profile if user else None
        else:
            text = vectors.goal_text_of(row.headline, row.text, planned[key], detect)
            entity = _find_goal(user, row.headline) if user else None
        if not vectors.is_current(entity, text, config):
            wanted.append(text)
    return wanted


def _write(rows: list[ParsedRow], cohort: Cohort | None, result: ImportResult, encoded: vectors.Encoded,
           invite: bool) -> None:
    """The one short write transaction: the people as checked, or ImportConflict when they changed meanwhile,
    with the new people's invitation links and mails (the outbox sends them after the commit). Nobody is
    imported without an invitation when the worker dies half-way."""
    from .. import emails

    existing = _existing_users(rows)
    if _plan(rows, existing, cohort) != result.planned:
        raise ImportConflict()
    new_users, mentors, goals = _apply(rows, cohort, result, existing)
    result.embedded = vectors.store_vectors(vectors.MENTOR, mentors, encoded)
    result.embedded += vectors.store_vectors(vectors.GOAL, goals, encoded)
    for user in new_users if invite else []:
        emails.send_invitation(user)
        result.invited.append(user.email)
    db.session.commit()


def _existing_users(rows: list[ParsedRow]) -> dict[str, User]:
    """Everyone the file names who already has an account, with profile and goals: a few queries, not
    several per row (a re-import of thousands of rows spent most of its time in those)."""
    emails = sorted({row.email for row in rows})
    found: dict[str, User] = {}
    for start in range(0, len(emails), 500):
        query = (
            select(User)
            .where(func.lower(User.email).in_(emails[start : start + 500]))
            .options(
                selectinload(User.mentor_profile).selectinload(MentorProfile.topics),
                selectinload(User.mentor_profile).selectinload(MentorProfile.excluded_companies),
                selectinload(User.goals).selectinload(Goal.topics),
                selectinload(User.goals).selectinload(Goal.excluded_companies),
            )
        )
        for user in db.session.scalars(query):
            found[accounts.normalise_email(user.email)] = user
    return found


def plan_fingerprint(planned: list[PlannedRow]) -> str:
    """A digest of what the rows would do (actions, notes and changes): equal plans, equal digests."""
    text = json.dumps([dataclasses.astuple(row) for row in planned], ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _manager_rows(rows: list[ParsedRow], existing: dict[str, User]) -> list[RowProblem]:
    """An import changes participants: a row naming a community manager's account (whose name, company and
    profile it would rewrite, and who would then be matched) is refused."""
    return [RowProblem(row.row, _("This is a community manager's account; an import changes participants only."),
                       row.email, ["email"])
            for row in rows if (user := existing.get(row.email)) is not None and user.is_manager]


def _plan(rows: list[ParsedRow], existing: dict[str, User], cohort: Cohort | None) -> list[PlannedRow]:
    """What each row does, with what it changes of an existing account, profile or goal; into a cohort, a finished
    goal re-opens unless a tandem still runs on it."""
    running = _running_tandems(existing) if cohort is not None else {}
    planned = []
    noted: set[str] = set()  # a person's account changes are named on their first row
    slugs: dict[tuple[str, ...], list[str]] = {}  # many rows name the same topics: planned once each
    for row in rows:
        key = tuple(row.topics)
        if key not in slugs:
            slugs[key] = sorted(topic.slug for topic in planned_topics(row.topics))
        user = existing.get(row.email)
        note, changes = "", []
        if user is not None and row.email not in noted:
            noted.add(row.email)
            changes.append(_account_changes(row, user))
        if row.role == "mentor":
            profile = user.mentor_profile if user is not None else None
            exists = profile is not None
            if profile is not None:
                changes.append(_changed_fields(row, slugs[key], profile.headline, profile.teaching_text,
                                             profile.language_list, profile.topics, profile.capacity))
        else:
            goal = _find_goal(user, row.headline) if user is not None else None
            exists = goal is not None
            if goal is not None:
                changes.append(_changed_fields(row, slugs[key], goal.title, goal.description, goal.language_list,
                                             goal.topics))
            if goal is not None and cohort is not None and goal.status != GoalStatus.OPEN:
                tandem = running.get(goal.id)
                note = _running_note(tandem) if tandem else _("The goal re-opens for this cohort.")
        planned.append(PlannedRow(row.row, row.email, row.role, "update" if exists else "create", row.headline,
                                  note, " ".join(changes)))
    return planned


def _account_changes(row: ParsedRow, user: User) -> str:
    """What the row changes of an existing account: its name, and its stated company unless a confirmed one
    stands (which an import never moves)."""
    changes = []
    if user.name != row.name:
        changes.append(_("name %(old)s → %(new)s", old=user.name, new=row.name))
    stated = companies.company_key(row.company)
    if user.verified_company is not None:
        if companies.company_key(user.verified_company.name) != stated:
            changes.append(_("company stays %(name)s (confirmed at the work address)", name=user.verified_company.name))
    elif user.company is None or companies.company_key(user.company.name) != stated:
        changes.append(_("company %(old)s → %(new)s", old=user.company.name if user.company else "–",
                         new=row.company))
    if not changes:
        return _("Existing account.")
    return _("Existing account: %(changes)s.", changes=", ".join(changes))


def _changed_fields(row: ParsedRow, topic_slugs: list[str], title: str, text: str, languages: list[str], topics,
                    capacity: int | None = None) -> str:
    """Which of a profile's or goal's fields the row rewrites, named as the file's columns."""
    changed = [name for name, differs in (
        ("headline", title != row.headline), ("text", text != row.text),
        ("languages", sorted(languages) != sorted(row.languages)),
        ("topics", sorted(t.slug for t in topics) != topic_slugs),
    ) if differs]
    if capacity is not None and capacity != row.capacity:
        changed.append(_("capacity %(old)d → %(new)d", old=capacity, new=row.capacity))
    if not changed:
        return _("Nothing else changes.")
    return _("Rewrites: %(fields)s.", fields=", ".join(changed))


def _running_tandems(existing: dict[str, User]) -> dict[int, Tandem]:
    """The running tandem on each of these people's goals that are not open (one query)."""
    goal_ids = [goal.id for user in existing.values() for goal in user.goals if goal.status != GoalStatus.OPEN]
    if not goal_ids:
        return {}
    query = select(Tandem).where(Tandem.goal_id.in_(goal_ids), Tandem.status == TandemStatus.ACTIVE).options(
        selectinload(Tandem.cohort))
    return {tandem.goal_id: tandem for tandem in db.session.scalars(query)}


def _running_note(tandem: Tandem) -> str:
    if tandem.cohort is None:
        return _("Already in a running tandem (outside any cohort): stays unmatched.")
    return _("Already in a running tandem (cohort %(cohort)s): stays unmatched.", cohort=tandem.cohort.name)


def _find_goal(user: User, title: str) -> Goal | None:
    return next((goal for goal in user.goals if goal.title.casefold() == title.casefold()), None)


# Long on purpose: one row's writes in order (person, topics, profile or goal, enrolment) around shared caches.
def _apply(
    rows: list[ParsedRow], cohort: Cohort | None, result: ImportResult, existing: dict[str, User]
) -> tuple[list[User], list[MentorProfile], list[Goal]]:
    """Write the rows; answers the new users and the saved profiles and goals."""
    new_users: list[User] = []
    mentors: list[MentorProfile] = []
    goals: list[Goal] = []
    people: dict[str, User] = {}
    # Many rows name the same topics and companies: resolve each once per import.
    topic_cache: dict[tuple[str, ...], list[Topic]] = {}
    company_cache: dict[str, Company | None] = {}
    moved: set[int | None] = set()  # old and new companies of people whose stated company the file changes
    running = _running_tandems(existing) if cohort is not None else {}

    def company(name: str) -> Company | None:
        key = companies.company_key(name)
        if key not in company_cache:
            company_cache[key] = companies.get_or_create_company(name)
        return company_cache[key]

    for row in rows:
        user = people.get(row.email) or existing.get(row.email)
        if user is None:
            user = accounts.create_user(row.email, row.name, None, company_name=row.company)
            # The community manager importing the list vouches for these people: their work domain
            # verifies their company without a mailbox check (the demo seed imports this way too).
            domain_company = companies.unconfirmed_domain_company(user)
            if domain_company is not None:
                companies.set_verified_company(user, domain_company)
            new_users.append(user)
            result.users_created += 1
        elif row.email not in people:
            user.name = row.name
            stated = company(row.company)
            if user.verified_company_id is None and user.company is not stated:
                moved.update({user.company_id, stated.id if stated else None})
                user.company = stated
            result.users_updated += 1
        people[row.email] = user
        key = tuple(row.topics)
        if key not in topic_cache:
            topic_cache[key] = resolve_topics(row.topics)
        topics = list(topic_cache[key])
        excluded = [company(name) for name in row.exclude_companies]
        if row.role == "mentor":
            profile = user.mentor_profile or MentorProfile(user=user)
            profile.headline = row.headline
            profile.teaching_text = row.text
            profile.languages = ",".join(row.languages)
            profile.capacity = row.capacity
            profile.topics = topics
            profile.excluded_companies = [c for c in excluded if c is not None]
            db.session.add(profile)
            mentors.append(profile)
            result.mentors_saved += 1
            goal = None
        else:
            goal = _find_goal(user, row.headline) or Goal(owner=user, title=row.headline)
            if cohort is not None and goal.status not in (None, GoalStatus.OPEN) and goal.id not in running:
                goal.status = GoalStatus.OPEN  # brought again into a new cohort, after its tandem ended
            goal.description = row.text
            goal.languages = ",".join(row.languages)
            goal.topics = topics
            goal.excluded_companies = [c for c in excluded if c is not None]
            db.session.add(goal)
            goals.append(goal)
            result.goals_saved += 1
        if cohort is not None:
            _enrol(cohort, user, row.role, goal)
    db.session.flush()
    tandems.recheck_open_pairings(moved)
    return new_users, mentors, goals


def _enrol(cohort: Cohort, user: User, role: str, goal: Goal | None) -> None:
    participant = db.session.scalar(
        select(CohortParticipant).where(
            CohortParticipant.cohort_id == cohort.id, CohortParticipant.user_id == user.id,
            CohortParticipant.role == role,
        )
    )
    if participant is None:
        participant = CohortParticipant(cohort=cohort, user=user, role=role, goal=goal)
        db.session.add(participant)
    elif participant.goal is None and goal is not None:
        participant.goal = goal
    participant.status = ParticipantStatus.ACCEPTED
    db.session.flush()
