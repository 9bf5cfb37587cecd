"""What the API answers, as schemas: they describe serialize.py's output in the OpenAPI document,
and the schemathesis run (tests/test_api_fuzz.py) checks every answer against them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from calendar_app.models import CampaignGoal, DeliveryStatus, PostStatus
from calendar_app.timeline import Moment

PostStatusName = Literal[tuple(PostStatus)]  # type: ignore[valid-type]
DeliveryStatusName = Literal[tuple(DeliveryStatus)]  # type: ignore[valid-type]
GoalName = Literal[tuple(CampaignGoal)]  # type: ignore[valid-type]
TimelineKind = Literal[tuple(Moment)]  # type: ignore[valid-type]


class Answer(BaseModel):
    # An answer carries exactly these fields: an undocumented one fails the conformance check.
    model_config = ConfigDict(extra="forbid")


class Health(Answer):
    status: Literal["ok"]


class Department(Answer):
    id: int
    name: str
    slug: str


class DepartmentList(Answer):
    items: list[Department]


class User(Answer):
    id: int
    email: str
    name: str
    role: str
    active: bool
    departments: list[Department]


class UserList(Answer):
    items: list[User]


class HandedOn(Answer):
    channel_id: int
    was: Literal["owner", "deputy"]
    owner_id: int | None
    deputy_id: int | None


class Deactivated(User):
    tokens_revoked: int
    channels_handed_on: list[HandedOn]


class Person(Answer):
    id: int
    email: str
    name: str


class Channel(Answer):
    id: int
    name: str
    kind: str
    network: str
    config: dict[str, Any]
    active: bool
    created_at: datetime
    owner: Person | None
    deputy: Person | None
    ownership_complete: bool
    silent_after_days: int
    plan_ahead_days: int


class ChannelList(Answer):
    items: list[Channel]


class ChannelCheck(Answer):
    """Whether the channel can sign in to its network, and as whom."""

    ok: bool
    account: str | None = Field(None, description="the account it posts as, e.g. @presse@host")
    error: str | None = Field(None, description="why it cannot sign in")


class ChannelProblem(Answer):
    kind: Literal["silent", "nothing_planned"]
    text: str


class ChannelHealth(Answer):
    channel_id: int
    name: str
    owner: Person | None
    deputy: Person | None
    ownership_complete: bool
    silent_after_days: int
    plan_ahead_days: int
    last_published_at: datetime | None
    next_planned_at: datetime | None
    problems: list[ChannelProblem]


class ChannelHealthList(Answer):
    items: list[ChannelHealth]


class Delivery(Answer):
    id: int
    channel_id: int
    status: DeliveryStatusName
    body_override: str | None
    published_at: datetime | None
    url: str | None = Field(description="where the post can be seen on its network, once published")
    remote_id: str | None = Field(description="the post's id on its network, once published")
    error: str | None
    due_at: datetime | None
    attempts: int
    held_by_crisis_id: int | None
    held_by_blackout_id: int | None
    held_by_alert_id: int | None
    held_at: datetime | None = Field(description="since when it is held; none once released")
    claimed_by: str | None
    claimed_at: datetime | None


class CampaignRef(Answer):
    id: int
    name: str


class MediaUpload(Answer):
    """An uploaded image, as stored (location data removed)."""

    id: int
    mime_type: Literal["image/png", "image/jpeg", "image/webp", "image/gif"]
    width: int
    height: int
    bytes: int
    url: str = Field(description="where signed-in people see it")


class PostImage(Answer):
    id: int
    alt: str
    mime_type: str
    width: int
    height: int
    url: str


class Post(Answer):
    id: int
    title: str
    body: str
    status: PostStatusName
    publish_at: datetime
    author: str
    crisis_response: bool
    department_id: int | None
    department: Department | None
    campaign: CampaignRef | None
    channels: list[int]
    approved_by: str | None
    approved_at: datetime | None
    created_at: datetime
    updated_at: datetime
    deliveries: list[Delivery]
    tags: list[str]
    media: list[PostImage]
    alt_text_waived: bool
    alt_text_waiver_reason: str | None
    # Planning into a blackout date: what will happen (the post is held there).
    warnings: list[str] | None = None


class PostList(Answer):
    items: list[Post]


class PostPage(Answer):
    items: list[Post]
    next_cursor: str | None = Field(
        description="give it as `cursor` for the next page; null: this was the last page"
    )


class Comment(Answer):
    id: int
    post_id: int
    author: Person
    body: str
    created_at: datetime


class CommentList(Answer):
    items: list[Comment]


class EscalationEntry(Answer):
    """One person alerted about the crisis, and when they acknowledged (null: not yet)."""

    name: str
    role: str
    email: str
    user: str | None
    notified_at: datetime
    acknowledged_at: datetime | None


class Kpi(Answer):
    name: str
    target: float
    unit: str | None = None


class DepartmentRef(Answer):
    id: int
    name: str


class DeliveryRecord(Answer):
    """Deliveries of the campaign's posts by status; `planned` = not sent yet (`scheduled`)."""

    planned: int
    publishing: int
    published: int
    held: int
    missed: int
    failed: int
    unknown: int
    discarded: int
    total: int


class Campaign(Answer):
    id: int
    name: str
    goal: GoalName
    kpis: list[Kpi]
    starts_on: date
    ends_on: date
    departments: list[DepartmentRef]
    created_at: datetime
    updated_at: datetime


class CampaignDetail(Campaign):
    delivery_record: DeliveryRecord


class CampaignList(Answer):
    items: list[Campaign]


class Crisis(Answer):
    """The crisis in force (`active: true`), the last one lifted, or just `{"active": false}`."""

    active: bool
    id: int | None = None
    reason: str | None = None
    declared_at: datetime | None = None
    declared_by: str | None = None
    channels: Literal["all"] | list[int] | None = None
    topics: list[str] | None = None
    keywords: list[str] | None = None
    lift_requested_by: str | None = None
    lift_requested_at: datetime | None = None
    lift_note: str | None = None
    lifted_at: datetime | None = None
    lifted_by: str | None = None
    # Declaring: the requests that were on the wire as the crisis began, as they ended ...
    in_flight: list[Delivery] | None = None
    # ... and the ids of those still open when the declaration stopped waiting (their deadline).
    still_open: list[int] | None = None
    # Declared from a playbook: which one, its statements, and who was alerted.
    playbook_id: int | None = None
    statements: list[int] | None = None
    escalation: list[EscalationEntry] | None = None
    # Lifting where a second person must confirm (202).
    pending_confirmation: bool | None = None


class TimelineEvent(Answer):
    """One line of a crisis timeline. `kind`: alerted, declared, playbook, held, statement, missed,
    acknowledged, lift_requested, lifted, released, discarded."""

    at: datetime
    kind: TimelineKind
    actor: str | None  # who (null: the system)
    note: str | None  # reason, lift note, the statement's text
    post_id: int | None
    post_title: str | None
    channels: list[str]
    detail: dict[str, Any]


class CrisisTimeline(Answer):
    """What happened during one crisis and the review of what it held, oldest first."""

    crisis: Crisis
    events: list[TimelineEvent]


class PreviewItem(Answer):
    delivery_id: int
    post_id: int
    channel_id: int
    channel: str
    title: str
    due_at: datetime


class CrisisPreview(Answer):
    """What a declaration with this scope would hold in the next `hours`."""

    posts: int
    channels: int
    hours: int
    summary: str
    items: list[PreviewItem]


class Contact(Answer):
    user_id: int | None
    name: str
    role: str
    email: str


class Statement(Answer):
    channel_id: int
    text: str


class Playbook(Answer):
    id: int
    name: str
    description: str
    channels: Literal["all"] | list[int]
    topics: list[str]
    keywords: list[str]
    statements: list[Statement]
    escalation: list[Contact]
    created_by: str
    created_at: datetime
    updated_at: datetime


class PlaybookList(Answer):
    items: list[Playbook]


class Deleted(Answer):
    deleted: bool


class Notification(Answer):
    id: int
    kind: str
    subject: str
    text: str
    link: str | None
    created_at: datetime
    read_at: datetime | None


class NotificationList(Answer):
    items: list[Notification]
    unread: int


class NoticeSetting(Answer):
    kind: str
    label: str
    channel: Literal["email", "app", "off"]
    urgent: bool


class NoticeSettings(Answer):
    items: list[NoticeSetting]


class UnreadCount(Answer):
    unread: int


class Blackout(Answer):
    """A planned quiet period: nothing planned goes out on its channels while it lasts."""

    id: int
    name: str
    reason: str
    starts_at: datetime
    ends_at: datetime
    channels: Literal["all"] | list[int]
    created_by: str
    created_at: datetime
    reminded_at: datetime | None


class BlackoutList(Answer):
    items: list[Blackout]


class Author(Answer):
    handle: str
    name: str


class InboxItem(Answer):
    """Something said to one of our accounts (mention, reply, quote), or a post with a hashtag
    or search term the channel watches (hashtag, term)."""

    id: int
    channel_id: int
    kind: Literal["mention", "reply", "quote", "hashtag", "term"]
    author: Author
    text: str = Field(description="plain text (the network's markup removed)")
    url: str | None
    in_reply_to: str | None = Field(description="the network id of the status it answers")
    received_at: datetime
    status: Literal["new", "assigned", "answered", "closed"]
    department: Department | None
    assignee: Person | None
    note: str | None
    first_answer_at: datetime | None = Field(
        description="when it was first answered: a reply written, or closed as answered"
    )


class InboxList(Answer):
    items: list[InboxItem]


class InboundReceipt(Answer):
    stored: list[int] = Field(description="the new inbox items' ids")
    received: int = Field(description="distinct item ids in the request")


class AnswerTimes(Answer):
    answered: int
    unanswered: int = Field(description="open, or closed without an answer")
    median_minutes: float | None
    p90_minutes: float | None = Field(description="90th percentile, nearest rank")


class DepartmentAnswerTimes(AnswerTimes):
    department_id: int | None = Field(description="null: items routed to no department")
    name: str


class ChannelAnswerTimes(AnswerTimes):
    channel_id: int
    name: str


class AnswerReport(Answer):
    days: int
    overall: AnswerTimes
    departments: list[DepartmentAnswerTimes]
    channels: list[ChannelAnswerTimes]


class AnswerTimesList(Answer):
    """Time to first answer over the last 7 and 30 days (by when items were said)."""

    definition: str
    windows: list[AnswerReport]


class Alert(Answer):
    """An early warning: unusual mention volume on one channel (or on all: channel_id null)."""

    id: int
    kind: Literal["spike"]
    channel_id: int | None
    observed: int = Field(description="mentions in the window")
    baseline: float = Field(description="the usual count (median of the same time in past weeks)")
    score: float = Field(description="modified z-score")
    window_minutes: int
    watched_words: list[str]
    started_at: datetime
    opened_at: datetime
    hold_until: datetime | None = Field(description="until when it holds its channels undecided")
    sample: list[int] = Field(description="inbox item ids")
    status: Literal["open", "dismissed", "declared"]
    decided_by: Person | None
    decided_at: datetime | None
    note: str | None
    crisis_id: int | None


class AlertList(Answer):
    items: list[Alert]


class RoutingRule(Answer):
    id: int
    keyword: str
    department: Department


class RoutingRuleList(Answer):
    items: list[RoutingRule]


class WatchWords(Answer):
    words: list[str]


class WatchedHashtags(Answer):
    channel_id: int
    tags: list[str]


class WatchedTerms(Answer):
    channel_id: int
    terms: list[str]


class CalendarFeed(Answer):
    """My calendar feed's secret address (all null: I have none). Anyone with the address can
    read the plan: renew it (POST) if it got out; the old address then answers 404."""

    url: str | None = Field(description="the address to subscribe to in a calendar program")
    created_at: datetime | None
    last_fetched_at: datetime | None = Field(description="when a calendar program last read it")


class Error(Answer):
    error: str
    fields: dict[str, str]


class BulkOutcome(Answer):
    """What became of one post of a bulk action."""

    id: int
    done: bool
    status: str | None = Field(description="the post's status afterwards (null: no such post)")
    error: str | None = Field(description="why it was refused (null: done)")
    needs_confirmation: bool = Field(
        description="refused only because it is approved: send again with `confirm: true`"
    )


class BulkResult(Answer):
    items: list[BulkOutcome]
    done: int
    refused: int


ANSWERS: list[type[BaseModel]] = [
    Health,
    MediaUpload,
    Department,
    DepartmentList,
    ChannelCheck,
    User,
    UserList,
    HandedOn,
    Deactivated,
    Person,
    Channel,
    ChannelList,
    ChannelProblem,
    ChannelHealth,
    ChannelHealthList,
    Post,
    PostList,
    PostPage,
    BulkOutcome,
    BulkResult,
    Comment,
    CommentList,
    Campaign,
    CampaignDetail,
    CampaignList,
    Crisis,
    CrisisPreview,
    CrisisTimeline,
    Playbook,
    PlaybookList,
    Deleted,
    Notification,
    NotificationList,
    UnreadCount,
    Blackout,
    BlackoutList,
    InboxItem,
    InboxList,
    AnswerTimesList,
    InboundReceipt,
    Alert,
    AlertList,
    RoutingRule,
    RoutingRuleList,
    WatchWords,
    WatchedHashtags,
    WatchedTerms,
    CalendarFeed,
    Error,
]
