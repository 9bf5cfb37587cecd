"""One text for several channels, with a channel's own version where it needs one."""

from __future__ import annotations

from tests.conftest import Clock, Team
from tests.support.receiver import Receiver

LONG = "Unser neues Kundenportal ist da: " + "Rechnungen, Zählerstände und Abschläge online. " * 8


def test_a_shorter_override_lets_a_long_post_go_to_x_as_well(
    team: Team, receiver: Receiver, make_dispatcher, clock: Clock
) -> None:
    x = team.channel(
        "X", kind="webhook", network="x", config={"url": receiver.url + "/x", "secret": "k"}
    )
    blog = team.channel(
        "Blog",
        kind="webhook",
        network="blog",
        config={"url": receiver.url + "/blog", "secret": "k"},
    )
    refused = team.planner.post(
        "/posts",
        json={
            "body": LONG,
            "channels": [x["id"], blog["id"]],
            "publish_at": "2026-12-01T09:00:00+01:00",
        },
    )
    assert refused.status_code == 422
    assert "body" in refused.get_json()["fields"]

    short = "Neu: unser Kundenportal. Alles online."
    post = team.scheduled(
        [x["id"], blog["id"]], at=clock.now, body=LONG, overrides={str(x["id"]): short}
    )
    make_dispatcher(team.app, clock=clock).run_pass()
    sent = {r.path: r.json["body"] for r in receiver.snapshot()}
    assert sent == {"/hook/x": short, "/hook/blog": LONG}
    by_channel = {d["channel_id"]: d["body_override"] for d in post["deliveries"]}
    assert by_channel == {x["id"]: short, blog["id"]: None}


def test_an_override_too_long_for_its_channel_names_the_override(team: Team) -> None:
    x = team.channel("X", network="x")
    response = team.planner.post(
        "/posts",
        json={
            "body": "kurz",
            "channels": [x["id"]],
            "publish_at": "2026-12-01T09:00:00Z",
            "overrides": {str(x["id"]): "a" * 281},
        },
    )
    assert response.status_code == 422
    assert f"overrides.{x['id']}" in response.get_json()["fields"]


def test_an_edit_to_an_override_too_long_for_its_channel_is_refused_and_keeps_the_old_text(
    team: Team,
) -> None:
    x = team.channel("X", network="x")
    post = team.draft([x["id"]], overrides={str(x["id"]): "kurz"}, body="kurz")
    refused = team.planner.patch(
        f"/posts/{post['id']}", json={"overrides": {str(x["id"]): "a" * 281}}
    )
    assert refused.status_code == 422, refused.get_json()
    assert f"overrides.{x['id']}" in refused.get_json()["fields"]
    [delivery] = team.post(post["id"])["deliveries"]
    assert delivery["body_override"] == "kurz"


def test_an_override_for_a_channel_the_post_does_not_use_is_refused(team: Team) -> None:
    x = team.channel("X", network="x")
    other = team.channel("Blog", network="blog")
    response = team.planner.post(
        "/posts",
        json={
            "body": "kurz",
            "channels": [x["id"]],
            "publish_at": "2026-12-01T09:00:00Z",
            "overrides": {str(other["id"]): "anders"},
        },
    )
    assert response.status_code == 422
    assert f"overrides.{other['id']}" in response.get_json()["fields"]


def test_editing_overrides_replaces_them_and_sends_an_approved_post_back(team: Team) -> None:
    x = team.channel("X", network="x")
    blog = team.channel("Blog", network="blog")
    post = team.scheduled([x["id"], blog["id"]], overrides={str(x["id"]): "kurz"})
    edited = team.planner.patch(f"/posts/{post['id']}", json={"overrides": {}})
    assert edited.status_code == 200, edited.get_json()
    assert edited.get_json()["status"] == "draft"
    assert all(d["body_override"] is None for d in edited.get_json()["deliveries"])


def test_a_channels_own_text_stays_through_other_edits_and_goes_with_its_channel(
    team: Team,
) -> None:
    """Editing the title, or replacing the overrides, keeps or sets each channel's own text;
    a channel taken off the post takes its own text with it."""
    x = team.channel("X", network="x")
    blog = team.channel("Blog", network="blog")
    intranet = team.channel("Intranet")
    post = team.draft([x["id"], blog["id"]], overrides={str(x["id"]): "kurz"}, body=LONG[:200])
    path = f"/posts/{post['id']}"

    def own_texts(answer: dict) -> dict[int, str | None]:
        return {d["channel_id"]: d["body_override"] for d in answer["deliveries"]}

    retitled = team.planner.patch(path, json={"title": "Kundenportal"})
    assert own_texts(retitled.get_json()) == {x["id"]: "kurz", blog["id"]: None}
    replaced = team.planner.patch(path, json={"overrides": {str(blog["id"]): "Langfassung"}})
    assert own_texts(replaced.get_json()) == {x["id"]: None, blog["id"]: "Langfassung"}
    both = {str(x["id"]): "kurz", str(blog["id"]): "Langfassung"}
    assert own_texts(team.planner.patch(path, json={"overrides": both}).get_json()) == {
        x["id"]: "kurz",
        blog["id"]: "Langfassung",
    }
    moved = team.planner.patch(path, json={"channels": [x["id"], intranet["id"]], "body": "Kurz."})
    assert moved.status_code == 200, moved.get_json()
    assert own_texts(moved.get_json()) == {x["id"]: "kurz", intranet["id"]: None}
