"""Admin pages for members (roles, managers, deactivation) and teams (the tree)."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from okrapp import services
from okrapp.models import Membership, Team, TeamMembership

pytestmark = pytest.mark.django_db


def _url(name, org, **kwargs):
    return reverse(name, kwargs={"org_slug": org.slug, **kwargs})


def test_admin_sees_members_and_changes_a_role(client, login, alice, bob, carol, acme):
    login(alice)
    page = client.get(_url("member_list", acme))
    assert page.status_code == 200
    for person in (alice, bob, carol):
        assert person.user.email in page.content.decode()
    response = client.post(
        _url("member_edit", acme, membership_id=carol.pk),
        {"role": "manager", "manager": alice.pk, "is_okr_master": "on"},
    )
    assert response.status_code == 302
    carol.refresh_from_db()
    assert (carol.role, carol.manager_id, carol.is_okr_master) == ("manager", alice.pk, True)


def test_a_manager_loop_is_refused(client, login, alice, bob, carol, acme):
    login(alice)
    response = client.post(
        _url("member_edit", acme, membership_id=bob.pk), {"role": "manager", "manager": carol.pk}
    )
    assert response.status_code == 400
    assert "loop" in response.content.decode()
    bob.refresh_from_db()
    assert bob.manager_id == alice.pk


def test_a_manager_from_another_organisation_is_refused(client, login, alice, carol, mallory, acme):
    login(alice)
    response = client.post(
        _url("member_edit", acme, membership_id=carol.pk), {"role": "member", "manager": mallory.pk}
    )
    assert response.status_code == 400
    carol.refresh_from_db()
    assert carol.manager_id != mallory.pk


def test_the_last_admin_cannot_step_down_or_leave(alice, acme):
    with pytest.raises(ValidationError, match="at least one admin"):
        services.membership_update(
            org=acme, by=alice, membership=alice, role="member", manager=None, is_okr_master=False
        )
    with pytest.raises(ValidationError, match="at least one active admin"):
        services.membership_deactivate(org=acme, by=alice, membership=alice)


def test_deactivating_keeps_the_person_and_their_history(client, login, alice, carol, acme):
    login(alice)
    response = client.post(_url("member_deactivate", acme, membership_id=carol.pk))
    assert response.status_code == 302
    carol.refresh_from_db()
    assert not carol.active and carol.deactivated_at is not None
    page = client.get(_url("member_list", acme)).content.decode()
    assert carol.user.email in page  # listed among former members
    client.post(_url("member_reactivate", acme, membership_id=carol.pk))
    carol.refresh_from_db()
    assert carol.active


def test_a_deactivated_persons_okrs_and_history_stay_visible(
    client, login, alice, bob, carol, acme
):
    """Deactivation ends access, not the record: carol's objective, key result and check-in
    stay in the database and on the pages others read, under her name."""
    from datetime import date, timedelta
    from decimal import Decimal

    from checkins import services as cadence
    from checkins.models import CheckIn
    from cycles import services as okr
    from cycles.models import KeyResult, Objective

    today = date.today()
    cycle = okr.cycle_create(
        org=acme,
        by=alice,
        name="This quarter",
        start_date=today - timedelta(days=30),
        end_date=today + timedelta(days=60),
    )
    for state in ("planning", "active"):
        cycle = okr.cycle_transition(org=acme, by=alice, cycle=cycle, to_state=state)
    objective = okr.objective_create(
        org=acme, by=carol, cycle=cycle, level=3, owner=carol, title="Calibrate in one step"
    )
    kr = okr.key_result_create(
        org=acme,
        by=carol,
        objective=objective,
        owner=carol,
        title="Cut calibration time from 40 to 10 minutes",
        start_value=Decimal(40),
        target_value=Decimal(10),
        direction="decrease",
    )
    checkin = cadence.checkin_record(
        org=acme, by=carol, key_result=kr, value=Decimal(31), confidence=6, note="Jig arrived"
    )

    login(alice)
    response = client.post(_url("member_deactivate", acme, membership_id=carol.pk))
    assert response.status_code == 302
    login(carol)
    assert client.get(f"/{acme.slug}/").status_code == 404  # access ends at once

    assert Objective.objects.for_org(acme).filter(pk=objective.pk, owner=carol).exists()
    assert KeyResult.objects.for_org(acme).filter(pk=kr.pk, owner=carol).exists()
    assert CheckIn.objects.for_org(acme).filter(pk=checkin.pk, recorded_by=carol).exists()
    assert KeyResult.history.filter(organization_id=acme.pk, id=kr.pk).exists()

    login(bob)  # another member reads them
    objective_page = client.get(_url("objective_detail", acme, objective_id=objective.pk))
    assert objective_page.status_code == 200
    body = objective_page.content.decode()
    assert "Calibrate in one step" in body and "Owner: Carol Tsai" in body
    assert "Cut calibration time from 40 to 10 minutes" in body
    assert "<strong>Carol Tsai</strong>" in body  # the change history names her

    kr_page = client.get(_url("key_result_detail", acme, kr_id=kr.pk))
    assert kr_page.status_code == 200
    body = kr_page.content.decode()
    assert "Cut calibration time from 40 to 10 minutes" in body and "Owner: Carol Tsai" in body
    entry = body.split(f'id="checkin-{checkin.pk}"', 1)[1].split("</li>", 1)[0]
    assert "Jig arrived" in entry and "Carol Tsai" in entry  # her check-in, by her
    assert "<strong>Carol Tsai</strong>" in body

    tree = client.get(_url("alignment_tree", acme, cycle_id=cycle.pk))
    assert tree.status_code == 200
    node = tree.content.decode().split(f'id="okr-{objective.pk}"', 1)[1].split("</li>", 1)[0]
    assert "Calibrate in one step" in node and "Carol Tsai" in node


def test_deactivate_needs_post(client, login, alice, carol, acme):
    login(alice)
    assert client.get(_url("member_deactivate", acme, membership_id=carol.pk)).status_code == 405


def test_admin_builds_the_team_tree(client, login, alice, bob, carol, acme):
    login(alice)
    response = client.post(_url("team_create", acme), {"name": "Engineering", "parent": ""})
    assert response.status_code == 302
    engineering = Team.objects.for_org(acme).get(name="Engineering")
    client.post(_url("team_create", acme), {"name": "Platform", "parent": engineering.pk})
    platform = Team.objects.for_org(acme).get(name="Platform")
    assert platform.parent == engineering

    # Rename keeps the address.
    client.post(
        _url("team_edit", acme, team_slug="platform"),
        {"name": "Platform Core", "parent": engineering.pk},
    )
    platform.refresh_from_db()
    assert (platform.name, platform.slug) == ("Platform Core", "platform")

    # A team cannot sit inside its own sub-team.
    response = client.post(
        _url("team_edit", acme, team_slug="engineering"),
        {"name": "Engineering", "parent": platform.pk},
    )
    assert response.status_code == 400
    assert "part of itself" in response.content.decode()

    # Members and leads.
    client.post(
        _url("team_member_add", acme, team_slug="platform"), {"membership": bob.pk, "is_lead": "on"}
    )
    client.post(_url("team_member_add", acme, team_slug="platform"), {"membership": carol.pk})
    rows = dict(
        TeamMembership.objects.for_org(acme)
        .filter(team=platform)
        .values_list("membership_id", "is_lead")
    )
    assert rows == {bob.pk: True, carol.pk: False}
    client.post(
        _url("team_member_lead", acme, team_slug="platform", membership_id=carol.pk),
        {"is_lead": "1"},
    )
    client.post(_url("team_member_remove", acme, team_slug="platform", membership_id=bob.pk))
    rows = dict(
        TeamMembership.objects.for_org(acme)
        .filter(team=platform)
        .values_list("membership_id", "is_lead")
    )
    assert rows == {carol.pk: True}

    page = client.get(_url("team_list", acme)).content.decode()
    assert "Engineering" in page and "Platform Core" in page


def test_htmx_add_member_returns_the_member_partial(client, login, alice, bob, engineering, acme):
    login(alice)
    response = client.post(
        _url("team_member_add", acme, team_slug=engineering.slug),
        {"membership": alice.pk},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "<html" not in body
    assert "Alice Chen" in body


def test_duplicate_team_names_and_parents_with_children_are_refused(alice, acme):
    eng = services.team_create(org=acme, by=alice, name="Engineering")
    with pytest.raises(ValidationError, match="already"):
        services.team_create(org=acme, by=alice, name="engineering")
    services.team_create(org=acme, by=alice, name="Platform", parent=eng)
    with pytest.raises(ValidationError, match="sub-teams"):
        services.team_delete(org=acme, by=alice, team=eng)


def test_team_pages_are_readable_by_members_but_not_editable(
    client, login, carol, engineering, acme
):
    login(carol)
    assert client.get(_url("team_list", acme)).status_code == 200
    assert client.get(_url("team_detail", acme, team_slug=engineering.slug)).status_code == 200
    response = client.post(_url("team_edit", acme, team_slug=engineering.slug), {"name": "Hax"})
    assert response.status_code == 403
    assert client.post(_url("team_create", acme), {"name": "Hax"}).status_code == 403


def test_team_name_is_required_and_kept_when_refused(client, login, alice, acme):
    login(alice)
    response = client.post(_url("team_create", acme), {"name": "", "description": "Keep me"})
    assert response.status_code == 400
    assert "Keep me" in response.content.decode()


def test_memberships_of_other_orgs_cannot_be_added_to_a_team(
    client, login, alice, mallory, engineering, acme
):
    login(alice)
    response = client.post(
        _url("team_member_add", acme, team_slug=engineering.slug), {"membership": mallory.pk}
    )
    assert response.status_code == 400
    assert not TeamMembership.objects.for_org(acme).filter(membership_id=mallory.pk).exists()
    assert Membership.objects.for_org(acme).filter(pk=mallory.pk).count() == 0
