"""Crisis playbooks (issue 8): prepared in calm times by heads, declared in one action that
publishes exactly the holding statements, holds the rest of the queue in scope and alerts the
escalation list, who acknowledge (in the app, or by the link in their e-mail)."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from calendar_app.extensions import get_db
from calendar_app.models import AuditEntry
from calendar_app.notifications import send_outgoing
from calendar_app.timeutil import now_utc
from tests.conftest import Clock, Team
from tests.support.mailbox import Mailbox
from tests.support.receiver import Receiver
from tests.test_pinned_guarantees import decided_by_the_declaration, open_storm_alert


def webhook(team: Team, receiver: Receiver, name: str, network: str = "other") -> dict[str, Any]:
    config = {"url": f"{receiver.url}/{name}", "secret": "s3cret"}
    return team.channel(name, kind="webhook", network=network, config=config)


def plant_accident(team: Team, channels: dict[str, dict[str, Any]], **extra: Any) -> dict:
    body = {
        "name": "Störfall im Werk",
        "description": "Brand oder Unfall an einem Standort.",
        "channels": [channels["x"]["id"], channels["blog"]["id"]],
        "keywords": ["Gewinnspiel"],
        "topics": ["#Jubiläum"],
        "statements": {
            str(channels["x"]["id"]): "Wir wissen von einem Vorfall im Werk. Mehr in Kürze.",
            str(channels["blog"]["id"]): "Erklärung der Geschäftsführung folgt in einer Stunde.",
        },
        "escalation": [
            {"user_id": team.ids["head2"]},
            {"name": "Dr. Petra Lang", "role": "legal", "email": "p.lang@kanzlei.example"},
        ],
        **extra,
    }
    response = team.head.post("/playbooks", json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


@pytest.fixture
def channels(any_team: Team, receiver: Receiver) -> dict[str, dict[str, Any]]:
    return {
        "x": webhook(any_team, receiver, "Konzern-X", network="x"),
        "blog": webhook(any_team, receiver, "Blog"),
        "karriere": webhook(any_team, receiver, "Karriere"),
    }


def test_a_playbook_is_prepared_read_by_everyone_and_edited_by_heads(
    any_team: Team, channels: dict
) -> None:
    team = any_team
    playbook = plant_accident(team, channels)
    assert playbook["topics"] == ["jubiläum"]
    assert playbook["keywords"] == ["gewinnspiel"]
    assert [s["channel_id"] for s in playbook["statements"]] == sorted(
        [channels["x"]["id"], channels["blog"]["id"]]
    )
    assert playbook["escalation"][0]["email"] == "head2@example.org"
    assert playbook["escalation"][1]["role"] == "legal"
    assert team.planner.get("/playbooks").get_json()["items"][0]["id"] == playbook["id"]
    assert team.planner.get(f"/playbooks/{playbook['id']}").status_code == 200
    assert team.planner.patch(f"/playbooks/{playbook['id']}", json={"name": "x"}).status_code == 403
    assert team.planner.post("/playbooks", json={"name": "Rückruf"}).status_code == 403

    edited = team.admin.patch(
        f"/playbooks/{playbook['id']}", json={"channels": None, "keywords": ["Rabatt"]}
    )
    assert edited.status_code == 200, edited.get_json()
    assert edited.get_json()["channels"] == "all"
    assert edited.get_json()["keywords"] == ["rabatt"]
    assert team.head2.delete(f"/playbooks/{playbook['id']}").get_json() == {"deleted": True}
    assert team.head.get(f"/playbooks/{playbook['id']}").status_code == 404


def test_a_holding_statement_is_checked_against_its_channel_when_saved(
    team: Team, receiver: Receiver
) -> None:
    x = webhook(team, receiver, "Konzern-X", network="x")
    response = team.head.post(
        "/playbooks",
        json={"name": "Datenleck", "statements": {str(x["id"]): "Ä" * 281}},
    )
    assert response.status_code == 422
    assert f"statements.{x['id']}" in response.get_json()["fields"]
    bad_contact = team.head.post(
        "/playbooks",
        json={
            "name": "Datenleck",
            "escalation": [{"name": "Betriebsrat", "role": "works_council"}],
        },
    )
    assert bad_contact.status_code == 422
    assert "escalation.0" in bad_contact.get_json()["fields"]


def test_a_playbook_declaration_publishes_exactly_its_statements_and_holds_the_rest(
    any_team: Team,
    channels: dict,
    receiver: Receiver,
    clock: Clock,
    make_dispatcher: Any,
) -> None:
    team = any_team
    playbook = plant_accident(team, channels)
    at = clock.now + timedelta(minutes=5)
    planned_x = team.scheduled([channels["x"]["id"]], at=at)
    planned_blog = team.scheduled([channels["blog"]["id"]], at=at)
    contest = team.scheduled([channels["karriere"]["id"]], at=at, body="Unser Gewinnspiel!")
    anniversary = team.scheduled([channels["karriere"]["id"]], at=at, tags=["jubiläum"])
    jobs = team.scheduled([channels["karriere"]["id"]], at=at, body="Wir suchen Azubis.")

    response = team.head.post(
        "/crisis", json={"reason": "Brand in Halle 3", "playbook_id": playbook["id"]}
    )
    assert response.status_code == 201, response.get_json()
    declared = response.get_json()
    assert declared["playbook_id"] == playbook["id"]
    assert declared["channels"] == [channels["x"]["id"], channels["blog"]["id"]]
    assert declared["keywords"] == ["gewinnspiel"]
    assert len(declared["statements"]) == 2
    # Each statement is a crisis response of the crisis, approved by the declaring head: the
    # declaration is its release, and the audit log says where it was prepared.
    for post_id in declared["statements"]:
        statement = team.post(post_id)
        assert statement["title"] == "Störfall im Werk"
        assert (statement["status"], statement["approved_by"]) == ("scheduled", team.email("head"))
        assert statement["crisis_response"] is True
    with get_db(team.app).transaction() as session:
        approvals = [
            (e.subject_id, e.actor_id, e.detail)
            for e in session.scalars(
                select(AuditEntry)
                .where(
                    AuditEntry.action == "approve",
                    AuditEntry.subject_id.in_(declared["statements"]),
                )
                .order_by(AuditEntry.subject_id)
            )
        ]
    assert approvals == [
        (
            post_id,
            team.ids["head"],
            {
                "publish_at": datetime.fromisoformat(team.post(post_id)["publish_at"]).isoformat(),
                "crisis_response": True,
                "prepared_in": f"playbook {playbook['id']}: Störfall im Werk",
            },
        )
        for post_id in sorted(declared["statements"])
    ]

    dispatcher = make_dispatcher(team.app, clock=clock)
    clock.advance(seconds=30)  # the statements were due at the declaration
    dispatcher.run_pass()
    first = receiver.bodies()
    assert sorted(b["body"] for b in first) == sorted(s["text"] for s in playbook["statements"]), (
        "exactly the holding statements go out at once"
    )
    clock.advance(minutes=10)
    dispatcher.run_pass()
    for post in (planned_x, planned_blog, contest, anniversary):
        assert team.post(post["id"])["status"] == "held"
    assert team.post(jobs["id"])["status"] == "published"
    sent = {b["post_id"] for b in receiver.bodies()}
    assert sent == set(declared["statements"]) | {jobs["id"]}


def test_explicit_scope_replaces_the_playbooks_default(team: Team, receiver: Receiver) -> None:
    chans = {
        "x": webhook(team, receiver, "Konzern-X", network="x"),
        "blog": webhook(team, receiver, "Blog"),
    }
    playbook = plant_accident(team, chans)
    response = team.head.post(
        "/crisis",
        json={
            "reason": "Brand",
            "playbook_id": playbook["id"],
            "channels": [chans["blog"]["id"]],
            "keywords": [],
        },
    )
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["channels"] == [chans["blog"]["id"]]
    assert response.get_json()["keywords"] == []
    assert response.get_json()["topics"] == ["jubiläum"]  # not given: the playbook's
    unknown = team.head2.post("/crisis", json={"reason": "x", "playbook_id": 999})
    assert unknown.status_code in (409, 422)


# --- escalation and acknowledgements -------------------------------------------------------------


def test_the_escalation_list_is_alerted_and_acknowledges(
    team: Team, receiver: Receiver, mailbox: Mailbox
) -> None:
    chans = {
        "x": webhook(team, receiver, "Konzern-X", network="x"),
        "blog": webhook(team, receiver, "Blog"),
    }
    playbook = plant_accident(team, chans)
    assert (
        team.head.post(
            "/crisis", json={"reason": "Brand in Halle 3", "playbook_id": playbook["id"]}
        ).status_code
        == 201
    )
    board = team.planner.get("/crisis").get_json()["escalation"]
    assert [(e["name"], e["acknowledged_at"]) for e in board] == [
        ("Head2", None),
        ("Dr. Petra Lang", None),
    ]
    # head2 is told in the app; everyone by e-mail.
    notes = team.head2.get("/notifications").get_json()["items"]
    assert notes[0]["kind"] == "crisis_escalation"
    config = replace(
        team.app.config["CALENDAR"],
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=mailbox.port,
        BASE_URL="https://kal.example",
    )
    send_outgoing(get_db(team.app), config)
    assert len(mailbox.to("head2@example.org")) == 1
    [mail] = mailbox.to("p.lang@kanzlei.example")
    link = re.search(r"https://kal.example/crisis/ack/(\S+)", mail.get_content())
    assert link, mail.get_content()

    # Users acknowledge in the app; someone not on the list cannot.
    assert team.planner.post("/crisis/acknowledge").status_code == 409
    acked = team.head2.post("/crisis/acknowledge")
    assert acked.status_code == 200, acked.get_json()
    assert acked.get_json()["escalation"][0]["acknowledged_at"] is not None
    assert team.head2.post("/crisis/acknowledge").status_code == 200  # twice is harmless

    # Outside people by the link: the page asks, the button acknowledges.
    browser = team.app.test_client()
    page = browser.get(f"/crisis/ack/{link.group(1)}")
    assert page.status_code == 200
    assert "Brand in Halle 3" in page.get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.get_data(as_text=True))
    assert token
    done = browser.post(f"/crisis/ack/{link.group(1)}", data={"csrf_token": token.group(1)})
    assert done.status_code == 200
    assert browser.get("/crisis/ack/not-a-valid-token-at-all-xxxxxx").status_code == 404

    board = team.planner.get("/crisis").get_json()["escalation"]
    assert all(e["acknowledged_at"] for e in board)
    with get_db(team.app).transaction() as session:
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "acknowledge")
        ).all()
        assert [(e.subject_type, e.detail["name"], e.detail["via"]) for e in entries] == [
            ("crisis", "Head2", "app"),
            ("crisis", "Dr. Petra Lang", "link"),
        ]


# --- the pages ---------------------------------------------------------------------------------


def test_a_head_prepares_a_playbook_in_the_browser_and_declares_from_it(
    team: Team, receiver: Receiver
) -> None:
    from tests.test_security import csrf_token, signed_in

    x = webhook(team, receiver, "Konzern-X", network="x")
    head = signed_in(team.app, "head")
    saved = head.post(
        "/playbooks/new",
        data={
            "csrf_token": csrf_token(head, "/playbooks/new"),
            "name": "Datenleck",
            "scope": "chosen",
            "channels": [x["id"]],
            "keywords": "Rabatt, Gewinnspiel",
            f"statement-{x['id']}": "Wir prüfen einen Vorfall. Mehr in Kürze.",
            "escalation": "head2@example.org\nDr. Petra Lang; legal; p.lang@kanzlei.example",
        },
    )
    assert saved.status_code == 302, saved.get_data(as_text=True)[:2000]
    [playbook] = team.planner.get("/playbooks").get_json()["items"]
    assert playbook["keywords"] == ["rabatt", "gewinnspiel"]
    assert [c["name"] for c in playbook["escalation"]] == ["Head2", "Dr. Petra Lang"]
    assert "Datenleck" in signed_in(team.app, "planner").get("/playbooks").get_data(as_text=True)

    too_long = head.post(
        f"/playbooks/{playbook['id']}",
        data={
            "csrf_token": csrf_token(head, f"/playbooks/{playbook['id']}"),
            "name": "Datenleck",
            "scope": "all",
            f"statement-{x['id']}": "x" * 300,
        },
    )
    assert too_long.status_code == 422

    token = csrf_token(head, "/crisis/declare")
    preview = head.post(
        "/crisis/declare",
        data={"csrf_token": token, "step": "preview", "playbook": playbook["id"],
              "scope": "playbook"},
    )  # fmt: skip
    assert "Wir prüfen einen Vorfall." in preview.get_data(as_text=True)
    declared = head.post(
        "/crisis/declare",
        data={"csrf_token": token, "reason": "Datenleck beim Dienstleister",
              "playbook": playbook["id"], "scope": "playbook"},
    )  # fmt: skip
    assert declared.status_code == 302, declared.get_data(as_text=True)[:2000]
    crisis_now = team.head.get("/crisis").get_json()
    assert crisis_now["channels"] == [x["id"]]
    assert crisis_now["keywords"] == ["rabatt", "gewinnspiel"]

    head2 = signed_in(team.app, "head2")
    page = head2.get("/crisis").get_data(as_text=True)
    assert 'id="acknowledgements"' in page
    assert page.count("noch nicht") == 2
    # Roles on the list are named in the reader's language, not as the stored code.
    assert "<td>Recht</td>" in page
    assert "Dr. Petra Lang (Recht)" in head2.get("/playbooks").get_data(as_text=True)
    head2.post("/crisis/acknowledge", data={"csrf_token": csrf_token(head2, "/crisis")})
    page = head2.get("/crisis").get_data(as_text=True)
    assert page.count("noch nicht") == 1


def test_every_escalation_role_has_a_name_for_the_pages() -> None:
    from calendar_app.playbooks import CONTACT_ROLES
    from calendar_app.web.formatting import CONTACT_ROLE_LABELS

    assert set(CONTACT_ROLE_LABELS) == set(CONTACT_ROLES)


def test_a_playbook_declaration_from_an_early_warning_decides_the_alert_in_its_audit_entry(
    any_team: Team, channels: dict
) -> None:
    """Declared with a playbook from an undecided alert: the same declaration as without one —
    the alert is decided by the head and the declaration's own audit entry names it. The scope
    stays the playbook's."""
    playbook = plant_accident(any_team, channels)
    now = now_utc()
    open_storm_alert(any_team, channels["karriere"]["id"], now, hold_minutes=30)
    [alert] = any_team.head.get("/alerts?status=open").get_json()["items"]
    declared = any_team.head2.post(
        "/crisis",
        json={"reason": "Brand", "playbook_id": playbook["id"], "alert_id": alert["id"]},
    )
    assert declared.status_code == 201, declared.get_json()
    assert declared.get_json()["channels"] == sorted([channels["x"]["id"], channels["blog"]["id"]])
    decided_by_the_declaration(any_team, alert["id"], declared.get_json(), "head2")
