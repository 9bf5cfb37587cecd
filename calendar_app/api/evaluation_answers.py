"""The evaluation's answers as they are serialised (the OpenAPI document's schemas)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from calendar_app.api.responses import AnswerReport, AnswerTimes


class Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ResultPoint(Answer):
    measured_at: str
    source: str  # "network" or "webhook"
    state: str  # ok, unauthorized, no_appview, gone
    likes: int | None
    shares: int | None
    replies: int | None
    quotes: int | None
    reach: int | None
    clicks: int | None
    interactions: int | None
    # Why there are no numbers (only when state is not "ok").
    message: str | None = None


class DeliveryResults(Answer):
    delivery_id: int
    post_id: int
    channel_id: int
    published_at: str | None
    url: str | None
    state: str  # the latest point's state, or "not_measured"
    message: str | None
    next_measurement_at: str | None
    latest: ResultPoint | None
    points: list[ResultPoint]


class PostResults(Answer):
    post_id: int
    totals: dict[str, int | None]
    deliveries: list[DeliveryResults]


class InboundResult(ResultPoint):
    delivery_id: int


class ResultsInbound(BaseModel):
    """What a webhook channel's receiver sends (signed: see the endpoint's description)."""

    model_config = ConfigDict(extra="forbid")
    delivery_id: int
    measured_at: str | None = None
    likes: int | None = None
    shares: int | None = None
    replies: int | None = None
    quotes: int | None = None
    reach: int | None = None
    clicks: int | None = None


class KpiResult(Answer):
    name: str
    target: float
    unit: str | None
    metric: str | None  # what it is measured by; null: the app cannot measure it
    measurable: bool
    # null: not measured (never zero for "unknown"). answered_within: percent of the inbox's
    # items answered in the KPI's time; answer_time: median time to first answer in the KPI's
    # unit (hours unless minutes).
    measured: float | None
    share: float | None  # measured / target (answer_time: target / measured)


class RankedPost(Answer):
    post_id: int
    title: str
    publish_at: str
    channels: list[str]
    interactions: int | None
    likes: int | None
    shares: int | None
    replies: int | None


class CadenceWeek(Answer):
    week: str  # ISO week, e.g. 2026-W45
    starts_on: str
    planned: int
    published: int


class CampaignEvaluation(Answer):
    campaign_id: int
    name: str
    goal: str
    starts_on: str
    ends_on: str
    kpis: list[KpiResult]
    totals: dict[str, int | None]
    # Deliveries whose latest measurement has no numbers, by state.
    unavailable: dict[str, int]
    posts_ranked: list[RankedPost]
    cadence: list[CadenceWeek]
    # The inbox on the campaign's channels during the campaign so far.
    answer_times: AnswerTimes | None


class TeamRow(Answer):
    department: str | None
    channel: str
    channel_id: int | None
    planned: int
    published: int
    held: int
    missed: int
    discarded: int
    inbox_answered: int


class TeamTotals(Answer):
    planned: int
    published: int
    held: int
    missed: int
    discarded: int
    inbox_answered: int


class FallingChannel(Answer):
    channel_id: int
    channel: str
    published_first_half: int
    published_second_half: int
    interactions_per_post_first_half: float
    interactions_per_post_second_half: float


class TeamView(Answer):
    from_: str = Field(alias="from")
    to: str
    rows: list[TeamRow]
    totals: TeamTotals
    falling_results: list[FallingChannel]


class TimelineEvent(Answer):
    at: str
    moment: str
    actor: str | None
    post_id: int | None
    note: str | None


class CrisisSummary(Answer):
    id: int
    reason: str
    declared_at: str
    lifted_at: str | None
    held_posts: int
    timeline: list[TimelineEvent]


class MonthlyReport(Answer):
    month: str | None  # null: the report covers days that are not one whole month
    from_: str = Field(alias="from")
    to: str
    timezone: str
    campaigns: list[CampaignEvaluation]
    cadence: list[CadenceWeek]
    team: TeamView
    # Time to first answer over the report's days, as the reader may see the inbox.
    answer_times: AnswerReport
    crises: list[CrisisSummary]


ANSWERS: list[type[BaseModel]] = [
    TeamRow,
    TeamTotals,
    FallingChannel,
    TeamView,
    TimelineEvent,
    CrisisSummary,
    MonthlyReport,
    ResultPoint,
    DeliveryResults,
    PostResults,
    InboundResult,
    KpiResult,
    RankedPost,
    CadenceWeek,
    CampaignEvaluation,
]
REQUESTS: list[type[BaseModel]] = [ResultsInbound]
