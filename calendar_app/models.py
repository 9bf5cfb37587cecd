"""Tables. Small, with no business rules: those live in planning.py, crisis.py and dispatch.py."""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.sql import ColumnElement, bindparam, literal_column
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from calendar_app.timeutil import check_aware, now_utc
from calendar_app.words import said_again, words_of

# The largest id an integer column holds; a bigger number names nothing that exists.
MAX_ID = 2**31 - 1


class UTCDateTime(TypeDecorator[datetime]):
    """An instant. Aware datetimes in, aware UTC datetimes out; naive ones are refused.

    PostgreSQL stores `timestamptz`. SQLite has no time type: the value is stored as naive UTC
    text in one fixed format, so comparisons in SQL (`due_at <= :now`) order correctly.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        value = check_aware(value)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime()}


class Role(StrEnum):
    PLANNER = "planner"  # social media manager: creates, edits, submits posts
    HEAD = "head"  # communications head: approves, declares/lifts a crisis, reviews held posts
    ADMIN = "admin"  # everything, plus users and channels


class PostStatus(StrEnum):
    DRAFT = "draft"  # being written; deliveries are not armed
    IN_REVIEW = "in_review"  # submitted, waiting for a head's approval
    SCHEDULED = "scheduled"  # approved; deliveries are armed and will go out when due
    HELD = "held"  # at least one delivery was held by a crisis: a head must review it
    MISSED = "missed"  # at least one delivery was found too late to send: a head must review it
    UNKNOWN = "unknown"  # at least one delivery's sender died mid-send: a human decides
    FAILED = "failed"  # at least one delivery failed for good (reason on the delivery)
    PUBLISHED = "published"  # every delivery that was not discarded is published
    DISCARDED = "discarded"  # withdrawn; nothing more will be sent


class CampaignGoal(StrEnum):
    AWARENESS = "awareness"  # be known: reach and impressions
    DIALOGUE = "dialogue"  # talk with people: replies, comments, shares
    SERVICE = "service"  # help customers: questions answered on the channel
    RECRUITING = "recruiting"  # find staff: applications
    RETENTION = "retention"  # keep customers or staff


class DeliveryStatus(StrEnum):
    SCHEDULED = "scheduled"  # waiting; goes out at `due_at` once the post is approved
    # Taken by one scheduler under a lease, waiting for a free sender: NOT on the wire yet.
    # People may still take it back (discard, edit); a crisis or blackout holds it at the start.
    CLAIMED = "claimed"
    # On the wire: the start step checked crisis, holds, blackouts and the post's own state in a
    # transaction a declaration serialises against; the request ends by `send_deadline`.
    PUBLISHING = "publishing"
    PUBLISHED = "published"  # the channel accepted it
    HELD = "held"  # fell due during a crisis in its scope; waits for a head's review
    # Found by the scheduler long after its time (an outage, a long crisis): never sent late
    # blindly; waits for a head's review with its original time kept in `due_at`.
    MISSED = "missed"
    FAILED = "failed"  # gave up; `error` says why
    UNKNOWN = "unknown"  # the lease expired mid-send: it may or may not have gone out
    DISCARDED = "discarded"  # withdrawn by a person; never sent


# Due and not on the wire: what a crisis or a blackout may still hold.
HOLDABLE = (DeliveryStatus.SCHEDULED, DeliveryStatus.CLAIMED)

# A delivery in one of these states is finished with and never changes by itself.
FINAL_DELIVERY_STATUSES = (DeliveryStatus.PUBLISHED, DeliveryStatus.DISCARDED)


user_departments = Table(
    "user_departments",
    Base.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("department_id", ForeignKey("departments.id", ondelete="CASCADE"), primary_key=True),
)

campaign_departments = Table(
    "campaign_departments",
    Base.metadata,
    Column("campaign_id", ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True),
    Column("department_id", ForeignKey("departments.id", ondelete="CASCADE"), primary_key=True),
)

crisis_channels = Table(
    "crisis_channels",
    Base.metadata,
    Column("crisis_id", ForeignKey("crises.id", ondelete="CASCADE"), primary_key=True),
    Column("channel_id", ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True),
)


class Department(Base):
    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    slug: Mapped[str] = mapped_column(String(60), unique=True)
    color: Mapped[str] = mapped_column(String(7), default="#5b6770")


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    locale: Mapped[str] = mapped_column(String(10), default="de")
    created_at: Mapped[datetime] = mapped_column(default=now_utc)
    # Browser sessions are signed cookies: a copy of one stays valid until this number changes.
    # Each session carries the number it started with; logging out increments it.
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # How they want to be told of each kind of notice (calendar_app/notices.py): kind -> channel.
    notice_settings: Mapped[dict[str, str]] = mapped_column(JSON, default=dict, server_default="{}")

    # In a stable order: the first one is where the user's posts go unless they choose another.
    departments: Mapped[list[Department]] = relationship(
        secondary=user_departments, order_by="Department.id"
    )

    # Flask-Login's user protocol
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)


class ApiToken(Base):
    """A bearer token. Only its SHA-256 is stored; the token itself is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(120), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The token's first characters, so a person can tell their tokens apart (not enough to use).
    prefix: Mapped[str | None] = mapped_column(String(16), index=True)
    created_at: Mapped[datetime] = mapped_column(default=now_utc)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()


class CalendarFeed(Base):
    """A user's secret iCal address (/feeds/<token>.ics): one per user, renewed or revoked there.

    The token is kept as it is, not hashed, so the user's page can show the address again (to
    subscribe on a second device without breaking the first). It only reads the plan, which is
    in the same database; renewing or revoking it makes the old address answer 404.
    """

    __tablename__ = "calendar_feeds"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    token: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=now_utc)
    last_fetched_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()


class Channel(Base):
    __tablename__ = "channels"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    # How a delivery leaves the app: a module in calendar_app/publishers/.
    kind: Mapped[str] = mapped_column(String(20))
    # Where the post finally appears; selects the channel rules (channel_rules.py).
    network: Mapped[str] = mapped_column(String(20), default="other")
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=now_utc)
    # Who answers for the channel, and who stands in; a channel without both is flagged.
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    deputy_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Graveyard alerts: silent when nothing was published for this many days ...
    silent_after_days: Mapped[int] = mapped_column(Integer, default=14, server_default="14")
    # ... and empty ahead when nothing is planned within this many days.
    plan_ahead_days: Mapped[int] = mapped_column(Integer, default=7, server_default="7")

    owner: Mapped[User | None] = relationship(foreign_keys=[owner_id])
    deputy: Mapped[User | None] = relationship(foreign_keys=[deputy_id])


class Campaign(Base):
    """A goal that several posts, often of several departments, work towards together."""

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    goal: Mapped[str] = mapped_column(String(20))
    # [{"name": "Bewerbungen", "target": 40, "unit": "Bewerbungen"}, ...]
    kpis: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=now_utc)
    updated_at: Mapped[datetime] = mapped_column(default=now_utc, onupdate=now_utc)

    departments: Mapped[list[Department]] = relationship(
        secondary=campaign_departments, order_by=Department.name
    )


# --- the change stamp ---------------------------------------------------------------------------
# A calendar program takes an event as changed only when its SEQUENCE grows and shows it as of
# its LAST-MODIFIED, which counts whole seconds. So every UPDATE of a post or a delivery (through
# the ORM or a conditional UPDATE of the queue) moves the row's `changed` (seconds since 1970) to
# the current second, and at least one past both its own last stamp and the other side's (the
# post's deliveries, the delivery's post): an event is stamped max(post, delivery), and that grows
# with every change, also with two in one second (then it runs a second or two ahead).


class greatest(FunctionElement[int]):
    """The largest of its arguments: GREATEST on PostgreSQL, max() of several on SQLite."""

    type = Integer()
    name = "greatest"
    inherit_cache = True


@compiles(greatest)
def _greatest(element: greatest, compiler: SQLCompiler, **kw: Any) -> str:
    return f"greatest({compiler.process(element.clauses, **kw)})"


@compiles(greatest, "sqlite")
def _greatest_sqlite(element: greatest, compiler: SQLCompiler, **kw: Any) -> str:
    return f"max({compiler.process(element.clauses, **kw)})"


def now_second() -> int:
    return int(now_utc().timestamp())


def _next_stamp(table: str, other: str) -> ColumnElement[int]:
    return greatest(
        bindparam("now_second", callable_=now_second, type_=Integer, unique=True),
        literal_column(f"{table}.changed") + 1,
        literal_column(f"coalesce(({other}), 0)") + 1,
    )


def change_stamp(table: str, other: str) -> Any:
    """The `changed` column of `table`; `other` selects the related rows' largest stamp."""
    return mapped_column(
        Integer, default=now_second, onupdate=_next_stamp(table, other), server_default="0"
    )


class Post(Base):
    __tablename__ = "posts"
    __table_args__ = (Index("ix_posts_publish_at", "publish_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200), default="")
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default=PostStatus.DRAFT, index=True)
    publish_at: Mapped[datetime]
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"), index=True)
    crisis_response: Mapped[bool] = mapped_column(Boolean, default=False)
    # The crisis a crisis response answers: it is exempt from holds only while that one is in force.
    crisis_id: Mapped[int | None] = mapped_column(ForeignKey("crises.id", ondelete="SET NULL"))
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=now_utc)
    updated_at: Mapped[datetime] = mapped_column(default=now_utc, onupdate=now_utc)
    # A reply from the inbox: what it answers on the network (Mastodon: the status id; Bluesky:
    # the reply reference as JSON, root and parent), and the inbox item.
    in_reply_to: Mapped[str | None] = mapped_column(String(1000))
    inbox_item_id: Mapped[int | None] = mapped_column(
        ForeignKey("inbox_items.id", ondelete="SET NULL")
    )

    author: Mapped[User] = relationship(foreign_keys=[author_id])
    approved_by: Mapped[User | None] = relationship(foreign_keys=[approved_by_id])
    department: Mapped[Department | None] = relationship()
    campaign: Mapped[Campaign | None] = relationship()
    deliveries: Mapped[list[Delivery]] = relationship(
        back_populates="post", order_by="Delivery.id", cascade="all, delete-orphan"
    )
    tag_rows: Mapped[list[PostTag]] = relationship(
        order_by="PostTag.tag", cascade="all, delete-orphan"
    )
    # Images go out with their alt text; without it only when someone said why (the audit log
    # keeps the reason too).
    media_rows: Mapped[list[PostMedia]] = relationship(
        order_by="PostMedia.position", cascade="all, delete-orphan"
    )
    alt_text_waived: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    alt_text_waiver_reason: Mapped[str | None] = mapped_column(Text)
    changed: Mapped[int] = change_stamp(
        "posts", "SELECT max(d.changed) FROM deliveries AS d WHERE d.post_id = posts.id"
    )

    @property
    def tags(self) -> list[str]:
        return [row.tag for row in self.tag_rows]


class PostTag(Base):
    """A topic a post is about, normalised (holds.normalise_tag): what topic holds match."""

    __tablename__ = "post_tags"

    post_id: Mapped[int] = mapped_column(
        ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(60), primary_key=True, index=True)


class Media(Base):
    """An uploaded image as stored: re-encoded without its location data, kept under the
    SHA-256 of the stored bytes (media.py), so the same image uploaded twice is one file."""

    __tablename__ = "media"

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    mime_type: Mapped[str] = mapped_column(String(40))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    bytes: Mapped[int] = mapped_column(Integer)
    # More than one frame: sent as it is or not at all (never scaled).
    animated: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=now_utc)


class PostMedia(Base):
    """An image on a post, in its place, with the alt text written for it."""

    __tablename__ = "post_media"

    post_id: Mapped[int] = mapped_column(
        ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    media_id: Mapped[int] = mapped_column(ForeignKey("media.id"), index=True)
    alt: Mapped[str] = mapped_column(Text, default="")

    media: Mapped[Media] = relationship(lazy="joined")


class Delivery(Base):
    """One post on one channel: the unit the scheduler claims, sends and records."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("post_id", "channel_id"),
        # The claim's access path: due rows in one status, oldest first.
        Index("ix_deliveries_status_due_at", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), index=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default=DeliveryStatus.SCHEDULED)
    # The text for this channel when it differs from the post's body (e.g. shorter for X).
    body_override: Mapped[str | None] = mapped_column(Text)
    # When the delivery may be sent. NULL until the post is approved ("not armed"); set to the
    # post's time on approval, to a later time when a retry backs off or a head releases it.
    due_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # The fencing token of the current claim: an outcome is recorded only by its holder.
    claim_token: Mapped[str | None] = mapped_column(String(32))
    claimed_by: Mapped[str | None] = mapped_column(String(120))
    claimed_at: Mapped[datetime | None]
    lease_until: Mapped[datetime | None]
    published_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
    # The error as words to say again in the reader's language (words.Text.stored); the API
    # answers `error` in English.
    error_words: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    held_by_crisis_id: Mapped[int | None] = mapped_column(ForeignKey("crises.id"))
    # The blackout date it fell due in, when that is what held it.
    held_by_blackout_id: Mapped[int | None] = mapped_column(
        ForeignKey("blackouts.id", ondelete="SET NULL")
    )
    # The early-warning alert whose hold it fell due in (listening/alerts.py).
    held_by_alert_id: Mapped[int | None] = mapped_column(
        ForeignKey("spike_alerts.id", ondelete="SET NULL")
    )
    held_at: Mapped[datetime | None]
    # When the request was put on the wire, and by when it ends (its total deadline).
    started_at: Mapped[datetime | None]
    send_deadline: Mapped[datetime | None]
    # Discarded while on the wire: if the send does not succeed it ends `discarded`, never retried.
    withdrawn_at: Mapped[datetime | None]
    # Title, body and this channel's text, case-folded: what keyword holds search (holds.py).
    hold_text: Mapped[str] = mapped_column(Text, default="", server_default="")
    # Published on a network: the post's id there and where people see it.
    remote_id: Mapped[str | None] = mapped_column(String(200))
    url: Mapped[str | None] = mapped_column(String(2000))
    changed: Mapped[int] = change_stamp(
        "deliveries", "SELECT p.changed FROM posts AS p WHERE p.id = deliveries.post_id"
    )

    post: Mapped[Post] = relationship(back_populates="deliveries")
    channel: Mapped[Channel] = relationship()
    held_by_blackout: Mapped[Blackout | None] = relationship()

    @property
    def text(self) -> str:
        """What this channel receives."""
        return self.body_override or self.post.body

    @staticmethod
    def error_values(reason: str) -> dict[str, Any]:
        """The columns an error is written to: the English, and its words when it has some."""
        return {"error": str(reason), "error_words": words_of(reason)}

    @property
    def error_in_words(self) -> str | None:
        """The error for a page: in the reader's language when its words were kept with it (and
        still match it: whoever changes `error` without words leaves them stale)."""
        return said_again(self.error, self.error_words)


class Crisis(Base):
    __tablename__ = "crises"

    id: Mapped[int] = mapped_column(primary_key=True)
    reason: Mapped[str] = mapped_column(Text)
    declared_at: Mapped[datetime] = mapped_column(default=now_utc)
    declared_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    all_channels: Mapped[bool] = mapped_column(Boolean, default=True)
    lift_requested_at: Mapped[datetime | None]
    lift_requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    lift_note: Mapped[str | None] = mapped_column(Text)
    lifted_at: Mapped[datetime | None]
    lifted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Held on every channel: posts tagged with one of these topics, texts with one of these words.
    hold_topics: Mapped[list[str]] = mapped_column(JSON, default=list)
    hold_keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    playbook_id: Mapped[int | None] = mapped_column(ForeignKey("playbooks.id", ondelete="SET NULL"))

    declared_by: Mapped[User] = relationship(foreign_keys=[declared_by_id])
    lift_requested_by: Mapped[User | None] = relationship(foreign_keys=[lift_requested_by_id])
    lifted_by: Mapped[User | None] = relationship(foreign_keys=[lifted_by_id])
    channels: Mapped[list[Channel]] = relationship(secondary=crisis_channels, order_by=Channel.id)
    playbook: Mapped[Playbook | None] = relationship()
    acknowledgements: Mapped[list[Acknowledgement]] = relationship(
        back_populates="crisis", order_by="Acknowledgement.id", cascade="all, delete-orphan"
    )


playbook_channels = Table(
    "playbook_channels",
    Base.metadata,
    Column("playbook_id", ForeignKey("playbooks.id", ondelete="CASCADE"), primary_key=True),
    Column("channel_id", ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True),
)


class Playbook(Base):
    """A crisis scenario prepared in calm times: statements, whom to alert, what to hold."""

    __tablename__ = "playbooks"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    # The default scope of a declaration from this playbook.
    all_channels: Mapped[bool] = mapped_column(Boolean, default=True)
    hold_topics: Mapped[list[str]] = mapped_column(JSON, default=list)
    hold_keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=now_utc)
    updated_at: Mapped[datetime] = mapped_column(default=now_utc, onupdate=now_utc)

    created_by: Mapped[User] = relationship()
    channels: Mapped[list[Channel]] = relationship(secondary=playbook_channels, order_by=Channel.id)
    statements: Mapped[list[HoldingStatement]] = relationship(
        order_by="HoldingStatement.channel_id", cascade="all, delete-orphan"
    )
    contacts: Mapped[list[EscalationContact]] = relationship(
        order_by="EscalationContact.id", cascade="all, delete-orphan"
    )


class HoldingStatement(Base):
    """A pre-approved text for one channel, published at once when the playbook is declared."""

    __tablename__ = "holding_statements"
    __table_args__ = (UniqueConstraint("playbook_id", "channel_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    playbook_id: Mapped[int] = mapped_column(ForeignKey("playbooks.id", ondelete="CASCADE"))
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(Text)

    channel: Mapped[Channel] = relationship()


class EscalationContact(Base):
    """Someone to alert: a user of the app, or a person outside it (name, role, e-mail)."""

    __tablename__ = "escalation_contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    playbook_id: Mapped[int] = mapped_column(ForeignKey("playbooks.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(120), default="")
    role: Mapped[str] = mapped_column(String(40), default="")
    email: Mapped[str] = mapped_column(String(254), default="")

    user: Mapped[User | None] = relationship()


class Acknowledgement(Base):
    """One person alerted about a crisis, and when they acknowledged it (NULL: not yet)."""

    __tablename__ = "acknowledgements"
    __table_args__ = (Index("ix_acknowledgements_crisis", "crisis_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    crisis_id: Mapped[int] = mapped_column(ForeignKey("crises.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    name: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(40), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    # People outside the app acknowledge by a secret link; only its SHA-256 is stored.
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    notified_at: Mapped[datetime] = mapped_column(default=now_utc)
    acknowledged_at: Mapped[datetime | None]

    crisis: Mapped[Crisis] = relationship(back_populates="acknowledgements")
    user: Mapped[User | None] = relationship()


blackout_channels = Table(
    "blackout_channels",
    Base.metadata,
    Column("blackout_id", ForeignKey("blackouts.id", ondelete="CASCADE"), primary_key=True),
    Column("channel_id", ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True),
)


class Blackout(Base):
    """A planned quiet period (a day of mourning, the anniversary of an incident): nothing
    planned goes out on its channels from `starts_at` until `ends_at`."""

    __tablename__ = "blackouts"
    __table_args__ = (Index("ix_blackouts_period", "starts_at", "ends_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text, default="")
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    all_channels: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=now_utc)
    # When everyone was reminded that it begins soon (once; NULL: not yet).
    reminded_at: Mapped[datetime | None]

    created_by: Mapped[User] = relationship()
    channels: Mapped[list[Channel]] = relationship(secondary=blackout_channels, order_by=Channel.id)


class QueueState(Base):
    """One row (id 1): the crisis in force, if any.

    Every claim of due deliveries reads this row with a lock that a declaration conflicts with
    (PostgreSQL: FOR SHARE against FOR UPDATE; SQLite: BEGIN IMMEDIATE), so a claim either
    finishes before a declaration or sees it.
    """

    __tablename__ = "queue_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    active_crisis_id: Mapped[int | None] = mapped_column(ForeignKey("crises.id"))


class AuditEntry(Base):
    """Append-only record of decisions (database triggers refuse UPDATE and DELETE)."""

    __tablename__ = "audit_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=now_utc, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(40), index=True)
    subject_type: Mapped[str] = mapped_column(String(20))
    subject_id: Mapped[int | None]
    reason: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    actor: Mapped[User | None] = relationship()


class Notification(Base):
    """A message for one user, shown in the app; e-mailed too when SMTP is configured."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_user_unread", "user_id", "read_at"),
        Index("ix_notifications_mail_pending", "mail_pending", "user_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=now_utc)
    read_at: Mapped[datetime | None]
    # The facts of a catalogued kind (calendar_app/notices.py): its words are made from them in
    # the reader's language; subject and text above are the English words, kept for the record.
    params: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Waits for the person's hourly e-mail digest.
    mail_pending: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    user: Mapped[User] = relationship()


class OutgoingStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    # Nothing to send it with: no SMTP server / chat webhook was configured when it was due.
    OFF = "off"


class OutgoingMessage(Base):
    """The outbox of e-mails and chat messages: written in the transaction that decides to send
    them, sent afterwards by the scheduler, so a rolled-back decision never mails anyone."""

    __tablename__ = "outgoing_messages"
    __table_args__ = (Index("ix_outgoing_messages_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    transport: Mapped[str] = mapped_column(String(10))  # "email" or "chat"
    recipient: Mapped[str | None] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(500))
    notification_id: Mapped[int | None] = mapped_column(
        ForeignKey("notifications.id", ondelete="SET NULL")
    )
    status: Mapped[str] = mapped_column(String(10), default=OutgoingStatus.PENDING)
    # Crisis escalations: sent before everything else that is due.
    urgent: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Tries started (counted when claimed, so a sender that dies mid-send uses one up too).
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=now_utc)
    claimed_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=now_utc)


class GraveyardAlert(Base):
    """One problem of one channel that its owner and deputy were told about.

    Open (resolved_at NULL) while the problem lasts, so the periodic check tells them once; closed
    when the check no longer finds it, so a later relapse is told again.
    """

    __tablename__ = "graveyard_alerts"
    __table_args__ = (Index("ix_graveyard_alerts_channel_open", "channel_id", "resolved_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    problem: Mapped[str] = mapped_column(String(20))  # "silent" or "nothing_planned"
    alerted_at: Mapped[datetime] = mapped_column(default=now_utc)
    resolved_at: Mapped[datetime | None]

    channel: Mapped[Channel] = relationship()


class Comment(Base):
    """A remark on a post, e.g. for handing a thread over to another department."""

    __tablename__ = "post_comments"

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=now_utc)

    author: Mapped[User] = relationship()


class LoginBudget(Base):
    """Failed logins counted for one account or one client address (login_budget.py).

    Several web processes share it through the database; a row exists only after a failure.
    """

    __tablename__ = "login_budgets"

    # "account:<e-mail>" or "address:<client address>"
    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime] = mapped_column(default=now_utc)
    # No login is tried for this account or from this address before then (429).
    delayed_until: Mapped[datetime | None]


# --- listening: the inbox and the early warning (calendar_app/listening/) -----------------------


class InboxStatus(StrEnum):
    NEW = "new"  # arrived, nobody has taken it yet
    ASSIGNED = "assigned"  # handed to a department or a person (by a rule or by someone)
    ANSWERED = "answered"  # a reply went out from the inbox
    CLOSED = "closed"  # done with, no answer needed (or answered elsewhere)


class InboxItem(Base):
    """Something said to one of our accounts (a mention, a reply, a quote) or with what a
    channel watches (a hashtag, a search term). Stored once per channel and network id
    (several listeners may read the same page at once)."""

    __tablename__ = "inbox_items"
    __table_args__ = (
        UniqueConstraint("channel_id", "remote_id", name="uq_inbox_items_channel_remote"),
        # The early warning counts by channel and time.
        Index("ix_inbox_items_channel_received", "channel_id", "received_at"),
        Index("ix_inbox_items_received", "received_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    remote_id: Mapped[str] = mapped_column(String(200))
    # mention, reply, quote (said to us); hashtag, term (a watched hashtag or search term)
    kind: Mapped[str] = mapped_column(String(20))
    author_handle: Mapped[str] = mapped_column(String(300), default="")
    author_name: Mapped[str] = mapped_column(String(300), default="")
    text: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str | None] = mapped_column(String(2000))
    # The status it answers on the network (a reply to one of ours, or to someone else).
    in_reply_to: Mapped[str | None] = mapped_column(String(200))
    # What a reply to it must name on networks that ask for it (Bluesky: {"root": {"uri",
    # "cid"}, "parent": {"uri", "cid"}}); None where the network id is enough (Mastodon).
    reply_ref: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # When it was first answered: a reply written from the inbox, or closed as answered
    # elsewhere. The time to first answer counts from `received_at` to here.
    first_answer_at: Mapped[datetime | None]
    # When it was said (the network's time); what the early warning counts.
    received_at: Mapped[datetime]
    stored_at: Mapped[datetime] = mapped_column(default=now_utc)
    status: Mapped[str] = mapped_column(String(20), default=InboxStatus.NEW, index=True)
    department_id: Mapped[int | None] = mapped_column(
        ForeignKey("departments.id", ondelete="SET NULL"), index=True
    )
    assignee_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    # The routing rule that chose the department on arrival, if one did.
    routed_by_rule_id: Mapped[int | None] = mapped_column(
        ForeignKey("routing_rules.id", ondelete="SET NULL")
    )
    note: Mapped[str | None] = mapped_column(Text)

    channel: Mapped[Channel] = relationship()
    department: Mapped[Department | None] = relationship()
    assignee: Mapped[User | None] = relationship()


class ListenCursor(Base):
    """How far a channel's source (its notifications, a watched hashtag) has been read: the
    newest network id stored. Kept in the database, so a restarted listener goes on there."""

    __tablename__ = "listen_cursors"

    channel_id: Mapped[int] = mapped_column(
        ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True
    )
    source: Mapped[str] = mapped_column(String(120), primary_key=True)
    position: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(default=now_utc, onupdate=now_utc)


class RoutingRule(Base):
    """A word that sends an arriving item to a department ("Rechnung" -> customer service)."""

    __tablename__ = "routing_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Case-folded (holds.fold); matched as a substring of the item's folded text.
    keyword: Mapped[str] = mapped_column(String(100), unique=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=now_utc)

    department: Mapped[Department] = relationship()


class WatchedHashtag(Base):
    """A hashtag whose public timeline is read into a channel's inbox."""

    __tablename__ = "watched_hashtags"

    channel_id: Mapped[int] = mapped_column(
        ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(100), primary_key=True)


class WatchedTerm(Base):
    """A search term (a word or a few) whose posts are read into a channel's inbox."""

    __tablename__ = "watched_terms"

    channel_id: Mapped[int] = mapped_column(
        ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True
    )
    # Folded (holds.fold); matched as whole words of a post's folded text.
    term: Mapped[str] = mapped_column(String(100), primary_key=True)


class WatchWord(Base):
    """A word that makes the early warning more sensitive ("Shitstorm", "Boykott")."""

    __tablename__ = "watch_words"

    word: Mapped[str] = mapped_column(String(100), primary_key=True)


class AlertStatus(StrEnum):
    OPEN = "open"  # nobody has decided yet; holds its channels for SPIKE_HOLD_MINUTES
    DISMISSED = "dismissed"  # a head looked and found no storm
    DECLARED = "declared"  # a head declared a crisis from it


class SpikeAlert(Base):
    """An unusual volume of mentions on one channel (or on all together: channel NULL)."""

    __tablename__ = "spike_alerts"
    __table_args__ = (
        # One open alert per scope, whatever several schedulers do at once.
        Index(
            "uq_spike_alerts_open_scope",
            "scope",
            unique=True,
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), default="spike")
    channel_id: Mapped[int | None] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    # "channel:<id>" or "all": what the unique index of open alerts is on.
    scope: Mapped[str] = mapped_column(String(40))
    observed: Mapped[int] = mapped_column(Integer)
    baseline: Mapped[float] = mapped_column(Float)
    score: Mapped[float] = mapped_column(Float)
    window_minutes: Mapped[int] = mapped_column(Integer)
    watched_words: Mapped[list[str]] = mapped_column(JSON, default=list)
    sample: Mapped[list[int]] = mapped_column(JSON, default=list)
    started_at: Mapped[datetime]
    opened_at: Mapped[datetime] = mapped_column(default=now_utc)
    # Until when it holds what falls due on its channels while undecided (NULL: it never holds).
    hold_until: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(20), default=AlertStatus.OPEN)
    decided_at: Mapped[datetime | None]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str | None] = mapped_column(Text)
    crisis_id: Mapped[int | None] = mapped_column(ForeignKey("crises.id", ondelete="SET NULL"))

    channel: Mapped[Channel | None] = relationship()
    decided_by: Mapped[User | None] = relationship()


# --- evaluation: what published deliveries achieved (calendar_app/evaluation/) ------------------


class ResultState(StrEnum):
    OK = "ok"  # the network (or the receiver of a webhook channel) gave numbers
    UNAUTHORIZED = "unauthorized"  # 401/403: the token was revoked or lacks the read scope
    NO_APPVIEW = "no_appview"  # Bluesky: no AppView answered for the PDS; no numbers exist
    GONE = "gone"  # the post was deleted on the network


class ResultPoint(Base):
    """One measurement of one published delivery: appended, never overwritten, so the numbers
    form a time series. A measurement that could not read numbers keeps its state and NULLs
    (never zeros): "the token lacks the read scope" is not "nobody liked it"."""

    __tablename__ = "result_points"
    __table_args__ = (
        Index("ix_result_points_delivery_measured", "delivery_id", "measured_at"),
        Index("ix_result_points_channel_measured", "channel_id", "measured_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id", ondelete="CASCADE"))
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    measured_at: Mapped[datetime]
    # "network" (read by the results job) or "webhook" (sent to the signed inbound endpoint).
    source: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(20), default=ResultState.OK)
    # Favourites (Mastodon), likes (Bluesky and the rest).
    likes: Mapped[int | None] = mapped_column(Integer)
    # Boosts (Mastodon), reposts (Bluesky), shares.
    shares: Mapped[int | None] = mapped_column(Integer)
    replies: Mapped[int | None] = mapped_column(Integer)
    quotes: Mapped[int | None] = mapped_column(Integer)
    # Only where the network tells (a webhook receiver with the platform's statistics).
    reach: Mapped[int | None] = mapped_column(Integer)
    clicks: Mapped[int | None] = mapped_column(Integer)
    recorded_at: Mapped[datetime] = mapped_column(default=now_utc)


class ResultWatch(Base):
    """When a published network delivery is measured next: 1 h, 24 h, 7 days and 30 days after
    it was published. A results job claims a due row with a conditional update (its token and a
    lease), so several schedulers measure each point once."""

    __tablename__ = "result_watches"
    __table_args__ = (Index("ix_result_watches_due", "next_due_at"),)

    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("deliveries.id", ondelete="CASCADE"), primary_key=True
    )
    # How many of the schedule's points are behind it (4: done; next_due_at is then NULL).
    step: Mapped[int] = mapped_column(Integer, default=0)
    next_due_at: Mapped[datetime | None]
    claim_token: Mapped[str | None] = mapped_column(String(32))
    lease_until: Mapped[datetime | None]
    last_state: Mapped[str | None] = mapped_column(String(20))
    last_error: Mapped[str | None] = mapped_column(Text)
