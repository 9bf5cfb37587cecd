"""Use a post as a template: a new draft of one's own with the same text, channels, tags,
campaign, department and images (with their alt text), at a time one picks; audited."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from calendar_app.extensions import get_db
from calendar_app.models import AuditEntry
from calendar_app.timeutil import iso_utc, now_utc
from tests.conftest import Team
from tests.support.web import csrf_token, signed_in
from tests.test_campaigns import campaign
from tests.test_departments import departments


def test_a_copy_is_a_new_draft_of_mine_with_everything_but_the_time(any_team: Team) -> None:
    team = any_team
    first, second = team.channel("Blog")["id"], team.channel("Intranet")["id"]
    image = team.image()
    drive = campaign(team)
    original = team.scheduled(
        [first, second],
        title="Tag der offenen Tür",
        body="Wir öffnen die Werkstore.",
        overrides={str(second): "Kurzfassung fürs Intranet"},
        tags=["werk", "familie"],
        campaign_id=drive["id"],
        media=[{"id": image["id"], "alt": "Das Werkstor im Sonnenschein"}],
    )
    at = now_utc().replace(microsecond=0) + timedelta(days=30)
    response = team.planner2.post(
        f"/posts/{original['id']}/duplicate", json={"publish_at": iso_utc(at)}
    )
    assert response.status_code == 201, response.get_json()
    copy = response.get_json()
    assert copy["id"] != original["id"]
    assert copy["status"] == "draft"
    assert copy["author"] == "planner2@example.org"
    assert copy["approved_by"] is None
    assert copy["publish_at"] == iso_utc(at)
    for same in ("title", "body", "channels", "tags", "department_id", "campaign"):
        assert copy[same] == original[same], same
    assert [(m["id"], m["alt"]) for m in copy["media"]] == [
        (image["id"], "Das Werkstor im Sonnenschein")
    ]
    overrides = {d["channel_id"]: d.get("body_override") for d in copy["deliveries"]}
    assert overrides == {d["channel_id"]: d.get("body_override") for d in original["deliveries"]}
    # The original is untouched and the copy's history says where it came from.
    assert team.post(original["id"])["status"] == "scheduled"
    with get_db(team.app).transaction() as session:
        entry = session.scalars(
            select(AuditEntry).where(
                AuditEntry.action == "duplicate", AuditEntry.subject_id == copy["id"]
            )
        ).one()
        assert entry.actor_id == team.ids["planner2"]
        assert entry.detail == {"template_id": original["id"]}


def test_a_copy_keeps_the_department_and_the_reason_its_images_need_no_alt_text(
    team: Team,
) -> None:
    """The department is the template's, not the copier's default; an image without alt text
    stays waived with the template's reason (a copy needs no new excuse)."""
    pr = departments(team)["pr"]
    image = team.image()
    reason = "Dekoratives Muster, der Text sagt alles"
    original = team.draft(
        [team.channel()["id"]],
        department_id=pr["id"],
        media=[{"id": image["id"]}],
        alt_text_waived=True,
        alt_text_waiver_reason=reason,
    )
    response = team.planner2.post(f"/posts/{original['id']}/duplicate", json={})
    assert response.status_code == 201, response.get_json()
    copy = response.get_json()
    assert copy["department"]["slug"] == "pr"
    assert (copy["alt_text_waived"], copy["alt_text_waiver_reason"]) == (True, reason)


def test_without_a_time_the_copy_lands_ahead_never_in_the_past(team: Team) -> None:
    channel = team.channel()["id"]
    ahead = team.draft([channel], at=now_utc() + timedelta(days=3))
    copy = team.planner.post(f"/posts/{ahead['id']}/duplicate").get_json()
    assert copy["publish_at"] == ahead["publish_at"]


def test_a_copy_of_a_crisis_response_is_a_normal_post(team: Team) -> None:
    channel = team.channel()["id"]
    team.head.post("/crisis", json={"reason": "Sturm"})
    statement = team.draft([channel], author="head", crisis_response=True)
    copy = team.planner.post(f"/posts/{statement['id']}/duplicate", json={}).get_json()
    assert copy["crisis_response"] is False


def test_a_bad_time_or_an_unknown_post_is_refused(team: Team) -> None:
    channel = team.channel()["id"]
    post = team.draft([channel])
    naive = team.planner.post(
        f"/posts/{post['id']}/duplicate", json={"publish_at": "2027-01-01T09:00:00"}
    )
    assert naive.status_code == 422
    assert "publish_at" in naive.get_json()["fields"]
    assert team.planner.post("/posts/999999/duplicate").status_code == 404
    assert team.anonymous.post(f"/posts/{post['id']}/duplicate").status_code == 401


def test_the_post_page_offers_use_as_template(team: Team) -> None:
    channel = team.channel()["id"]
    post = team.draft([channel], title="Vorlage Newsletter")
    browser = signed_in(team, "planner2")
    page = browser.get(f"/posts/{post['id']}").get_data(as_text=True)
    assert f"/posts/{post['id']}/duplicate" in page
    response = browser.post(
        f"/posts/{post['id']}/duplicate",
        data={"csrf_token": csrf_token(browser, f"/posts/{post['id']}"), "publish_at": ""},
    )
    assert response.status_code == 302
    new_id = int(response.headers["Location"].rstrip("/").split("/")[-2])
    assert new_id != post["id"]
    copy = team.post(new_id)
    assert copy["title"] == "Vorlage Newsletter"
    assert copy["author"] == "planner2@example.org"
