"""Forms shared by several blueprints, and the catalogue WTForms' own messages are translated from."""

from flask import request
from flask_babel import get_translations, lazy_ngettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm


class EmptyForm(FlaskForm):
    """A bare POST button still carries a CSRF token."""


# The default messages of WTForms and Flask-WTF validators that Tandem's forms can show, marked here so that
# pybabel extracts them into Tandem's catalogue: German forms then speak as the rest of Tandem does (formal
# "Sie", "Bitte ..."), not in WTForms' bundled German. Tandem's own form messages are in the catalogue anyway.
LIBRARY_MESSAGES = (
    _l("This field is required."),
    lazy_ngettext("Field must be at least %(min)d character long.",
                  "Field must be at least %(min)d characters long.", 2),
    lazy_ngettext("Field cannot be longer than %(max)d character.",
                  "Field cannot be longer than %(max)d characters.", 2),
    lazy_ngettext("Field must be exactly %(max)d character long.",
                  "Field must be exactly %(max)d characters long.", 2),
    _l("Field must be between %(min)d and %(max)d characters long."),
    _l("Number must be at least %(min)s."),
    _l("Number must be at most %(max)s."),
    _l("Number must be between %(min)s and %(max)s."),
    _l("Invalid email address."),
    _l("Invalid input."),
    _l("Not a valid choice."),
    _l("Invalid Choice: could not coerce."),
    _l("Invalid choice(s): one or more data inputs could not be coerced."),
    lazy_ngettext("'%(value)s' is not a valid choice for this field.",
                  "'%(value)s' are not valid choices for this field.", 2),
    _l("Not a valid integer value."),
    _l("Not a valid decimal value."),
    _l("Not a valid float value."),
    _l("Not a valid date value."),
    _l("Not a valid datetime value."),
    _l("Not a valid time value."),
    _l("File does not have an approved extension."),
    _l("File does not have an approved extension: {extensions}"),
)


class _CatalogueTranslations:
    """WTForms asks this for its messages before it fills in the numbers; it answers from Tandem's catalogue."""

    def ugettext(self, string: str) -> str:
        return get_translations().ugettext(string)

    def ungettext(self, singular: str, plural: str, n: int) -> str:
        return get_translations().ungettext(singular, plural, n)


_CATALOGUE = _CatalogueTranslations()


def use_tandem_catalogue_for_form_messages() -> None:
    """Before each request: Flask-WTF takes the translations it finds on the request instead of loading
    WTForms' bundled catalogue (flask_wtf.i18n caches them there)."""
    request.wtforms_translations = _CATALOGUE
