"""Loading the object a page or an API route shows, with its access check, in one helper.

Who may see or change an object is a service's rule (goals.can_view_goal, tandems.can_view, ...); the helper
only turns the rule's answer into the reply: 404 for an object the viewer may not see, so its existence stays
private, and 403 for one they see but may not use this way. Pages pass no message (their error page has its
own words); the API passes the message of its error shape.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NoReturn, TypeVar

from flask import abort

from .errors import ApiError
from .models import get_by_id

T = TypeVar("T")

CODES = {403: "forbidden", 404: "not_found"}


def refuse(status: int, message: str | None = None, fields: dict[str, str] | None = None) -> NoReturn:
    """Answer 403 or 404: the error page when `message` is None, else the API's error shape."""
    if message is None:
        abort(status)
    raise ApiError(status, CODES[status], message, fields)


def get_or_404(
    model: type[T],
    object_id: int,
    visible: Callable[[T], bool] | None = None,
    *,
    allowed: Callable[[T], bool] | None = None,
    not_found: str | None = None,
    forbidden: str | None = None,
    fields: dict[str, str] | None = None,
    options: Sequence[Any] = (),
) -> T:
    """The `model` row `object_id` (with the loader `options`): 404 when there is none or `visible` refuses it
    (with `not_found` and `fields` in the API), 403 when `allowed` refuses a visible one (with `forbidden`)."""
    found = get_by_id(model, object_id, options)
    if found is None or (visible is not None and not visible(found)):
        refuse(404, not_found, fields)
    if allowed is not None and not allowed(found):
        refuse(403, forbidden)
    return found
