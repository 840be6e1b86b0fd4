"""Accounts on the web: register, log in and out, passwords (change, reset, invitation), API tokens.

The views never commit: each change is one unit of work in services/account_actions.py (or the service it
calls), which commits.
"""

from __future__ import annotations

import json
from datetime import timedelta

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import format_timedelta, get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy.exc import IntegrityError

from ..extensions import db, limiter
from ..forms import EmptyForm, place_errors
from ..main.routes import safe_next
from ..models import User
from ..services import account_actions, accounts, companies, privacy, scheduling, throttle, timezones
from ..services.errors import AccountError, EmailTaken
from .forms import (
    ApiTokenForm,
    AvailabilityForm,
    ChangePasswordForm,
    DeleteAccountForm,
    ForgotPasswordForm,
    LoginForm,
    RegisterForm,
    SetPasswordForm,
    SettingsForm,
)

bp = Blueprint("auth", __name__, url_prefix="/auth")

# Only POSTs count: looking at the form is free, guessing passwords is not.
LOGIN_LIMIT = "10 per minute; 50 per hour"
REGISTER_LIMIT = "5 per minute"
MAIL_LIMIT = "5 per minute; 20 per hour"


def _ip_limit_in_redis() -> bool:
    """With Redis every worker shares Flask-Limiter's count; in memory it would be per worker, so the
    database counts failures per IP instead (services.throttle)."""
    return not current_app.config.get("RATELIMIT_STORAGE_URI", "memory://").startswith("memory://")


def _database_ip_limit_applies() -> bool:
    return current_app.config.get("RATELIMIT_ENABLED", True) and not _ip_limit_in_redis()


def _remember_cookie_present() -> bool:
    return current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token") in request.cookies


def start_session(user: User, remember: bool = False) -> None:
    """Log in on a fresh session, so a session id planted before login is worthless (fixation)."""
    locale = session.get("locale")
    session.clear()
    if locale:
        session["locale"] = locale  # the language choice is not a secret; keep it across login
    account_actions.begin_session(user)
    login_user(user, remember=remember)
    if not remember and _remember_cookie_present():
        # Someone else's "keep me logged in" cookie on this device must not outlive this login.
        session["_remember"] = "clear"


def _no_store(response: Response) -> Response:
    """Pages carrying secrets (a new token, a reset link's form) stay out of caches and history."""
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit(REGISTER_LIMIT, methods=["POST"])
def register() -> ResponseReturnValue:
    """Anyone may sign up; the e-mail domain can verify the company, which the matching rules rely on."""
    if current_user.is_authenticated:
        return redirect(url_for("main.dashboard"))
    form = RegisterForm()
    if request.method == "GET":
        form.language.data = session.get("locale") if session.get("locale") in ("en", "de") else get_locale().language
    if form.validate_on_submit():
        try:
            user, confirmation = account_actions.sign_up(
                form.email.data, form.name.data, form.password.data, form.company.data,
                form.language.data or get_locale().language, form.time_zone.data,
            )
        except EmailTaken as taken:
            db.session.rollback()
            return _account_exists(taken.user, form.email.data)
        except AccountError as problem:
            place_errors(form, problem)
        except IntegrityError:  # two sign-ups with one address at the same moment
            db.session.rollback()
            existing = accounts.find_user_by_email(form.email.data)
            if existing is not None:
                return _account_exists(existing, form.email.data)
            raise
        else:
            start_session(user)
            flash(_("Welcome to Tandem, %(name)s! Your account is ready.", name=user.first_name), "success")
            if confirmation is not None:
                flash(_("We have sent a link to %(email)s: open it to confirm your company.", email=user.email), "info")
            # Coming from "register as mentor/executive" on the landing page: go straight to that step.
            next_step = {"mentor": "mentors.edit_profile", "mentee": "goals.new"}.get(request.args.get("role", ""))
            return redirect(url_for(next_step or "main.dashboard"))
    return render_template("auth/register.html", form=form)


def _account_exists(user: User, typed: str) -> Response:
    """The page does not say that the address has an account (as with a password reset): that address is
    told by e-mail, and the browser hears only that a message went out."""
    account_actions.tell_account_exists(user)
    email = accounts.normalise_email(typed)
    flash(_("We have sent a message to %(email)s: please open it to continue.", email=email), "info")
    return redirect(url_for("auth.login"))


def _too_many_attempts(form: LoginForm, refusal: throttle.TooManyAttempts) -> Response:
    """The login page again with 429 and Retry-After: the browser is told when to come back, no thread waits."""
    wait = format_timedelta(timedelta(seconds=refusal.retry_after), threshold=1.1)
    if refusal.scope == "account":
        message = _(
            "Too many failed attempts for this account. Please try again in %(wait)s, or reset your password.",
            wait=wait,
        )
    else:
        message = _("Too many failed attempts from your network. Please try again in %(wait)s.", wait=wait)
    response = current_app.make_response((render_template("auth/login.html", form=form, login_error=message), 429))
    response.headers["Retry-After"] = str(refusal.retry_after)
    return response


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(LOGIN_LIMIT, methods=["POST"], exempt_when=lambda: not _ip_limit_in_redis())
def login() -> ResponseReturnValue:
    """Password login; per-IP and per-account throttles (services.throttle) slow down guessing."""
    target = safe_next(request.args.get("next"), url_for("main.dashboard"))
    if current_user.is_authenticated:
        return redirect(target)
    form = LoginForm()
    login_error = None
    if form.validate_on_submit():
        ip_address = request.remote_addr if _database_ip_limit_applies() else None
        try:
            user = accounts.login(form.email.data, form.password.data, ip_address)
        except throttle.TooManyAttempts as refusal:
            return _too_many_attempts(form, refusal)
        if user is not None:
            start_session(user, remember=form.remember.data)
            flash(_("You are logged in."), "success")
            return redirect(target)
        # One message for an unknown address and a wrong password alike.
        login_error = _("The e-mail address or the password is not correct.")
    return render_template("auth/login.html", form=form, login_error=login_error)


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    """POST with a CSRF token only, so another site cannot log people out."""
    if EmptyForm().validate_on_submit():
        if current_user.is_authenticated:
            # On the server too: a copy of this session's cookie or remember cookie is worthless now.
            account_actions.end_session(current_user._get_current_object())
        locale = session.get("locale")
        session.clear()
        logout_user()  # after clear(): it marks the remember-me cookie for removal
        if locale:
            session["locale"] = locale
        flash(_("You are logged out."), "info")
    return redirect(url_for("main.index"))


@bp.route("/forgot-password", methods=["GET", "POST"])
@limiter.limit(MAIL_LIMIT, methods=["POST"])
def forgot_password() -> ResponseReturnValue:
    """Mail a one-time reset link to the address, if it has an account."""
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        user = accounts.find_user_by_email(form.email.data)
        if user is not None:
            account_actions.send_password_reset(user)
        # The same answer either way, so this form does not reveal who has an account.
        email = accounts.normalise_email(form.email.data)
        message = _("If an account exists for %(email)s, we have sent it a link to choose a new password.", email=email)
        flash(message, "info")
        return redirect(url_for("auth.login"))
    return render_template("auth/forgot_password.html", form=form)


def _invalid_link(purpose: str) -> Response:
    """One clear page for unknown, used and expired links alike (it tells an attacker nothing)."""
    page = render_template("auth/link_invalid.html", purpose=purpose)
    return _no_store(current_app.make_response((page, 404)))


def _set_password_by_link(secret: str, purpose: str, template: str) -> ResponseReturnValue:
    """Reset and invitation links share one flow: a valid one-time token, a new password, logged in."""
    token = accounts.find_one_time_token(secret, purpose)
    if token is None:
        return _invalid_link(purpose)
    form = SetPasswordForm()
    if form.validate_on_submit():
        try:
            user = account_actions.use_one_time_token(secret, purpose, form.password.data)
        except AccountError as problem:
            place_errors(form, problem)
        else:
            if user is None:  # used up by a parallel request since the check above
                return _invalid_link(purpose)
            start_session(user)
            if purpose == "invite":
                flash(_("Welcome to Tandem, %(name)s! Your password is set.", name=user.first_name), "success")
            else:
                flash(_("Your password has been changed."), "success")
            return redirect(url_for("main.dashboard"))
    page = render_template(template, form=form, user=token.user)
    return _no_store(current_app.make_response(page))


@bp.route("/reset/<token>", methods=["GET", "POST"])
@limiter.limit(MAIL_LIMIT, methods=["POST"])
def reset_password(token: str) -> ResponseReturnValue:
    """The page behind the e-mailed reset link."""
    return _set_password_by_link(token, "reset", "auth/reset_password.html")


@bp.route("/invitation/<token>", methods=["GET", "POST"])
@limiter.limit(MAIL_LIMIT, methods=["POST"])
def accept_invitation(token: str) -> ResponseReturnValue:
    """Imported people have no password yet; the invitation link lets them set one."""
    return _set_password_by_link(token, "invite", "auth/invitation.html")


@bp.route("/confirm-company/<token>", methods=["GET", "POST"])
@limiter.limit(MAIL_LIMIT, methods=["POST"])
def confirm_company(token: str) -> ResponseReturnValue:
    """The page behind the e-mailed company link: confirming takes a button press, so a mail scanner
    that fetches every link cannot confirm on the owner's behalf."""
    found = accounts.find_one_time_token(token, accounts.COMPANY_CONFIRMATION)
    if found is None:
        return _invalid_link(accounts.COMPANY_CONFIRMATION)
    form = EmptyForm()
    if form.validate_on_submit():
        user = account_actions.confirm_company(token)
        if user is None:  # used up by a parallel request since the check above
            return _invalid_link(accounts.COMPANY_CONFIRMATION)
        flash(_("Thank you: your company is confirmed."), "success")
        return redirect(url_for("auth.account" if current_user.is_authenticated else "auth.login"))
    company = companies.unconfirmed_domain_company(found.user)
    page = render_template("auth/confirm_company.html", form=form, user=found.user, company=company)
    return _no_store(current_app.make_response(page))


@bp.post("/account/confirm-company")
@login_required
@limiter.limit(MAIL_LIMIT)
def resend_company_confirmation() -> ResponseReturnValue:
    """A new confirmation link (the older one dies), for a lost or expired mail."""
    if not EmptyForm().validate_on_submit():
        abort(400)
    if account_actions.resend_company_confirmation(current_user._get_current_object()) is not None:
        flash(_("We have sent a new link to %(email)s: open it to confirm your company.", email=current_user.email),
              "info")
    return redirect(url_for("auth.account"))


def _account_page(new_token: str | None = None, **forms: FlaskForm) -> Response:
    """The account page with any failed form kept (its errors beside the fields)."""
    # Never chosen: the language the page is shown in (the browser's), so that saving keeps it.
    locale = current_user.locale or session.get("locale") or get_locale().language
    forms.setdefault("settings_form", SettingsForm(formdata=None, locale=locale,
                                                   time_zone=timezones.name_of(current_user)))
    # Never chosen: static/timezone.js may preselect the browser's zone.
    chosen = "set" if current_user.time_zone else "unset"
    forms["settings_form"].time_zone.render_kw = {"data-browser-time-zone": chosen, "translate": "no"}
    forms.setdefault("password_form", ChangePasswordForm(formdata=None))
    forms.setdefault("token_form", ApiTokenForm(formdata=None))
    forms.setdefault("availability_form", AvailabilityForm(formdata=None, starts=18 * 60, ends=20 * 60))
    page = render_template(
        "auth/account.html",
        windows=[(window, scheduling.window_label(window)) for window in scheduling.windows_of(current_user)],
        button_form=EmptyForm(),
        tokens=accounts.active_tokens(current_user),
        new_token=new_token,
        unconfirmed_company=companies.unconfirmed_domain_company(current_user),
        confirmation_sent=accounts.has_live_link(current_user, accounts.COMPANY_CONFIRMATION),
        fallback_zone=timezones.FALLBACK,
        my_zone=timezones.name_of(current_user),
        **forms,
    )
    return _no_store(current_app.make_response(page))


@bp.get("/account")
@login_required
def account() -> ResponseReturnValue:
    """Details, language, password and API tokens in one place."""
    return _account_page()


@bp.post("/account/settings")
@login_required
def update_settings() -> ResponseReturnValue:
    """The language drives the pages and e-mails this person gets; the time zone how meeting times show."""
    form = SettingsForm()
    if not form.validate_on_submit():
        return _account_page(settings_form=form)
    account_actions.save_settings(current_user._get_current_object(), form.locale.data, form.time_zone.data)
    session["locale"] = form.locale.data
    flash(_("Your settings are saved."), "success")
    return redirect(url_for("auth.account"))


@bp.post("/account/availability")
@login_required
def add_availability() -> ResponseReturnValue:
    """A weekly window when the person is usually free; the proposal form suggests times inside it."""
    form = AvailabilityForm()
    if form.validate_on_submit():
        try:
            window = scheduling.add_window(current_user, form.weekday.data, form.starts.data, form.ends.data)
        except scheduling.SchedulingError as problem:
            getattr(form, problem.field or "weekday").errors.append(problem.message)
        else:
            flash(_("Window added: %(window)s.", window=scheduling.window_label(window)), "success")
            return redirect(url_for("auth.account", _anchor="account-availability"))
    response = _account_page(availability_form=form)
    response.status_code = 400
    return response


@bp.post("/account/availability/<int:window_id>/delete")
@login_required
def delete_availability(window_id: int) -> ResponseReturnValue:
    if not EmptyForm().validate_on_submit():
        abort(400)
    if not scheduling.delete_window(current_user, window_id):
        abort(404)
    flash(_("Window removed."), "info")
    return redirect(url_for("auth.account", _anchor="account-availability"))


@bp.post("/account/password")
@login_required
@limiter.limit(LOGIN_LIMIT)
def change_password() -> ResponseReturnValue:
    """Needs the current password, so an unattended open session cannot take the account over."""
    form = ChangePasswordForm()
    if form.validate_on_submit():
        if not accounts.check_password(current_user, form.current_password.data):
            form.current_password.errors.append(_("This is not your current password."))
        else:
            user = current_user._get_current_object()
            account_actions.change_password(user, form.password.data)  # ends every other session
            start_session(user, remember=_remember_cookie_present())
            flash(_("Your password has been changed. Other devices have been logged out."), "success")
            return redirect(url_for("auth.account"))
    return _account_page(password_form=form)


@bp.post("/account/tokens")
@login_required
def create_token() -> ResponseReturnValue:
    """A token for the JSON API, shown once."""
    form = ApiTokenForm()
    if not form.validate_on_submit():
        return _account_page(token_form=form)
    secret = account_actions.create_api_token(current_user, form.token_name.data)
    # Shown on this response only: the database keeps just its hash, and a flash would put it in the cookie.
    return _account_page(new_token=secret)


@bp.post("/account/tokens/<int:token_id>/revoke")
@login_required
def revoke_token(token_id: int) -> ResponseReturnValue:
    """Revoked tokens stop working at once; the row stays for the record."""
    if not EmptyForm().validate_on_submit():
        abort(400)
    if not account_actions.revoke_api_token(current_user, token_id):
        abort(404)
    flash(_("The token is revoked; programs using it can no longer sign in."), "success")
    return redirect(url_for("auth.account"))


@bp.get("/account/export.json")
@login_required
def export_data() -> ResponseReturnValue:
    """Everything Tandem holds about me, as a JSON download."""
    response = current_app.response_class(
        json.dumps(privacy.export_user_data(current_user), ensure_ascii=False, indent=2),
        mimetype="application/json",
    )
    response.headers["Content-Disposition"] = 'attachment; filename="tandem-my-data.json"'
    return _no_store(response)


@bp.route("/account/delete", methods=["GET", "POST"])
@login_required
def delete_account() -> ResponseReturnValue:
    """Deleting needs the password, so an unattended open session cannot erase an account."""
    form = DeleteAccountForm()
    if form.validate_on_submit():
        if not accounts.check_password(current_user, form.password.data):
            form.password.errors.append(_("This is not your current password."))
        else:
            user = current_user._get_current_object()
            logout_user()
            session.clear()
            privacy.delete_account(user)
            flash(_("Your account and your data have been deleted."), "info")
            return redirect(url_for("main.index"))
    return render_template("auth/delete_account.html", form=form)
