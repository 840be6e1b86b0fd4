"""A cohort's freed slots: the manager confirms the proposed waiting mentee for a mentor whose tandem ended early.

Registered inside the cohorts blueprint (endpoint "cohorts.freed_slots.confirm"); the proposals themselves are
shown on the cohort page (services/rematching.py computes them). Nothing is paired without this POST.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, url_for
from flask_babel import gettext as _

from ..access import get_or_404
from ..admin.decorators import manager_required
from ..forms import place_errors
from ..models import Cohort
from ..services import rematching
from ..services.cohorts.enrolment import CohortError
from .forms import FreedSlotForm

bp = Blueprint("freed_slots", __name__, url_prefix="/<int:cohort_id>/freed-slots")


@bp.post("")
@manager_required
def confirm(cohort_id: int):
    cohort = get_or_404(Cohort, cohort_id)
    form = FreedSlotForm()
    if not form.validate_on_submit():
        flash(_("That did not work; please reload the page and try again."), "error")
    else:
        try:
            tandem = rematching.confirm(cohort, form.mentor_id.data, form.participant_id.data)
        except CohortError as problem:
            if problem.status == 404:
                raise
            place_errors(None, problem)
        else:
            flash(_("%(mentor)s and %(mentee)s are paired; both are told.",
                    mentor=tandem.mentor_user.name, mentee=tandem.mentee.name), "success")
    return redirect(url_for("cohorts.detail", cohort_id=cohort_id, _anchor="freed-slots"))
