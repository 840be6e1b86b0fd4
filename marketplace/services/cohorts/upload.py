"""Browser import (CSV or .xlsx) into a cohort: upload, a dry-run preview row by row, then confirm.

The uploaded bytes wait on the server in a temporary file keyed by a random id, tied to the
manager and the cohort, and are validated again in full when the import runs: the browser never
carries a copy that could be changed between preview and confirm. The upload answers with a
redirect to the preview page of that id, so going Back never asks to send the file again.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from flask import current_app
from flask_babel import get_locale
from flask_babel import gettext as _

from ...extensions import db
from ...models import Cohort, User
from . import enrolment, imports

STAGED_FOR_SECONDS = 3600
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,64}$")


@dataclass
class PreviewRow:
    row: int
    email: str
    role: str
    title: str
    action: str  # "create", "update" or "refused"
    message: str = ""
    fields: list[str] = field(default_factory=list)  # the columns a refusal names


@dataclass
class Preview:
    rows: list[PreviewRow]
    ok: bool
    creates: int
    updates: int
    refused: int
    encoding: str  # how the file was read, e.g. "Windows-1252"


def _folder() -> Path:
    folder = Path(current_app.config["TANDEM_UPLOAD_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _paths(token: str) -> tuple[Path, Path]:
    if not _TOKEN.match(token or ""):
        raise enrolment.CohortError("upload_expired", _("The uploaded file has expired. Please upload it again."), 400)
    folder = _folder()
    return folder / f"{token}.csv", folder / f"{token}.json"


def _sweep(folder: Path) -> None:
    """Forget uploads nobody confirmed within the hour."""
    cutoff = time.time() - STAGED_FOR_SECONDS
    for path in folder.glob("*.*"):
        if path.suffix in (".csv", ".json") and path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)


def stage(data: bytes, cohort: Cohort, manager: User, filename: str = "") -> str:
    """Keep the upload for the preview and confirm steps; answers its random id."""
    folder = _folder()
    _sweep(folder)
    token = secrets.token_urlsafe(24)
    data_path, meta_path = _paths(token)
    data_path.write_bytes(data)
    meta = {"cohort_id": cohort.id, "user_id": manager.id, "filename": filename}
    meta_path.write_text(json.dumps(meta), encoding="utf-8")
    data_path.chmod(0o600)
    return token


def _meta(token: str, cohort: Cohort, manager: User) -> dict:
    """What stage (and the preview) noted about the upload; refuses a token not this manager's for this cohort."""
    meta_path = _paths(token)[1]
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        meta = {}
    if meta.get("cohort_id") != cohort.id or meta.get("user_id") != manager.id:
        raise enrolment.CohortError("upload_expired", _("The uploaded file has expired. Please upload it again."), 400)
    return meta


def _load(token: str, cohort: Cohort, manager: User) -> tuple[bytes, dict]:
    meta = _meta(token, cohort, manager)
    try:
        return _paths(token)[0].read_bytes(), meta
    except OSError:
        raise enrolment.CohortError("upload_expired", _("The uploaded file has expired. Please upload it again."),
                                  400) from None


def language(token: str, cohort: Cohort, manager: User) -> str | None:
    """The language the upload was previewed in (what the manager read), None before a preview or once expired."""
    try:
        return _meta(token, cohort, manager).get("locale")
    except enrolment.CohortError:
        return None


def staged_rows(token: str, cohort: Cohort, manager: User) -> int:
    """How many people the preview of this upload counted (0 before a preview); reads no file contents."""
    return int(_meta(token, cohort, manager).get("rows") or 0)


def discard(token: str) -> None:
    for path in _paths(token):
        path.unlink(missing_ok=True)


def preview(token: str, cohort: Cohort, manager: User) -> tuple[Preview, str]:
    """What importing the staged upload would do, row by row, without writing anything, and the name of the
    file it came from. Notes the number of people beside the upload, so confirming need not read it again."""
    enrolment.can_import(cohort)
    data, meta = _load(token, cohort, manager)
    result = imports.import_participants(data, cohort_name=cohort.name, dry_run=True)
    # What the manager is shown is what a confirm imports: the job refuses a plan that changed meanwhile.
    # The plan's notes are in the page's language: the job runs in it too (language), so the two compare.
    meta |= {"rows": len(result.planned), "plan": imports.plan_fingerprint(result.planned), "locale": str(get_locale())}
    _paths(token)[1].write_text(json.dumps(meta), encoding="utf-8")
    rows = [PreviewRow(p.row, p.email, p.role, p.title, p.action, " ".join(filter(None, (p.changes, p.note))))
            for p in result.planned]
    rows += [PreviewRow(e.row, e.email, "", "", "refused", e.message, e.fields) for e in result.errors]
    rows.sort(key=lambda r: (r.row, r.action != "refused"))
    return Preview(
        rows=rows, ok=result.ok,
        creates=sum(1 for r in rows if r.action == "create"),
        updates=sum(1 for r in rows if r.action == "update"),
        refused=len(result.errors), encoding=result.encoding,
    ), str(meta.get("filename") or "")


def run(token: str, cohort: Cohort, manager: User, progress: Callable[[int, int], None] | None = None
        ) -> imports.ImportResult:
    """Import the staged upload for real: every row validated again, and refused whole when what it would do is no
    longer what the manager's preview showed (another import or an edit changed the same people meanwhile); else
    written in one transaction, people enrolled as accepted."""
    enrolment.can_import(cohort)
    data, meta = _load(token, cohort, manager)
    try:
        result = imports.import_participants(data, cohort_name=cohort.name, progress=progress,
                                             expected_plan=meta.get("plan"))
    except imports.ImportConflict as conflict:
        raise enrolment.CohortError("import_conflict", str(conflict), 409) from None
    db.session.commit()  # the invitations were queued after the import's own commit
    return result
