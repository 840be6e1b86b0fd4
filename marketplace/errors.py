"""One error shape: JSON under /api, a friendly page everywhere else."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, jsonify, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import BadRequest, HTTPException

from .extensions import db
from .services.errors import ServiceError

log = logging.getLogger(__name__)


class ApiError(Exception):
    """Raised by API views and services; becomes {"error": {"code", "message", "fields"}}."""

    def __init__(self, status: int, code: str, message: str, fields: dict[str, Any] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields or {}


class BadInput(ApiError):
    """Input refused before any view ran (see input_checks): JSON under /api, an error page elsewhere."""


def json_error(status: int, code: str, message: str, fields: dict[str, Any] | None = None):
    response = jsonify({"error": {"code": code, "message": message, "fields": fields or {}}})
    response.status_code = status
    return response


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def _default_descriptions() -> dict[int, str]:
    """Our wording, in the request's language, for Werkzeug's English default descriptions."""
    return {
        400: _("The request could not be understood."),
        401: _("Please log in, or send a valid API token."),
        403: _("You are not allowed to do this."),
        404: _("There is nothing at this address."),
        405: _("This method is not allowed for this address."),
        409: _("The request conflicts with the current state."),
        413: _("The request is too large."),
        500: _("Something went wrong on our side."),
    }


def _translated_description(error: HTTPException) -> str | None:
    """A description given with abort() is already ours; Werkzeug's and Flask-WTF's English ones are replaced."""
    if isinstance(error, CSRFError):
        return _("The form was open too long or came from elsewhere. Please reload the page and try again.")
    if error.description and error.description != type(error).description:
        return error.description
    return _default_descriptions().get(error.code or 500, error.description)


def _error_page(error: HTTPException):
    """The error page; when even it cannot be rendered (the database is gone), a plain line of text."""
    try:
        return render_template("errors/error.html", error=error), error.code
    except Exception:
        log.exception("The error page for %s could not be rendered", error.code)
        db.session.rollback()
        return error.description or error.name, error.code, {"Content-Type": "text/plain; charset=utf-8"}


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def handle_api_error(error: ApiError):
        db.session.rollback()  # an answered error never leaves half of its work for a later commit
        return json_error(error.status, error.code, error.message, error.fields)

    @app.errorhandler(ServiceError)
    def handle_service_error(error: ServiceError):
        """A refusal no view placed on a form: the API's error shape, or an error page with its message."""
        db.session.rollback()
        if _wants_json():
            return json_error(error.status, error.code, error.message, error.fields)
        page = HTTPException(description=error.message)
        page.code = error.status
        return handle_http_error(page)

    @app.errorhandler(BadInput)
    def handle_bad_input(error: BadInput):
        db.session.rollback()
        if _wants_json():
            return json_error(error.status, error.code, error.message, error.fields)
        named = "; ".join(f"{field}: {message}" for field, message in error.fields.items())
        return handle_http_error(BadRequest(description=named or error.message))

    @app.errorhandler(HTTPException)
    def handle_http_error(error: HTTPException):
        # A failed flush leaves the session unusable (PendingRollbackError), and the page itself queries
        # (the signed-in user, the unread notifications): roll back before rendering anything.
        db.session.rollback()
        error.description = _translated_description(error)
        if _wants_json():
            code = (error.name or "error").lower().replace(" ", "_")
            message = error.description or error.name
            if error.code == 429:
                message = _("Too many requests. Please wait a moment and try again.")
            return json_error(error.code or 500, code, message)
        if error.code == 429:
            error.description = _("Too many attempts. Please wait a minute and try again.")
        return _error_page(error)
