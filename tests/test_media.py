"""Images on posts: uploads checked by their content and stored without location data, alt text
or a waiver with a reason, each network's limits, and images on their way out (Mastodon, a
webhook's signed links)."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from io import BytesIO
from pathlib import Path
from typing import Any

import httpx
import pytest
import time_machine
from PIL import Image
from sqlalchemy import select
from werkzeug.serving import make_server

from calendar_app import media
from calendar_app.extensions import get_db
from calendar_app.models import AuditEntry, Media
from calendar_app.networks.base import MediaFile
from calendar_app.timeutil import now_utc
from tests.conftest import Clock, Team
from tests.support.mastodon import MastodonAccount, MastodonServer
from tests.support.postgres import free_port
from tests.support.receiver import Receiver
from tests.support.web import csrf_token, signed_in

GPS_IFD = 0x8825
ORIENTATION = 0x0112


def picture(fmt: str = "PNG", size: tuple[int, int] = (64, 48), color: str = "teal") -> bytes:
    out = BytesIO()
    Image.new("RGB", size, color).save(out, fmt)
    return out.getvalue()


def noise(size: tuple[int, int], quality: int = 95, seed: int = 7) -> bytes:
    """A photo-like JPEG that does not compress well (random pixels)."""
    rng = random.Random(seed)
    image = Image.frombytes("RGB", size, rng.randbytes(size[0] * size[1] * 3))
    out = BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


BOUNDARY = "----bild-grenze-7f3a"


def multipart(data: bytes, name: str, field: str = "file") -> bytes:
    """A multipart/form-data body with one file, as a browser sends it."""
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{field}"; '
        f'filename="{name}"\r\nContent-Type: application/octet-stream\r\n\r\n'
    ).encode()
    return head + data + f"\r\n--{BOUNDARY}--\r\n".encode()


def upload(who: Any, data: bytes, name: str = "bild.png", **kwargs: Any) -> Any:
    return who.post(
        "/media",
        data=multipart(data, name),
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
        **kwargs,
    )


def uploaded(team: Team, data: bytes | None = None, who: str = "planner") -> dict[str, Any]:
    response = upload(getattr(team, who), data or picture())
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def stored_file(team: Team, media_id: int) -> Path:
    with get_db(team.app).transaction() as session:
        row = session.get(Media, media_id)
        assert row is not None
        return media.stored_path(team.app.config["CALENDAR"].media_dir, row.sha256)


# --- uploads -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "mime_type"),
    [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp"), ("GIF", "image/gif")],
)
def test_planners_upload_png_jpeg_webp_and_gif_and_learn_their_size(
    team: Team, fmt: str, mime_type: str
) -> None:
    response = upload(team.planner, picture(fmt, (120, 80)), name="bild.bin")
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert {k: body[k] for k in ("mime_type", "width", "height")} == {
        "mime_type": mime_type,
        "width": 120,
        "height": 80,
    }
    assert body["bytes"] == stored_file(team, body["id"]).stat().st_size


@pytest.mark.parametrize("who", ["planner", "head", "admin"])
def test_everyone_who_plans_may_upload_but_not_without_a_token(team: Team, who: str) -> None:
    assert upload(getattr(team, who), picture()).status_code == 201
    assert upload(team.anonymous, picture()).status_code == 401


def test_a_text_file_named_png_is_refused_with_the_reason(team: Team) -> None:
    response = upload(team.planner, b"Dies ist kein Bild, nur Text.\n" * 20, name="bild.png")
    assert response.status_code == 422
    assert "not an image" in response.get_json()["fields"]["file"]


def test_an_svg_is_never_taken(team: Team) -> None:
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    response = upload(team.planner, svg, name="logo.svg")
    assert response.status_code == 422


def test_an_upload_without_a_file_names_the_field(team: Team) -> None:
    response = team.planner.post(
        "/media",
        data=multipart(b"hallo", "notiz.txt", field="anhang"),
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
    )
    assert response.status_code == 422
    assert "file" in response.get_json()["fields"]


@pytest.mark.parametrize("config_overrides", [{"MEDIA_MAX_BYTES": 200_000}])
def test_an_image_over_the_size_limit_is_refused_with_the_reason(team: Team) -> None:
    a_little_over = noise((420, 420))
    assert 200_000 < len(a_little_over) < 264_000
    response = upload(team.planner, a_little_over, name="foto.jpg")
    assert response.status_code == 422
    assert "at most 0.2 MB" in response.get_json()["fields"]["file"]

    far_over = noise((1400, 1400))
    assert len(far_over) > 2 * 1024 * 1024  # over any body limit: refused before it is read
    response = upload(team.planner, far_over, name="foto.jpg")
    assert response.status_code == 422
    assert "at most 0.2 MB" in response.get_json()["fields"]["file"]


def test_a_small_file_that_unpacks_to_a_huge_picture_is_refused(team: Team) -> None:
    out = BytesIO()
    Image.new("1", (9000, 9000)).save(out, "PNG")  # 81 million pixels in a few kilobytes
    assert len(out.getvalue()) < 100_000
    response = upload(team.planner, out.getvalue(), name="bombe.png")
    assert response.status_code == 422
    assert "pixels" in response.get_json()["fields"]["file"]


def test_a_photo_loses_its_location_but_stays_upright(team: Team) -> None:
    exif = Image.Exif()
    exif[ORIENTATION] = 6  # the camera was turned: shown rotated by 90°
    exif[GPS_IFD] = {1: "N", 2: (53.0, 33.0, 4.0), 3: "E", 4: (9.0, 59.0, 30.0)}
    out = BytesIO()
    xmp = (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
        b'xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="53,33.1N"/></rdf:RDF>'
        b"</x:xmpmeta>"
    )
    Image.new("RGB", (300, 200), "orange").save(out, "JPEG", exif=exif, xmp=xmp)
    with Image.open(BytesIO(out.getvalue())) as original:
        assert original.getexif().get_ifd(GPS_IFD)  # the location is in the upload

    body = uploaded(team, out.getvalue())
    assert b"GPSLatitude" not in stored_file(team, body["id"]).read_bytes()  # nor in XMP
    with Image.open(stored_file(team, body["id"])) as stored:
        assert not stored.getexif().get_ifd(GPS_IFD)
        assert dict(stored.getexif()) == {}
        assert (stored.width, stored.height) == (200, 300) == (body["width"], body["height"])


def test_the_same_image_uploaded_twice_is_one_file(team: Team) -> None:
    data = picture("PNG", (50, 50), "navy")
    first, second = uploaded(team, data), uploaded(team, data, who="head")
    assert first["id"] != second["id"]
    assert stored_file(team, first["id"]) == stored_file(team, second["id"])
    files = [p for p in team.app.config["CALENDAR"].media_dir.rglob("*") if p.is_file()]
    assert len(files) == 1


def test_images_are_shown_only_to_signed_in_people(team: Team) -> None:
    body = uploaded(team, picture("PNG", (30, 20)))
    stranger = team.app.test_client()
    refused = stranger.get(f"/media/{body['id']}")
    assert refused.status_code == 302
    assert "/login" in refused.headers["Location"]

    browser = signed_in(team, "planner2")
    shown = browser.get(f"/media/{body['id']}")
    assert shown.status_code == 200
    assert shown.headers["Content-Type"] == "image/png"
    assert shown.headers["X-Content-Type-Options"] == "nosniff"
    assert shown.data == stored_file(team, body["id"]).read_bytes()
    shown.close()
    assert browser.get("/media/999999").status_code == 404


def test_the_composer_uploads_with_the_browser_session(team: Team) -> None:
    browser = signed_in(team, "planner")
    token = csrf_token(browser, "/compose")
    response = upload(browser, picture("WEBP"), "x.webp", headers={"X-CSRFToken": token})
    assert response.status_code == 201
    assert response.get_json()["mime_type"] == "image/webp"
    refused = upload(browser, b"kein Bild", "x.png", headers={"X-CSRFToken": token})
    assert refused.status_code == 422
    assert "not an image" in refused.get_json()["fields"]["file"]


# --- images on posts ---------------------------------------------------------------------------


def test_a_post_shows_its_images_with_alt_text(team: Team) -> None:
    channel = team.channel()
    first, second = uploaded(team, picture("PNG", (40, 30))), uploaded(team, picture("JPEG"))
    post = team.draft(
        [channel["id"]],
        media=[
            {"id": first["id"], "alt": "Das Hafenfest von oben"},
            {"id": second["id"], "alt": "Ein Schiff im Abendlicht"},
        ],
    )
    shown = team.post(post["id"])
    assert [(m["id"], m["alt"], m["mime_type"]) for m in shown["media"]] == [
        (first["id"], "Das Hafenfest von oben", "image/png"),
        (second["id"], "Ein Schiff im Abendlicht", "image/jpeg"),
    ]
    assert shown["media"][0]["width"] == 40
    assert shown["media"][0]["url"] == f"/media/{first['id']}"
    assert shown["alt_text_waived"] is False


def test_every_image_needs_alt_text(team: Team) -> None:
    channel = team.channel()
    image = uploaded(team)
    response = team.planner.post(
        "/posts",
        json={
            "body": "Neues Logo!",
            "channels": [channel["id"]],
            "publish_at": "2026-12-24T10:00:00+01:00",
            "media": [{"id": image["id"], "alt": "   "}],
        },
    )
    assert response.status_code == 422
    assert "alt text" in response.get_json()["fields"]["media.0.alt"]


def test_waiving_alt_text_needs_a_reason_and_is_in_the_audit_log(team: Team) -> None:
    channel = team.channel()
    image = uploaded(team)
    fields = {
        "body": "Nur ein Muster, keine Aussage.",
        "channels": [channel["id"]],
        "publish_at": "2026-12-24T10:00:00+01:00",
        "media": [{"id": image["id"]}],
        "alt_text_waived": True,
    }
    no_reason = team.planner.post("/posts", json=fields)
    assert no_reason.status_code == 422
    assert "alt_text_waiver_reason" in no_reason.get_json()["fields"]

    reason = "Dekoratives Muster, der Text sagt alles"
    waived = team.planner.post("/posts", json={**fields, "alt_text_waiver_reason": reason})
    assert waived.status_code == 201, waived.get_json()
    assert waived.get_json()["alt_text_waiver_reason"] == reason
    with get_db(team.app).transaction() as session:
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "waive_alt_text")
        ).one()
        assert (entry.subject_id, entry.reason) == (waived.get_json()["id"], reason)
        assert entry.actor_id == team.ids["planner"]


def test_a_new_reason_for_waiving_alt_text_is_kept_and_audited_and_the_same_one_is_not(
    team: Team,
) -> None:
    image = uploaded(team)
    post = team.draft(
        [team.channel()["id"]],
        media=[{"id": image["id"]}],
        alt_text_waived=True,
        alt_text_waiver_reason="Dekoratives Muster",
    )
    path = f"/posts/{post['id']}"
    assert team.planner.post(f"{path}/submit").status_code == 200
    approved = team.head.post(f"{path}/approve")
    assert approved.status_code == 200, "a waived image needs no alt text to be approved"
    for reason in ("Nur Zierde, der Text sagt alles", "Nur Zierde, der Text sagt alles"):
        edited = team.head.patch(path, json={"alt_text_waiver_reason": reason})
        assert edited.status_code == 200, edited.get_json()
        assert (
            edited.get_json()["alt_text_waived"],
            edited.get_json()["alt_text_waiver_reason"],
        ) == (
            True,
            reason,
        )
    no_reason = team.head.patch(path, json={"alt_text_waiver_reason": ""})
    assert no_reason.status_code == 422, no_reason.get_json()
    assert "alt_text_waiver_reason" in no_reason.get_json()["fields"]
    with get_db(team.app).transaction() as session:
        waivers = session.scalars(
            select(AuditEntry)
            .where(AuditEntry.action == "waive_alt_text", AuditEntry.subject_id == post["id"])
            .order_by(AuditEntry.id)
        ).all()
        assert [(e.actor_id, e.reason) for e in waivers] == [
            (team.ids["planner"], "Dekoratives Muster"),
            (team.ids["head"], "Nur Zierde, der Text sagt alles"),
        ]


def test_an_edit_waives_alt_text_keeps_the_waiver_through_other_edits_and_takes_it_back(
    team: Team,
) -> None:
    image = uploaded(team)
    post = team.draft([team.channel()["id"]], media=[{"id": image["id"], "alt": "Ein Muster"}])
    path = f"/posts/{post['id']}"

    def waiver(answer: dict) -> tuple[bool, str | None, list[str]]:
        return (
            answer["alt_text_waived"],
            answer["alt_text_waiver_reason"],
            [m["alt"] for m in answer["media"]],
        )

    reason = "Dekoratives Muster, der Text sagt alles"
    waived = team.planner.patch(
        path,
        json={
            "media": [{"id": image["id"]}],
            "alt_text_waived": True,
            "alt_text_waiver_reason": reason,
        },
    )
    assert waived.status_code == 200, waived.get_json()
    assert waiver(waived.get_json()) == (True, reason, [""])

    retold = team.planner.patch(path, json={"body": "Ein neuer Text."})
    assert retold.status_code == 200, retold.get_json()
    assert waiver(retold.get_json()) == (True, reason, [""])

    taken_back = team.planner.patch(
        path, json={"media": [{"id": image["id"], "alt": "Ein Muster"}], "alt_text_waived": False}
    )
    assert taken_back.status_code == 200, taken_back.get_json()
    assert waiver(taken_back.get_json())[0] is False
    assert waiver(taken_back.get_json())[2] == ["Ein Muster"]


def test_an_unknown_image_is_named(team: Team) -> None:
    channel = team.channel()
    response = team.planner.post(
        "/posts",
        json={
            "body": "x",
            "channels": [channel["id"]],
            "publish_at": "2026-12-24T10:00:00+01:00",
            "media": [{"id": 424242, "alt": "weg"}],
        },
    )
    assert response.status_code == 422
    assert "424242" in response.get_json()["fields"]["media.0.id"]


def test_a_post_carries_at_most_four_images(team: Team) -> None:
    channel = team.channel("Mastodon-Hafen", network="mastodon")
    images = [uploaded(team, picture("PNG", (10 + i, 10))) for i in range(5)]
    response = team.planner.post(
        "/posts",
        json={
            "body": "Fünf Bilder vom Fest",
            "channels": [channel["id"]],
            "publish_at": "2026-12-24T10:00:00+01:00",
            "media": [{"id": i["id"], "alt": f"Bild {n}"} for n, i in enumerate(images)],
        },
    )
    assert response.status_code == 422
    assert "media" in response.get_json()["fields"]


def test_an_instagram_channel_needs_an_image_and_says_so(team: Team) -> None:
    insta = team.channel("Instagram NH", network="instagram")
    response = team.planner.post(
        "/posts",
        json={"body": "Sommer!", "channels": [insta["id"]], "publish_at": "2026-07-01T10:00:00Z"},
    )
    assert response.status_code == 422
    problem = response.get_json()["fields"]["media"]
    assert "Instagram NH (Instagram) publishes no post without an image" in problem

    image = uploaded(team, picture("PNG"))
    post = team.draft([insta["id"]], body="Sommer!", media=[{"id": image["id"], "alt": "Strand"}])
    removed = team.planner.patch(f"/posts/{post['id']}", json={"media": []})
    assert removed.status_code == 422
    assert "Instagram NH" in removed.get_json()["fields"]["media"]

    # Adding the channel to a post without images asks for one too.
    text_only = team.draft([team.channel()["id"]], body="Sommer!")
    added = team.planner.patch(f"/posts/{text_only['id']}", json={"channels": [insta["id"]]})
    assert added.status_code == 422, added.get_json()
    assert (
        "Instagram NH (Instagram) publishes no post without an image"
        in (added.get_json()["fields"]["media"])
    )


def test_an_imported_instagram_post_is_approved_only_once_it_has_an_image(team: Team) -> None:
    """A plan imported from CSV has no images; an edit of its words does not ask for one yet,
    the approval does."""
    team.channel("Instagram NH", network="instagram")
    text = "title,body,publish_at,channels\nSommer,Sommer!,2026-07-01T10:00,Instagram NH\n"
    imported = team.planner.post("/posts/import", json={"csv": text})
    assert imported.status_code == 201, imported.get_json()
    [post] = imported.get_json()["items"]
    path = f"/posts/{post['id']}"
    retold = team.planner.patch(path, json={"body": "Sommer am Hafen!"})
    assert retold.status_code == 200, retold.get_json()
    assert team.planner.post(f"{path}/submit").status_code == 200

    refused = team.head.post(f"{path}/approve")
    assert refused.status_code == 422, refused.get_json()
    assert (
        "Instagram NH (Instagram) publishes no post without an image"
        in (refused.get_json()["fields"]["media"])
    )
    assert team.post(post["id"])["status"] == "in_review"

    image = uploaded(team, picture("PNG"))
    pictured = team.planner.patch(path, json={"media": [{"id": image["id"], "alt": "Hafen"}]})
    assert pictured.status_code == 200, pictured.get_json()
    assert team.planner.post(f"{path}/submit").status_code == 200
    approved = team.head.post(f"{path}/approve")
    assert approved.status_code == 200, approved.get_json()
    assert approved.get_json()["status"] == "scheduled"


def test_an_animation_a_network_cannot_take_is_refused_naming_the_channel(team: Team) -> None:
    frames = [Image.new("RGB", (64, 64), color) for color in ("red", "green", "blue")]
    out = BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=200, loop=0)
    gif = uploaded(team, out.getvalue())
    bluesky = team.channel("Bluesky NH", network="bluesky")
    response = team.planner.post(
        "/posts",
        json={
            "body": "Es blinkt",
            "channels": [bluesky["id"]],
            "publish_at": "2026-07-01T10:00:00Z",
            "media": [{"id": gif["id"], "alt": "Drei Farben nacheinander"}],
        },
    )
    assert response.status_code == 422
    assert "Bluesky NH (Bluesky)" in response.get_json()["fields"]["media"]
    other = team.channel("Blog", network="blog")
    team.draft([other["id"]], media=[{"id": gif["id"], "alt": "Drei Farben nacheinander"}])


def test_a_large_photo_is_scaled_under_blueskys_limit_keeping_its_shape(team: Team) -> None:
    data = noise((2400, 1600))
    assert len(data) > 3_000_000
    body = uploaded(team, data)
    stored = MediaFile(
        stored_file(team, body["id"]),
        body["mime_type"],
        "",
        body["width"],
        body["height"],
        body["bytes"],
    )
    fitted = media.fit_for("bluesky", stored)
    assert len(fitted.data) < 1_000_000
    assert fitted.mime_type == "image/jpeg"
    assert abs(fitted.width / fitted.height - 2400 / 1600) < 0.01
    with Image.open(BytesIO(fitted.data)) as sent:
        assert sent.size == (fitted.width, fitted.height)
    # What already fits is sent as stored.
    assert media.fit_for("mastodon", stored).data == stored.path.read_bytes()


def test_changing_the_images_needs_a_new_approval_by_someone_else(team: Team) -> None:
    channel = team.channel()
    image = uploaded(team)
    post = team.scheduled([channel["id"]], media=[{"id": image["id"], "alt": "Alt"}])
    edited = team.head.patch(
        f"/posts/{post['id']}", json={"media": [{"id": image["id"], "alt": "Neue Beschreibung"}]}
    )
    assert edited.status_code == 200, edited.get_json()
    assert edited.get_json()["status"] == "draft"  # back for a new approval
    assert team.planner.post(f"/posts/{post['id']}/submit").status_code == 200
    refused = team.head.post(f"/posts/{post['id']}/approve")
    assert refused.status_code == 403  # the head changed what is approved
    assert team.head2.post(f"/posts/{post['id']}/approve").status_code == 200


# --- images on their way out -------------------------------------------------------------------


@pytest.fixture(scope="module")
def mastodon_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MastodonServer]:
    server = MastodonServer(tmp_path_factory.mktemp("mastodon")).start()
    yield server
    server.stop()


@pytest.fixture
def mastodon(mastodon_server: MastodonServer) -> Iterator[MastodonServer]:
    yield mastodon_server
    mastodon_server.clear_faults()


def media_of(server: MastodonServer, status: dict[str, Any]) -> list[tuple[str, str]]:
    """The status's attachments as the server's API shows them: description, and type."""
    answer = httpx.get(f"{server.base_url}/api/v1/statuses/{status['id']}")
    answer.raise_for_status()
    return [(m["description"], m["type"]) for m in answer.json()["media_attachments"]]


def test_a_mastodon_post_arrives_with_both_images_and_their_descriptions(
    team: Team, mastodon: MastodonServer, make_dispatcher: Any, clock: Clock
) -> None:
    account = mastodon.new_account("bilder1")
    channel = mastodon_channel(team, mastodon, account)
    first, second = uploaded(team, picture("PNG")), uploaded(team, noise((300, 200)))
    post = team.scheduled(
        [channel["id"]],
        at=clock.now,
        body="Zwei Bilder vom Hafenfest",
        media=[
            {"id": first["id"], "alt": "Menschen am Kai"},
            {"id": second["id"], "alt": "Feuerwerk über dem Wasser"},
        ],
    )
    report = make_dispatcher(team.app, clock=clock).run_pass()

    assert report.published == [post["deliveries"][0]["id"]]
    [status] = mastodon.statuses(account)
    assert media_of(mastodon, status) == [
        ("Menschen am Kai", "image"),
        ("Feuerwerk über dem Wasser", "image"),
    ]
    # Each file is named for its type (a server may refuse a name that belies the content).
    assert [Path(m["url"]).suffix for m in status["media_attachments"]] == [".png", ".jpg"]


def still_processing(server: MastodonServer, account: MastodonAccount) -> dict[str, Any]:
    """The server takes the next upload (202) without a URL yet: its attachment is being
    processed. Returns how the server shows the attachment meanwhile."""
    made = httpx.post(
        f"{server.base_url}/api/v2/media",
        headers={"Authorization": f"Bearer {account.access_token}"},
        files={"file": ("a.png", picture(), "image/png")},
        data={"description": "Der Leuchtturm bei Nacht"},
    ).json()
    pending = {"id": made["id"], "type": "image", "url": None, "description": made["description"]}
    server.fault(status=202, path="/api/v2/media", body=pending)
    return pending


def one_image_post(team: Team, channel: dict[str, Any], clock: Clock) -> dict[str, Any]:
    image = uploaded(team)
    return team.scheduled(
        [channel["id"]],
        at=clock.now,
        body="Ein Bild, spät fertig",
        media=[{"id": image["id"], "alt": "Der Leuchtturm bei Nacht"}],
    )


def failed_with(
    error: str,
    team: Team,
    server: MastodonServer,
    account: MastodonAccount,
    post: dict[str, Any],
    dispatcher: Any,
) -> None:
    """One pass fails the post's delivery with `error`, and nothing reaches the server."""
    assert dispatcher.run_pass().failed == [post["deliveries"][0]["id"]]
    [failed] = team.post(post["id"])["deliveries"]
    assert failed["error"] == error
    assert server.statuses(account) == []


# The wait for the server's processing runs inside the send's deadline: a loaded test machine
# needs more than the suite's two seconds for the upload and a few looks.
@pytest.mark.parametrize("config_overrides", [{"WEBHOOK_TIMEOUT_SECONDS": 15.0}])
@pytest.mark.parametrize(
    ("status", "other"),
    [(206, None), (200, None), (206, "https://files.example/other.png")],
    ids=["partial", "ok-without-url", "partial-with-a-url"],
)
def test_an_image_the_server_processes_later_is_waited_for(
    team: Team,
    mastodon: MastodonServer,
    make_dispatcher: Any,
    clock: Clock,
    status: int,
    other: str | None,
) -> None:
    """Processed means: answered 200 with a URL. Until then the attachment is asked for again,
    whatever a first look says (`other`: a first look naming another attachment with a URL, but
    as a partial answer; it must not be taken)."""
    account = mastodon.new_account(f"bilder2-{status}-{bool(other)}")
    pending = still_processing(mastodon, account)
    first_look = {**pending, "id": "999999", "url": other} if status == 200 or other else pending
    mastodon.fault(
        status=status, path=f"/api/v1/media/{pending['id']}", method="GET", body=first_look
    )
    one_image_post(team, mastodon_channel(team, mastodon, account), clock)
    report = make_dispatcher(team.app, clock=clock).run_pass()

    assert len(report.published) == 1
    [posted] = mastodon.statuses(account)
    assert media_of(mastodon, posted) == [("Der Leuchtturm bei Nacht", "image")]


@pytest.mark.parametrize("config_overrides", [{"WEBHOOK_TIMEOUT_SECONDS": 1.0}])
def test_an_image_still_processed_when_the_send_must_end_is_tried_again_later(
    team: Team, mastodon: MastodonServer, make_dispatcher: Any, clock: Clock
) -> None:
    account = mastodon.new_account("bilder-langsam")
    pending = still_processing(mastodon, account)
    mastodon.fault(
        status=206, path=f"/api/v1/media/{pending['id']}", method="GET", body=pending, count=None
    )
    post = one_image_post(team, mastodon_channel(team, mastodon, account), clock)
    report = make_dispatcher(team.app, clock=clock).run_pass()

    assert report.retried == [post["deliveries"][0]["id"]]
    [waiting] = team.post(post["id"])["deliveries"]
    assert (waiting["status"], waiting["error"]) == (
        "scheduled",
        "attempt 1 failed: an image was still being processed by the server; retrying",
    )
    assert mastodon.statuses(account) == []


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (422, {"error": "Processing  failed"}, "Mastodon refused an image: Processing failed"),
        (404, None, "Mastodon answered HTTP 404 Not Found to an image"),
    ],
)
def test_an_image_the_server_gives_up_processing_fails_the_post_with_its_words(
    team: Team,
    mastodon: MastodonServer,
    make_dispatcher: Any,
    clock: Clock,
    status: int,
    body: Any,
    error: str,
) -> None:
    account = mastodon.new_account(f"bilder-kaputt-{status}")
    pending = still_processing(mastodon, account)
    mastodon.fault(status=status, path=f"/api/v1/media/{pending['id']}", method="GET", body=body)
    post = one_image_post(team, mastodon_channel(team, mastodon, account), clock)
    failed_with(error, team, mastodon, account, post, make_dispatcher(team.app, clock=clock))


def test_a_server_that_does_not_say_its_limits_gets_images_within_mastodons_defaults(
    team: Team, mastodon: MastodonServer, make_dispatcher: Any, clock: Clock
) -> None:
    account = mastodon.new_account("bilder-ohne-grenzen")
    mastodon.fault(status=503, path="/api/v2/instance", method="GET")
    post = one_image_post(team, mastodon_channel(team, mastodon, account), clock)

    report = make_dispatcher(team.app, clock=clock).run_pass()

    assert report.published == [post["deliveries"][0]["id"]]
    [posted] = mastodon.statuses(account)
    assert media_of(mastodon, posted) == [("Der Leuchtturm bei Nacht", "image")]


def test_a_servers_limits_are_read_once_an_hour_and_an_image_beyond_them_fails_by_position(
    team: Team, mastodon: MastodonServer, make_dispatcher: Any, clock: Clock
) -> None:
    """A scheduler reads the server's limits once and keeps them for an hour; one that starts
    later reads the new ones. An image that cannot be made to fit fails its post, named by its
    position."""
    account = mastodon.new_account("bilder-grenzen")
    channel = mastodon_channel(team, mastodon, account)
    running = make_dispatcher(team.app, clock=clock)
    first = one_image_post(team, channel, clock)
    assert running.run_pass().published == [first["deliveries"][0]["id"]]
    tiny = {"configuration": {"media_attachments": {"image_size_limit": 10}}}
    mastodon.fault(status=200, path="/api/v2/instance", method="GET", body=tiny, count=None)

    second = one_image_post(team, channel, clock)
    assert running.run_pass().published == [second["deliveries"][0]["id"]]  # limits kept
    third = one_image_post(team, channel, clock)
    assert make_dispatcher(team.app, clock=clock).run_pass().failed == [
        third["deliveries"][0]["id"]
    ]
    [failed] = team.post(third["id"])["deliveries"]
    assert failed["error"] == "image 1 could not be made smaller than 0.0 MB"
    assert len(mastodon.statuses(account)) == 2


def test_each_server_has_its_own_limits(
    team: Team, mastodon: MastodonServer, make_dispatcher: Any, clock: Clock
) -> None:
    """One scheduler, two servers (here one server under two addresses): what the first
    announced does not stand for the second."""
    account = mastodon.new_account("bilder-zwei-server")
    running = make_dispatcher(team.app, clock=clock)
    first = one_image_post(team, mastodon_channel(team, mastodon, account), clock)
    assert running.run_pass().published == [first["deliveries"][0]["id"]]
    tiny = {"configuration": {"media_attachments": {"image_size_limit": 10}}}
    mastodon.fault(status=200, path="/api/v2/instance", method="GET", body=tiny, count=None)
    other = team.channel(
        "Mastodon, anderer Server",
        kind="mastodon",
        network="mastodon",
        config={
            "base_url": mastodon.base_url.replace("127.0.0.1", "localhost"),
            "access_token": account.access_token,
        },
    )
    second = one_image_post(team, other, clock)
    assert running.run_pass().failed == [second["deliveries"][0]["id"]]
    [failed] = team.post(second["id"])["deliveries"]
    assert failed["error"] == "image 1 could not be made smaller than 0.0 MB"


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (
            422,
            {"error": "Validation failed: File is invalid"},
            "Mastodon refused image 1: Validation failed: File is invalid",
        ),
        (413, None, "Mastodon answered HTTP 413 Request Entity Too Large to image 1"),
    ],
)
def test_a_refused_image_fails_the_post_with_mastodons_words(
    team: Team,
    mastodon: MastodonServer,
    make_dispatcher: Any,
    clock: Clock,
    status: int,
    body: Any,
    error: str,
) -> None:
    account = mastodon.new_account(f"bilder3-{status}")
    mastodon.fault(status=status, path="/api/v2/media", body=body)
    post = one_image_post(team, mastodon_channel(team, mastodon, account), clock)
    failed_with(error, team, mastodon, account, post, make_dispatcher(team.app, clock=clock))


def mastodon_channel(
    team: Team, server: MastodonServer, account: MastodonAccount
) -> dict[str, Any]:
    return team.channel(
        f"Mastodon {account.username}",
        kind="mastodon",
        network="mastodon",
        config={"base_url": server.base_url, "access_token": account.access_token},
    )


@pytest.fixture
def app_port() -> int:
    return free_port()


@pytest.fixture
def config_overrides(app_port: int) -> dict[str, Any]:
    """The app's public address is where the real server below listens."""
    return {"BASE_URL": f"http://127.0.0.1:{app_port}"}


@pytest.fixture
def app_server(team: Team, app_port: int) -> Iterator[str]:
    """The app itself on a real loopback server: what a webhook's receiver fetches from."""
    server = make_server("127.0.0.1", app_port, team.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{app_port}"
    server.shutdown()
    thread.join(timeout=5)


def test_a_webhook_receives_signed_links_that_fetch_the_images_until_they_expire(
    team: Team, receiver: Receiver, app_server: str, make_dispatcher: Any, clock: Clock
) -> None:
    channel = team.channel(
        "Intranet", kind="webhook", config={"url": receiver.url, "secret": "s3cret"}
    )
    image = uploaded(team, picture("PNG", (80, 60), "purple"))
    team.scheduled([channel["id"]], at=clock.now, media=[{"id": image["id"], "alt": "Lila Fläche"}])
    assert make_dispatcher(team.app, clock=clock).run_pass().published

    [request] = receiver.received
    [sent] = request.json["media"]
    assert (sent["alt"], sent["mime_type"]) == ("Lila Fläche", "image/png")
    assert sent["url"].startswith(app_server + "/media/signed/")
    fetched = httpx.get(sent["url"])  # no session, no token: the signature is the key
    assert fetched.status_code == 200
    assert fetched.headers["Content-Type"] == "image/png"
    assert fetched.content == stored_file(team, image["id"]).read_bytes()

    tampered = sent["url"][:-3] + ("aaa" if not sent["url"].endswith("aaa") else "bbb")
    assert httpx.get(tampered).status_code == 403
    ttl = team.app.config["CALENDAR"].MEDIA_URL_TTL_SECONDS
    with time_machine.travel(now_utc() + timedelta(seconds=ttl + 60)):
        assert httpx.get(sent["url"]).status_code == 403


def test_a_webhook_that_feeds_bluesky_fetches_the_image_as_bluesky_takes_it(
    team: Team, receiver: Receiver, app_server: str, make_dispatcher: Any, clock: Clock
) -> None:
    channel = team.channel(
        "Bluesky über Zapier",
        kind="webhook",
        network="bluesky",
        config={"url": receiver.url, "secret": "s3cret"},
    )
    image = uploaded(team, noise((2400, 1600)))
    assert image["bytes"] > 1_000_000
    team.scheduled(
        [channel["id"]], at=clock.now, media=[{"id": image["id"], "alt": "Hafen bei Nacht"}]
    )
    assert make_dispatcher(team.app, clock=clock).run_pass().published

    [sent] = receiver.received[0].json["media"]
    fetched = httpx.get(sent["url"])
    assert fetched.status_code == 200
    assert fetched.headers["Content-Type"] == "image/jpeg"
    assert len(fetched.content) < 1_000_000
    with Image.open(BytesIO(fetched.content)) as scaled:
        assert abs(scaled.width / scaled.height - 1.5) < 0.01
    assert httpx.get(sent["url"]).content == fetched.content  # made once, kept


def test_a_webhook_post_without_images_says_so(
    team: Team, receiver: Receiver, make_dispatcher: Any, clock: Clock
) -> None:
    channel = team.channel(
        "Intranet", kind="webhook", config={"url": receiver.url, "secret": "s3cret"}
    )
    team.scheduled([channel["id"]], at=clock.now)
    make_dispatcher(team.app, clock=clock).run_pass()
    [request] = receiver.received
    assert request.json["media"] == []


def test_media_py_imports_nothing_above_the_networks() -> None:
    source = Path(media.__file__).read_text()
    for upward in ("planning", "dispatch", "web", "api", "post_media"):
        assert f"calendar_app.{upward}" not in source
        assert f"calendar_app import {upward}" not in source


def test_limits_are_in_the_one_channel_rules_table() -> None:
    from calendar_app.channel_rules import RULES

    assert RULES["bluesky"].max_images == 4
    assert RULES["bluesky"].max_image_bytes == 1_000_000
    assert RULES["x"].max_image_bytes == 5 * 1024 * 1024
    assert RULES["instagram"].image_required
    assert replace(RULES["mastodon"]).max_images == 4


# --- the composer ------------------------------------------------------------------------------


def compose_form(token: str, channel_id: int, **fields: Any) -> dict[str, Any]:
    return {
        "csrf_token": token,
        "title": "Hafenfest",
        "body": "Bilder vom Hafenfest",
        "channels": str(channel_id),
        "publish_at": "2026-12-01T09:00",
        "department": "0",
        "action": "draft",
        **fields,
    }


def test_the_composer_saves_images_with_alt_text_and_shows_them_again(team: Team) -> None:
    channel = team.channel()
    first, second = uploaded(team), uploaded(team, picture("JPEG"))
    browser = signed_in(team, "planner")
    token = csrf_token(browser, "/compose")
    saved = browser.post(
        "/compose",
        data=compose_form(
            token,
            channel["id"],
            media_id=[str(first["id"]), str(second["id"])],
            media_alt=["Bühne am Kai", "Kinder am Karussell"],
        ),
    )
    assert saved.status_code == 302, saved.get_data(as_text=True)
    post_id = int(saved.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    assert [(m["id"], m["alt"]) for m in team.post(post_id)["media"]] == [
        (first["id"], "Bühne am Kai"),
        (second["id"], "Kinder am Karussell"),
    ]
    page = browser.get(f"/posts/{post_id}/edit").get_data(as_text=True)
    assert f'data-media-id="{first["id"]}"' in page
    assert f'data-media-id="{second["id"]}"' in page
    assert f'data-media-url="/media/{first["id"]}"' in page
    assert 'data-media-alt="Kinder am Karussell"' in page


def test_the_composer_shows_a_missing_alt_text_next_to_the_image(team: Team) -> None:
    channel = team.channel()
    image = uploaded(team)
    browser = signed_in(team, "planner")
    token = csrf_token(browser, "/compose")
    refused = browser.post(
        "/compose",
        data=compose_form(token, channel["id"], media_id=str(image["id"]), media_alt=""),
    )
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert "beschreiben Sie das Bild für Menschen, die es nicht sehen können" in page
    assert f'data-media-url="/media/{image["id"]}"' in page  # the image is still there

    no_reason = browser.post(
        "/compose",
        data=compose_form(
            token, channel["id"], media_id=str(image["id"]), media_alt="", alt_text_waived="y"
        ),
    )
    assert no_reason.status_code == 422
    assert "sagen Sie, warum dieser Beitrag ohne Alternativtext hinausgeht" in no_reason.get_data(
        as_text=True
    )

    waived = browser.post(
        "/compose",
        data=compose_form(
            token,
            channel["id"],
            media_id=str(image["id"]),
            media_alt="",
            alt_text_waived="y",
            alt_text_waiver_reason="Reine Zierleiste",
        ),
    )
    assert waived.status_code == 302


def test_the_composer_speaks_german(team: Team) -> None:
    browser = signed_in(team, "planner")
    page = browser.get("/compose", headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert "Bilder" in page
    assert "Alternativtext: was das Bild zeigt" in page


def test_a_reviewer_sees_the_images_and_their_alt_text_on_the_posts_page(team: Team) -> None:
    channel = team.channel()
    image = uploaded(team)
    post = team.draft([channel["id"]], media=[{"id": image["id"], "alt": "Die neue Fähre"}])
    page = signed_in(team, "head").get(f"/posts/{post['id']}").get_data(as_text=True)
    assert f'<img src="/media/{image["id"]}" alt="Die neue Fähre">' in page


def test_images_are_reordered_and_replaced_on_both_databases(any_team: Team) -> None:
    channel = any_team.channel()
    first, second, third = (uploaded(any_team, picture("PNG", (20 + n, 20))) for n in range(3))
    post = any_team.draft(
        [channel["id"]],
        media=[{"id": first["id"], "alt": "Eins"}, {"id": second["id"], "alt": "Zwei"}],
    )
    swapped = any_team.planner.patch(
        f"/posts/{post['id']}",
        json={
            "media": [
                {"id": second["id"], "alt": "Zwei, jetzt vorn"},
                {"id": first["id"], "alt": "Eins"},
                {"id": third["id"], "alt": "Drei"},
            ]
        },
    )
    assert swapped.status_code == 200, swapped.get_json()
    assert [(m["id"], m["alt"]) for m in any_team.post(post["id"])["media"]] == [
        (second["id"], "Zwei, jetzt vorn"),
        (first["id"], "Eins"),
        (third["id"], "Drei"),
    ]
    emptied = any_team.planner.patch(f"/posts/{post['id']}", json={"media": []})
    assert emptied.status_code == 200
    assert any_team.post(post["id"])["media"] == []


def test_a_mastodon_server_that_takes_smaller_images_gets_them_scaled(
    team: Team, mastodon: MastodonServer, make_dispatcher: Any, clock: Clock
) -> None:
    account = mastodon.new_account("bilder4")
    limits = {"image_size_limit": 150_000, "image_matrix_limit": 640 * 480}
    announced = {"configuration": {"media_attachments": limits}}
    mastodon.fault(status=200, path="/api/v2/instance", method="GET", body=announced)
    channel = mastodon_channel(team, mastodon, account)
    image = uploaded(team, noise((1600, 1200)))
    assert image["bytes"] > 150_000
    team.scheduled([channel["id"]], at=clock.now, media=[{"id": image["id"], "alt": "Rauschen"}])
    assert make_dispatcher(team.app, clock=clock).run_pass().published

    [status] = mastodon.statuses(account)
    [attachment] = httpx.get(f"{mastodon.base_url}/api/v1/statuses/{status['id']}").json()[
        "media_attachments"
    ]
    arrived = httpx.get(attachment["url"]).content
    assert len(arrived) <= 150_000
    with Image.open(BytesIO(arrived)) as sent:
        assert sent.width * sent.height <= 640 * 480
        assert abs(sent.width / sent.height - 4 / 3) < 0.01


def test_a_rate_limited_image_upload_is_tried_again(
    team: Team, mastodon: MastodonServer, make_dispatcher: Any, clock: Clock
) -> None:
    account = mastodon.new_account("bilder5")
    mastodon.fault(status=429, path="/api/v2/media", effect="ratelimit")
    channel = mastodon_channel(team, mastodon, account)
    image = uploaded(team)
    post = team.scheduled(
        [channel["id"]], at=clock.now, media=[{"id": image["id"], "alt": "Ein Bild"}]
    )
    report = make_dispatcher(team.app, clock=clock).run_pass()
    assert report.retried == [post["deliveries"][0]["id"]]
    assert mastodon.statuses(account) == []


@pytest.mark.parametrize("config_overrides", [{"MEDIA_MAX_BYTES": 200_000}])
def test_the_composer_hears_why_an_upload_is_too_large(team: Team) -> None:
    browser = signed_in(team, "planner")
    token = csrf_token(browser, "/compose")
    for size in ((420, 420), (1400, 1400)):  # read and refused; refused before it is read
        refused = upload(browser, noise(size), "foto.jpg", headers={"X-CSRFToken": token})
        assert refused.status_code == 422
        assert "at most 0.2 MB" in refused.get_json()["fields"]["file"]


def test_the_audit_log_page_names_the_waiver_and_its_reason(team: Team) -> None:
    channel = team.channel()
    image = uploaded(team)
    team.draft(
        [channel["id"]],
        media=[{"id": image["id"]}],
        alt_text_waived=True,
        alt_text_waiver_reason="Nur ein Farbverlauf",
    )
    page = signed_in(team, "head").get("/audit").get_data(as_text=True)
    assert "Bilder ohne Alternativtext" in page
    assert "Nur ein Farbverlauf" in page


def test_the_demos_instagram_posts_come_with_a_picture_and_its_alt_text(tmp_path: Path) -> None:
    from calendar_app.db import Database
    from calendar_app.demo import fill_demo
    from calendar_app.migrate import upgrade
    from calendar_app.models import Post

    url = f"sqlite:///{tmp_path}/demo.db"
    upgrade(url)
    db = Database(url)
    try:
        with db.transaction() as session:
            fill_demo(session, password="demo-passwort", timezone="Europe/Berlin",
                      media_dir=tmp_path / "media")  # fmt: skip
        with db.transaction() as session:
            posts = session.scalars(select(Post)).all()
            on_instagram = [
                p for p in posts if any(d.channel.network == "instagram" for d in p.deliveries)
            ]
            assert on_instagram
            for post in on_instagram:
                [image] = post.media_rows
                assert image.alt.strip()
                assert media.stored_path(tmp_path / "media", image.media.sha256).is_file()
    finally:
        db.dispose()
