"""The OpenAPI document, generated from the same pydantic schemas that validate input."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from calendar_app import paging
from calendar_app.api import evaluation_answers, responses, schemas
from calendar_app.listening import inbox
from calendar_app.models import MAX_ID, PostStatus
from calendar_app.query_args import MAX_VALUE_LENGTH

_ERROR = {"$ref": "#/components/schemas/Error"}


_ERRORS = {
    "400": "malformed request",
    "401": "missing or bad token",
    "403": "role not allowed",
    "404": "unknown id",
    "409": "conflicts with the current state",
    "422": "invalid input, with a message per field",
}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _op(
    summary: str,
    answer: type[BaseModel],
    request: type[BaseModel] | None = None,
    ok: int = 200,
    *,
    also: dict[int, str] | None = None,
    errors: bool = True,
    **extra: Any,
) -> dict[str, Any]:
    responses_ = {str(ok): {"description": "success", "content": _json(_ref(answer))}}
    for status, text in (also or {}).items():
        responses_[str(status)] = {"description": text, "content": _json(_ref(answer))}
    if errors:
        responses_.update(
            {
                code: {"description": text, "content": _json(_ERROR)}
                for code, text in _ERRORS.items()
            }
        )
    operation: dict[str, Any] = {"summary": summary, "responses": responses_, **extra}
    if request is not None:
        operation["requestBody"] = {"required": True, "content": _json(_ref(request))}
    return operation


def _csv_op(summary: str, parameters: list[dict[str, Any]]) -> dict[str, Any]:
    operation = _op(summary, responses.Error, parameters=parameters)
    operation["responses"]["200"] = {
        "description": "success: one header row, then one row per post",
        "content": {"text/csv": {"schema": {"type": "string"}}},
    }
    return operation


def _media_upload_op() -> dict[str, Any]:
    operation = _op(
        "upload an image (PNG, JPEG, WebP or GIF, up to MEDIA_MAX_BYTES): it is checked by its "
        "content, turned upright, stored without its metadata (no location); put it on a post "
        'with `"media": [{"id": ..., "alt": ...}]`. 422: too large or not an image',
        responses.MediaUpload,
        ok=201,
    )
    operation["requestBody"] = {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                    "required": ["file"],
                }
            }
        },
    }
    return operation


def _path_id(name: str) -> list[dict[str, Any]]:
    return [
        {"name": name, "in": "path", "required": True, "schema": {"type": "integer", "minimum": 0}}
    ]


_ID = _path_id("post_id")
_CAMPAIGN_ID = _path_id("campaign_id")


_PLAYBOOK_ID = _path_id("playbook_id")


def _components() -> dict[str, Any]:
    """Request schemas as they validate, answers as they are serialised."""
    requests = [
        schemas.ChannelCreate,
        schemas.ChannelUpdate,
        schemas.DepartmentCreate,
        schemas.UserDepartments,
        schemas.PostCreate,
        schemas.PostUpdate,
        schemas.CampaignCreate,
        schemas.CampaignUpdate,
        schemas.PlanImport,
        schemas.Release,
        schemas.CommentCreate,
        schemas.Discard,
        schemas.Duplicate,
        schemas.BulkRequest,
        schemas.CrisisDeclare,
        schemas.CrisisPreview,
        schemas.CrisisLift,
        schemas.BlackoutCreate,
        schemas.BlackoutUpdate,
        schemas.PlaybookCreate,
        schemas.PlaybookUpdate,
        schemas.InboxAssign,
        schemas.InboxClose,
        schemas.InboxReply,
        schemas.InboundItems,
        schemas.AlertDismiss,
        schemas.RoutingRuleCreate,
        schemas.WatchWordsSet,
        schemas.WatchedHashtagsSet,
        schemas.WatchedTermsSet,
    ]
    _, defs = models_json_schema(
        [(m, "validation") for m in requests + evaluation_answers.REQUESTS]
        + [(m, "serialization") for m in responses.ANSWERS + evaluation_answers.ANSWERS],
        ref_template="#/components/schemas/{model}",
    )
    return defs.get("$defs", {})


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


_AN_ID = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
# The plan's filters: the list, the CSV export (calendar_app/api/posts.py reads them).
_FILTERS = [
    _query(
        "status", {"type": "string", "enum": [s.value for s in PostStatus]}, "posts in this status"
    ),
    _query("from", {"type": "string", "format": "date-time"}, "publish_at at or after"),
    _query("to", {"type": "string", "format": "date-time"}, "publish_at before"),
    _query("channel", _AN_ID, "posts with a delivery to this channel"),
    _query("department", _AN_ID, "posts of this department"),
    _query("campaign", _AN_ID, "posts of this campaign"),
    _query(
        "q",
        {"type": "string", "maxLength": MAX_VALUE_LENGTH},
        "posts whose title, body, tags or comments hold every one of these words (the last may "
        "be the start of a word); the text is read as words, never as query syntax",
    ),
]
_PAGE = [
    _query(
        "limit",
        {
            "type": "integer",
            "minimum": 1,
            "maximum": paging.MAX_PAGE_SIZE,
            "default": paging.DEFAULT_PAGE_SIZE,
        },
        "at most this many posts",
    ),
    _query(
        "cursor",
        {"type": "string", "maxLength": MAX_VALUE_LENGTH},
        "`next_cursor` of the page before: the page after it",
    ),
]


def document() -> dict[str, Any]:
    r = responses
    filters = _FILTERS
    return {
        "openapi": "3.1.0",
        "info": {"title": "calendar_app API", "version": "1"},
        "servers": [{"url": "/api/v1"}],
        "components": {
            "schemas": _components(),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
        "paths": {
            "/health": {"get": {**_op("liveness", r.Health, errors=False), "security": []}},
            "/channels": {
                "get": _op("list channels", r.ChannelList),
                "post": _op("create a channel (admin)", r.Channel, schemas.ChannelCreate, 201),
            },
            "/channels/health": {
                "get": _op(
                    "graveyard check: silent channels, nothing planned, missing owners",
                    r.ChannelHealthList,
                )
            },
            "/channels/{channel_id}": {
                "patch": _op(
                    "set a channel's owner, deputy and graveyard alerts (admin)",
                    r.Channel,
                    schemas.ChannelUpdate,
                    parameters=_path_id("channel_id"),
                )
            },
            "/channels/{channel_id}/check": {
                "post": _op(
                    "sign in to the channel's network and name the account (admin)",
                    r.ChannelCheck,
                    parameters=_path_id("channel_id"),
                )
            },
            "/departments": {
                "get": _op("list departments", r.DepartmentList),
                "post": _op(
                    "add a department (admin)", r.Department, schemas.DepartmentCreate, 201
                ),
            },
            "/users": {"get": _op("list users with their departments (admin)", r.UserList)},
            "/users/{user_id}/deactivate": {
                "post": _op(
                    "deactivate a person who left (admin): their password, browser sessions and "
                    "API tokens stop working at once; the deputy takes over channels they owned, "
                    "empty places are flagged and the admins told; deactivating twice is harmless",
                    r.Deactivated,
                    parameters=_path_id("user_id"),
                )
            },
            "/users/{user_id}/reactivate": {
                "post": _op(
                    "let a deactivated person log in again (admin); tokens and channels stay "
                    "as they are",
                    r.User,
                    parameters=_path_id("user_id"),
                )
            },
            "/users/{user_id}/departments": {
                "put": _op(
                    "set a user's departments (admin)",
                    r.User,
                    schemas.UserDepartments,
                    parameters=_path_id("user_id"),
                )
            },
            "/media": {"post": _media_upload_op()},
            "/posts": {
                "get": _op(
                    "the plan in order (publish_at, then id), one page at a time: at most "
                    f"`limit` posts (default {paging.DEFAULT_PAGE_SIZE}, at most "
                    f"{paging.MAX_PAGE_SIZE}); `next_cursor` (null on the last page) fetches the "
                    "next page with the same filters",
                    r.PostPage,
                    parameters=filters + _PAGE,
                ),
                "post": _op("plan a post (draft)", r.Post, schemas.PostCreate, 201),
            },
            "/posts.csv": {
                "get": _csv_op(
                    "the filtered plan as CSV: title, body, publish_at (team time zone, with "
                    "offset), channels (names, |-separated), department, campaign, "
                    "crisis_response, status, overrides (JSON: channel name -> text)",
                    filters,
                )
            },
            "/posts/import": {
                "post": _op(
                    "import a plan from CSV as drafts: every row is checked first; nothing is "
                    "imported unless all rows are valid (422 names each bad line: "
                    '{"fields": {"line 3": "..."}})',
                    r.PostList,
                    schemas.PlanImport,
                    201,
                )
            },
            "/posts/{post_id}": {
                "get": _op("one post", r.Post, parameters=_ID),
                "patch": _op("edit a post", r.Post, schemas.PostUpdate, parameters=_ID),
            },
            "/posts/{post_id}/submit": {"post": _op("submit for approval", r.Post, parameters=_ID)},
            "/posts/{post_id}/approve": {
                "post": _op("approve (head, admin)", r.Post, parameters=_ID)
            },
            "/posts/{post_id}/release": {
                "post": _op(
                    "release a held post (head, admin)", r.Post, schemas.Release, parameters=_ID
                )
            },
            "/posts/{post_id}/duplicate": {
                "post": _op(
                    "use a post as a template: a new draft by the caller with its title, text, "
                    "channel texts, channels, tags, campaign, department and images (with alt "
                    "text), at `publish_at` (audited as `duplicate`)",
                    r.Post,
                    schemas.Duplicate,
                    201,
                    parameters=_ID,
                )
            },
            "/posts/bulk": {
                "post": _op(
                    "one action on several posts (submit, move by days, assign a campaign), each "
                    "by the rules that apply to it alone; a refusal keeps nothing of that post and "
                    "stops no other; the answer says for each post what was done or why not",
                    r.BulkResult,
                    schemas.BulkRequest,
                )
            },
            "/posts/{post_id}/discard": {
                "post": _op("discard a post", r.Post, schemas.Discard, parameters=_ID)
            },
            "/posts/{post_id}/comments": {
                "get": _op("comments on a post, oldest first", r.CommentList, parameters=_ID),
                "post": _op(
                    "comment on a post; @e-mail mentions notify",
                    r.Comment,
                    schemas.CommentCreate,
                    201,
                    parameters=_ID,
                ),
            },
            "/campaigns": {
                "get": _op("list campaigns", r.CampaignList),
                "post": _op(
                    "create a campaign (head, admin)",
                    r.CampaignDetail,
                    schemas.CampaignCreate,
                    201,
                ),
            },
            "/campaigns/{campaign_id}": {
                "get": _op(
                    "one campaign with its delivery record",
                    r.CampaignDetail,
                    parameters=_CAMPAIGN_ID,
                ),
                "patch": _op(
                    "change a campaign (head, admin)",
                    r.CampaignDetail,
                    schemas.CampaignUpdate,
                    parameters=_CAMPAIGN_ID,
                ),
            },
            "/crisis": {
                "get": _op("the crisis in force", r.Crisis),
                "post": _op("declare a crisis (head, admin)", r.Crisis, schemas.CrisisDeclare, 201),
            },
            "/crisis/preview": {
                "post": _op(
                    "what a declaration with this scope would hold (head, admin)",
                    r.CrisisPreview,
                    schemas.CrisisPreview,
                )
            },
            "/crisis/acknowledge": {
                "post": _op("I am on the escalation list and have seen the crisis", r.Crisis)
            },
            "/playbooks": {
                "get": _op("crisis playbooks", r.PlaybookList),
                "post": _op(
                    "prepare a playbook (head, admin)", r.Playbook, schemas.PlaybookCreate, 201
                ),
            },
            "/playbooks/{playbook_id}": {
                "get": _op("one playbook", r.Playbook, parameters=_PLAYBOOK_ID),
                "patch": _op(
                    "edit a playbook (head, admin)",
                    r.Playbook,
                    schemas.PlaybookUpdate,
                    parameters=_PLAYBOOK_ID,
                ),
                "delete": _op(
                    "delete a playbook (head, admin)", r.Deleted, parameters=_PLAYBOOK_ID
                ),
            },
            "/crisis/lift": {
                "post": _op(
                    "lift the crisis (head, admin)",
                    r.Crisis,
                    schemas.CrisisLift,
                    also={202: "a second head or admin must confirm"},
                )
            },
            "/crises/{crisis_id}/timeline": {
                "get": _op(
                    "what happened during one crisis, oldest first (head, admin)",
                    r.CrisisTimeline,
                    parameters=_path_id("crisis_id"),
                )
            },
            "/crisis/lift/confirm": {
                "post": _op("confirm a requested lift (head, admin)", r.Crisis)
            },
            "/notifications": {
                "get": _op(
                    "my notifications, newest first",
                    r.NotificationList,
                    parameters=[
                        {
                            "name": "unread",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "string", "enum": ["true", "false"]},
                        }
                    ],
                )
            },
            "/notifications/{notification_id}/read": {
                "post": _op(
                    "mark one of my notifications read",
                    r.Notification,
                    parameters=[
                        {
                            "name": "notification_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "integer", "minimum": 0},
                        }
                    ],
                )
            },
            "/notifications/read": {"post": _op("mark all my notifications read", r.UnreadCount)},
            "/notifications/settings": {
                "get": _op("how I am told of each kind of notice", r.NoticeSettings),
                "put": _op(
                    "change how I am told of some kinds of notice",
                    r.NoticeSettings,
                    schemas.NoticeSettingsUpdate,
                ),
            },
            "/me/feed": _feed_ops(),
            **_blackout_paths(),
            **_listening_paths(),
            **_evaluation_paths(),
        },
    }


def _feed_ops() -> dict[str, Any]:
    r = responses
    switch_off = _op("switch my calendar feed off: its address answers 404", r.Error)
    switch_off["responses"].pop("200")
    switch_off["responses"]["204"] = {"description": "switched off (or there was none)"}
    return {
        "get": _op("my calendar feed's secret address (iCal), or nulls: none", r.CalendarFeed),
        "post": _op(
            "create or renew my calendar feed's address: a new secret; the old address answers "
            "404 from now on",
            r.CalendarFeed,
            ok=201,
        ),
        "delete": switch_off,
    }


def _blackout_paths() -> dict[str, Any]:
    r = responses
    one = [
        {
            "name": "blackout_id",
            "in": "path",
            "required": True,
            "schema": {"type": "integer", "minimum": 0},
        }
    ]
    delete = _op("cancel a blackout date (head, admin)", r.Blackout, parameters=one)
    delete["responses"].pop("200")
    delete["responses"]["204"] = {"description": "cancelled; what it held stays held"}
    return {
        "/blackouts": {
            "get": _op("blackout dates, by start time", r.BlackoutList),
            "post": _op(
                "plan a blackout date (head, admin); everyone is told",
                r.Blackout,
                schemas.BlackoutCreate,
                201,
            ),
        },
        "/blackouts/{blackout_id}": {
            "get": _op("one blackout date", r.Blackout, parameters=one),
            "patch": _op(
                "change a blackout date (head, admin)",
                r.Blackout,
                schemas.BlackoutUpdate,
                parameters=one,
            ),
            "delete": delete,
        },
    }


def _listening_paths() -> dict[str, Any]:
    r = responses
    item = _path_id("item_id")
    alert = _path_id("alert_id")
    channel = _path_id("channel_id")
    rule = _path_id("rule_id")
    delete = _op("delete a routing rule (admin)", r.Error, parameters=rule)
    delete["responses"].pop("200")
    delete["responses"]["204"] = {"description": "deleted"}
    close = _op("close an inbox item", r.InboxItem, parameters=item)
    close["requestBody"] = {"required": False, "content": _json(_ref(schemas.InboxClose))}
    return {
        "/inbox": {
            "get": _op(
                "what people said to our accounts, newest first (planners: their departments', "
                "unrouted and their own items; heads and admins: all)",
                r.InboxList,
                parameters=[
                    _query("status", {"type": "string", "enum": list(inbox.STATUSES)}, "status"),
                    _query("channel", _AN_ID, "items on this channel"),
                    _query("department", _AN_ID, "items of this department"),
                    _query("assignee", _AN_ID, "items assigned to this person"),
                ],
            )
        },
        "/channels/{channel_id}/inbound": {
            "post": {
                **_op(
                    "feed items into a webhook channel's inbox: no token; X-Signature-Timestamp "
                    "(unix seconds, within 5 minutes of our clock) and X-Signature-SHA256 (hex "
                    "HMAC-SHA256 with the channel's secret over '<timestamp>.' and the raw body); "
                    "items are stored once by their id",
                    r.InboundReceipt,
                    schemas.InboundItems,
                    201,
                    also={200: "nothing new: every item was stored before"},
                    parameters=channel,
                    description="401: not signed, signed with another secret, too old, or no "
                    "active webhook channel",
                ),
                "security": [],
            }
        },
        "/inbox/answer-times": {
            "get": _op(
                "time to first answer (median, p90) per department and channel over 7 and 30 "
                "days, of the items the reader may see",
                r.AnswerTimesList,
            )
        },
        "/inbox/{item_id}": {"get": _op("one inbox item", r.InboxItem, parameters=item)},
        "/inbox/{item_id}/assign": {
            "post": _op(
                "hand an item to a department and/or a person with a note; the person is told",
                r.InboxItem,
                schemas.InboxAssign,
                parameters=item,
            )
        },
        "/inbox/{item_id}/close": {"post": close},
        "/inbox/{item_id}/reply": {
            "post": _op(
                "reply through the item's channel, answering its status: a post with one "
                "delivery, approved at once when the author may approve it, held like any post",
                r.Post,
                schemas.InboxReply,
                201,
                parameters=item,
            )
        },
        "/inbox/rules": {
            "get": _op(
                "routing rules: a word sends arriving items to a department", r.RoutingRuleList
            ),
            "post": _op(
                "add a routing rule (admin)", r.RoutingRule, schemas.RoutingRuleCreate, 201
            ),
        },
        "/inbox/rules/{rule_id}": {"delete": delete},
        "/channels/{channel_id}/hashtags": {
            "get": _op("the hashtags a channel listens to", r.WatchedHashtags, parameters=channel),
            "put": _op(
                "set the hashtags a channel listens to (admin)",
                r.WatchedHashtags,
                schemas.WatchedHashtagsSet,
                parameters=channel,
            ),
        },
        "/channels/{channel_id}/terms": {
            "get": _op(
                "the search terms a channel listens to (whole words, any case)",
                r.WatchedTerms,
                parameters=channel,
            ),
            "put": _op(
                "set the search terms a channel listens to (admin)",
                r.WatchedTerms,
                schemas.WatchedTermsSet,
                parameters=channel,
            ),
        },
        "/alerts": {
            "get": _op(
                "early-warning alerts, newest first",
                r.AlertList,
                parameters=[
                    _query(
                        "status",
                        {"type": "string", "enum": ["open", "dismissed", "declared"]},
                        "alerts in this status",
                    )
                ],
            )
        },
        "/alerts/{alert_id}": {"get": _op("one alert", r.Alert, parameters=alert)},
        "/alerts/{alert_id}/dismiss": {
            "post": _op(
                "no storm (head, admin): the hold ends, what it held stays held for review",
                r.Alert,
                schemas.AlertDismiss,
                parameters=alert,
            )
        },
        "/alerts/watch-words": {
            "get": _op("the watch list that makes the early warning more sensitive", r.WatchWords),
            "put": _op("set the watch list (head, admin)", r.WatchWords, schemas.WatchWordsSet),
        },
    }


def _evaluation_paths() -> dict[str, Any]:
    e = evaluation_answers
    delivery = _path_id("delivery_id")
    channel = _path_id("channel_id")
    inbound = _op(
        "results of a webhook channel's delivery, sent by its receiver; no bearer token: signed "
        "with the channel's secret (X-Signature-Timestamp: unix seconds; X-Signature-SHA256: hex "
        "HMAC-SHA256 of '<timestamp>.' followed by the raw body), refused with 401 otherwise",
        e.InboundResult,
        e.ResultsInbound,
        201,
        parameters=channel,
    )
    inbound["security"] = []
    return {
        "/deliveries/{delivery_id}/results": {
            "get": _op(
                "the measurements of one delivery, oldest first (a time series)",
                e.DeliveryResults,
                parameters=delivery,
            )
        },
        "/posts/{post_id}/results": {
            "get": _op(
                "the measurements of a post's deliveries, and the latest of each summed",
                e.PostResults,
                parameters=_ID,
            )
        },
        "/results.csv": {
            "get": _csv_op(
                "every measurement as CSV, one row each",
                [
                    _query("from", {"type": "string", "format": "date-time"}, "measured from"),
                    _query("to", {"type": "string", "format": "date-time"}, "measured before"),
                    _query("channel", _AN_ID, "of this channel"),
                    _query("campaign", _AN_ID, "of this campaign's posts"),
                ],
            )
        },
        "/results/inbound/{channel_id}": {"post": inbound},
        "/team": {
            "get": _op(
                "per department and channel: planned, published, held, missed, discarded, inbox "
                "items answered; channels whose results fall while their cadence holds",
                e.TeamView,
                parameters=[
                    _query("from", {"type": "string", "format": "date"}, "first day (included)"),
                    _query("to", {"type": "string", "format": "date"}, "last day (included)"),
                ],
            )
        },
        "/reports/monthly": {
            "get": _op(
                "the management report's figures (head, admin); the page and its PDF are at "
                "/reports/monthly and /reports/monthly.pdf",
                e.MonthlyReport,
                parameters=[
                    _query(
                        "month",
                        {"type": "string", "pattern": "^[0-9]{4}-(0[1-9]|1[0-2])$"},
                        "e.g. 2026-11; default the last full month",
                    ),
                    _query("from", {"type": "string", "format": "date"}, "or: first day"),
                    _query("to", {"type": "string", "format": "date"}, "and last day"),
                ],
            )
        },
        "/campaigns/{campaign_id}/evaluation": {
            "get": _op(
                "each KPI against what was measured (null: not measured), the posts ranked by "
                "result, the cadence per week against the plan",
                e.CampaignEvaluation,
                parameters=[
                    *_CAMPAIGN_ID,
                    _query(
                        "top",
                        {"type": "integer", "minimum": 1, "maximum": 10000},
                        "how many ranked posts (default 50)",
                    ),
                ],
            )
        },
    }
