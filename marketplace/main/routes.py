"""Landing page, dashboard, notifications and the language switch.

The views never commit: the services they call commit their own unit of work.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required

from ..forms import EmptyForm
from ..services import account_actions, notifications
from ..services import dashboard as dashboard_service

bp = Blueprint("main", __name__)


def safe_next(target: str | None, fallback: str) -> str:
    """Only same-site relative targets, so no one can bounce users to another site."""
    if not target or "\\" in target or any(ord(c) < 32 for c in target):
        return fallback
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return fallback
    return target


@bp.get("/")
def index():
    if current_user.is_authenticated:
        return redirect(url_for("main.dashboard"))
    return render_template("main/index.html")


@bp.get("/dashboard")
@login_required
def dashboard():
    return render_template("main/dashboard.html", form=EmptyForm(), **dashboard_service.overview(current_user))


@bp.get("/notifications", endpoint="notifications")
@login_required
def notifications_page():
    items = notifications.recent(current_user)
    return render_template("main/notifications.html", items=items, form=EmptyForm())


@bp.post("/notifications/read")
@login_required
def mark_notifications_read():
    if EmptyForm().validate_on_submit():
        notifications.mark_all_read(current_user)
    return redirect(url_for("main.notifications"))


@bp.post("/language")
def set_language():
    form = EmptyForm()
    language = request.form.get("language")
    if form.validate_on_submit() and language in ("en", "de"):
        session["locale"] = language
        if current_user.is_authenticated:
            account_actions.save_language(current_user._get_current_object(), language)
    return redirect(safe_next(request.form.get("next"), url_for("main.index")))
