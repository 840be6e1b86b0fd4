"""E-mail settings per kind, and the one-click unsubscribe link every non-essential e-mail carries."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, login_required

from ..services import preferences, profiles, request_expiry
from .forms import settings_form

bp = Blueprint("preferences", __name__)


@bp.route("/settings/notifications", methods=["GET", "POST"])
@login_required
def settings() -> ResponseReturnValue:
    form = settings_form(preferences.settings_of(current_user))
    if form.validate_on_submit():
        kinds = (*preferences.KINDS, *preferences.OPT_IN)
        preferences.save(current_user, {kind: form[kind].data for kind in kinds})
        flash(_("Your e-mail settings are saved."), "success")
        return redirect(url_for("preferences.settings"))
    return render_template("preferences/settings.html", form=form,
                           kinds=(*preferences.KINDS, *preferences.OPT_IN)), 200 if not form.errors else 422


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
def unsubscribe(token: str) -> ResponseReturnValue:
    """RFC 8058: mail clients POST here without a session or CSRF token; a GET asks for confirmation first,
    because link scanners follow GET links."""
    found = preferences.read_token(token)
    if found is None:
        abort(404)
    user, kind = found
    label = preferences.KINDS.get(kind) or preferences.OPT_IN.get(kind) or _("Daily digest")
    if request.method == "POST":
        preferences.unsubscribe(user, kind)
        return render_template("preferences/unsubscribed.html", label=label)
    return render_template("preferences/unsubscribe.html", label=label, token=token)


@bp.route("/back/<token>", methods=["GET", "POST"])
def back(token: str) -> ResponseReturnValue:
    """"I'm back" from the e-mail of a mentor paused for inactivity: POSTed without a session or CSRF token
    (one click), the signed token is the proof; a GET asks first, as link scanners follow GET links."""
    profile = request_expiry.read_back_token(token)
    if profile is None:
        abort(404)
    if request.method == "POST" and not profile.is_open:
        profiles.set_mentor_open(profile, True)
        return render_template("preferences/back.html", done=True)
    return render_template("preferences/back.html", done=profile.is_open, token=token)
