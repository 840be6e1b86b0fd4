"""Access checks shared by the community-manager pages (admin, cohorts)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import abort
from flask_login import current_user, login_required

F = TypeVar("F", bound=Callable[..., Any])


def manager_required(view: F) -> F:
    """Anonymous visitors go to the login page; signed-in people without the manager role get 403."""

    @wraps(view)
    @login_required
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_manager:
            abort(403)
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]
