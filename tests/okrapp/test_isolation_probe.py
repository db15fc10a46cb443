"""The isolation probe: every tenant URL and API route, every method, as each role of
another organisation, asked for Acme's ids under Acme's slug and under their own."""

import re

import pytest

from okrapp.models import Membership
from tests.factories import MembershipFactory, UserFactory
from tests.okrapp.test_tenancy import _fill, _tenant_patterns, acme_ids  # noqa: F401

pytestmark = pytest.mark.django_db

METHODS = ("get", "post", "put", "patch", "delete")
MARKERS = (
    "Acme secret objective",
    "Acme secret KR",
    "Acme comment",
    "Acme action",
    "Acme initiative",
    "carol@acme.example",
    "Acme Robotics",
)


@pytest.fixture
def globex_roles(globex, mallory):
    manager = MembershipFactory(
        organization=globex,
        role=Membership.Role.MANAGER,
        user=UserFactory(email="gm@globex.example"),
    )
    member = MembershipFactory(
        organization=globex, manager=manager, user=UserFactory(email="gs@globex.example")
    )
    return {"admin": mallory, "manager": manager, "member": member}


def test_no_answer_and_no_byte_of_acme_reaches_another_organisation(
    client,
    globex,
    globex_roles,
    acme_ids,  # noqa: F811
):
    routes = [route for route, _ in _tenant_patterns()]
    own_slug = dict(acme_ids, org_slug=globex.slug)
    probes, leaks, wrong = 0, [], []
    for role, person in globex_roles.items():
        client.force_login(person.user, backend="django.contrib.auth.backends.ModelBackend")
        for route in routes:
            targets = [_fill(route, acme_ids)]
            # Under their own slug only routes that carry one of Acme's ids are a probe.
            if re.search(r"<(?:\w+:)?(?!org_slug)\w+>|\(\?P<", route):
                targets.append(_fill(route, own_slug))
            for url in targets:
                for method in METHODS:
                    response = getattr(client, method)(url)
                    probes += 1
                    if response.status_code not in (403, 404, 405):
                        wrong.append((role, method.upper(), url, response.status_code))
                    body = response.content.decode(errors="replace")
                    leaks += [(role, method.upper(), url, m) for m in MARKERS if m in body]
    print(f"isolation probe: {probes} requests, {len(globex_roles)} roles, {len(routes)} routes")
    assert wrong == []
    assert leaks == []
    assert probes > 1000
