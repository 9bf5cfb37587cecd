from __future__ import annotations

import pytest

from calendar_app.channel_rules import RULES, body_problem, visible_length


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


def test_blog_and_other_have_no_length_limit() -> None:
    assert body_problem("a" * 100_000, "blog", "Blog") is None
    assert body_problem("a" * 100_000, "other", "Intranet") is None


def test_emoji_heavy_text_at_the_limit_fits_x() -> None:
    assert body_problem("👨‍👩‍👧‍👦" * 280, "x", "X") is None
    assert body_problem("👨‍👩‍👧‍👦" * 281, "x", "X") is not None
