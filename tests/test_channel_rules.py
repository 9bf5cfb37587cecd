from __future__ import annotations

import pytest

from calendar_app.channel_rules import RULES, X_LINK_LENGTH, body_problem, visible_length
from tests.conftest import Team

FUTURE = "2030-12-01T09:00:00+01:00"


@pytest.mark.parametrize(
    ("text", "length"),
    [
        ("Hallo", 5),
        ("Grüße", 5),
        ("👍🏽", 1),  # thumbs up with a skin tone
        ("👨‍👩‍👧‍👦", 1),  # a family: one emoji made of seven code points
        ("🇩🇪", 1),  # a flag: two regional indicators
        ("e\u0301", 1),  # e + combining acute accent
    ],
)
def test_length_is_counted_as_people_see_characters(text: str, length: int) -> None:
    assert visible_length(text) == length


@pytest.mark.parametrize(
    ("network", "limit"),
    [
        ("x", 280),
        ("mastodon", 500),
        ("bluesky", 300),
        ("threads", 500),
        ("linkedin", 3000),
        ("instagram", 2200),
        ("facebook", 63206),
    ],
)
def test_each_network_has_its_limit_and_a_longer_text_is_refused(network: str, limit: int) -> None:
    assert RULES[network].max_length == limit
    assert body_problem("a" * limit, network, "Kanal") is None
    problem = body_problem("a" * (limit + 1), network, "Kanal")
    assert problem is not None
    assert str(limit) in problem
    assert "never cut" in problem


def test_blog_and_other_have_no_length_limit_of_their_own() -> None:
    assert body_problem("a" * 65_536, "blog", "Blog") is None
    assert body_problem("a" * 65_536, "other", "Intranet") is None
    # ... only the app's bound on any text, which no channel's own limit exceeds
    assert body_problem("a" * 65_537, "blog", "Blog") is not None


def test_emoji_heavy_text_at_the_limit_fits_bluesky_counted_as_people_see_it() -> None:
    assert body_problem("👨‍👩‍👧‍👦" * 300, "bluesky", "Bluesky") is None
    assert body_problem("👨‍👩‍👧‍👦" * 301, "bluesky", "Bluesky") is not None
    # X weighs an emoji 2 (tests/test_x_counting.py)
    assert body_problem("👨‍👩‍👧‍👦" * 140, "x", "X") is None
    assert body_problem("👨‍👩‍👧‍👦" * 141, "x", "X") is not None


def test_instagram_refuses_links_and_needs_a_picture_the_others_take_links() -> None:
    assert RULES["instagram"].image_required
    assert all(rules.images_allowed for rules in RULES.values())
    problem = body_problem("Mehr unter https://nordhafen.example/x", "instagram", "Insta NH")
    assert problem is not None
    assert "Insta NH" in problem
    assert "link" in problem
    for network in ("x", "mastodon", "bluesky", "threads", "linkedin", "facebook", "blog"):
        assert body_problem("Mehr unter https://nordhafen.example/x", network, "K") is None


def test_a_post_too_long_for_one_channel_is_refused_naming_that_channel_and_never_cut(
    team: Team,
) -> None:
    x = team.channel("X @Konzern", network="x")
    blog = team.channel("Blog", network="blog")
    body = "🇩🇪" * 141  # 282 code points, 141 characters as people see them; X weighs each 2
    response = team.planner.post(
        "/posts",
        json={"body": body, "channels": [x["id"], blog["id"]], "publish_at": FUTURE},
    )
    assert response.status_code == 422
    answer = response.get_json()
    assert "X @Konzern" in answer["fields"]["body"]
    assert "282" in answer["fields"]["body"]
    assert "280" in answer["error"]
    assert team.planner.get("/posts").get_json()["items"] == []

    fits = team.draft([x["id"], blog["id"]], body="🇩🇪" * 140)
    assert fits["body"] == "🇩🇪" * 140  # stored in full, nothing cut


def test_an_own_text_for_a_channel_obeys_that_channels_rules(team: Team) -> None:
    x = team.channel("X @Konzern", network="x")
    insta = team.channel("Instagram NH", network="instagram")
    image = {"id": team.image()["id"], "alt": "Das Hafenfest"}
    post = team.draft([x["id"], insta["id"]], body="Kurz.", media=[image])
    too_long = team.planner.patch(
        f"/posts/{post['id']}", json={"overrides": {str(x["id"]): "a" * 281}}
    )
    assert too_long.status_code == 422
    assert "X @Konzern" in too_long.get_json()["fields"][f"overrides.{x['id']}"]
    link = team.planner.patch(
        f"/posts/{post['id']}", json={"overrides": {str(insta["id"]): "https://example.org"}}
    )
    assert link.status_code == 422
    assert "Instagram NH" in link.get_json()["fields"][f"overrides.{insta['id']}"]
    assert team.post(post["id"])["deliveries"][0]["body_override"] is None


def test_the_link_length_written_out_is_twitter_texts() -> None:
    from twitter_text.config import config

    assert config["defaults"]["transformed_url_length"] == X_LINK_LENGTH
