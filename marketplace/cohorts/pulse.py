"""The pulse-check form: the asked partner answers two questions (and may comment); nobody else sees it.

Registered inside the cohorts blueprint (endpoints "cohorts.pulse.*", URLs /cohorts/pulse/...), for the
pulse checks of any running tandem, from a cohort or from a request.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from ..forms import place_errors
from ..models import PulseCheck
from ..services import meetings, pulse
from .forms import PulseForm

bp = Blueprint("pulse", __name__, url_prefix="/pulse")


def _own(check_id: int) -> PulseCheck:
    """Only the asked person sees a pulse check; for anyone else, the partner too, it does not exist."""
    check = pulse.own_check(check_id, current_user)
    if check is None:
        abort(404)
    return check


@bp.route("/<int:check_id>", methods=["GET", "POST"])
@login_required
def answer(check_id: int):
    check = _own(check_id)
    form = PulseForm()
    answerable = check.answered_at is None and pulse.is_open(check)
    if check.answered_at is None and form.validate_on_submit():
        try:
            pulse.submit(check, current_user, form.usefulness.data, form.collaboration.data, form.comment.data,
                         meetings.now())
        except pulse.PulseError as problem:
            if not place_errors(form, problem):
                return redirect(url_for(".answer", check_id=check.id))
        else:
            flash(_("Thank you! Your partner never sees your answers."), "success")
            return redirect(url_for("cohorts.meetings.tandem", tandem_id=check.tandem_id))
    partner = meetings.partner_of(check.tandem, current_user)
    status = 400 if form.errors else 200
    return render_template("cohorts/pulse.html", check=check, form=form, partner=partner,
                           answerable=answerable), status
