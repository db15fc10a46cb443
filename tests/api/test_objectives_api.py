"""Objectives over the API: filters, the role table, private blanking, optimistic locking,
reference ids checked inside the organisation, and a query count that does not grow."""

import pytest

from cycles import services as cycle_services
from cycles.models import Level, Objective
from tests.api.conftest import url

pytestmark = pytest.mark.django_db


def _ids(response):
    assert response.status_code == 200, response.json()
    return [item["id"] for item in response.json()["results"]]


# --- Reading --------------------------------------------------------------------------------


def test_list_and_detail(
    as_token, carol, acme, company_objective, team_objective, carol_objective, key_result
):
    client = as_token(carol)
    assert _ids(client.get(url(acme, "objectives/"))) == [
        company_objective.pk,
        team_objective.pk,
        carol_objective.pk,
    ]
    detail = client.get(url(acme, f"objectives/{team_objective.pk}/")).json()
    assert detail["level"] == "team"
    assert detail["team"] == team_objective.team_id
    assert detail["aligned_to"] == [company_objective.pk]
    assert detail["key_results"] == [
        {
            "id": key_result.pk,
            "title": "Arm lifts 5 kg",
            "owner": key_result.owner_id,
            "progress": "0.4000",
            "progress_capped": "0.4000",
        }
    ]
    assert detail["progress"] == "0.4000"
    assert detail["progress_capped"] == "0.4000"
    assert detail["progress_status"] in {"on_track", "at_risk", "behind"}
    assert detail["version"] == 1


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("level=company", ["company_objective"]),
        ("level=team", ["team_objective"]),
        ("level=individual", ["carol_objective"]),
        ("team=engineering", ["team_objective"]),
        ("team={engineering.pk}", ["team_objective"]),
        ("owner={carol.pk}", ["carol_objective"]),
        ("status=published", ["company_objective"]),
        ("cycle={cycle.pk}", ["company_objective", "team_objective", "carol_objective"]),
        ("cycle={next_cycle.pk}", []),
        ("team=no-such-team", []),
        ("cycle={cycle.pk}&level=team&owner={bob.pk}", ["team_objective"]),
    ],
)
def test_filters(
    query,
    expected,
    request,
    as_token,
    acme,
    bob,
    carol,
    cycle,
    next_cycle,
    engineering,
    company_objective,
    team_objective,
    carol_objective,
):
    query = query.format(
        engineering=engineering, carol=carol, bob=bob, cycle=cycle, next_cycle=next_cycle
    )
    response = as_token(carol).get(url(acme, f"objectives/?{query}"))
    assert _ids(response) == [request.getfixturevalue(name).pk for name in expected]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("level=department", "level"),
        ("level=1", "level"),
        ("cycle=abc", "cycle"),
        ("cycle=0", "cycle"),
        ("cycle=99999999999999999999999", "cycle"),
        ("owner=-3", "owner"),
        ("team=has spaces", "team"),
        ("status=done", "status"),
    ],
)
def test_bad_filters_are_400_with_a_message(query, field, as_token, carol, acme):
    response = as_token(carol).get(url(acme, f"objectives/?{query}"))
    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert response.json()[field][0]


@pytest.mark.parametrize(
    ("starts_in_days", "state", "status", "label"),
    [
        # A draft cycle that has not started: nothing is expected yet, so on track.
        (46, "draft", "on_track", "On track"),
        # Planning past the start date: expected by date is the elapsed share, even so.
        (-45, "planning", "behind", "Behind"),
        (-45, "active", "behind", "Behind"),
    ],
)
def test_progress_status_is_the_same_rule_as_on_the_pages(
    starts_in_days, state, status, label, as_token, login, acme, alice, carol, today
):
    """DESIGN.md: expected progress by date is the elapsed share of the cycle (0 before it
    starts), whatever state the cycle is in; the API and the pages say the same."""
    from datetime import timedelta
    from decimal import Decimal

    from django.urls import reverse

    start = today + timedelta(days=starts_in_days)
    cycle = cycle_services.cycle_create(
        org=acme, by=alice, name="Q", start_date=start, end_date=start + timedelta(days=90)
    )
    for step in ("planning", "active")[: ("draft", "planning", "active").index(state)]:
        cycle = cycle_services.cycle_transition(org=acme, by=alice, cycle=cycle, to_state=step)
    objective = cycle_services.objective_create(
        org=acme, by=carol, cycle=cycle, title="Mine", level=Level.INDIVIDUAL, owner=carol
    )
    kr = cycle_services.key_result_create(
        org=acme,
        by=carol,
        objective=objective,
        title="Grow from 0 to 10",
        owner=carol,
        start_value=Decimal(0),
        target_value=Decimal(10),
        current_value=Decimal(1),
    )
    client = as_token(carol)
    detail = client.get(url(acme, f"objectives/{objective.pk}/")).json()
    assert detail["progress_status"] == status
    assert client.get(url(acme, f"key-results/{kr.pk}/")).json()["progress_status"] == status
    if starts_in_days > 0:
        assert detail["expected_progress"] == "0.0000"
    page = login(carol).get(
        reverse("objective_detail", kwargs={"org_slug": acme.slug, "objective_id": objective.pk})
    )
    assert f'<span class="badge badge-track-{status}">{label}</span>' in page.content.decode()


# --- Private objectives ---------------------------------------------------------------------------


def test_private_objectives_are_blanked_in_lists_for_those_who_may_not_read_them(
    as_token, erin, bob, acme, cycle, private_objective, private_key_result, team_objective
):
    for person in (erin,):
        response = as_token(person).get(url(acme, "objectives/"))
        items = {item["id"]: item for item in response.json()["results"]}
        assert items[private_objective.pk] == {
            "id": private_objective.pk,
            "cycle": cycle.pk,
            "level": "individual",
            "private": True,
        }
        assert "title" in items[team_objective.pk]
        body = response.content.decode()
        assert "Secret" not in body
        assert "Nobody else" not in body
    # A private objective is for its owner, the managers of its team and admins (the OKR
    # core issue): not for the owner's manager as such. Carol's has no team.
    items = {i["id"]: i for i in as_token(bob).get(url(acme, "objectives/")).json()["results"]}
    assert items[private_objective.pk]["private"] is True
    assert "title" not in items[private_objective.pk]


def test_private_objectives_are_404_in_detail_and_their_key_results_are_hidden(
    as_token, erin, acme, private_objective, private_key_result
):
    client = as_token(erin)
    assert client.get(url(acme, f"objectives/{private_objective.pk}/")).status_code == 404
    assert (
        client.patch(
            url(acme, f"objectives/{private_objective.pk}/"), {"title": "x", "version": 1}
        ).status_code
        == 404
    )
    assert client.get(url(acme, "key-results/")).json()["count"] == 0
    assert client.get(url(acme, f"key-results/{private_key_result.pk}/")).status_code == 404
    response = client.get(url(acme, f"key-results/?objective={private_objective.pk}"))
    assert response.json()["count"] == 0


def test_owner_and_admin_read_private_objectives(
    as_token, carol, alice, acme, private_objective, private_key_result
):
    for person in (carol, alice):
        client = as_token(person)
        response = client.get(url(acme, f"objectives/{private_objective.pk}/"))
        assert response.status_code == 200
        assert response.json()["title"] == "Secret career plan"
        assert response.json()["visibility"] == "private"
        listed = {o["id"]: o for o in client.get(url(acme, "objectives/")).json()["results"]}
        assert listed[private_objective.pk]["title"] == "Secret career plan"
        assert client.get(url(acme, "key-results/")).json()["count"] == 1


def test_team_managers_read_their_teams_private_objectives(as_token, bob, acme, cycle, engineering):
    private_team = cycle_services.objective_create(
        org=acme,
        by=bob,
        cycle=cycle,
        title="Team secret",
        level=Level.TEAM,
        team=engineering,
        owner=bob,
        visibility="private",
    )
    response = as_token(bob).get(url(acme, f"objectives/{private_team.pk}/"))
    assert response.status_code == 200


def test_a_private_objective_cannot_be_aligned_to_by_someone_who_cannot_read_it(
    as_token, erin, acme, cycle, private_objective
):
    body = {
        "cycle": cycle.pk,
        "title": "Mine",
        "level": "individual",
        "aligned_to": [private_objective.pk],
    }
    response = as_token(erin).post(url(acme, "objectives/"), body, format="json")
    assert response.status_code == 400
    assert "does not exist" in response.json()["aligned_to"][0]


# --- Writing --------------------------------------------------------------------------------


def test_a_member_creates_their_own_individual_objective(
    as_token, carol, acme, cycle, team_objective
):
    body = {
        "cycle": cycle.pk,
        "title": "Pair with firmware team",
        "level": "individual",
        "aligned_to": [team_objective.pk],
        "why_it_matters": "Fewer bugs.",
    }
    response = as_token(carol).post(url(acme, "objectives/"), body, format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["owner"] == carol.pk  # the caller when not given
    assert data["aligned_to"] == [team_objective.pk]
    objective = Objective.objects.for_org(acme).get(pk=data["id"])
    assert objective.history.first().history_user == carol.user


def test_role_table_for_creating(as_token, carol, bob, alice, acme, cycle, engineering):
    company = {"cycle": cycle.pk, "title": "C", "level": "company", "mission_link": "All of it"}
    team = {"cycle": cycle.pk, "title": "T", "level": "team", "team": engineering.pk}
    assert as_token(carol).post(url(acme, "objectives/"), company, format="json").status_code == 403
    assert as_token(carol).post(url(acme, "objectives/"), team, format="json").status_code == 403
    assert as_token(bob).post(url(acme, "objectives/"), company, format="json").status_code == 403
    assert as_token(bob).post(url(acme, "objectives/"), team, format="json").status_code == 201
    assert as_token(alice).post(url(acme, "objectives/"), company, format="json").status_code == 201
    # Carol may not write an objective for someone else either.
    for_bob = {"cycle": cycle.pk, "title": "I", "level": "individual", "owner": bob.pk}
    assert as_token(carol).post(url(acme, "objectives/"), for_bob, format="json").status_code == 403


def test_role_table_for_editing(
    as_token, alice, bob, carol, erin, acme, company_objective, team_objective, carol_objective
):
    def patch(person, objective, title):
        objective.refresh_from_db()
        return as_token(person).patch(
            url(acme, f"objectives/{objective.pk}/"),
            {"title": title, "version": objective.version},
            format="json",
        )

    # A member cannot edit another's objective; the OKR Master role does not edit either.
    assert patch(carol, team_objective, "x").status_code == 403
    assert patch(erin, carol_objective, "x").status_code == 403
    assert patch(carol, company_objective, "x").status_code == 403
    # Own objectives, the team's (manager), the reports' (manager), and anything (admin).
    assert patch(carol, carol_objective, "Mine").status_code == 200
    assert patch(bob, team_objective, "Team's").status_code == 200
    assert patch(bob, carol_objective, "Report's").status_code == 200
    assert patch(bob, company_objective, "x").status_code == 403
    assert patch(alice, company_objective, "Company's").status_code == 200
    titles = {o.pk: o.title for o in Objective.objects.for_org(acme)}
    assert titles[carol_objective.pk] == "Report's"
    assert titles[team_objective.pk] == "Team's"
    assert titles[company_objective.pk] == "Company's"


def test_put_replaces_the_fields(as_token, carol, acme, carol_objective):
    body = {
        "title": "Learn the firmware deeply",
        "level": "individual",
        "description": "Read all of it.",
        "type": "aspirational",
        "version": 1,
    }
    response = as_token(carol).put(
        url(acme, f"objectives/{carol_objective.pk}/"), body, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["type"] == "aspirational"
    assert response.json()["version"] == 2
    assert response.json()["aligned_to"] == carol_objective_aligned(carol_objective)
    response = as_token(carol).put(
        url(acme, f"objectives/{carol_objective.pk}/"), {"title": "x", "version": 2}, format="json"
    )
    assert response.status_code == 400
    assert set(response.json()) == {"level"}


def carol_objective_aligned(objective):
    return sorted(objective.up_links.values_list("parent_id", flat=True))


def test_a_stale_version_is_409_with_the_current_values(
    as_token, carol, bob, acme, carol_objective
):
    first = as_token(bob).patch(
        url(acme, f"objectives/{carol_objective.pk}/"),
        {"title": "Bob's title", "version": 1},
        format="json",
    )
    assert first.status_code == 200
    second = as_token(carol).patch(
        url(acme, f"objectives/{carol_objective.pk}/"),
        {"title": "Carol's title", "version": 1},
        format="json",
    )
    assert second.status_code == 409
    body = second.json()
    assert body["code"] == "conflict"
    assert "changed since you opened it" in body["detail"]
    assert body["current"]["title"] == "Bob's title"
    assert body["current"]["version"] == 2
    carol_objective.refresh_from_db()
    assert carol_objective.title == "Bob's title"


def test_every_edit_names_its_version(as_token, carol, acme, carol_objective):
    response = as_token(carol).patch(
        url(acme, f"objectives/{carol_objective.pk}/"), {"title": "x"}, format="json"
    )
    assert response.status_code == 400
    assert list(response.json()) == ["version"]


def test_references_are_checked_inside_the_organisation(
    as_token, carol, acme, cycle, mallory, globex
):
    from datetime import date

    globex_cycle = cycle_services.cycle_create(
        org=globex, by=mallory, name="G1", start_date=date(2031, 1, 1), end_date=date(2031, 3, 31)
    )
    body = {
        "cycle": globex_cycle.pk,
        "title": "x",
        "level": "individual",
        "owner": mallory.pk,
        "aligned_to": [999999],
    }
    response = as_token(carol).post(url(acme, "objectives/"), body, format="json")
    assert response.status_code == 400
    errors = response.json()
    assert set(errors) == {"cycle", "owner", "aligned_to"}
    assert all("does not exist" in messages[0] for messages in errors.values())


@pytest.mark.parametrize(
    "body",
    [
        {"cycle": "one", "title": "x", "level": "individual"},
        {"cycle": True, "title": "x", "level": "individual"},
        {"cycle": 10**30, "title": "x", "level": "individual"},
        {"cycle": None, "title": "x", "level": "individual"},
        {"title": "x", "level": 3},
        {"title": {"nested": 1}, "level": "individual"},
        {"title": "x" * 201, "level": "individual"},
        {"title": "x", "level": "individual", "aligned_to": "1"},
        {"title": "x", "level": "individual", "visibility": "secret"},
        [],
        "a string",
    ],
)
def test_wrong_shapes_are_400(body, as_token, carol, acme, cycle):
    if isinstance(body, dict):
        body.setdefault("cycle", cycle.pk)
    response = as_token(carol).post(url(acme, "objectives/"), body, format="json")
    assert response.status_code == 400
    assert response.json()


@pytest.mark.parametrize(
    ("payload", "content_type"),
    [
        ("{not json", "application/json"),
        ('{"title": "x",}', "application/json"),
        ("\xff\xfe", "application/json"),
        ("", "application/json"),
    ],
)
def test_malformed_json_is_400(payload, content_type, as_token, carol, acme, cycle):
    response = as_token(carol).post(url(acme, "objectives/"), payload, content_type=content_type)
    assert response.status_code == 400
    assert response.json()


def test_a_form_body_is_415(as_token, carol, acme):
    response = as_token(carol).post(url(acme, "objectives/"), {"title": "x"}, format="multipart")
    assert response.status_code == 415


def test_the_services_rules_come_back_by_field(as_token, alice, bob, acme, cycle):
    body = {"cycle": cycle.pk, "title": "Grow", "level": "company"}
    response = as_token(alice).post(url(acme, "objectives/"), body, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "mission_link": ["Say which part of the mission this company objective serves."]
    }
    team = {"cycle": cycle.pk, "title": "No team", "level": "team"}
    response = as_token(alice).post(url(acme, "objectives/"), team, format="json")
    assert response.status_code == 400
    assert "team" in response.json()


def test_a_move_that_would_break_an_alignment_is_400_on_the_moved_field(
    as_token, alice, bob, acme, engineering, team_objective, carol_objective
):
    # The team objective moves down to individual: carol's would no longer be below it.
    # Only the level is sent; its links are not.
    response = as_token(alice).patch(
        url(acme, f"objectives/{team_objective.pk}/"),
        {"level": "individual", "version": 1},
        format="json",
    )
    assert response.status_code == 400
    assert response.json() == {
        "level": [
            "“Learn the firmware” contributes to this objective, which would no longer be "
            "above it. That link must be removed first, or keep the level and team."
        ]
    }
    # Carol's moves up into the team it contributes to: the team's would not be above it.
    response = as_token(bob).patch(
        url(acme, f"objectives/{carol_objective.pk}/"),
        {"level": "team", "team": engineering.pk, "version": 1},
        format="json",
    )
    assert response.status_code == 400
    assert list(response.json()) == ["level"]
    assert "contributes to “Ship the robot arm”" in response.json()["level"][0]
    for objective in (team_objective, carol_objective):
        before = objective.level
        objective.refresh_from_db()
        assert (objective.level, objective.version) == (before, 1)
    # Sent with the links it keeps (none), the same move is made.
    response = as_token(bob).patch(
        url(acme, f"objectives/{carol_objective.pk}/"),
        {"level": "team", "team": engineering.pk, "version": 1, "aligned_to": []},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["aligned_to"] == []


def test_delete_in_a_draft_cycle_and_not_in_a_running_one(
    as_token, carol, acme, next_cycle, carol_objective
):
    draft = cycle_services.objective_create(
        org=acme, by=carol, cycle=next_cycle, title="Later", level=Level.INDIVIDUAL, owner=carol
    )
    client = as_token(carol)
    assert client.delete(url(acme, f"objectives/{draft.pk}/")).status_code == 204
    assert not Objective.objects.for_org(acme).filter(pk=draft.pk).exists()
    response = client.delete(url(acme, f"objectives/{carol_objective.pk}/"))
    assert response.status_code == 400
    assert "archived, not deleted" in response.json()["non_field_errors"][0]


def test_delete_needs_the_right_role(as_token, erin, acme, next_cycle, carol):
    draft = cycle_services.objective_create(
        org=acme, by=carol, cycle=next_cycle, title="Later", level=Level.INDIVIDUAL, owner=carol
    )
    assert as_token(erin).delete(url(acme, f"objectives/{draft.pk}/")).status_code == 403


# --- Query counts -------------------------------------------------------------------------------


def _objectives(acme, alice, bob, cycle, engineering, count):
    """``count`` objectives: one company, the rest Engineering's (a third private), aligned
    to it, two KRs each."""
    from decimal import Decimal

    parent = cycle_services.objective_create(
        org=acme, by=alice, cycle=cycle, title="Parent", level=Level.COMPANY, owner=alice,
        mission_link="All of it",
    )  # fmt: skip
    for n in range(count - 1):
        objective = cycle_services.objective_create(
            org=acme,
            by=bob,
            cycle=cycle,
            title=f"Objective {n}",
            level=Level.TEAM,
            team=engineering,
            owner=bob,
            visibility="private" if n % 3 == 0 else "public",
            aligned_to=[parent],
        )
        for k in range(2):
            cycle_services.key_result_create(
                org=acme,
                by=bob,
                objective=objective,
                title=f"KR {k}",
                owner=bob,
                start_value=Decimal(0),
                target_value=Decimal(10),
            )


@pytest.mark.parametrize("size", [5, 50])
def test_the_objectives_list_runs_a_constant_number_of_queries(
    size, as_token, alice, bob, carol, acme, cycle, engineering, django_assert_max_num_queries
):
    _objectives(acme, alice, bob, cycle, engineering, size)
    client = as_token(carol)
    client.get(url(acme, "cycles/"))  # the token's first use writes last_used_at
    # token, the caller's managed teams, count, page, key results, alignments
    with django_assert_max_num_queries(6):
        response = client.get(url(acme, "objectives/"))
    assert response.status_code == 200
    assert response.json()["count"] == size
    blanked = [o for o in response.json()["results"] if o.get("private")]
    assert len(blanked) == len(range(0, size - 1, 3))
