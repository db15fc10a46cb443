"""The organisation archive: built by Celery, downloaded by admins, re-imported into an
empty organisation with nothing lost (round trip)."""

import json
import re
from datetime import UTC, date, datetime
from decimal import Decimal as D

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from checkins import portability
from checkins import services as cadence
from checkins.models import Meeting, OrgExport, Report
from checkins.reports import report_request
from cycles import services as okr
from cycles.models import Cycle, Level, Objective
from okrapp import services as core
from okrapp.models import Membership, User

pytestmark = pytest.mark.django_db


@pytest.fixture
def full_acme(
    acme, alice, bob, carol, erin, engineering, cycle, objective, kr, kr2,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    """Acme with a row in every section of the archive."""
    company = okr.objective_create(
        org=acme,
        by=alice,
        cycle=cycle,
        level=Level.COMPANY,
        owner=alice,
        title="Be the easiest robot to calibrate",
        mission_link="Robots for everyone",
    )
    okr.objective_update(
        org=acme, by=alice, objective=objective, expected_version=None, aligned_to=[company]
    )
    okr.initiative_save(org=acme, by=carol, key_result=kr, title="Rewrite the manual")
    checkin = cadence.checkin_record(
        org=acme, by=carol, key_result=kr, value=D(25), confidence=6, note="Going well"
    )
    ack = cadence.checkin_acknowledge(org=acme, by=bob, checkin=checkin, reply="Nice")
    # A time whose milliseconds are zero but not its microseconds: it must come back as it
    # was, and export the same way twice (cut to milliseconds, it did neither).
    type(ack).objects.for_org(acme).filter(pk=ack.pk).update(
        created_at=datetime(2026, 10, 8, 1, 39, 0, 412, tzinfo=UTC)
    )
    cadence.comment_create(org=acme, by=bob, key_result=kr, body="Great start @erin")
    cadence.kudos_give(org=acme, by=bob, receiver=carol, message="Thanks!", key_result=kr)
    pair = cadence.one_on_one_get_or_create(org=acme, by=bob, manager=bob, report=carol)
    meeting = cadence.meeting_create(org=acme, by=bob, pair=pair, on=date(2026, 10, 8))
    cadence.meeting_update_notes(
        org=acme, by=bob, meeting=meeting, shared_notes="We agreed", private_notes="SECRET-NOTE"
    )
    cadence.action_item_add(org=acme, by=bob, meeting=meeting, text="Send the draft")
    okr.cycle_transition(org=acme, by=alice, cycle=cycle, to_state="scoring")
    okr.score_submit(
        org=acme,
        by=carol,
        key_result=kr2,
        score=D("0.7"),
        what_worked="Pairing",
        what_to_change="Start early",
        reason="other",
    )
    with django_capture_on_commit_callbacks(execute=True):  # the worker builds it (eager)
        report_request(org=acme, by=alice, cycle=cycle)
    assert Report.objects.for_org(acme).get().is_ready
    return acme


def _export(client, org, capture):
    with capture(execute=True):
        response = client.post(reverse("org_export_start", kwargs={"org_slug": org.slug}))
    assert response.status_code == 302
    response = client.get(reverse("org_export_download", kwargs={"org_slug": org.slug}))
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    return b"".join(response.streaming_content)


def _normalise(archive: dict) -> dict:
    """Ids (and the name, slug, export time) are the organisation's own: compare by position,
    and people by email."""
    data = {k: v for k, v in archive.items() if k != "exported_at"}
    data["organization"] = {
        k: v for k, v in archive["organization"].items() if k not in ("slug", "name")
    }
    key_of = {}
    for section, model, _skip in portability.SECTIONS:
        rows = archive[section]
        if model is Membership:
            key_of[model] = {r["id"]: r["email"] for r in rows}
        else:
            key_of[model] = {r["id"]: i for i, r in enumerate(rows)}
    for section, model, skip in portability.SECTIONS:
        relations = {
            f.attname: f.related_model for f in portability._fields(model, skip) if f.is_relation
        }
        out = []
        for row in archive[section]:
            row = dict(row)
            row.pop("id")
            for attname, target in relations.items():
                if row.get(attname) is not None:
                    row[attname] = key_of[target][row[attname]]
            out.append(row)
        if model is Membership:
            out.sort(key=lambda r: r["email"])
        data[section] = out
    # A restored report is rebuilt from the restored data: its finish time is the rebuild's.
    data["reports"] = [
        {
            **{k: v for k, v in r.items() if k not in ("id", "finished_at")},
            "cycle_id": key_of[Cycle][r["cycle_id"]],
            "generated_by_id": key_of[Membership].get(r["generated_by_id"]),
        }
        for r in archive["reports"]
    ]
    return data


def test_round_trip_export_import_export_loses_nothing(
    client, login, full_acme, alice, carol, mallory, django_capture_on_commit_callbacks
):
    login(alice)
    first = _export(client, full_acme, django_capture_on_commit_callbacks)
    archive = json.loads(first)
    # Everything is there, and the private notes are not.
    for section in ("members", "teams", "cycles", "objectives", "alignments", "key_results",
                    "initiatives", "checkins", "comments", "kudos", "one_on_ones", "meetings",
                    "action_items", "scores", "acknowledgements", "mentions"):  # fmt: skip
        assert archive[section], section
    assert b"SECRET-NOTE" not in first and b"We agreed" in first
    assert "private_notes" not in archive["meetings"][0]
    assert {m["email"] for m in archive["members"]} >= {"alice@acme.example", "carol@acme.example"}

    # Alice opens a new, empty organisation and imports the archive.
    new_org = core.organization_create(user=alice.user, name="Acme Two", slug="acme-two")
    with django_capture_on_commit_callbacks(execute=True):  # the report rebuild runs
        response = client.post(
            reverse("org_import", kwargs={"org_slug": new_org.slug}),
            {"archive": SimpleUploadedFile("acme.json", first, "application/json")},
        )
    assert response.status_code == 302, response.content.decode()[:2000]
    second = json.loads(_export(client, new_org, django_capture_on_commit_callbacks))

    assert archive["reports"] and archive["reports"][0]["status"] == "ready"
    assert _normalise(second) == _normalise(archive)
    assert second["reports"][0]["finished_at"]
    # The rebuilt report says what the original said, figure for figure.
    original = Report.objects.for_org(full_acme).get()
    restored = Report.objects.for_org(new_org).get()
    assert restored.is_ready and restored.cycle.name == original.cycle.name
    assert restored.csv_file.read() == original.csv_file.read()
    assert b"0.7" in restored.csv_file.open("rb").read()
    assert restored.pdf_file.size > 0 and restored.html_file.size > 0
    # Restoring mails nobody: the generation counts as already mailed.
    assert restored.mailed_generation == restored.generation
    assert not Meeting.objects.for_org(new_org).exclude(private_notes="").exists()
    assert Objective.objects.for_org(new_org).filter(title="Acme secret objective").count() == 0
    # carol's account is reused (same user), nobody got a password from the import.
    assert Membership.objects.for_org(new_org).get(user=carol.user).role == carol.role


def test_unknown_people_become_accounts_without_a_password(client, login, full_acme, alice):
    archive = portability.build_archive(full_acme)
    archive["members"][1]["email"] = "newcomer@elsewhere.example"
    new_org = core.organization_create(user=alice.user, name="Acme Two", slug="acme-two")
    admin = Membership.objects.for_org(new_org).get(user=alice.user)
    portability.import_archive(org=new_org, by=admin, archive=archive)
    newcomer = User.objects.get(email="newcomer@elsewhere.example")
    assert not newcomer.has_usable_password()
    assert Membership.objects.for_org(new_org).filter(user=newcomer).exists()
    assert Membership.objects.for_org(new_org).get(pk=admin.pk).role == "admin"


def test_import_is_refused_when_the_organisation_has_data(client, login, full_acme, alice):
    first = portability.dumps(portability.build_archive(full_acme))
    login(alice)
    response = client.post(
        reverse("org_import", kwargs={"org_slug": full_acme.slug}),
        {"archive": SimpleUploadedFile("acme.json", first, "application/json")},
    )
    assert response.status_code == 400
    assert "already has data" in response.content.decode()


@pytest.mark.parametrize("content", [b"\xff\xfe", b"{}", b'{"format": "x"}', b"[1, 2]"])
def test_a_file_that_is_not_an_archive_is_400(client, login, acme, alice, content):
    new_org = core.organization_create(user=alice.user, name="Empty", slug="empty")
    login(alice)
    response = client.post(
        reverse("org_import", kwargs={"org_slug": new_org.slug}),
        {"archive": SimpleUploadedFile("x.json", content, "application/json")},
    )
    assert response.status_code == 400
    assert "not a JSON archive" in response.content.decode()


def test_export_page_shows_status_and_polls_while_building(client, login, acme, alice):
    login(alice)
    url = reverse("org_export", kwargs={"org_slug": acme.slug})
    assert "No archive yet" in client.get(url).content.decode()
    OrgExport.objects.create(organization=acme, requested_by=alice)  # queued, no worker yet
    page = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert 'hx-trigger="every 1s"' in page and "<html" not in page
    assert (
        client.get(reverse("org_export_download", kwargs={"org_slug": acme.slug})).status_code
        == 404
    )


def test_the_task_is_idempotent(acme, alice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        export = portability.export_request(org=acme, by=alice)  # eager: built at commit
    from checkins.portability_tasks import build_org_export

    export.refresh_from_db()
    assert export.is_ready and export.size > 0
    assert build_org_export(acme.pk, export.pk) == "done"


def test_members_get_403_and_outsiders_404(client, login, acme, alice, bob, carol, mallory):
    names = ["org_export", "org_export_download"]
    posts = ["org_export_start", "org_import"]
    for person in (carol, bob):
        login(person)
        for name in names:
            assert client.get(reverse(name, kwargs={"org_slug": acme.slug})).status_code == 403
        for name in posts:
            assert client.post(reverse(name, kwargs={"org_slug": acme.slug})).status_code == 403
    login(mallory)
    for name in names:
        assert client.get(reverse(name, kwargs={"org_slug": acme.slug})).status_code == 404
    for name in posts:
        assert client.post(reverse(name, kwargs={"org_slug": acme.slug})).status_code == 404
    assert not OrgExport.objects.for_org(acme).exists()


def test_archive_names_no_other_organisation(full_acme, mallory):
    text = portability.dumps(portability.build_archive(full_acme)).decode()
    assert "globex" not in text.lower() and not re.search("mallory", text)


def test_a_failed_report_is_restored_failed_and_nobody_is_mailed(
    full_acme, alice, mailoutbox, django_capture_on_commit_callbacks
):
    archive = portability.build_archive(full_acme)
    archive["reports"][0].update(status="failed", error="RuntimeError: fonts missing")
    new_org = core.organization_create(user=alice.user, name="Acme Two", slug="acme-two")
    admin = Membership.objects.for_org(new_org).get(user=alice.user)
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        counts = portability.import_archive(org=new_org, by=admin, archive=archive)
    assert counts["reports"] == 1
    restored = Report.objects.for_org(new_org).get()
    assert (restored.status, restored.error) == ("failed", "RuntimeError: fonts missing")
    assert not restored.csv_file
    assert not callbacks and not mailoutbox


@pytest.mark.parametrize(
    "damage",
    [
        lambda a: a["reports"][0].update(cycle_id=999999),
        lambda a: a["reports"].append(dict(a["reports"][0])),
        lambda a: a.update(reports={"not": "a list"}),
        lambda a: a["reports"][0].update(generated_by_id=424242),
    ],
)
def test_a_damaged_report_section_is_400_and_imports_nothing(
    client, login, full_acme, alice, damage
):
    archive = portability.build_archive(full_acme)
    damage(archive)
    new_org = core.organization_create(user=alice.user, name="Acme Two", slug="acme-two")
    login(alice)
    response = client.post(
        reverse("org_import", kwargs={"org_slug": new_org.slug}),
        {
            "archive": SimpleUploadedFile(
                "acme.json", portability.dumps(archive), "application/json"
            )
        },
    )
    assert response.status_code == 400
    assert "damaged" in response.content.decode()
    assert not Cycle.objects.for_org(new_org).exists()
    assert not Report.objects.for_org(new_org).exists()
