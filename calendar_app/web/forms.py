"""The browser's forms (Flask-WTF: every one carries a CSRF token)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    Field,
    FieldList,
    Form,
    FormField,
    IntegerField,
    PasswordField,
    RadioField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from calendar_app import blackouts, campaigns, comments, departments, notices, playbooks
from calendar_app.audit import MAX_NOTE_LENGTH
from calendar_app.channel_rules import MAX_TEXT_LENGTH
from calendar_app.models import Campaign, Channel, Department, Playbook, User
from calendar_app.notifications import NoticeSetting
from calendar_app.plain_text import code_point, control_character
from calendar_app.planning import MAX_TITLE_LENGTH
from calendar_app.web.formatting import NOTHING

REQUIRED = _l("Please fill this in.")


def text_problem(text: str, *, several_lines: bool) -> str | None:
    """What is wrong with a text typed into a form, in the reader's language, or None: no control
    characters; line breaks and tabs only in a text of several lines (the rule:
    calendar_app/plain_text.py)."""
    char = control_character(text, multiline=several_lines)
    if char is None:
        return None
    if char in "\r\n\t" and not several_lines:
        return gettext("Please write this on one line, without breaks or tabs.")
    return gettext(
        "This contains an invisible control character (%(code)s). Please remove it, e.g. by "
        "typing the text again instead of pasting it.",
        code=code_point(char),
    )


def no_control_characters(form: Any, field: Field) -> None:
    """A text area may hold several lines; any other text field is one line."""
    problem = text_problem(field.data or "", several_lines=isinstance(field, TextAreaField))
    if problem is not None:
        raise ValidationError(problem)


class PlainText:
    """Every text field of the form refuses control characters (see no_control_characters),
    except passwords and tokens: they are never shown, only compared or passed on as typed."""

    _fields: Mapping[str, Field]

    def validate(self, extra_validators: Mapping[str, Sequence[Any]] | None = None) -> bool:
        extra = {name: list(checks) for name, checks in (extra_validators or {}).items()}
        for name, field in self._fields.items():
            if isinstance(field, StringField) and not isinstance(field, PasswordField):
                extra.setdefault(name, []).append(no_control_characters)
        return super().validate(extra)  # type: ignore[misc]


class AppForm(PlainText, FlaskForm):
    """A form of the app: a CSRF token, and text without control characters."""


class SubForm(PlainText, Form):
    """Rows inside a form (FormField): checked like the form."""


class CheckboxesField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class ComposeForm(AppForm):
    title = StringField(_l("Title"), validators=[Optional(), Length(max=MAX_TITLE_LENGTH)])
    body = TextAreaField(
        _l("Text"), validators=[DataRequired(REQUIRED), Length(max=MAX_TEXT_LENGTH)]
    )
    channels = CheckboxesField(
        _l("Channels"), coerce=int, validators=[DataRequired(_l("Choose at least one channel."))]
    )
    publish_at = StringField(_l("Publish at"), validators=[DataRequired(REQUIRED)])
    department = SelectField(_l("Department"), coerce=int, validators=[Optional()])
    campaign = SelectField(_l("Campaign"), coerce=int, validators=[Optional()])
    crisis_response = BooleanField(_l("Crisis response (may be published during a crisis)"))
    tags = StringField(_l("Topics"), validators=[Optional(), Length(max=2000)])


class SendBackForm(AppForm):
    comment = TextAreaField(
        _l("What should change?"), validators=[DataRequired(REQUIRED), Length(max=MAX_NOTE_LENGTH)]
    )


class DeclareCrisisForm(AppForm):
    reason = TextAreaField(
        _l("Reason"), validators=[DataRequired(REQUIRED), Length(max=MAX_NOTE_LENGTH)]
    )
    scope = RadioField(
        _l("Which channels stop?"),
        choices=[
            SelectChoice("all", _l("All channels")),
            SelectChoice("chosen", _l("Only the channels chosen below")),
            SelectChoice("playbook", _l("As the playbook says")),
        ],
        default="all",
    )
    channels = CheckboxesField(_l("Channels"), coerce=int, validators=[Optional()])
    playbook = SelectField(_l("Playbook"), coerce=int, validators=[Optional()], default=0)
    topics = StringField(
        _l("Topics held on every channel"), validators=[Optional(), Length(max=2000)]
    )
    keywords = StringField(
        _l("Words held on every channel"), validators=[Optional(), Length(max=2000)]
    )


def comma_list(text: str | None) -> list[str]:
    """ "Gewinnspiel, Rabatt" -> ["Gewinnspiel", "Rabatt"]."""
    return [part.strip() for part in (text or "").split(",") if part.strip()]


class PlaybookForm(AppForm):
    name = StringField(
        _l("Scenario"),
        validators=[DataRequired(REQUIRED), Length(max=playbooks.MAX_NAME_LENGTH)],
    )
    description = TextAreaField(
        _l("Description"),
        validators=[Optional(), Length(max=playbooks.MAX_DESCRIPTION_LENGTH)],
    )
    scope = RadioField(
        _l("Which channels stop?"),
        choices=[
            SelectChoice("all", _l("All channels")),
            SelectChoice("chosen", _l("Only the channels chosen below")),
        ],
        default="all",
    )
    channels = CheckboxesField(_l("Channels"), coerce=int, validators=[Optional()])
    topics = StringField(
        _l("Topics held on every channel"), validators=[Optional(), Length(max=2000)]
    )
    keywords = StringField(
        _l("Words held on every channel"), validators=[Optional(), Length(max=2000)]
    )
    escalation = TextAreaField(_l("Escalation list"), validators=[Optional(), Length(max=10000)])


def playbook_choices(playbooks: Iterable[Playbook]) -> list[SelectChoice]:
    return [SelectChoice(0, NOTHING), *(SelectChoice(p.id, p.name) for p in playbooks)]


class BlackoutForm(AppForm):
    name = StringField(
        _l("Name"), validators=[DataRequired(REQUIRED), Length(max=blackouts.MAX_NAME_LENGTH)]
    )
    reason = TextAreaField(
        _l("Reason"), validators=[Optional(), Length(max=blackouts.MAX_REASON_LENGTH)]
    )
    starts_at = StringField(_l("Begins"), validators=[DataRequired(REQUIRED)])
    ends_at = StringField(_l("Ends"), validators=[DataRequired(REQUIRED)])
    scope = RadioField(
        _l("Which channels are quiet?"),
        choices=[
            SelectChoice("all", _l("All channels")),
            SelectChoice("chosen", _l("Only the channels chosen below")),
        ],
        default="all",
    )
    channels = CheckboxesField(_l("Channels"), coerce=int, validators=[Optional()])


class LiftCrisisForm(AppForm):
    note = TextAreaField(
        _l("Note"), validators=[DataRequired(REQUIRED), Length(max=MAX_NOTE_LENGTH)]
    )


class DepartmentForm(AppForm):
    name = StringField(
        _l("Name"), validators=[DataRequired(REQUIRED), Length(max=departments.MAX_NAME_LENGTH)]
    )
    color = StringField(_l("Colour (e.g. #1c7ed6)"), validators=[Optional(), Length(max=7)])


class ChannelCareForm(AppForm):
    owner = SelectField(_l("Owner"), coerce=int, validators=[Optional()])
    deputy = SelectField(_l("Deputy"), coerce=int, validators=[Optional()])
    silent_after_days = IntegerField(
        _l("Alert when nothing was published for (days)"),
        validators=[DataRequired(REQUIRED), NumberRange(min=1, max=365)],
    )
    plan_ahead_days = IntegerField(
        _l("Alert when nothing is planned within (days)"),
        validators=[DataRequired(REQUIRED), NumberRange(min=1, max=365)],
    )


class MastodonChannelForm(AppForm):
    """A new Mastodon channel: the token is typed once and never shown again."""

    name = StringField(_l("Name"), validators=[DataRequired(REQUIRED), Length(max=120)])
    base_url = StringField(
        _l("Server (e.g. https://social.example)"),
        validators=[DataRequired(REQUIRED), Length(max=300)],
    )
    access_token = PasswordField(
        _l("Access token (scopes read and write)"),
        validators=[DataRequired(REQUIRED), Length(max=500)],
    )


class BlueskyChannelForm(AppForm):
    """A new Bluesky channel: the app password is typed once and never shown again."""

    name = StringField(_l("Name"), validators=[DataRequired(REQUIRED), Length(max=120)])
    service = StringField(
        _l("Server (empty: https://bsky.social)"), validators=[Optional(), Length(max=300)]
    )
    handle = StringField(
        _l("Handle (e.g. name.bsky.social)"), validators=[DataRequired(REQUIRED), Length(max=253)]
    )
    app_password = PasswordField(
        _l("App password"), validators=[DataRequired(REQUIRED), Length(max=500)]
    )
    firehose = StringField(
        _l("Firehose for listening (empty: the server; a relay hears the whole network)"),
        validators=[Optional(), Length(max=300)],
    )


class KpiForm(SubForm):
    """One KPI row of the campaign form; a row left blank is ignored."""

    name = StringField(_l("KPI"), validators=[Optional(), Length(max=campaigns.MAX_NAME_LENGTH)])
    # Text, read as a number in the page's language (1.500 in German, 1,500 in English).
    target = StringField(_l("Target"), validators=[Optional(), Length(max=30)])
    unit = StringField(_l("Unit"), validators=[Optional(), Length(max=campaigns.MAX_UNIT_LENGTH)])

    def is_blank(self) -> bool:
        return not any((field.data or "").strip() for field in (self.name, self.target, self.unit))


KPI_ROWS = 5


class CampaignForm(AppForm):
    name = StringField(
        _l("Name"), validators=[DataRequired(REQUIRED), Length(max=campaigns.MAX_NAME_LENGTH)]
    )
    goal = SelectField(_l("Goal"), validators=[DataRequired(REQUIRED)])
    starts_on = DateField(_l("Starts on"), validators=[DataRequired(_l("Enter a date."))])
    ends_on = DateField(_l("Ends on"), validators=[DataRequired(_l("Enter a date."))])
    departments = CheckboxesField(_l("Departments involved"), coerce=int, validators=[Optional()])
    kpis = FieldList(FormField(KpiForm), min_entries=KPI_ROWS, max_entries=campaigns.MAX_KPIS)


class PersonDepartmentsForm(AppForm):
    """One person's departments on the people page (each row its own form, with a prefix)."""

    departments = CheckboxesField(_l("Departments"), coerce=int, validators=[Optional()])


class CommentForm(AppForm):
    body = TextAreaField(
        _l("Comment"),
        validators=[DataRequired(REQUIRED), Length(max=comments.MAX_COMMENT_LENGTH)],
    )


class ImportForm(AppForm):
    file = FileField(_l("CSV file"), validators=[FileRequired(_l("Choose a CSV file."))])


def notice_settings_form(settings: Iterable[NoticeSetting]) -> AppForm:
    """One choice per kind of notice a person may turn down (urgent kinds are always told)."""

    class NoticeSettingsForm(AppForm):
        pass

    for setting in settings:
        if setting.urgent:
            continue
        field = SelectField(
            setting.label,
            choices=[SelectChoice(c, gettext(notices.CHANNEL_LABELS[c])) for c in notices.CHANNELS],
            default=setting.channel,
        )
        setattr(NoticeSettingsForm, setting.kind, field)
    return NoticeSettingsForm()


class ActionForm(AppForm):
    """A button that changes something: only the CSRF token."""


def channel_choices(channels: Iterable[Channel]) -> list[SelectChoice]:
    return [SelectChoice(c.id, c.name) for c in channels]


def department_choices(departments: Iterable[Department]) -> list[SelectChoice]:
    return [SelectChoice(0, NOTHING), *(SelectChoice(d.id, d.name) for d in departments)]


def person_choices(people: Iterable[User]) -> list[SelectChoice]:
    return [
        SelectChoice(0, NOTHING),
        *(SelectChoice(u.id, f"{u.name} <{u.email}>") for u in people),
    ]


def campaign_choices(campaigns: Iterable[Campaign]) -> list[SelectChoice]:
    return [SelectChoice(0, NOTHING), *(SelectChoice(c.id, c.name) for c in campaigns)]
