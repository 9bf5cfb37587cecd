"""Request schemas: they validate input and generate the OpenAPI document (one source)."""

from __future__ import annotations

from datetime import date, datetime
from functools import cache
from typing import Annotated, Any, Literal, TypeVar, get_args

from flask import request
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from werkzeug.exceptions import BadRequest

from calendar_app import blackouts, bulk, campaigns, comments, departments, playbooks
from calendar_app.audit import MAX_NOTE_LENGTH
from calendar_app.channel_rules import MAX_TEXT_LENGTH, NETWORKS
from calendar_app.errors import InvalidInput, MalformedRequest
from calendar_app.holds import MAX_KEYWORD_LENGTH, MAX_TAG_LENGTH
from calendar_app.models import MAX_ID, CampaignGoal
from calendar_app.plain_text import code_point, control_character
from calendar_app.plan_csv import MAX_FILE_BYTES
from calendar_app.planning import MAX_TITLE_LENGTH
from calendar_app.post_media import MAX_ALT_LENGTH, MAX_IMAGES_PER_POST
from calendar_app.timeutil import parse_aware
from calendar_app.words import _l


def _iso_time_with_offset(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ValueError(
            "must be an ISO 8601 time string with an offset, e.g. 2026-12-01T09:00:00+01:00"
        )
    return parse_aware(value)


def _storable_text(value: str) -> str:
    """Text a database can store: no NUL characters, no halves of surrogate pairs."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("is not valid Unicode text (a lone surrogate code point)") from None
    return value


def _iso_date(value: Any) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if not isinstance(value, str) or len(value.strip()) != 10:
        raise ValueError("must be a date such as 2026-03-01")
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ValueError("must be a date such as 2026-03-01") from None


class SeveralLines:
    """Marks a text of several lines (a post, a note): it may hold line breaks and tabs. Any
    other text is one line. Either way no other control character (Schema refuses them)."""


SEVERAL_LINES = SeveralLines()
Text = Annotated[str, AfterValidator(_storable_text)]
Lines = Annotated[Text, SEVERAL_LINES]
IsoDate = Annotated[
    date,
    BeforeValidator(_iso_date),
    Field(json_schema_extra={"format": "date", "example": "2026-03-01"}),
]
IsoTime = Annotated[
    datetime,
    BeforeValidator(_iso_time_with_offset),
    Field(json_schema_extra={"format": "date-time", "example": "2026-12-01T09:00:00+01:00"}),
]
ChannelId = Annotated[int, Field(strict=True, ge=1, le=MAX_ID)]
# JSON object keys are strings: {"3": "shorter text for channel 3"}.
NonEmpty = Annotated[Text, Field(min_length=1)]
# A text that goes out on a channel: a post's body, a channel's own text, a holding statement.
ChannelText = Annotated[Lines, Field(max_length=MAX_TEXT_LENGTH)]
Overrides = dict[Annotated[int, Field(ge=1, le=MAX_ID)], ChannelText]
Title = Annotated[Text, Field(max_length=MAX_TITLE_LENGTH)]
Note = Annotated[Lines, Field(max_length=MAX_NOTE_LENGTH)]
# What an inbound webhook may say in one item.
MAX_INBOUND_TEXT = 10_000
# Topics a post is about; stored normalised (case-folded, without "#").
Tags = Annotated[list[Annotated[Text, Field(max_length=MAX_TAG_LENGTH)]], Field(max_length=30)]
Keywords = Annotated[
    list[Annotated[Text, Field(max_length=MAX_KEYWORD_LENGTH)]], Field(max_length=50)
]
OptionalId = Annotated[int | None, Field(strict=True, ge=1, le=MAX_ID)]
GoalName = Literal[tuple(CampaignGoal)]  # type: ignore[valid-type]


class Schema(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=False)

    @field_validator("*", mode="after")
    @classmethod
    def _no_control_characters(cls, value: Any, info: ValidationInfo) -> Any:
        """Every text of every request, in lists and objects too (a nested schema checks its
        own fields): no control characters; line breaks and tabs only in SEVERAL_LINES."""
        several_lines = _several_lines(cls, info.field_name or "")
        for text in _texts(value):
            char = control_character(text, multiline=several_lines)
            if char is None:
                continue
            if char in "\r\n\t" and not several_lines:
                raise ValueError("must be a single line: no line breaks or tabs")
            raise ValueError(f"must not contain control characters (found {code_point(char)})")
        return value


def _texts(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [t for key, item in value.items() for t in (*_texts(key), *_texts(item))]
    if isinstance(value, list | tuple | set | frozenset):
        return [t for item in value for t in _texts(item)]
    return []  # numbers, times, and nested schemas (they check their own fields)


@cache
def _several_lines(model: type[BaseModel], name: str) -> bool:
    field = model.model_fields.get(name)
    return field is not None and (SEVERAL_LINES in field.metadata or _marked(field.annotation))


def _marked(annotation: Any) -> bool:
    return any(arg is SEVERAL_LINES or _marked(arg) for arg in get_args(annotation))


class ChannelCreate(Schema):
    name: Annotated[Text, Field(min_length=1, max_length=120)]
    kind: Annotated[
        Text,
        Field(
            max_length=40,
            description="how deliveries leave the app: outbox, webhook, mastodon, bluesky",
        ),
    ]
    network: Literal[NETWORKS] = "other"  # type: ignore[valid-type]
    config: dict[str, Any] = Field(default_factory=dict)


UserId = Annotated[int, Field(strict=True, ge=1, le=MAX_ID)]
Days = Annotated[int, Field(strict=True, ge=1, le=365)]


class ChannelUpdate(Schema):
    owner_id: UserId | None = Field(None, description="null removes the owner")
    deputy_id: UserId | None = Field(None, description="null removes the deputy")
    silent_after_days: Days = Field(
        14, description="alert when nothing was published on the channel for this many days"
    )
    plan_ahead_days: Days = Field(
        7, description="alert when nothing is planned on the channel within this many days"
    )


class DepartmentCreate(Schema):
    name: Annotated[Text, Field(min_length=1, max_length=departments.MAX_NAME_LENGTH)]
    slug: (
        Annotated[
            Text,
            Field(
                max_length=departments.MAX_SLUG_LENGTH, description="default: made from the name"
            ),
        ]
        | None
    ) = None
    color: Annotated[Text, Field(max_length=7, description="e.g. #1c7ed6")] | None = None


DepartmentId = Annotated[int, Field(strict=True, ge=1, le=MAX_ID)]


class UserDepartments(Schema):
    departments: Annotated[
        list[DepartmentId],
        Field(description="department ids; the first is where the user's posts go by default"),
    ]


class MediaRef(Schema):
    """An uploaded image (POST /media) on a post, with its alt text."""

    id: Annotated[int, Field(strict=True, ge=1, le=MAX_ID)]
    alt: Annotated[
        Lines,
        Field(
            max_length=MAX_ALT_LENGTH,
            description="what the image shows, for people who cannot see it; required unless "
            "the post waives alt text with a reason",
        ),
    ] = ""


MediaRefs = Annotated[list[MediaRef], Field(max_length=MAX_IMAGES_PER_POST)]
WaiverReason = Annotated[Lines, Field(max_length=MAX_NOTE_LENGTH)]


class PostCreate(Schema):
    body: Annotated[ChannelText, Field(min_length=1)]
    channels: Annotated[list[ChannelId], Field(min_length=1)]
    publish_at: IsoTime
    title: Title = ""
    crisis_response: StrictBool = False
    department_id: OptionalId = None
    campaign_id: OptionalId = None
    overrides: Overrides = Field(
        default_factory=dict, description="channel id -> the text for that channel"
    )
    tags: Tags = Field(default_factory=list, description="topics, e.g. gewinnspiel")
    media: MediaRefs = Field(default_factory=list, description="images, in order, with alt text")
    alt_text_waived: StrictBool = Field(
        False, description="the images go out without alt text (needs a reason; audited)"
    )
    alt_text_waiver_reason: WaiverReason | None = None


class PostUpdate(Schema):
    body: Annotated[ChannelText, Field(min_length=1)] | None = None
    channels: Annotated[list[ChannelId], Field(min_length=1)] | None = None
    publish_at: IsoTime | None = None
    title: Title | None = None
    crisis_response: StrictBool | None = None
    department_id: OptionalId = None
    campaign_id: OptionalId = None
    overrides: Overrides | None = None
    tags: Tags | None = None
    media: MediaRefs | None = None
    alt_text_waived: StrictBool | None = None
    alt_text_waiver_reason: WaiverReason | None = None


class CommentCreate(Schema):
    body: Annotated[
        NonEmpty,
        SEVERAL_LINES,
        Field(
            max_length=comments.MAX_COMMENT_LENGTH,
            description="mention someone with @ and their e-mail address: @anna@example.org",
        ),
    ]


CampaignName = Annotated[Text, Field(min_length=1, max_length=campaigns.MAX_NAME_LENGTH)]


class Kpi(Schema):
    name: CampaignName
    target: Annotated[float, Field(ge=0, allow_inf_nan=False)]
    unit: Annotated[Text, Field(max_length=campaigns.MAX_UNIT_LENGTH)] | None = None


DepartmentIds = Annotated[list[Annotated[int, Field(strict=True, ge=1, le=MAX_ID)]], Field()]
Kpis = Annotated[list[Kpi], Field(max_length=campaigns.MAX_KPIS)]


class CampaignCreate(Schema):
    name: CampaignName
    goal: GoalName
    starts_on: IsoDate
    ends_on: IsoDate
    kpis: Kpis = Field(default_factory=list)
    departments: DepartmentIds = Field(default_factory=list)


class CampaignUpdate(Schema):
    name: CampaignName | None = None
    goal: GoalName | None = None
    starts_on: IsoDate | None = None
    ends_on: IsoDate | None = None
    kpis: Kpis | None = None
    departments: DepartmentIds | None = None


class PlanImport(Schema):
    csv: Annotated[
        Lines,
        Field(
            min_length=1,
            max_length=MAX_FILE_BYTES,
            description=(
                "the plan as CSV text, in the columns of GET /posts.csv; a time without an "
                "offset is read on the team's clock (CALENDAR_TIMEZONE)"
            ),
        ),
    ]


class Release(Schema):
    publish_at: IsoTime | None = None


class Duplicate(Schema):
    publish_at: IsoTime | None = Field(
        None,
        description="when the copy is planned; omitted: the template's time, moved on by "
        "whole days until it lies ahead",
    )


class BulkRequest(Schema):
    action: Literal["submit", "move", "campaign"] = Field(
        description="submit drafts for approval, move by `days`, or assign `campaign_id`"
    )
    posts: Annotated[list[ChannelId], Field(min_length=1, max_length=bulk.MAX_POSTS)]
    days: Annotated[int, Field(strict=True, ge=-bulk.MAX_DAYS, le=bulk.MAX_DAYS)] | None = Field(
        None, description="for `move`: how many days later (negative: earlier)"
    )
    campaign_id: OptionalId = Field(None, description="for `campaign`: the campaign (null: none)")
    confirm: StrictBool = Field(
        False,
        description="approved posts that are moved or given a campaign go back to draft and "
        "need a new approval; without `confirm` they are refused (needs_confirmation)",
    )


class Discard(Schema):
    reason: Note | None = None


class CrisisScope(Schema):
    channels: Annotated[list[ChannelId], Field(min_length=1)] | None = Field(
        None, description="the channels that stop; omitted: all channels"
    )
    topics: Tags = Field(
        default_factory=list, description="posts tagged with one of these are held everywhere"
    )
    keywords: Keywords = Field(
        default_factory=list,
        description="texts containing one of these (substring, any case) are held everywhere",
    )


class CrisisDeclare(CrisisScope):
    reason: Annotated[Note, Field(min_length=1)]
    playbook_id: Annotated[int, Field(strict=True, ge=1, le=MAX_ID)] | None = Field(
        None,
        description="declare from this playbook: its statements go out, its list is alerted; "
        "channels, topics and keywords given here replace the playbook's defaults",
    )
    alert_id: Annotated[int, Field(strict=True, ge=1, le=MAX_ID)] | None = Field(
        None,
        description="declare from this early-warning alert: it is decided, what it held is held "
        "by the crisis; without channels the crisis covers the alert's channel",
    )


class CrisisPreview(CrisisScope):
    """The body of a declaration (the reason may be left out), and how far ahead to look."""

    reason: Note | None = None
    hours: Annotated[int, Field(strict=True, ge=1, le=744)] = 72


ContactRole = Literal["management", "legal", "hr", "customer_service", "works_council", "other"]


class ContactIn(Schema):
    """A user of the app (`user_id`), or a person outside it (`name`, `role`, `email`)."""

    user_id: Annotated[int, Field(strict=True, ge=1, le=MAX_ID)] | None = None
    name: Annotated[Text, Field(max_length=playbooks.MAX_NAME_LENGTH)] = ""
    role: ContactRole | Literal[""] = ""
    email: Annotated[Text, Field(max_length=254)] = ""


Statements = dict[
    Annotated[int, Field(ge=1, le=MAX_ID)], Annotated[ChannelText, Field(min_length=1)]
]
PlaybookName = Annotated[NonEmpty, Field(max_length=playbooks.MAX_NAME_LENGTH)]
Description = Annotated[Lines, Field(max_length=playbooks.MAX_DESCRIPTION_LENGTH)]
Contacts = Annotated[list[ContactIn], Field(max_length=playbooks.MAX_CONTACTS)]


class PlaybookCreate(Schema):
    name: PlaybookName
    description: Description = ""
    channels: Annotated[list[ChannelId], Field(min_length=1)] | None = Field(
        None, description="the default scope; omitted or null: all channels"
    )
    topics: Tags = Field(default_factory=list)
    keywords: Keywords = Field(default_factory=list)
    statements: Statements = Field(
        default_factory=dict, description="channel id -> pre-approved holding statement"
    )
    escalation: Contacts = Field(default_factory=list)


class PlaybookUpdate(Schema):
    name: PlaybookName | None = None
    description: Description | None = None
    channels: Annotated[list[ChannelId], Field(min_length=1)] | None = None
    topics: Tags | None = None
    keywords: Keywords | None = None
    statements: Statements | None = None
    escalation: Contacts | None = None


class NoticeSettingsUpdate(Schema):
    settings: dict[Annotated[Text, Field(max_length=40)], Literal["email", "app", "off"]] = Field(
        description="kind of notice -> how I am told: in the app and by e-mail, in the app only, "
        "or not at all (urgent kinds cannot be turned down)",
        max_length=50,
    )


class CrisisLift(Schema):
    note: Annotated[Note, Field(min_length=1)]


BlackoutName = Annotated[Text, Field(min_length=1, max_length=blackouts.MAX_NAME_LENGTH)]
BlackoutReason = Annotated[Lines, Field(max_length=blackouts.MAX_REASON_LENGTH)]


class BlackoutCreate(Schema):
    name: BlackoutName
    starts_at: IsoTime
    ends_at: IsoTime
    reason: BlackoutReason = ""
    channels: Annotated[list[ChannelId], Field(min_length=1)] | None = Field(
        default=None, description="channel ids; omitted or null: all channels"
    )


class BlackoutUpdate(Schema):
    name: BlackoutName | None = None
    starts_at: IsoTime | None = None
    ends_at: IsoTime | None = None
    reason: BlackoutReason | None = None
    channels: Annotated[list[ChannelId], Field(min_length=1)] | None = Field(
        default=None, description="channel ids; null: all channels"
    )


class InboxAssign(Schema):
    department_id: OptionalId = None
    assignee_id: OptionalId = None
    note: Note | None = None


class InboxReply(Schema):
    body: Annotated[ChannelText, Field(min_length=1)]


class InboundAuthor(Schema):
    handle: Annotated[NonEmpty, Field(max_length=300)]
    name: Annotated[Text, Field(max_length=300)] = ""


class InboundItem(Schema):
    id: Annotated[NonEmpty, Field(max_length=200, description="the sender's id: stored once")]
    kind: Literal["mention", "reply", "quote"] = "mention"
    author: InboundAuthor
    text: Annotated[Lines, Field(min_length=1, max_length=MAX_INBOUND_TEXT)]
    url: Annotated[Text, Field(max_length=2000, pattern=r"^https?://")] | None = None
    said_at: IsoTime | None = Field(
        default=None, description="when it was said (default: when it arrives)"
    )


class InboundItems(Schema):
    items: Annotated[list[InboundItem], Field(min_length=1, max_length=500)]


class InboxClose(Schema):
    note: Note | None = None
    # Answered elsewhere (by phone, by e-mail): counts as the item's first answer.
    answered: bool = False


class AlertDismiss(Schema):
    note: Annotated[Note, Field(min_length=1)]


class RoutingRuleCreate(Schema):
    keyword: Annotated[Text, Field(min_length=1, max_length=MAX_KEYWORD_LENGTH)]
    department_id: Annotated[int, Field(strict=True, ge=1, le=MAX_ID)]


Words = Annotated[
    list[Annotated[Text, Field(min_length=1, max_length=MAX_KEYWORD_LENGTH)]], Field(max_length=100)
]


class WatchWordsSet(Schema):
    words: Words


class WatchedHashtagsSet(Schema):
    tags: Annotated[
        list[Annotated[Text, Field(min_length=1, max_length=MAX_TAG_LENGTH)]], Field(max_length=20)
    ]


class WatchedTermsSet(Schema):
    terms: Annotated[
        list[Annotated[Text, Field(min_length=1, max_length=MAX_KEYWORD_LENGTH)]],
        Field(max_length=20),
    ]


M = TypeVar("M", bound=BaseModel)


def _field_name(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "body"


def json_object() -> dict[str, Any]:
    """The request body as a JSON object, or a 400 that says what is wrong with it."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    try:
        data = request.get_json(force=True, silent=False)
    except (BadRequest, RecursionError):
        raise MalformedRequest(
            _l("the request body is not valid JSON"), {"body": _l("malformed JSON")}
        ) from None
    if not isinstance(data, dict):
        raise MalformedRequest(
            _l("the request body must be a JSON object"), {"body": _l("not an object")}
        )
    return data


def _problem(error: Any) -> str:
    """pydantic's message, but a text's length in characters: a length limit on a text that is
    checked after its own validator (Text) would otherwise count "items"."""
    length = {"too_long": ("at most", "max_length"), "too_short": ("at least", "min_length")}
    if error["type"] in length and isinstance(error.get("input"), str):
        bound, key = length[error["type"]]
        limit, actual = error["ctx"][key], error["ctx"]["actual_length"]
        unit = "character" if limit == 1 else "characters"
        return f"Text should have {bound} {limit} {unit}, not {actual}"
    return str(error["msg"]).removeprefix("Value error, ")


def parse(model: type[M], data: dict[str, Any] | None = None) -> M:
    """Validate `data` (default: the request body) against `model`; 422 names every bad field."""
    try:
        return model.model_validate(json_object() if data is None else data)
    except ValidationError as exc:
        fields: dict[str, str] = {}
        for error in exc.errors(include_url=False):
            fields.setdefault(_field_name(error["loc"]), _problem(error))
        summary = "; ".join(f"{k}: {v}" for k, v in fields.items())
        raise InvalidInput(_l("invalid input: %(summary)s", summary=summary), fields) from None
