"""CSV import of objectives and key results: template, dry run, row errors, all-or-nothing."""

import csv
import io
import re
from datetime import date
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from cycles import importer
from cycles import services as okr
from cycles.models import Alignment, KeyResult, Level, Objective

pytestmark = pytest.mark.django_db


@pytest.fixture
def cycle(acme, alice):
    return okr.cycle_create(
        org=acme, by=alice, name="2027 Q1", start_date=date(2027, 1, 1), end_date=date(2027, 3, 31)
    )


@pytest.fixture
def company_objective(acme, alice, cycle):
    return okr.objective_create(
        org=acme,
        by=alice,
        cycle=cycle,
        level=Level.COMPANY,
        owner=alice,
        title="Grow self-serve revenue",
        mission_link="Make robots easy to buy",
    )


def _csv(rows, header=importer.COLUMNS):
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header)
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return out.getvalue().encode()


GOOD = [
    {
        "objective_title": "Delight new customers",
        "level": "team",
        "team": "Engineering",
        "objective_owner": "bob@acme.example",
        "aligned_to": "Grow self-serve revenue",
        "kr_title": "Time to first value from 5 to 1 days",
        "kr_owner": "carol@acme.example",
        "direction": "decrease",
        "start": "5",
        "target": "1",
        "unit": "days",
    },
    {
        "objective_title": "Delight new customers",
        "kr_title": "NPS of new customers from 20 to 40",
        "start": "20",
        "target": "40",
    },
    {
        "objective_title": "Carol learns the calibration rig",
        "level": "individual",
        "objective_owner": "carol@acme.example",
        "aligned_to": "Delight new customers",
        "kr_title": "Calibration manual written",
        "kind": "milestone",
    },
]


def _url(name, acme, cycle):
    return reverse(name, kwargs={"org_slug": acme.slug, "cycle_id": cycle.pk})


def _upload(client, acme, cycle, content, name="okrs.csv"):
    return client.post(
        _url("cycle_import", acme, cycle), {"file": SimpleUploadedFile(name, content, "text/csv")}
    )


def test_template_has_the_documented_header_and_an_example_row(client, login, acme, alice, cycle):
    login(alice)
    response = client.get(_url("cycle_import_template", acme, cycle))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert tuple(rows[0]) == importer.COLUMNS and len(rows) == 2
    docs = (Path(__file__).resolve().parents[2] / "docs" / "import.md").read_text()
    for column in importer.COLUMNS:
        assert f"`{column}`" in docs, column


def test_dry_run_shows_what_will_be_created_and_writes_nothing_until_confirmed(
    client, login, acme, alice, bob, carol, engineering, cycle, company_objective
):
    login(alice)
    response = _upload(client, acme, cycle, _csv(GOOD))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Dry run: 2 objectives and 3 key results will be created" in page
    assert "NPS of new customers from 20 to 40" in page and "Grow self-serve revenue" in page
    assert Objective.objects.for_org(acme).count() == 1  # only the existing one

    payload = re.search(r'name="payload" value="([^"]+)"', page).group(1)
    confirmed = client.post(_url("cycle_import_confirm", acme, cycle), {"payload": payload})
    assert confirmed.status_code == 302
    team_objective = Objective.objects.for_org(acme).get(title="Delight new customers")
    assert team_objective.team == engineering and team_objective.owner == bob
    krs = list(KeyResult.objects.for_org(acme).filter(objective=team_objective))
    assert [(k.title, k.owner, k.direction) for k in krs] == [
        ("Time to first value from 5 to 1 days", carol, "decrease"),
        ("NPS of new customers from 20 to 40", bob, "increase"),  # owner from the objective
    ]
    individual = Objective.objects.for_org(acme).get(title="Carol learns the calibration rig")
    links = Alignment.objects.for_org(acme)
    assert links.filter(child=team_objective, parent=company_objective).exists()
    assert links.filter(child=individual, parent=team_objective).exists()


def test_a_tampered_payload_is_refused(client, login, acme, alice, cycle):
    login(alice)
    response = client.post(_url("cycle_import_confirm", acme, cycle), {"payload": "abc:def"})
    assert response.status_code == 400
    assert not Objective.objects.for_org(acme).exists()


def test_row_errors_carry_line_numbers_and_nothing_is_written(
    client, login, acme, alice, bob, carol, engineering, cycle, mallory
):
    rows = [
        dict(GOOD[0], aligned_to=""),
        {"objective_title": "Delight new customers", "kr_title": "Bad", "start": "many"},
        {
            "objective_title": "Someone else's",
            "level": "individual",
            "objective_owner": "mallory@globex.example",  # not a member of Acme
            "kr_title": "x",
        },
        {
            "objective_title": "No such team",
            "level": "team",
            "team": "marketing",
            "objective_owner": "bob@acme.example",
            "kr_title": "y",
            "kind": "weird",
        },
        {  # the service's own rule: start == target is refused
            "objective_title": "Flat",
            "level": "individual",
            "objective_owner": "carol@acme.example",
            "kr_title": "Flat KR",
            "start": "3",
            "target": "3",
        },
    ]
    login(alice)
    response = _upload(client, acme, cycle, _csv(rows))
    assert response.status_code == 400
    page = response.content.decode()
    assert "Line 3" in page and "“many” is not a number" in page
    assert "Line 4" in page and "mallory@globex.example" in page
    assert "Line 5" in page and "no team “marketing”" in page and "“weird”" in page
    assert 'name="payload"' not in page
    assert not Objective.objects.for_org(acme).exists()

    # Service-level errors come with their line too, after a clean pre-check.
    lines = importer.parse(_csv([rows[0], rows[4]]))
    result = importer.run(org=acme, by=alice, cycle=cycle, lines=lines, commit=True)
    assert not result.committed and [line for line, _m in result.errors] == [3]
    assert not Objective.objects.for_org(acme).exists()
    assert not KeyResult.objects.for_org(acme).exists()


@pytest.mark.parametrize(
    "content, message",
    [
        ("objective_title,level\n".encode("utf-16"), "not UTF-8"),
        (b"title,owner\nA,b\n", "header row does not match"),
        (_csv([], header=importer.COLUMNS), "no rows"),
        (b"", "empty"),
        (b"x" * (importer.MAX_BYTES + 1), "larger than"),
    ],
)
def test_unreadable_files_are_400_with_a_message(
    client, login, acme, alice, cycle, content, message
):
    login(alice)
    response = _upload(client, acme, cycle, content)
    assert response.status_code == 400
    assert message in response.content.decode()


def test_a_closed_cycle_refuses_imports(client, login, acme, alice, cycle):
    from cycles.models import Cycle

    Cycle.objects.for_org(acme).filter(pk=cycle.pk).update(state="closed")
    login(alice)
    response = _upload(client, acme, cycle, _csv(GOOD))
    assert response.status_code == 400 and "frozen" in response.content.decode()


def test_members_get_403_and_outsiders_404(client, login, acme, alice, bob, carol, cycle, mallory):
    for person in (carol, bob):
        login(person)
        for name in ("cycle_import", "cycle_import_template"):
            assert client.get(_url(name, acme, cycle)).status_code == 403
        assert _upload(client, acme, cycle, _csv(GOOD)).status_code == 403
    login(mallory)
    for name in ("cycle_import", "cycle_import_template", "cycle_import_confirm"):
        assert client.get(_url(name, acme, cycle)).status_code == 404
    assert _upload(client, acme, cycle, _csv(GOOD)).status_code == 404
