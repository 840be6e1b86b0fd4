"""The community-manager area: people and their verified companies, companies, topics and the outbox.

The views read forms and answer; every change is committed by the service that makes it (services/admin.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, abort, current_app, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _

from ..access import get_or_404
from ..forms import EmptyForm, place_errors
from ..input_checks import page_arg, query_checked_by_form
from ..models import Company, Topic, User, get_by_id
from ..services import admin as admin_service
from ..services import companies
from ..services import outbox as outbox_service
from ..services.errors import AdminError
from .decorators import manager_required
from .forms import (
    CompanyDomainsForm,
    CompanyNameForm,
    CompetitorForm,
    ConfirmMergeForm,
    MergeCompanyForm,
    SearchForm,
    TopicForm,
    VerifyCompanyForm,
)

bp = Blueprint("admin", __name__, url_prefix="/manage")


@bp.get("/")
@manager_required
def index():
    return render_template("admin/index.html", summary=admin_service.summary())


# People ---------------------------------------------------------------------------------------


@bp.get("/people")
@manager_required
@query_checked_by_form
def people():
    search = SearchForm(request.args)
    term = (search.q.data or "") if search.validate() else ""
    pagination = admin_service.people(term, page_arg())
    counts = admin_service.goal_counts([user.id for user in pagination.items])
    page = render_template("admin/people.html", search=search, term=term, pagination=pagination, goal_counts=counts)
    return page, 400 if search.errors else 200


def _render_person(user: User, form: VerifyCompanyForm | None = None, status: int = 200):
    if form is None:
        current = user.verified_company or user.company
        form = VerifyCompanyForm(data={"company": current.name if current else ""})
    goals_count = admin_service.goal_counts([user.id]).get(user.id, 0)
    return (
        render_template("admin/person.html", person=user, form=form, goals_count=goals_count, clear_form=EmptyForm()),
        status,
    )


@bp.get("/people/<int:user_id>")
@manager_required
def person(user_id: int):
    return _render_person(get_or_404(User, user_id))


@bp.post("/people/<int:user_id>/company")
@manager_required
def verify_company(user_id: int):
    user = get_or_404(User, user_id)
    form = VerifyCompanyForm()
    if not form.validate_on_submit():
        return _render_person(user, form, 400)
    try:
        company = admin_service.verify_company(user, form.company.data)
    except AdminError as problem:
        place_errors(form, problem)
        return _render_person(user, form, 400)
    flash(_("%(person)s now works for %(company)s (verified).", person=user.name, company=company.name), "success")
    return redirect(url_for("admin.person", user_id=user.id))


@bp.post("/people/<int:user_id>/company/clear")
@manager_required
def clear_company(user_id: int):
    user = get_or_404(User, user_id)
    if EmptyForm().validate_on_submit():
        admin_service.clear_verified_company(user)
        flash(_("The verified company of %(person)s was removed.", person=user.name), "info")
    return redirect(url_for("admin.person", user_id=user.id))


# Companies ------------------------------------------------------------------------------------


@bp.get("/companies")
@manager_required
@query_checked_by_form
def companies_list():
    search = SearchForm(request.args)
    term = (search.q.data or "") if search.validate() else ""
    pagination, rows = admin_service.companies_page(term, page_arg())
    page = render_template("admin/companies.html", search=search, term=term, pagination=pagination, rows=rows)
    return page, 400 if search.errors else 200


def _company_forms(company: Company, **bound: Any) -> dict[str, Any]:
    """The company page's forms: the one just submitted (with its errors) and fresh ones for the rest."""
    forms: dict[str, Any] = {
        "rename_form": CompanyNameForm(prefix="rename", data={"name": company.name}),
        "domains_form": CompanyDomainsForm(
            prefix="domains", data={"domains": "\n".join(d.domain for d in company.domains)}
        ),
        "competitor_form": CompetitorForm(prefix="competitor", formdata=None),
        "remove_form": EmptyForm(),
        "merge_form": MergeCompanyForm(prefix="merge", formdata=None),
    }
    forms.update(bound)
    return forms


def _render_company(company: Company, status: int = 200, **bound: Any):
    return (
        render_template(
            "admin/company.html",
            company=company,
            competitors=companies.all_competitors(company),
            people=admin_service.people_at(company),
            **_company_forms(company, **bound),
        ),
        status,
    )


def _company_change(company: Company, form_class: type, prefix: str, change: Callable[[Any], Any]) -> Any:
    """Run the change a company-page form (`prefix`) asks for and answer its result; when the input is invalid
    or the change is refused, abort with the page again, the problem beside its field (400)."""
    form = form_class(prefix=prefix)
    if form.validate_on_submit():
        try:
            return change(form)
        except AdminError as problem:
            place_errors(form, problem)
    abort(make_response(_render_company(company, 400, **{f"{prefix}_form": form})))


@bp.get("/companies/<int:company_id>")
@manager_required
def company(company_id: int):
    return _render_company(get_or_404(Company, company_id))


@bp.post("/companies/<int:company_id>/name")
@manager_required
def rename_company(company_id: int):
    company = get_or_404(Company, company_id)
    old_name = company.name
    _company_change(
        company, CompanyNameForm, "rename", lambda form: admin_service.rename_company(company, form.name.data)
    )
    flash(_("%(old)s is now called %(new)s.", old=old_name, new=company.name), "success")
    return redirect(url_for("admin.company", company_id=company.id))


@bp.post("/companies/<int:company_id>/domains")
@manager_required
def company_domains(company_id: int):
    company = get_or_404(Company, company_id)
    domains = _company_change(
        company, CompanyDomainsForm, "domains", lambda form: admin_service.set_domains(company, form.domains.data or "")
    )
    if domains:
        flash(
            _("E-mail domains of %(company)s saved: %(domains)s.", company=company.name, domains=", ".join(domains)),
            "success",
        )
    else:
        flash(_("%(company)s has no e-mail domains now.", company=company.name), "info")
    return redirect(url_for("admin.company", company_id=company.id))


@bp.post("/companies/<int:company_id>/competitors")
@manager_required
def add_competitor(company_id: int):
    company = get_or_404(Company, company_id)
    other = _company_change(
        company, CompetitorForm, "competitor", lambda form: admin_service.add_competitor(company, form.name.data)
    )
    flash(
        _("%(a)s and %(b)s are now competitors: they are never matched with each other.", a=company.name, b=other.name),
        "success",
    )
    return redirect(url_for("admin.company", company_id=company.id))


@bp.post("/companies/<int:company_id>/competitors/<int:other_id>/remove")
@manager_required
def remove_competitor(company_id: int, other_id: int):
    company = get_or_404(Company, company_id)
    other = get_or_404(Company, other_id)
    if EmptyForm().validate_on_submit():
        admin_service.remove_competitor(company, other)
        flash(_("%(a)s and %(b)s are no longer competitors.", a=company.name, b=other.name), "info")
    return redirect(url_for("admin.company", company_id=company.id))


@bp.post("/companies/<int:company_id>/merge/review")
@manager_required
def review_merge(company_id: int):
    """Say what a merge would move and ask to confirm it; changes nothing."""
    company = get_or_404(Company, company_id)
    survivor = _company_change(
        company, MergeCompanyForm, "merge", lambda form: admin_service.merge_target(company, form.into.data)
    )
    return render_template(
        "admin/company_merge.html",
        company=company,
        survivor=survivor,
        summary=companies.merge_summary(company),
        tandems_inside=companies.running_tandems_sharing_after_merge(survivor.id, company.id),
        form=ConfirmMergeForm(formdata=None, data={"survivor_id": survivor.id}),
    )


@bp.post("/companies/<int:company_id>/merge")
@manager_required
def merge_company(company_id: int):
    company = get_or_404(Company, company_id)
    form = ConfirmMergeForm()
    survivor_id = request.form.get("survivor_id", type=int)
    survivor = get_by_id(Company, survivor_id) if survivor_id else None
    if not form.validate_on_submit() or survivor is None or survivor.id == company.id:
        flash(_("The merge was not confirmed; nothing changed."), "error")
        return redirect(url_for("admin.company", company_id=company.id))
    name = company.name
    companies.merge_companies(survivor, company)
    flash(_("%(old)s was merged into %(new)s.", old=name, new=survivor.name), "success")
    return redirect(url_for("admin.company", company_id=survivor.id))


# Topics ---------------------------------------------------------------------------------------


@bp.get("/topics")
@manager_required
def topics():
    return render_template(
        "admin/topics.html",
        taxonomy=admin_service.taxonomy(),
        free_tags=admin_service.free_tags(),
        promote_form=EmptyForm(),
    )


@bp.route("/topics/new", methods=["GET", "POST"])
@manager_required
def new_topic():
    form = TopicForm()
    if form.validate_on_submit():
        try:
            topic = admin_service.create_topic(form.name_en.data, form.name_de.data, form.synonyms.data or "")
        except AdminError as problem:
            place_errors(form, problem)
        else:
            flash(_("Topic “%(name)s” added to the taxonomy.", name=topic.name_en), "success")
            return redirect(url_for("admin.topics"))
    status = 400 if form.errors else 200
    return render_template("admin/topic_form.html", form=form, topic=None), status


@bp.route("/topics/<int:topic_id>", methods=["GET", "POST"])
@manager_required
def edit_topic(topic_id: int):
    topic = get_or_404(Topic, topic_id)
    if request.method == "GET":
        form = TopicForm(
            data={"name_en": topic.name_en, "name_de": topic.name_de, "synonyms": "\n".join(topic.synonyms or [])}
        )
    else:
        form = TopicForm()
    if form.validate_on_submit():
        try:
            admin_service.update_topic(topic, form.name_en.data, form.name_de.data, form.synonyms.data or "")
        except AdminError as problem:
            place_errors(form, problem)
        else:
            flash(_("Topic “%(name)s” saved.", name=topic.name_en), "success")
            return redirect(url_for("admin.topics"))
    status = 400 if form.errors else 200
    return render_template("admin/topic_form.html", form=form, topic=topic), status


@bp.post("/topics/<int:topic_id>/promote")
@manager_required
def promote_topic(topic_id: int):
    topic = get_or_404(Topic, topic_id)
    if EmptyForm().validate_on_submit():
        admin_service.promote_topic(topic)
        flash(
            _("“%(name)s” is now part of the taxonomy. Add its German name and synonyms.", name=topic.name_en),
            "success",
        )
        return redirect(url_for("admin.edit_topic", topic_id=topic.id))
    return redirect(url_for("admin.topics"))


# Outbox ---------------------------------------------------------------------------------------


@bp.get("/outbox")
@manager_required
def outbox():
    return render_template(
        "admin/outbox.html",
        pagination=admin_service.outbox(page_arg()),
        mail_configured=bool(current_app.config.get("MAIL_SERVER")),
        personal_link_kinds=outbox_service.PERSONAL_LINK_KINDS,
    )
