"""Browser views: server-rendered pages over the rules modules. Every page but login needs a login.

The route table is here; the views live in auth.py, pages.py (reading), compose.py (the
composer), actions.py (buttons that change things) and feed.py (JSON for the calendar widget).
"""

from __future__ import annotations

import secrets
from typing import Any

from flask import Blueprint, current_app, g, render_template, request, session
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.wrappers import Response

from calendar_app.crisis import current_crisis
from calendar_app.errors import RuleError, http_words
from calendar_app.extensions import db_session, login_manager
from calendar_app.listening.alerts import open_alerts
from calendar_app.models import User
from calendar_app.notifications import unread_count
from calendar_app.permissions import is_admin, is_reviewer
from calendar_app.query_args import InvalidQuery
from calendar_app.request_limits import body_limit
from calendar_app.web import (
    actions,
    admin,
    auth,
    blackouts,
    bulk_actions,
    campaigns,
    compose,
    evaluation,
    feed,
    icons,
    imports,
    inbox,
    media,
    pages,
    playbooks,
    queries,
    subscriptions,
    timeline,
)
from calendar_app.web.actions import declare_form
from calendar_app.web.auth import SESSION_VERSION_KEY
from calendar_app.web.formatting import FILTERS, team_timezone
from calendar_app.web.forms import ActionForm
from calendar_app.web.i18n import LANGUAGES, page_locale

web = Blueprint("web", __name__)

login_manager.login_view = "web.login"
login_manager.login_message = _l("Please log in.")
login_manager.login_message_category = "info"

# The iCal feed is public: its secret token is the credential (calendar programs cannot log in).
# The acknowledgement link in an escalation e-mail is for people outside the app: its secret
# token is the key (escalation.py), and opening it changes nothing.
# A signed image link is for a webhook's receiver: its signature is the key, and it expires.
PUBLIC_ENDPOINTS = {"web.login", "web.ical_feed", "web.acknowledge_link", "web.signed_media"}
# Scripts only from our own files (no inline scripts, no inline handlers). Styles from our files,
# plus the one <style> element the calendar widget fills, which carries the request's nonce;
# inline style attributes only carry a department's colour.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'nonce-{nonce}'; "
    "style-src-attr 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "object-src 'none'"
)

_route = web.add_url_rule
_route("/login", "login", auth.login, methods=["GET", "POST"])
_route("/logout", "logout", auth.logout, methods=["POST"])
_route("/language", "language", actions.choose_language, methods=["POST"])
_route("/", "calendar", pages.calendar)
_route("/calendar/events", "events", feed.events)
_route("/calendar/export.csv", "export_csv", feed.export_csv)
_route("/agenda", "agenda", pages.agenda)
_route("/agenda/bulk", "bulk_action", bulk_actions.bulk_action, methods=["POST"])
_route("/search", "search", pages.search)
_route("/compose", "compose", compose.compose, methods=["GET", "POST"])
_route("/media", "upload_media", media.upload_media, methods=["POST"])
_route("/media/<int:media_id>", "media", media.show_media)
_route("/media/signed/<token>", "signed_media", media.signed_media)
_route("/posts/import", "import_plan", imports.import_plan, methods=["GET", "POST"])
_route("/posts/<int:post_id>", "post", pages.post)
_route("/posts/<int:post_id>/comments", "comment", actions.comment, methods=["POST"])
_route("/posts/<int:post_id>/edit", "edit", compose.edit, methods=["GET", "POST"])
_route("/posts/<int:post_id>/submit", "submit", actions.submit, methods=["POST"])
_route("/posts/<int:post_id>/approve", "approve", actions.approve, methods=["POST"])
_route("/posts/<int:post_id>/send-back", "send_back", actions.send_back, methods=["POST"])
_route("/posts/<int:post_id>/discard", "discard", actions.discard, methods=["POST"])
_route("/posts/<int:post_id>/duplicate", "duplicate", actions.duplicate, methods=["POST"])
_route("/posts/<int:post_id>/reschedule", "reschedule", feed.reschedule, methods=["POST"])
_route("/campaigns", "campaigns", campaigns.campaign_list)
_route("/campaigns/new", "new_campaign", campaigns.new_campaign, methods=["GET", "POST"])
_route("/campaigns/<int:campaign_id>", "campaign", campaigns.campaign_page)
_route(
    "/campaigns/<int:campaign_id>/results.csv",
    "campaign_results_csv",
    evaluation.campaign_results_csv,
)
_route("/team", "team_view", evaluation.team_page)
_route("/reports/monthly", "monthly_report", evaluation.report_page)
_route("/reports/monthly.pdf", "monthly_report_pdf", evaluation.report_pdf)
_route(
    "/campaigns/<int:campaign_id>/edit",
    "edit_campaign",
    campaigns.edit_campaign,
    methods=["GET", "POST"],
)
_route("/feeds/<token>.ics", "ical_feed", subscriptions.ical_feed)
_route("/subscription", "subscription", subscriptions.subscription)
_route("/subscription/renew", "renew_subscription", subscriptions.renew, methods=["POST"])
_route("/subscription/revoke", "revoke_subscription", subscriptions.revoke, methods=["POST"])
_route("/approvals", "approvals", pages.approvals)
_route("/crisis", "crisis", pages.crisis_status)
_route("/crisis/declare", "declare", actions.declare_crisis, methods=["GET", "POST"])
_route("/crisis/lift", "lift", actions.lift_crisis, methods=["POST"])
_route("/crisis/lift/confirm", "confirm_lift", actions.confirm_lift, methods=["POST"])
_route("/crisis/review", "review", actions.review, methods=["POST"])
_route("/crisis/<int:crisis_id>/timeline", "timeline", timeline.timeline_page)
_route("/crisis/<int:crisis_id>/timeline.html", "timeline_export", timeline.timeline_export)
_route("/blackouts", "blackouts", blackouts.blackouts_page)
_route("/blackouts", "plan_blackout", blackouts.plan_blackout, methods=["POST"])
_route(
    "/blackouts/<int:blackout_id>/cancel",
    "cancel_blackout",
    blackouts.cancel_blackout,
    methods=["POST"],
)
_route("/calendar/blackouts", "blackout_events", blackouts.blackout_events)
_route("/crisis/acknowledge", "acknowledge", playbooks.acknowledge, methods=["POST"])
_route(
    "/crisis/ack/<token>",
    "acknowledge_link",
    playbooks.acknowledge_by_link,
    methods=["GET", "POST"],
)
_route("/playbooks", "playbooks", playbooks.index)
_route("/playbooks/new", "new_playbook", playbooks.create, methods=["GET", "POST"])
_route("/playbooks/<int:playbook_id>", "edit_playbook", playbooks.edit, methods=["GET", "POST"])
_route("/playbooks/<int:playbook_id>/delete", "delete_playbook", playbooks.delete, methods=["POST"])
_route("/outbox", "outbox", pages.outbox)
_route("/inbox", "inbox", inbox.inbox_page)
_route("/inbox/<int:item_id>/assign", "assign_inbox_item", inbox.assign_item, methods=["POST"])
_route("/inbox/<int:item_id>/reply", "reply_to_inbox_item", inbox.reply_to_item, methods=["POST"])
_route("/inbox/<int:item_id>/close", "close_inbox_item", inbox.close_item, methods=["POST"])
_route("/inbox/rules", "add_routing_rule", inbox.add_rule, methods=["POST"])
_route(
    "/inbox/rules/<int:rule_id>/delete", "delete_routing_rule", inbox.delete_rule, methods=["POST"]
)
_route("/alerts/<int:alert_id>/dismiss", "dismiss_alert", inbox.dismiss_alert, methods=["POST"])
_route(
    "/alerts/<int:alert_id>/declare",
    "declare_from_alert",
    inbox.declare_from_alert,
    methods=["POST"],
)
_route("/alerts/watch-words", "watch_words", inbox.set_watch_words, methods=["POST"])
_route(
    "/inbox/channels/<int:channel_id>/watching",
    "watch_channel",
    inbox.set_watching,
    methods=["POST"],
)
_route("/audit", "audit", pages.audit_log)
_route("/notifications", "notifications", pages.notifications_page)
_route(
    "/notifications/read", "read_notifications", actions.read_all_notifications, methods=["POST"]
)
_route(
    "/notifications/settings",
    "notice_settings",
    actions.save_notice_settings,
    methods=["POST"],
)
_route(
    "/notifications/<int:notification_id>/read",
    "read_notification",
    actions.read_notification,
    methods=["POST"],
)
_route("/admin/departments", "departments", admin.departments_page, methods=["GET", "POST"])
_route("/admin/people", "people", admin.people_page)
_route(
    "/admin/people/<int:user_id>/departments",
    "set_person_departments",
    admin.set_person_departments,
    methods=["POST"],
)
_route(
    "/admin/people/<int:user_id>/deactivate",
    "deactivate_person",
    admin.deactivate_person,
    methods=["GET", "POST"],
)
_route(
    "/admin/people/<int:user_id>/reactivate",
    "reactivate_person",
    admin.reactivate_person,
    methods=["POST"],
)
_route("/admin/channels", "channels", admin.channels_page)
_route(
    "/admin/channels/mastodon", "add_mastodon_channel", admin.add_mastodon_channel, methods=["POST"]
)
_route(
    "/admin/channels/bluesky", "add_bluesky_channel", admin.add_bluesky_channel, methods=["POST"]
)
_route(
    "/admin/channels/<int:channel_id>/check", "check_channel", admin.check_channel, methods=["POST"]
)
_route("/dashboard", "dashboard", admin.dashboard)
_route("/admin/channels/<int:channel_id>", "channel", admin.channel_page, methods=["GET", "POST"])
for _name, _filter in {
    **FILTERS,
    "goal_label": campaigns.goal_label,
    "kpi_number": campaigns.kpi_number,
    **evaluation.FILTERS,
}.items():
    web.add_app_template_filter(_filter, _name)
web.add_app_template_global(icons.icon, "icon")
web.add_app_template_global(icons.network_icon, "network_icon")
web.add_app_template_global(icons.NETWORK_NAMES, "network_names")


@login_manager.user_loader
def _load_user(user_id: str) -> User | None:
    """The signed-in user, unless their sessions were ended (logout) since this one began."""
    if not user_id.isdigit() or len(user_id) > 10:
        return None
    user = db_session().get(User, int(user_id))
    if user is None or not user.active or session.get(SESSION_VERSION_KEY) != user.session_version:
        return None
    return user


@web.before_request
def _require_login() -> Response | None:
    if request.endpoint in PUBLIC_ENDPOINTS or current_user.is_authenticated:
        return None
    return login_manager.unauthorized()


def csp_nonce() -> str:
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return str(g.csp_nonce)


@web.after_request
def _security_headers(response: Response) -> Response:
    """The pages' own policy; the headers every response carries are added in security.py."""
    response.headers.setdefault(
        "Content-Security-Policy", CONTENT_SECURITY_POLICY.format(nonce=csp_nonce())
    )
    # Pages show unpublished plans: no copy in shared caches or the browser's history cache.
    response.headers.setdefault("Cache-Control", "no-store")
    return response


@web.context_processor
def _page_context() -> dict[str, Any]:
    """What every page shows: the crisis banner and button, the menu, the language switch."""
    common = {
        "team_timezone": team_timezone(),
        "csp_nonce": csp_nonce(),
        "languages": LANGUAGES,
        "page_locale": str(get_locale()),
    }
    if not current_user.is_authenticated:
        return {
            **common,
            "crisis_in_force": None,
            "open_alerts": [],
            "may_review": False,
            "may_administer": False,
        }
    session = db_session()
    reviewer = is_reviewer(current_user)
    in_force = current_crisis(session)
    context = {
        **common,
        "crisis_in_force": in_force,
        "open_alerts": open_alerts(session),
        "may_review": reviewer,
        "may_administer": is_admin(current_user),
        "menu_form": ActionForm(),
        "waiting_for_approval": queries.count_in_review(session) if reviewer else 0,
        "unread_notifications": unread_count(session, current_user),
    }
    if reviewer and in_force is None:  # the crisis button and its dialog, on every page
        context["declare_form"] = declare_form(session)
    return context


@web.errorhandler(CSRFError)
def _csrf_error(exc: CSRFError) -> tuple[str, int]:
    message = _l("The form has expired or is incomplete. Please reload the page.")
    return render_template("error.html", code=400, message=message), 400


@web.errorhandler(RequestEntityTooLarge)
def _too_large(exc: RequestEntityTooLarge) -> tuple[str, int]:
    """A form or file over the body limit (request_limits.py): say so in words, with 413."""
    limit = body_limit(current_app.config["CALENDAR"], request.endpoint)
    # The body stays unread: the page (its menu forms included) sees no form data at all.
    request.form = request.files = ImmutableMultiDict()  # type: ignore[misc]
    message = _l(
        "What you sent is larger than the %(size)s this page takes. Shorten the text or "
        "choose a smaller file, then try again.",
        size=f"{limit / (1024 * 1024):.1f} MB",
    )
    return render_template("error.html", code=413, message=message), 413


@web.errorhandler(InvalidQuery)
def _unreadable_address(exc: InvalidQuery) -> tuple[str, int]:
    """A link with a parameter the page cannot read: 400, naming it (never a 500)."""
    message = _l("This address cannot be read: %(problems)s.", problems=exc.message)
    return render_template("error.html", code=400, message=message), 400


@web.errorhandler(RuleError)
def _rule_error(exc: RuleError) -> Any:
    if request.endpoint == "web.upload_media":  # the composer's upload reads JSON
        message, fields = exc.said(page_locale())
        return {"error": message, "fields": fields}, exc.status_code
    return render_template("error.html", code=exc.status_code, message=exc.message), exc.status_code


def http_error_page(exc: HTTPException) -> tuple[str, int]:
    """An HTTP error as one of the app's pages, in the reader's language, with the menu when
    signed in: also for an address no page has, which the blueprint's own hooks never see."""
    code = exc.code or 500
    shell = {} if request.blueprint == web.name else _page_context()
    message = http_words(exc, request.method)
    return render_template("error.html", code=code, message=message, **shell), code


web.register_error_handler(HTTPException, http_error_page)
