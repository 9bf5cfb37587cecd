"""X counts like X: twitter-text's weighted length (configuration v3) on the server.

The expected lengths in WEIGHTED are what twitter-text (the JavaScript library X publishes,
vendored for the composer in static/vendor/twitter-text) answers; tests/test_ui_preview.py checks
that the vendored library in the browser answers the same for every row.
"""

from __future__ import annotations

import time

import pytest
from twitter_text import parse_tweet

from calendar_app.channel_rules import (
    RULES,
    Counting,
    body_problem,
    text_length,
    visible_length,
    x_weighted_length,
)
from tests.conftest import Team

FUTURE = "2030-12-01T09:00:00+01:00"
LONG_URL = "https://www.stadtwerke-nordhafen.de/presse/2026/12/tag-der-offenen-tuer?utm_source=x&utm_medium=social"

# (text, X's weighted length)
WEIGHTED = [
    ("Hallo Welt", 10),
    ("Grüße aus Köln, Straße", 22),  # umlauts and ß weigh 1
    ("e\u0301", 1),  # e + combining accent: normalised to é
    ("Mehr: " + LONG_URL, 6 + 23),  # a link counts 23 whatever its length
    ("nordhafen.de", 23),  # so does a link without a protocol
    ("https://t.co/abc 🔥", 23 + 1 + 2),
    ("👍", 2),
    ("👍🏽", 2),  # skin tone modifier: one emoji
    ("👨‍👩‍👧‍👦", 2),  # ZWJ sequence of seven code points: one emoji
    ("🏳️‍🌈", 2),  # ZWJ sequence with a variation selector
    ("🇩🇪", 2),  # flag: two regional indicators
    ("1️⃣", 2),  # keycap
    ("😀😀", 4),
    ("日本語", 6),  # CJK weighs 2
    ("한국어", 6),
    ("—…€", 1 + 2 + 2),  # dash in the light ranges, ellipsis and euro sign not
    ("@nordhafen #tag", 15),
    ("a" * 280, 280),
    ("a" * 281, 281),
    ("ä" * 280, 280),
    ("日" * 140, 280),
    ("日" * 141, 282),
]


@pytest.mark.parametrize(("text", "weighted"), WEIGHTED)
def test_x_weighs_characters_as_twitter_text_does(text: str, weighted: int) -> None:
    assert parse_tweet(text).weightedLength == weighted  # the library itself
    assert x_weighted_length(text) == weighted  # as the app counts it, run by run
    assert text_length(text, "x") == weighted


def test_the_rules_table_says_how_each_network_counts() -> None:
    assert RULES["x"].counting is Counting.X_WEIGHTED
    for network, rules in RULES.items():
        if network != "x":
            assert rules.counting is Counting.GRAPHEMES, network
    assert RULES["bluesky"].max_length == 300
    assert text_length("👨‍👩‍👧‍👦 " + LONG_URL, "bluesky") == visible_length("👨‍👩‍👧‍👦 " + LONG_URL)


def test_counting_run_by_run_equals_counting_the_whole_text() -> None:
    text = " ".join(text for text, _ in WEIGHTED[:17]) + "\n\nZeile\r\nzwei\u3000全角"
    assert x_weighted_length(text) == parse_tweet(text).weightedLength


def test_a_run_that_looks_almost_like_a_domain_is_counted_quickly_and_never_too_short() -> None:
    # twitter-text's link search takes time growing with the square of such a run
    for text in ("a." * 30_000, "x-" * 30_000 + ".com", "ok " + "a." * 5_000):
        started = time.monotonic()
        assert x_weighted_length(text, 280) >= len(text) - 3
        assert time.monotonic() - started < 5
    assert body_problem("a." * 30_000, "x", "X") is not None


@pytest.mark.parametrize(
    ("body", "accepted"),
    [
        ("a" * 280, True),
        ("a" * 281, False),
        ("日" * 140, True),
        ("日" * 141, False),
        ("😀" * 140, True),
        ("😀" * 141, False),
        # a link counts 23, however long it is: 257 + 23 = 280
        ("a" * 256 + " " + LONG_URL, True),
        ("a" * 257 + " " + LONG_URL, False),
    ],
)
def test_a_post_to_an_x_channel_fits_as_x_counts_it(team: Team, body: str, accepted: bool) -> None:
    x = team.channel("X @Nordhafen", network="x")
    response = team.planner.post(
        "/posts", json={"body": body, "channels": [x["id"]], "publish_at": FUTURE}
    )
    if accepted:
        assert response.status_code == 201, response.get_json()
        assert response.get_json()["body"] == body
        return
    assert response.status_code == 422
    problem = response.get_json()["fields"]["body"]
    assert "X @Nordhafen" in problem
    assert "281" in problem or "282" in problem
    assert "at most 280" in problem
    assert "as X counts" in problem
    assert "never cut" in problem


def test_the_same_text_fits_bluesky_counted_as_people_see_it(team: Team) -> None:
    x = team.channel("X @Nordhafen", network="x")
    bluesky = team.channel("Bluesky NH", network="bluesky")
    body = "😀" * 141  # 141 characters as people see them, 282 as X counts
    response = team.planner.post(
        "/posts", json={"body": body, "channels": [bluesky["id"]], "publish_at": FUTURE}
    )
    assert response.status_code == 201
    both = team.planner.post(
        "/posts", json={"body": body, "channels": [x["id"], bluesky["id"]], "publish_at": FUTURE}
    )
    assert both.status_code == 422
    assert "X @Nordhafen" in both.get_json()["fields"]["body"]
    assert "Bluesky NH" not in both.get_json()["fields"]["body"]


def test_an_own_text_for_x_is_counted_as_x_counts(team: Team) -> None:
    x = team.channel("X @Nordhafen", network="x")
    blog = team.channel("Blog", network="blog")
    post = team.draft([x["id"], blog["id"]], body="Kurz.")
    ok = team.planner.patch(
        f"/posts/{post['id']}",
        json={
            "body": "Langer Text für das Blog. " * 40,
            "overrides": {str(x["id"]): "日" * 128 + " " + LONG_URL},  # 256 + 1 + 23
        },
    )
    assert ok.status_code == 200, ok.get_json()
    too_long = team.planner.patch(
        f"/posts/{post['id']}", json={"overrides": {str(x["id"]): "日" * 141}}
    )
    assert too_long.status_code == 422
    assert "282" in too_long.get_json()["fields"][f"overrides.{x['id']}"]
