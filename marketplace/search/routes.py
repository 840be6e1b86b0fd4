"""Search mentors by topic, in the user's own words."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_babel import get_locale
from flask_login import current_user, login_required

from ..forms import place_errors
from ..input_checks import query_checked_by_form
from ..services import companies
from ..services.errors import MatchingError
from ..services.matching import search, taxonomy
from .forms import MentorSearchForm

bp = Blueprint("search", __name__, url_prefix="/search")


@bp.get("/mentors")
@login_required
@query_checked_by_form
def mentors():
    form = MentorSearchForm(request.args)
    results: list[search.MentorMatch] = []
    searched = "q" in request.args
    unknown_companies: dict[str, list[str]] = {}  # a name left out that is no company -> names it may have meant
    found_without_filters = 0
    if searched and form.validate():
        left_out = companies.left_out_companies(form.exclude.data, current_user)
        unknown_companies = left_out.unknown
        filters = {"language": form.language.data or None, "meeting_format": form.format.data or None,
                   "exclude_company_ids": left_out.company_ids}
        try:
            results = search.search_mentors(form.q.data, current_user, k=form.k.data or 10, **filters)
            if not results and any(filters.values()):  # say whether the filters are what leaves nobody
                found_without_filters = len(search.search_mentors(form.q.data, current_user, k=search.MAX_K))
        except MatchingError as problem:
            place_errors(form, problem)
    locale = str(get_locale())
    # A search that finds nobody offers the taxonomy's topics to pick from.
    topics = taxonomy.seed_topics(locale) if searched and not form.errors and not results else []
    page = render_template(
        "search/mentors.html", form=form, results=results, searched=searched, locale=locale, topics=topics,
        unknown_companies=unknown_companies, found_without_filters=found_without_filters,
    )
    return page, 400 if form.errors else 200
