"""Listening on Bluesky against a real PDS on loopback (the reference @atproto/pds with a PLC
directory, no AppView): what a second account writes reaches the inbox through the PDS's repo
firehose, once; a reply from the inbox is read back from the PDS."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import delete, func, select

from calendar_app.extensions import get_db
from calendar_app.listening.bluesky import firehose_url, heard_in_commit, kind_of
from calendar_app.listening.listener import listen_once
from calendar_app.listening.watch import Watch, has_term
from calendar_app.models import InboxItem, ListenCursor
from calendar_app.networks.bluesky import BlueskyPublisher
from tests.conftest import Team
from tests.support.bluesky import POST, BlueskyAccount, BlueskyServer

_names = itertools.count(1)


@pytest.fixture(scope="module")
def bluesky_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BlueskyServer]:
    """A PDS of this module's own: the listener reads its firehose from the start, which holds
    only what these tests wrote."""
    server = BlueskyServer(tmp_path_factory.mktemp("bluesky-listening")).start()
    yield server
    server.stop()


@pytest.fixture
def ours(bluesky_server: BlueskyServer) -> BlueskyAccount:
    return bluesky_server.new_account(f"werke{next(_names)}")


@pytest.fixture
def customer(bluesky_server: BlueskyServer) -> BlueskyAccount:
    return bluesky_server.new_account(f"kundin{next(_names)}")


def write(server: BlueskyServer, who: BlueskyAccount, text: str, **extra: Any) -> dict[str, Any]:
    """A post written on the PDS by `who`: {"uri", "cid"}."""
    token = server.sign_in(who)["accessJwt"]
    record = {"$type": POST, "text": text, "createdAt": "2026-12-01T18:00:00.000Z", **extra}
    answer = server.xrpc(
        "POST", "com.atproto.repo.createRecord",
        token=token, json={"repo": who.did, "collection": POST, "record": record},
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    return answer.json()


def mention(server: BlueskyServer, who: BlueskyAccount, whom: BlueskyAccount, text: str) -> dict:
    handle = f"@{whom.handle}"
    full = f"{handle} {text}"
    facet = {
        "index": {"byteStart": 0, "byteEnd": len(handle.encode())},
        "features": [{"$type": "app.bsky.richtext.facet#mention", "did": whom.did}],
    }
    return write(server, who, full, facets=[facet])


def ref(post: dict[str, Any]) -> dict[str, str]:
    return {"uri": post["uri"], "cid": post["cid"]}


def listening_channel(team: Team, server: BlueskyServer, account: BlueskyAccount) -> int:
    channel = team.channel(
        f"Bluesky {account.handle}",
        kind="bluesky",
        network="bluesky",
        config={
            "service": server.url,
            "handle": account.handle,
            "app_password": account.app_password,
        },
    )
    return channel["id"]


def listen(team: Team, make_dispatcher: Any) -> Any:
    return listen_once(get_db(team.app), make_dispatcher(team.app).publishers)


def inbox(team: Team) -> list[dict[str, Any]]:
    response = team.head.get("/inbox")
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]


def stored_count(team: Team) -> int:
    with get_db(team.app).transaction() as session:
        return session.scalar(select(func.count()).select_from(InboxItem)) or 0


# --- what concerns us ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("record", "kind"),
    [
        ({"facets": [{"features": [{"$type": "x#mention", "did": "did:ours"}]}]}, None),
        (
            {
                "text": "@ours hi",
                "facets": [
                    {"features": [{"$type": "app.bsky.richtext.facet#mention", "did": "did:ours"}]}
                ],
            },
            "mention",
        ),
        ({"reply": {"root": {"uri": "at://did:ours/p/1", "cid": "c"}, "parent": {}}}, "reply"),
        ({"reply": {"root": {"uri": "at://did:x/p/1", "cid": "c"}, "parent": {}}}, None),
        ({"embed": {"record": {"uri": "at://did:ours/p/1", "cid": "c"}}}, "quote"),
        ({"embed": {"record": {"record": {"uri": "at://did:ours/p/1", "cid": "c"}}}}, "quote"),
        ({"text": "did:ours"}, None),
    ],
)
def test_what_a_post_is_to_us(record: dict[str, Any], kind: str | None) -> None:
    assert kind_of(record, "did:ours") == kind


def test_a_commit_whose_blocks_cannot_be_read_is_skipped_not_fatal() -> None:
    commit = {
        "repo": "did:plc:someone",
        "ops": [{"action": "create", "path": "app.bsky.feed.post/3abc", "cid": "bafy"}],
        "blocks": b"not a CAR file",
    }
    assert heard_in_commit(commit, "did:plc:ours") == []


def test_the_firehose_is_the_channels_service_unless_the_channel_names_a_relay() -> None:
    config = {"service": "https://pds.example", "handle": "a.example"}
    assert firehose_url(config, None) == (
        "wss://pds.example/xrpc/com.atproto.sync.subscribeRepos?cursor=0"
    )
    relay = {**config, "firehose": "wss://relay.example/"}
    assert firehose_url(relay, "42") == (
        "wss://relay.example/xrpc/com.atproto.sync.subscribeRepos?cursor=42"
    )
    problems = BlueskyPublisher.check_config({**config, "app_password": "x", "firehose": "ftp://x"})
    assert problems == {"config.firehose": "must be an http(s):// or ws(s):// address"}


@pytest.mark.parametrize(
    ("text", "tags", "kind"),
    [
        ("Offen heute? #Wasserwerk", (), "hashtag"),
        ("Offen heute? #WASSERWERK!", (), "hashtag"),
        ("Offen heute?", ("Wasserwerk",), "hashtag"),  # a tag facet the text does not show
        ("Offen heute? #Wasserwerke", (), None),
        ("Ein Stromausfall in der Südstadt", (), "term"),
        ("GROSSER STROMAUSFALL!", (), "term"),
        ("Die Stromausfallversicherung zahlt", (), None),
        ("Nur so", (), None),
    ],
)
def test_what_a_post_carries_of_what_we_watch(
    text: str, tags: tuple[str, ...], kind: str | None
) -> None:
    watch = Watch(frozenset({"wasserwerk"}), ("stromausfall",))
    assert watch.kind_of(text, tags) == kind


def test_search_terms_are_words_in_any_case_and_script() -> None:
    assert has_term("Die STRASSE ist gesperrt", "straße")
    assert has_term("Stadtwerke\u00a0 Nord antworten nicht", "stadtwerke nord")
    assert not has_term("Stadtwerke-Nordsee", "stadtwerke nord")
    assert has_term("Ελλείψεις νερού στην πόλη", "νερού")
    assert not has_term("Straßenbahn", "straße")


# --- against the PDS -----------------------------------------------------------------------------


def test_mentions_replies_and_quotes_arrive_once_with_two_listeners_and_after_a_restart(
    any_team: Team,
    bluesky_server: BlueskyServer,
    ours: BlueskyAccount,
    customer: BlueskyAccount,
    make_dispatcher: Any,
) -> None:
    channel_id = listening_channel(any_team, bluesky_server, ours)
    our_post = write(bluesky_server, ours, "Heute Tag der offenen Tür im Wasserwerk!")
    mention(bluesky_server, customer, ours, "Wann kommt meine Rechnung?")
    reply = write(
        bluesky_server, customer, "Toll, wir kommen!",
        reply={"root": ref(our_post), "parent": ref(our_post)},
    )  # fmt: skip
    write(
        bluesky_server, customer, "Schaut euch das an",
        embed={"$type": "app.bsky.embed.record", "record": ref(our_post)},
    )  # fmt: skip
    write(bluesky_server, customer, "Nur so, ohne Erwähnung")
    mention(bluesky_server, ours, ours, "wir selbst")  # our own posts are not said to us

    db = get_db(any_team.app)
    first, second = make_dispatcher(any_team.app), make_dispatcher(any_team.app)
    with ThreadPoolExecutor(max_workers=2) as pool:
        reports = list(
            pool.map(lambda d: listen_once(db, d.publishers), [first, second], timeout=120)
        )

    assert all(r.errors == {} for r in reports), [r.errors for r in reports]
    stored = [i for r in reports for i in r.stored]
    assert len(stored) == len(set(stored)) == 3
    assert stored_count(any_team) == 3
    items = {i["kind"]: i for i in inbox(any_team)}
    assert set(items) == {"mention", "reply", "quote"}
    assert items["mention"]["text"] == f"@{ours.handle} Wann kommt meine Rechnung?"
    assert items["mention"]["author"]["handle"] == f"@{customer.handle}"
    assert items["reply"]["in_reply_to"] == our_post["uri"]
    rkey = reply["uri"].rsplit("/", 1)[1]
    assert items["reply"]["url"].endswith(f"/profile/{customer.handle}/post/{rkey}")
    assert all(i["channel_id"] == channel_id and i["status"] == "new" for i in items.values())
    assert listen(any_team, make_dispatcher).stored == []

    # A restart: the cursor (the stream's sequence number) is in the database. An item removed
    # on our side is not read again; what came after is.
    with db.transaction() as session:
        session.execute(delete(InboxItem).where(InboxItem.kind == "quote"))
        [cursor] = session.scalars(select(ListenCursor)).all()
        assert cursor.source == "firehose"
        assert cursor.position.isdigit()
    mention(bluesky_server, customer, ours, "Noch eine Frage")
    again = listen(any_team, make_dispatcher)
    assert again.errors == {}
    assert len(again.stored) == 1
    assert sorted(i["kind"] for i in inbox(any_team)) == ["mention", "mention", "reply"]


def test_a_reply_from_the_inbox_appears_on_the_pds_as_a_reply_in_the_right_thread(
    team: Team,
    bluesky_server: BlueskyServer,
    ours: BlueskyAccount,
    customer: BlueskyAccount,
    make_dispatcher: Any,
) -> None:
    listening_channel(team, bluesky_server, ours)
    our_post = write(bluesky_server, ours, "Neue Tarife ab Januar.")
    question = write(
        bluesky_server, customer, "Und was kostet das für mich?",
        reply={"root": ref(our_post), "parent": ref(our_post)},
    )  # fmt: skip
    listen(team, make_dispatcher)
    [item] = inbox(team)
    answer = "Das hängt vom Zähler ab, wir schreiben Ihnen."

    written = team.planner.post(f"/inbox/{item['id']}/reply", json={"body": answer})

    assert written.status_code == 201, written.get_json()
    assert team.head.post(f"/posts/{written.get_json()['id']}/approve").status_code == 200
    make_dispatcher(team.app).run_pass()
    assert team.post(written.get_json()["id"])["status"] == "published"
    [ours_now] = [p for p in bluesky_server.posts(ours) if p["value"]["text"] == answer]
    assert ours_now["value"]["reply"] == {"root": ref(our_post), "parent": ref(question)}
    # The reply by the account itself is not said to us: nothing new in the inbox.
    assert listen(team, make_dispatcher).stored == []


def profile(server: BlueskyServer, who: BlueskyAccount, name: str) -> None:
    token = server.sign_in(who)["accessJwt"]
    record = {"$type": "app.bsky.actor.profile", "displayName": name}
    answer = server.xrpc(
        "POST", "com.atproto.repo.putRecord", token=token,
        json={"repo": who.did, "collection": "app.bsky.actor.profile", "rkey": "self",
              "record": record},
    )  # fmt: skip
    assert answer.status_code == 200, answer.text


def test_posts_with_a_watched_hashtag_or_term_arrive_once_with_their_authors_names(
    team: Team,
    bluesky_server: BlueskyServer,
    ours: BlueskyAccount,
    customer: BlueskyAccount,
    make_dispatcher: Any,
) -> None:
    channel_id = listening_channel(team, bluesky_server, ours)
    tag = f"wasserwerk{next(_names)}"
    assert (
        team.admin.put(f"/channels/{channel_id}/hashtags", json={"tags": [tag]}).status_code == 200
    )
    made = team.admin.put(f"/channels/{channel_id}/terms", json={"terms": ["Stromausfall"]})
    assert made.get_json() == {"channel_id": channel_id, "terms": ["stromausfall"]}
    profile(bluesky_server, customer, "Erika Musterfrau")
    shown = f"#{tag.upper()}"
    tagged = write(
        bluesky_server, customer, f"Heute Führung im {shown}",
        facets=[{
            "index": {"byteStart": len("Heute Führung im ".encode()), "byteEnd": len(
                f"Heute Führung im {shown}".encode())},
            "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": tag.title()}],
        }],
    )  # fmt: skip
    write(bluesky_server, customer, "Großer STROMAUSFALL in der Südstadt!")
    write(bluesky_server, customer, "Die Stromausfallversicherung zahlt nicht")  # not the word
    write(bluesky_server, customer, "Nur so, ohne alles")
    write(bluesky_server, ours, f"Wir zeigen das #{tag}")  # our own: not in the inbox

    first = listen(team, make_dispatcher)
    again = listen(team, make_dispatcher)

    assert first.errors == {}, first.errors
    assert len(first.stored) == 2
    assert again.stored == []
    by_kind = {i["kind"]: i for i in inbox(team)}
    assert set(by_kind) == {"hashtag", "term"}
    assert by_kind["hashtag"]["text"] == f"Heute Führung im {shown}"
    assert by_kind["hashtag"]["url"].endswith(tagged["uri"].rsplit("/", 1)[1])
    assert by_kind["term"]["text"] == "Großer STROMAUSFALL in der Südstadt!"
    for item in by_kind.values():
        assert item["author"] == {"handle": f"@{customer.handle}", "name": "Erika Musterfrau"}
