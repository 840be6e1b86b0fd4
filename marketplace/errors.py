"""One error shape: JSON under /api, a friendly page everywhere else."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException


class ApiError(Exception):
    """Raised by API views and services; becomes {"error": {"code", "message", "fields"}}."""

    def __init__(self, status: int, code: str, message: str, fields: dict[str, Any] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields or {}


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


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def handle_api_error(error: ApiError):
        return json_error(error.status, error.code, error.message, error.fields)

    @app.errorhandler(HTTPException)
    def handle_http_error(error: HTTPException):
        error.description = _translated_description(error)
        if _wants_json():
            code = (error.name or "error").lower().replace(" ", "_")
            message = error.description or error.name
            if error.code == 429:
                message = _("Too many requests. Please wait a moment and try again.")
            return json_error(error.code or 500, code, message)
        if error.code == 429:
            error.description = _("Too many attempts. Please wait a minute and try again.")
        return render_template("errors/error.html", error=error), error.code
