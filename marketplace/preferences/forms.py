"""The e-mail settings form: one choice per kind of notification."""

from __future__ import annotations

from wtforms import RadioField
from wtforms.fields.choices import SelectChoice

from ..forms import TandemForm
from ..services import preferences


def settings_form(current: dict[str, str]) -> TandemForm:
    """A form with one radio group per kind (its allowed modes), preset to the person's settings."""

    class NotificationSettingsForm(TandemForm):
        pass

    for kind, label in (*preferences.KINDS.items(), *preferences.OPT_IN.items()):
        choices = [SelectChoice(mode, preferences.MODE_LABELS[mode]) for mode in preferences.modes_for(kind)]
        setattr(NotificationSettingsForm, kind, RadioField(label, choices=choices, default=current[kind]))
    return NotificationSettingsForm()
