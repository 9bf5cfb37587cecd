"""The iCal feed: the public address (the secret token is the only credential) and the page where
a user sees, renews and revokes their address."""

from __future__ import annotations

from flask import Response, abort, flash, redirect, render_template, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from werkzeug.wrappers import Response as BaseResponse

from calendar_app import ical
from calendar_app.extensions import db_session
from calendar_app.models import Post
from calendar_app.timeutil import now_utc
from calendar_app.web.formatting import status_label, team_timezone
from calendar_app.web.forms import ActionForm
from calendar_app.web.pages import signed_in_user


def feed_url(token: str) -> str:
    return url_for("web.ical_feed", token=token, _external=True)


def ical_feed(token: str) -> Response:
    """No login: calendar programs cannot sign in. An unknown or revoked address is a 404."""
    session = db_session()
    feed = ical.feed_for_token(session, token)
    if feed is None:
        abort(404)
    feed.last_fetched_at = now_utc()
    with force_locale(feed.user.locale):
        body = ical.feed_calendar(
            session,
            name=_("Editorial calendar"),
            timezone=team_timezone(),
            status_line=lambda status: _("Status: %(status)s", status=status_label(status)),
            link=lambda post: _post_url(post),
        )
    return Response(
        body,
        content_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": 'inline; filename="redaktionsplan.ics"'},
    )


def _post_url(post: Post) -> str:
    return url_for("web.post", post_id=post.id, _external=True)


def subscription() -> str:
    feed = ical.feed_of(db_session(), signed_in_user())
    return render_template(
        "subscription.html",
        feed=feed,
        url=feed_url(feed.token) if feed else None,
        action_form=ActionForm(),
    )


def renew() -> BaseResponse:
    if not ActionForm().validate_on_submit():
        abort(400)
    ical.renew_feed(db_session(), signed_in_user())
    flash(_("Your calendar address is ready. An address you used before no longer works."))
    return redirect(url_for("web.subscription"))


def revoke() -> BaseResponse:
    if not ActionForm().validate_on_submit():
        abort(400)
    ical.revoke_feed(db_session(), signed_in_user())
    flash(_("Your calendar address is switched off."))
    return redirect(url_for("web.subscription"))
