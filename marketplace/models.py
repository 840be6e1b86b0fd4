"""Tables only: columns, relations and small properties. The rules live in services/."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    event,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from . import names, states
from .extensions import db
from .states import (
    CohortState,
    EmailStatus,
    GoalStatus,
    ImportStatus,
    MeetingStatus,
    ParticipantStatus,
    ProposalStatus,
    SlotStatus,
    TandemStatus,
)


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """A stored timestamp as an aware UTC datetime (SQLite hands back naive ones)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


# Ids are INTEGER columns: a larger id cannot exist, and asking the database would overflow.
MAX_ID = 2**31 - 1


def get_by_id(model: type, entity_id: int, options: Sequence[Any] = ()):
    """A row by id, or None, answering out-of-range ids without asking the database; `options` are loader
    options (the relationships to load in the same query)."""
    return db.session.get(model, entity_id, options=options) if 0 < entity_id <= MAX_ID else None


def split_languages(value: str | None) -> list[str]:
    return [code for code in (value or "").split(",") if code]


def _link_table(name: str, **targets: str) -> Table:
    """A many-to-many link table: each column (name=target table) a cascading foreign key, together the key."""
    columns = [Column(column, ForeignKey(f"{table}.id", ondelete="CASCADE"), primary_key=True)
               for column, table in targets.items()]
    return Table(name, db.metadata, *columns)


def _unique_where(name: str, column: str, condition: str) -> Index:
    """A partial unique index, the same on SQLite and PostgreSQL: `column` is unique among the rows where
    `condition` (SQL) holds."""
    return Index(name, column, unique=True, sqlite_where=text(condition), postgresql_where=text(condition))


competitor_links = _link_table("competitor_link", company_id="company", competitor_id="company")
mentor_topics = _link_table("mentor_topic", mentor_id="mentor_profile", topic_id="topic")
goal_topics = _link_table("goal_topic", goal_id="goal", topic_id="topic")
goal_excluded_companies = _link_table("goal_excluded_company", goal_id="goal", company_id="company")
mentor_excluded_companies = _link_table("mentor_excluded_company", mentor_id="mentor_profile", company_id="company")
cohort_topics = _link_table("cohort_topic", cohort_id="cohort", topic_id="topic")


class AppMeta(db.Model):
    """Key/value facts about this database: its random identity and the vector index version."""

    __tablename__ = "app_meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(255))


# app_meta's key of the reference token: a random value that the database's own triggers replace in the
# transaction of every change to a taxonomy topic or a competitor link, whatever code or SQL made it, so a
# process may keep what it read of those while the token is unchanged (matching.reference). Random, not a
# counter: a value that a rolled-back transaction set never comes back with other rows behind it.
REFERENCE_TOKEN_KEY = "reference_token"
REFERENCE_TOKEN_DIALECTS = ("postgresql", "sqlite")  # elsewhere no triggers: nothing is kept
_NEW_TOKEN = {
    "postgresql": "md5(random()::text || clock_timestamp()::text)",
    "sqlite": "lower(hex(randomblob(16)))",
}
# (trigger, table, event, row condition): free tags are no part of the taxonomy and are created with profiles.
_REFERENCE_TRIGGERS = (
    ("topic_insert_reference_token", "topic", "INSERT", "NOT NEW.is_free_tag"),
    ("topic_update_reference_token", "topic", "UPDATE", "NOT OLD.is_free_tag OR NOT NEW.is_free_tag"),
    ("topic_delete_reference_token", "topic", "DELETE", "NOT OLD.is_free_tag"),
    ("competitor_link_insert_reference_token", "competitor_link", "INSERT", None),
    ("competitor_link_update_reference_token", "competitor_link", "UPDATE", None),
    ("competitor_link_delete_reference_token", "competitor_link", "DELETE", None),
)
# (trigger, table) of PostgreSQL's statement-level TRUNCATE triggers (SQLite has no TRUNCATE).
_TRUNCATE_TRIGGERS = tuple((f"{table}_truncate_reference_token", table) for table in ("topic", "competitor_link"))


def reference_token_ddl(dialect: str) -> list[str]:
    """The statements that (re)create the reference token's triggers on `dialect` (none elsewhere): run by
    create_all (below) and by the migration that added them."""
    if dialect not in REFERENCE_TOKEN_DIALECTS:
        return []
    update = f"UPDATE app_meta SET value = {_NEW_TOKEN[dialect]} WHERE key = '{REFERENCE_TOKEN_KEY}'"
    statements = drop_reference_token_ddl(dialect)
    if dialect == "sqlite":
        return statements + [
            f"CREATE TRIGGER {name} AFTER {action} ON {table}{f' WHEN {condition}' if condition else ''} "
            f"BEGIN {update}; END"
            for name, table, action, condition in _REFERENCE_TRIGGERS
        ]
    statements.append(
        "CREATE OR REPLACE FUNCTION new_reference_token() RETURNS trigger LANGUAGE plpgsql AS "
        f"$$ BEGIN {update}; RETURN NULL; END $$"
    )
    statements += [
        f"CREATE TRIGGER {name} AFTER {action} ON {table} FOR EACH ROW"
        f"{f' WHEN ({condition})' if condition else ''} EXECUTE FUNCTION new_reference_token()"
        for name, table, action, condition in _REFERENCE_TRIGGERS
    ]
    return statements + [
        f"CREATE TRIGGER {name} AFTER TRUNCATE ON {table} FOR EACH STATEMENT EXECUTE FUNCTION new_reference_token()"
        for name, table in _TRUNCATE_TRIGGERS
    ]


def drop_reference_token_ddl(dialect: str) -> list[str]:
    """The statements that drop the reference token's triggers (if there) on `dialect`."""
    if dialect not in REFERENCE_TOKEN_DIALECTS:
        return []
    if dialect == "sqlite":
        return [f"DROP TRIGGER IF EXISTS {name}" for name, *_ in _REFERENCE_TRIGGERS]
    names = [(name, table) for name, table, *_ in _REFERENCE_TRIGGERS] + list(_TRUNCATE_TRIGGERS)
    return [f'DROP TRIGGER IF EXISTS {name} ON "{table}"' for name, table in names]


@event.listens_for(db.metadata, "after_create")
def _create_reference_token_triggers(metadata, connection, **kw) -> None:
    for statement in reference_token_ddl(connection.dialect.name):
        connection.exec_driver_sql(statement)


class Company(db.Model):
    __tablename__ = "company"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    normalised_name: Mapped[str] = mapped_column(String(200), unique=True, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    domains: Mapped[list[CompanyDomain]] = relationship(
        back_populates="company", cascade="all, delete-orphan", order_by="CompanyDomain.domain"
    )
    # Stored in one direction; services.companies reads both directions.
    competitors: Mapped[list[Company]] = relationship(
        secondary=competitor_links,
        primaryjoin=lambda: Company.id == competitor_links.c.company_id,
        secondaryjoin=lambda: Company.id == competitor_links.c.competitor_id,
    )

    def __repr__(self) -> str:
        return f"<Company {self.name!r}>"


class CompanyDomain(db.Model):
    __tablename__ = "company_domain"
    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("company.id", ondelete="CASCADE"), index=True)
    domain: Mapped[str] = mapped_column(String(200), unique=True)
    company: Mapped[Company] = relationship(back_populates="domains")


class User(UserMixin, db.Model):
    __tablename__ = "user"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True, index=True)
    name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    is_manager: Mapped[bool] = mapped_column(Boolean, default=False)
    locale: Mapped[str | None] = mapped_column(String(8))
    # IANA name ("Europe/Berlin"); None until the browser or the account page sets it (services/timezones.py).
    time_zone: Mapped[str | None] = mapped_column(String(64))
    # What the person said; a manager or an e-mail domain can set the verified one, which wins.
    company_id: Mapped[int | None] = mapped_column(ForeignKey("company.id", ondelete="SET NULL"))
    verified_company_id: Mapped[int | None] = mapped_column(ForeignKey("company.id", ondelete="SET NULL"))
    # The company owning the address's domain, confirmed or not: the hard rules count the person as
    # working there too (it only restricts pairing). services.companies keeps it current.
    domain_company_id: Mapped[int | None] = mapped_column(ForeignKey("company.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    company: Mapped[Company | None] = relationship(foreign_keys=[company_id])
    verified_company: Mapped[Company | None] = relationship(foreign_keys=[verified_company_id])
    mentor_profile: Mapped[MentorProfile | None] = relationship(
        back_populates="user", uselist=False, cascade="all, delete-orphan"
    )
    goals: Mapped[list[Goal]] = relationship(
        back_populates="owner", cascade="all, delete-orphan", order_by="Goal.created_at"
    )

    # The server-side session this request is signed in with (services.accounts sets it); never stored.
    login_session_id = None

    def get_id(self) -> str:
        """Flask-Login's id: user and session record, so both the session and the remember cookie die with it."""
        return f"{self.id}:{self.login_session_id}"

    @property
    def effective_company(self) -> Company | None:
        return self.verified_company or self.company

    @property
    def effective_company_id(self) -> int | None:
        return self.verified_company_id or self.company_id

    @property
    def first_name(self) -> str:
        """The name to greet by ("Karl" for "Dr. Karl Hansekauf"); `name` stays as entered."""
        return names.first_name(self.name)

    @property
    def has_password(self) -> bool:
        return bool(self.password_hash)


# Every lookup by address compares lower(email) (accounts.find_user_by_email, an import's existing people), which
# the unique index on email cannot answer: without this one each lookup read the whole table, and an import of
# 20,000 people spent most of its write phase in those scans (bench/README.md, "Bulk import").
Index("ix_user_email_lower", func.lower(User.email))


class HashedSecretMixin:
    """A secret handed out once and kept only as its SHA-256 (accounts.hash_token), owned by one account."""

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ApiToken(HashedSecretMixin, db.Model):
    __tablename__ = "api_token"
    name: Mapped[str] = mapped_column(String(80))
    prefix: Mapped[str] = mapped_column(String(12))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    user: Mapped[User] = relationship()


class OneTimeToken(HashedSecretMixin, db.Model):
    """Password-reset and invitation links: stored hashed, expiring, usable once."""

    __tablename__ = "one_time_token"
    purpose: Mapped[str] = mapped_column(String(20))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    user: Mapped[User] = relationship()


class UserSession(db.Model):
    """One signed-in device: logout deletes its row, a password change or reset deletes them all."""

    __tablename__ = "user_session"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class LoginThrottle(db.Model):
    """Failed logins per account (`account:<e-mail>`) or per IP address and window (`ip:<seconds>:<address>`).

    In the database, so every worker process sees the same count.
    """

    __tablename__ = "login_throttle"
    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_failed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    blocked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class OutgoingEmail(db.Model):
    """The outbox: every message the platform sends, written in the transaction that causes it.

    A job (services/outbox.py) sends what is due and marks it sent. The key (kind, object, recipient user,
    occasion) makes a message exist once: a second nudge or a moved meeting is a new occasion.
    """

    __tablename__ = "outgoing_email"
    __table_args__ = (
        UniqueConstraint(
            "kind", "object_type", "object_id", "recipient_user_id", "occasion", name="uq_outgoing_email_key"
        ),
        # The next due message in one index step (outbox._claim_one): with the status index alone every claim
        # sorted all pending rows, so sending an import's 20,000 invitations cost 20,000 sorts of the outbox.
        Index("ix_outgoing_email_due", "status", "next_attempt_at", "id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    recipient: Mapped[str] = mapped_column(String(254), index=True)
    recipient_user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"), index=True)
    # None for essential mail (password reset, invitation, confirmation): no settings, no unsubscribe.
    kind: Mapped[str | None] = mapped_column(String(40))
    object_type: Mapped[str | None] = mapped_column(String(40))
    object_id: Mapped[int | None] = mapped_column(Integer)
    occasion: Mapped[str | None] = mapped_column(String(80))
    language: Mapped[str] = mapped_column(String(8), default="en")
    subject: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str | None] = mapped_column(Text)
    # An iCalendar invite (RFC 5545 text), sent as a text/calendar attachment.
    ics: Mapped[str | None] = mapped_column(Text)
    # pending -> sending -> sent (logged without a mail server); held until the daily digest takes it
    # (digested); see services/outbox.py.
    status: Mapped[str] = mapped_column(String(12), default=EmailStatus.PENDING, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    claim_token: Mapped[str | None] = mapped_column(String(32), index=True)  # the claimed row, found again
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    @property
    def delivered(self) -> bool:
        return self.status == EmailStatus.SENT


class NotificationSetting(db.Model):
    """How a person wants one kind of e-mail: instantly, in the daily digest, or not at all."""

    __tablename__ = "notification_setting"
    __table_args__ = (UniqueConstraint("user_id", "kind"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    mode: Mapped[str] = mapped_column(String(10))


class JobLease(db.Model):
    """The last period a periodic job ran in: of many workers, the one that moves it forward runs it."""

    __tablename__ = "job_lease"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    period: Mapped[int] = mapped_column(BigInteger, default=-1)
    holder: Mapped[str | None] = mapped_column(String(80))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Topic(db.Model):
    __tablename__ = "topic"
    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True, index=True)
    name_en: Mapped[str] = mapped_column(String(120))
    name_de: Mapped[str] = mapped_column(String(120))
    synonyms: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Seed topics form the taxonomy; free tags are created by users and carry no synonyms.
    is_free_tag: Mapped[bool] = mapped_column(Boolean, default=False)

    def display_name(self, locale: str | None = None) -> str:
        return self.name_de if (locale or "en").startswith("de") else self.name_en


class EmbeddedMixin:
    """A stored vector: the database is its source of truth, the FAISS index is derived."""

    vector: Mapped[bytes | None] = mapped_column(LargeBinary)
    vector_config: Mapped[str | None] = mapped_column(String(255))
    content_hash: Mapped[str | None] = mapped_column(String(64))


class SpokenLanguagesMixin:
    """The languages a mentor or a goal works in, stored as comma-separated codes ("de,en")."""

    languages: Mapped[str] = mapped_column(String(64), default="en")

    @property
    def language_list(self) -> list[str]:
        return split_languages(self.languages)


class MentorProfile(EmbeddedMixin, SpokenLanguagesMixin, db.Model):
    __tablename__ = "mentor_profile"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), unique=True)
    headline: Mapped[str] = mapped_column(String(160))
    teaching_text: Mapped[str] = mapped_column(Text)
    capacity: Mapped[int] = mapped_column(Integer, default=1)
    meetings_per_month: Mapped[int] = mapped_column(Integer, default=1)
    meeting_format: Mapped[str] = mapped_column(String(10), default="remote")
    city: Mapped[str | None] = mapped_column(String(120))
    is_open: Mapped[bool] = mapped_column(Boolean, default=True)
    # Set when requests left to expire paused the profile (services/request_expiry.py); `back_at` is the
    # last "I'm back", from which a new run of expired requests is counted.
    auto_paused_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    back_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    user: Mapped[User] = relationship(back_populates="mentor_profile")
    topics: Mapped[list[Topic]] = relationship(secondary=mentor_topics, order_by="Topic.name_en")
    excluded_companies: Mapped[list[Company]] = relationship(secondary=mentor_excluded_companies)


class Goal(EmbeddedMixin, SpokenLanguagesMixin, db.Model):
    __tablename__ = "goal"
    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(160))
    description: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default=GoalStatus.OPEN)
    discoverable: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    owner: Mapped[User] = relationship(back_populates="goals")
    topics: Mapped[list[Topic]] = relationship(secondary=goal_topics, order_by="Topic.name_en")
    excluded_companies: Mapped[list[Company]] = relationship(secondary=goal_excluded_companies)
    milestones: Mapped[list[Milestone]] = relationship(
        back_populates="goal", cascade="all, delete-orphan", order_by=lambda: (Milestone.position, Milestone.id)
    )

    STATUSES = tuple(GoalStatus)


class Milestone(db.Model):
    """A step towards a goal: the owner writes and orders them, both partners of its tandem tick them."""

    __tablename__ = "milestone"
    id: Mapped[int] = mapped_column(primary_key=True)
    goal_id: Mapped[int] = mapped_column(ForeignKey("goal.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer, default=0)
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    goal: Mapped[Goal] = relationship(back_populates="milestones")

    @property
    def done(self) -> bool:
        return self.done_at is not None


class VectorChange(db.Model):
    """Log of vector changes; its version lets every worker catch its index up incrementally."""

    __tablename__ = "vector_change"
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    entity_id: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Cohort(db.Model):
    __tablename__ = "cohort"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    meeting_target: Mapped[int] = mapped_column(Integer, default=6)
    enrolment_open: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[str] = mapped_column(String(12), default=CohortState.DRAFT)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    focus_topics: Mapped[list[Topic]] = relationship(secondary=cohort_topics, order_by="Topic.name_en")
    participants: Mapped[list[CohortParticipant]] = relationship(
        back_populates="cohort", cascade="all, delete-orphan"
    )

    STATES = tuple(CohortState)


class CohortParticipant(db.Model):
    __tablename__ = "cohort_participant"
    __table_args__ = (UniqueConstraint("cohort_id", "user_id", "role"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohort.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(10))
    goal_id: Mapped[int | None] = mapped_column(ForeignKey("goal.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(12), default=ParticipantStatus.APPLIED)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    cohort: Mapped[Cohort] = relationship(back_populates="participants")
    user: Mapped[User] = relationship()
    goal: Mapped[Goal | None] = relationship()

    STATUSES = tuple(ParticipantStatus)


class Tandem(db.Model):
    """A pair of one mentor and one mentee on one goal, from request (or cohort draft) to its end."""

    __tablename__ = "tandem"
    # No code path can give a goal two running tandems: the database refuses the second.
    __table_args__ = (_unique_where("uq_tandem_running_goal", "goal_id", "status = 'active'"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    goal_id: Mapped[int | None] = mapped_column(ForeignKey("goal.id", ondelete="SET NULL"), index=True)
    mentor_profile_id: Mapped[int | None] = mapped_column(ForeignKey("mentor_profile.id", ondelete="SET NULL"),
                                                          index=True)
    mentee_user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"), index=True)
    mentor_user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"), index=True)
    cohort_id: Mapped[int | None] = mapped_column(ForeignKey("cohort.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(12), index=True)
    request_message: Mapped[str] = mapped_column(Text, default="")
    response_message: Mapped[str] = mapped_column(Text, default="")
    end_reason: Mapped[str] = mapped_column(Text, default="")
    score: Mapped[float | None] = mapped_column()
    # Why a cohort pair was proposed, as codes with parameters worded when read (services/cohorts/explanations.py);
    # drafts matched before that hold plain text.
    reasons: Mapped[list[dict[str, Any] | str]] = mapped_column(JSON, default=list)
    locked: Mapped[bool] = mapped_column(Boolean, default=False)
    starts_on: Mapped[date | None] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    responded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    goal: Mapped[Goal | None] = relationship()
    mentor: Mapped[MentorProfile | None] = relationship()
    mentee: Mapped[User | None] = relationship(foreign_keys=[mentee_user_id])
    mentor_user: Mapped[User | None] = relationship(foreign_keys=[mentor_user_id])
    cohort: Mapped[Cohort | None] = relationship()
    meetings: Mapped[list[Meeting]] = relationship(
        back_populates="tandem", cascade="all, delete-orphan", order_by="Meeting.starts_at"
    )

    # The statuses and their groups are named in marketplace/states.py; these are the short names rules use.
    STATUSES = tuple(TandemStatus)
    OPEN_REQUEST = TandemStatus.REQUESTED
    OFFERED = TandemStatus.OFFERED
    PENDING_STATUSES = states.PENDING
    DRAFT = TandemStatus.DRAFT
    RUNNING = TandemStatus.ACTIVE
    CANCELLED = TandemStatus.CANCELLED
    EXPIRED = TandemStatus.EXPIRED
    SLOT_STATUSES = states.SLOT_TAKING
    GOAL_VISIBLE_STATUSES = states.GOAL_VISIBLE

    def involves(self, user: User) -> bool:
        return user.id in (self.mentee_user_id, self.mentor_user_id)

    @property
    def last_day(self) -> datetime | date | None:
        """The day the tandem ended (early or at its wrap-up), else the day it is planned to end: what its dates
        show."""
        return self.ended_at or self.ends_on


class Meeting(db.Model):
    __tablename__ = "meeting"
    id: Mapped[int] = mapped_column(primary_key=True)
    tandem_id: Mapped[int] = mapped_column(ForeignKey("tandem.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    # The start instant, stored in UTC; each partner sees it in their own time zone.
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    # The UTC day of `starts_at`, so both databases count one meeting per day (and per month) in SQL.
    held_on: Mapped[date] = mapped_column(Date)
    minutes: Mapped[int] = mapped_column(Integer, default=60)
    video_url: Mapped[str] = mapped_column(String(500), default="")
    topics_covered: Mapped[str] = mapped_column(Text, default="")
    # Only the author ever sees this.
    private_note: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(10), default=MeetingStatus.PLANNED, index=True)
    # The invite's SEQUENCE (RFC 5545): raised by every change the partners' calendars must pick up.
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    # The start time the reminder and the "did it take place?" question went out for (a moved meeting
    # differs, so it is asked again).
    reminded_for: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    outcome_asked_for: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    tandem: Mapped[Tandem] = relationship(back_populates="meetings")
    author: Mapped[User | None] = relationship()

    PLANNED, HELD, MISSED = MeetingStatus.PLANNED, MeetingStatus.HELD, MeetingStatus.MISSED
    STATUSES = tuple(MeetingStatus)

    @property
    def planned(self) -> bool:
        return self.status == self.PLANNED


class AvailabilityWindow(db.Model):
    """A weekly time a person is usually free ("Tuesday 18:00-20:00"), in their own time zone."""

    __tablename__ = "availability_window"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    weekday: Mapped[int] = mapped_column(Integer)  # 0 Monday ... 6 Sunday
    # Minutes after local midnight: the window is [starts_minute, ends_minute), ends_minute 1440 is midnight.
    starts_minute: Mapped[int] = mapped_column(Integer)
    ends_minute: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class MeetingProposal(db.Model):
    """Up to three times one partner proposes; the other picks one (it becomes a planned meeting) or asks
    for others. services/scheduling.py holds the rules."""

    __tablename__ = "meeting_proposal"
    # One open proposal per tandem: two partners proposing at once cannot both succeed.
    __table_args__ = (_unique_where("uq_meeting_proposal_open_tandem", "tandem_id", "status = 'open'"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    tandem_id: Mapped[int] = mapped_column(ForeignKey("tandem.id", ondelete="CASCADE"), index=True)
    proposer_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"), index=True)
    responder_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(10), default=ProposalStatus.OPEN, index=True)
    # The short note of a partner who declined all times and asks for others.
    note: Mapped[str] = mapped_column(Text, default="")
    meeting_id: Mapped[int | None] = mapped_column(ForeignKey("meeting.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    tandem: Mapped[Tandem] = relationship()
    proposer: Mapped[User | None] = relationship(foreign_keys=[proposer_id])
    meeting: Mapped[Meeting | None] = relationship()
    slots: Mapped[list[ProposalSlot]] = relationship(
        back_populates="proposal", cascade="all, delete-orphan", order_by="ProposalSlot.starts_at"
    )

    OPEN, PICKED, DECLINED, WITHDRAWN = (ProposalStatus.OPEN, ProposalStatus.PICKED, ProposalStatus.DECLINED,
                                         ProposalStatus.WITHDRAWN)
    STATUSES = (OPEN, PICKED, DECLINED, WITHDRAWN)


class ProposalSlot(db.Model):
    """One proposed time: what the meeting will be if it is picked."""

    __tablename__ = "proposal_slot"
    id: Mapped[int] = mapped_column(primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("meeting_proposal.id", ondelete="CASCADE"), index=True)
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # UTC
    minutes: Mapped[int] = mapped_column(Integer, default=60)
    video_url: Mapped[str] = mapped_column(String(500), default="")
    topic: Mapped[str] = mapped_column(Text, default="")
    # open while the proposal is; then picked, or lapsed (another was picked, or the proposal was closed).
    status: Mapped[str] = mapped_column(String(10), default=SlotStatus.OPEN)

    proposal: Mapped[MeetingProposal] = relationship(back_populates="slots")

    OPEN, PICKED, LAPSED = SlotStatus.OPEN, SlotStatus.PICKED, SlotStatus.LAPSED


class SurveyInvitation(db.Model):
    """Who was asked and whether they answered; the answer itself carries no user id."""

    __tablename__ = "survey_invitation"
    __table_args__ = (UniqueConstraint("cohort_id", "user_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohort.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SurveyResponse(db.Model):
    __tablename__ = "survey_response"
    id: Mapped[int] = mapped_column(primary_key=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohort.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(10))
    satisfaction: Mapped[int] = mapped_column(Integer)
    recommend: Mapped[int] = mapped_column(Integer)
    improve: Mapped[str] = mapped_column(Text, default="")
    created_on: Mapped[date] = mapped_column(Date, default=lambda: utcnow().date())


class Notification(db.Model):
    __tablename__ = "notification"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    # Rendered in the reader's language when read (services/notifications.py); `message` is the English
    # text, kept for rows written before keys existed.
    message_key: Mapped[str | None] = mapped_column(String(60))
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    message: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Reminder(db.Model):
    """A reminder that was given (half-time, no meeting lately, survey soon): one row per occasion, so a
    periodic job that runs again, or twice, reminds once."""

    __tablename__ = "reminder"
    __table_args__ = (UniqueConstraint("kind", "object_type", "object_id", "user_id", "occasion"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    object_type: Mapped[str] = mapped_column(String(20))
    object_id: Mapped[int] = mapped_column(Integer)
    occasion: Mapped[str] = mapped_column(String(60))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ImportJob(db.Model):
    """A confirmed participants import, run by a worker (services/cohorts/import_jobs.py), read by its page."""

    __tablename__ = "import_job"
    id: Mapped[int] = mapped_column(primary_key=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohort.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    # The staged upload (services/cohorts/upload.py); one job per upload, however often its confirm is clicked.
    token: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(10), default=ImportStatus.QUEUED)
    total_rows: Mapped[int] = mapped_column(Integer, default=0)
    rows_done: Mapped[int] = mapped_column(Integer, default=0)
    summary: Mapped[str] = mapped_column(Text, default="")
    invited: Mapped[list[str]] = mapped_column(JSON, default=list)
    problems: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The running worker touches heartbeat_at; a stale one means it died, and the sweep queues the job again.
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # runs started; >1: resumed


class PulseCheck(db.Model):
    """One partner asked, on one occasion (30 days in, every second meeting held), how the tandem goes.

    The partner never sees it; managers see the answers only in aggregate (services/pulse.py), and pair
    health reads whether one was low. After an account is deleted an answer stays without its person.
    """

    __tablename__ = "pulse_check"
    __table_args__ = (UniqueConstraint("tandem_id", "user_id", "occasion"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    tandem_id: Mapped[int] = mapped_column(ForeignKey("tandem.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"), index=True)
    role: Mapped[str] = mapped_column(String(10))
    occasion: Mapped[str] = mapped_column(String(40))
    asked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    usefulness: Mapped[int | None] = mapped_column(Integer)
    collaboration: Mapped[int | None] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, default="")

    tandem: Mapped[Tandem] = relationship()
