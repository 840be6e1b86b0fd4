"""Pages of a list: one home for what a page number past the end shows."""

from __future__ import annotations

from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import Select

from ..extensions import db


def page_of(query: Select, page: int, per_page: int) -> Pagination:
    """Page `page` of `query`; past the last page, the last one (a link kept from when the list was longer, or a
    typed number): an empty page under "36 open mentors" reading "Page 100000 of 2" contradicted itself."""
    pagination = db.paginate(query, page=page, per_page=per_page, error_out=False)
    if pagination.pages and page > pagination.pages:
        pagination = db.paginate(query, page=pagination.pages, per_page=per_page, error_out=False)
    return pagination
