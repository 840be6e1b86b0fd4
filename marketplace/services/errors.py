"""Every refusal a service gives, in one shape: `code` for machines, `message` for people, `status` for
the API and `fields` (field name -> message) for forms and the API's "fields".

One error handler (marketplace/errors.py) turns an unhandled ServiceError into the API's error shape or an
error page; one helper (marketplace/forms.py, `place_errors`) shows it on a form. Each domain has its
subclass, so a view catches exactly the refusals of the service it calls.
"""

from __future__ import annotations

from typing import Self


class ServiceError(Exception):
    """A change a rule refuses; nothing of it was saved (the raiser rolled back or never wrote)."""

    def __init__(self, code: str, message: str, status: int = 409, fields: dict[str, str] | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.fields = dict(fields or {})

    @classmethod
    def on_field(cls, field: str, message: str, code: str = "invalid_fields", status: int = 422) -> Self:
        """A refusal about one field, shown beside it."""
        return cls(code, message, status, {field: message})

    @classmethod
    def invalid(cls, fields: dict[str, str]) -> Self:
        """Every field's problem at once (422), as forms show them side by side."""
        from flask_babel import gettext as _

        return cls("invalid_fields", _("Some fields are missing or wrong."), 422, fields)

    @property
    def field(self) -> str | None:
        """The first field the refusal names, if any."""
        return next(iter(self.fields), None)


class AccountError(ServiceError):
    """Sign-up, sign-in, passwords and e-mail addresses."""


class EmailTaken(AccountError):
    """Sign-up with an address that already has an account; `user` is that account (never shown on a page)."""

    def __init__(self, message: str, user):
        super().__init__("email_taken", message, 409, {"email": message})
        self.user = user


class AdminError(ServiceError):
    """A community manager's change to companies or topics."""


class ProfileError(ServiceError):
    """Mentor profiles, goals and their topics: bad fields (422) or, as ProfileConflict, a running tandem."""


class ProfileConflict(ProfileError):
    """The change is refused because of the object's state (a running tandem), not because of a field."""


class MatchingError(ServiceError):
    """Search input that cannot be searched."""


class TandemError(ServiceError):
    """Tandem requests and their answers."""


class MeetingError(ServiceError):
    """Meetings of a tandem."""


class CohortError(ServiceError):
    """Cohorts: planning, enrolment, matching, review and publishing."""


class SurveyError(ServiceError):
    """The wrap-up survey."""


class NudgeError(ServiceError):
    """A community manager's nudge to a running tandem's partners."""


class MilestoneError(ServiceError):
    """A refused milestone change; a bad field by default (422)."""

    def __init__(self, code: str, message: str, status: int = 422, fields: dict[str, str] | None = None):
        super().__init__(code, message, status, fields)


class PulseError(ServiceError):
    """A refused pulse-check answer; `field` names the form and API field it concerns."""

    def __init__(self, code: str, message: str, status: int = 422, field: str | None = None):
        super().__init__(code, message, status, {field: message} if field else None)


class ImportConflict(ServiceError):
    """Another import (or an edit) changed the same people between the check and the write: nothing was saved."""

    def __init__(self) -> None:
        from flask_babel import gettext as _

        super().__init__("import_conflict", _("Another import changed the same people at the same time, so nothing "
                                              "was imported. Please try again."), 409)
