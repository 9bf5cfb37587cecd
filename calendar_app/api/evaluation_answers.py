"""The evaluation's answers as they are serialised (the OpenAPI document's schemas)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


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


ANSWERS: list[type[BaseModel]] = [ResultPoint, DeliveryResults, PostResults, InboundResult]
REQUESTS: list[type[BaseModel]] = [ResultsInbound]
