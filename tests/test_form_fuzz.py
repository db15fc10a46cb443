"""Form fuzzing: every HTML form the app serves, sent malformed values.

The forms are found, not listed: every tenant page of the URLconf (the walk of
``tests/okrapp/test_tenancy.py``, with its real ids) is opened as alice, an admin, and each
``<form>`` on it is parsed with its fields. Each form is then sent, starting from its own
default values: every field empty; text 100 kB long; letters in number fields, impossible
dates and unknown choices; Globex's ids in id and choice fields; and two HTML payloads in
every text field. Every answer must be below 500, and no body (nor the page a redirect leads
to, nor any page afterwards) may carry a payload unescaped.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from html.parser import HTMLParser
from urllib.parse import urljoin, urlparse

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from cycles import services as okr
from cycles.models import Cycle
from okrapp.models import Membership
from tests.factories import MembershipFactory, TeamFactory, UserFactory
from tests.okrapp.test_tenancy import _fill, _tenant_patterns, acme_ids  # noqa: F401

pytestmark = pytest.mark.django_db

PAYLOADS = ("<script>alert(1)</script>", '"><img src=x onerror=alert(2)>')
HUGE = "x" * 100_000
# One past the largest id a row can have: SQLite cannot even bind it in a query.
HUGE_ID = str(2**63)
TEXT_TYPES = {"text", "search", "email", "url", "tel", "password", "textarea", ""}
# Forms that end the session or are not the app's to fuzz.
SKIP_ACTIONS = ("/accounts/logout/",)


@dataclass
class Field:
    name: str
    kind: str  # input type, "textarea" or "select"
    value: str = ""
    options: list[str] = field(default_factory=list)
    checked: bool = False


@dataclass
class Form:
    page: str
    action: str
    method: str
    fields: list[Field] = field(default_factory=list)

    def key(self):
        return (self.method, self.action, tuple(sorted(f.name for f in self.fields)))


class FormParser(HTMLParser):
    def __init__(self, page: str):
        super().__init__(convert_charrefs=True)
        self.page = page
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._select: Field | None = None
        self._textarea: Field | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            action = urljoin(self.page, attrs.get("action") or self.page)
            method = (attrs.get("method") or "get").lower()
            self._form = Form(self.page, urlparse(action).path, method)
            self.forms.append(self._form)
            return
        form, name = self._form, attrs.get("name")
        if form is None or not name:
            if tag == "option" and self._select is not None:
                self._option(attrs)
            return
        if tag == "input":
            kind = (attrs.get("type") or "text").lower()
            if kind in {"submit", "button", "reset", "image"}:
                return
            form.fields.append(
                Field(name, kind, attrs.get("value") or "", checked="checked" in attrs)
            )
        elif tag == "textarea":
            self._textarea = Field(name, "textarea")
            form.fields.append(self._textarea)
        elif tag == "select":
            self._select = Field(name, "select")
            form.fields.append(self._select)
        elif tag == "button" and attrs.get("value") is not None:
            form.fields.append(Field(name, "hidden", attrs["value"]))

    def _option(self, attrs):
        value = attrs.get("value", "")
        self._select.options.append(value)
        if "selected" in attrs or not self._select.value:
            self._select.value = value

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea.value += data


def discover_forms(client, pages):
    forms, seen = [], set()
    for page in pages:
        response = client.get(page)
        if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
            continue
        parser = FormParser(page)
        parser.feed(response.content.decode())
        for form in parser.forms:
            if form.action.startswith(SKIP_ACTIONS) or not form.fields:
                continue
            if form.key() not in seen:
                seen.add(form.key())
                forms.append(form)
    return forms


def defaults(form: Form) -> dict:
    data: dict[str, list] = {}
    for f in form.fields:
        if f.kind in {"checkbox", "radio"} and not f.checked:
            continue
        if f.kind == "file":
            continue
        data.setdefault(f.name, []).append(f.value)
    return data


def is_text(f: Field) -> bool:
    return f.kind in TEXT_TYPES


def looks_like_id(f: Field) -> bool:
    values = [f.value, *f.options]
    return f.kind in {"select", "hidden", "number", "radio", "checkbox"} and any(
        v.isdigit() for v in values
    )


def variants(form: Form, foreign_ids: dict[str, int]):
    """(label, data) pairs: each a malformed version of the form's defaults."""
    base = defaults(form)

    def changed(fn):
        data = {name: list(values) for name, values in base.items()}
        for f in form.fields:
            value = fn(f)
            if value is not None:
                data[f.name] = value if isinstance(value, list) else [value]
        return data

    yield "empty", changed(lambda f: "" if f.kind != "file" else None)
    yield "huge", changed(
        lambda f: HUGE if is_text(f) else SimpleUploadedFile("big.csv", HUGE.encode())
        if f.kind == "file" else None
    )  # fmt: skip
    wrong = {
        "number": "twelve",
        "range": "twelve",
        "date": "2026-02-31",
        "datetime-local": "yesterday",
        "time": "25:61",
        "month": "2026-13",
        "week": "2026-W60",
        "email": "not-an-email",
        "url": "javascript:alert(3)",
        "select": "no-such-choice",
        "radio": "no-such-choice",
        "checkbox": "maybe",
        "color": "reddish",
    }
    yield "wrong type", changed(
        lambda f: wrong.get(f.kind) if f.kind != "file"
        else SimpleUploadedFile("data.csv", b"\x00\xff\xfe garbage,\n\"unclosed")
    )  # fmt: skip
    for kind, pk in foreign_ids.items():
        yield f"globex {kind} id", changed(lambda f, pk=pk: str(pk) if looks_like_id(f) else None)
    yield "huge id", changed(lambda f: HUGE_ID if looks_like_id(f) else None)
    for payload in PAYLOADS:
        yield "html", changed(lambda f, payload=payload: payload if is_text(f) else None)


@pytest.fixture
def globex_ids(globex, mallory):
    """Globex's rows, whose ids are sent to Acme's forms."""
    team = TeamFactory(organization=globex, name="Globex team", slug="globex-team")
    member = MembershipFactory(
        organization=globex, role=Membership.Role.MEMBER, user=UserFactory(email="g@globex.example")
    )
    cycle = okr.cycle_create(
        org=globex, by=mallory, name="G", start_date=date(2026, 10, 1), end_date=date(2026, 12, 31)
    )
    objective = okr.objective_create(
        org=globex, by=mallory, cycle=cycle, level=3, owner=mallory, title="Globex objective"
    )
    kr = okr.key_result_create(
        org=globex, by=mallory, objective=objective, owner=mallory, title="Globex KR",
        start_value=Decimal(0), target_value=Decimal(10),
    )  # fmt: skip
    return {
        "membership": member.pk,
        "team": team.pk,
        "cycle": cycle.pk,
        "objective": objective.pk,
        "key result": kr.pk,
    }


@pytest.fixture
def acme_parents(acme, alice, acme_ids):  # noqa: F811
    """A company objective in Acme's cycle: objective forms then offer ``aligned_to``."""
    cycle = Cycle.objects.for_org(acme).get(pk=acme_ids["cycle_id"])
    okr.objective_create(
        org=acme, by=alice, cycle=cycle, level=1, owner=alice, title="Acme company objective",
        mission_link="The mission",
    )  # fmt: skip


def _unescaped(response) -> list[str]:
    """Payloads an HTML answer carries raw (a CSV or JSON download is not run as a page)."""
    if "text/html" not in response.get("Content-Type", ""):
        return []
    body = response.content.decode(errors="replace")
    return [payload for payload in PAYLOADS if payload in body]


def test_every_form_survives_malformed_input(
    client,
    alice,
    acme_ids,  # noqa: F811
    acme_parents,
    globex_ids,
):
    client.raise_request_exception = False  # a crash is counted as a 500, not raised
    client.force_login(alice.user, backend="django.contrib.auth.backends.ModelBackend")
    pages = sorted({_fill(route, acme_ids) for route, _ in _tenant_patterns()})
    pages = [p for p in pages if not p.startswith("/api/")] + ["/orgs/new/"]
    forms = discover_forms(client, pages)

    posts, errors, leaks, silent, codes = 0, [], [], [], Counter()
    huge_id_fields = set()  # the fields the huge id was sent in
    for form in forms:
        for label, data in variants(form, globex_ids):
            if label == "huge id":
                huge_id_fields |= {f.name for f in form.fields if looks_like_id(f)}
            client.force_login(alice.user, backend="django.contrib.auth.backends.ModelBackend")
            send = client.post if form.method == "post" else client.get
            response = send(form.action, data)
            posts += 1
            codes[response.status_code] += 1
            where = f"{form.method.upper()} {form.action} ({label}, form on {form.page})"
            if response.status_code >= 500:
                errors.append(f"{where}: {response.status_code}")
                continue
            leaks += [f"{where}: {p}" for p in _unescaped(response)]
            refused = 400 <= response.status_code < 500 and response.status_code != 404
            if refused and not response.content:
                silent.append(f"{where}: {response.status_code} without a message")
            if response.status_code in (301, 302, 303) and response.url.startswith("/"):
                shown = client.get(response.url)
                if shown.status_code >= 500:
                    errors.append(f"{where} → GET {response.url}: {shown.status_code}")
                leaks += [f"{where} → {response.url}: {p}" for p in _unescaped(shown)]

    # What was stored is shown escaped on every page afterwards.
    client.force_login(alice.user, backend="django.contrib.auth.backends.ModelBackend")
    for page in pages:
        response = client.get(page)
        if response.status_code >= 500:
            errors.append(f"GET {page} after the fuzzing: {response.status_code}")
        leaks += [f"GET {page}: {p}" for p in _unescaped(response)]

    print(
        f"form fuzzing: {len(forms)} forms on {len(pages)} pages, {posts} submissions, "
        f"status codes {dict(sorted(codes.items()))}"
    )
    assert errors == []
    assert leaks == []
    assert silent == []
    assert len(forms) >= 30
    assert posts > 300
    assert sum(n for code, n in codes.items() if code in (400, 422)) > 50  # refused with a form
    print(f"huge id sent in: {sorted(huge_id_fields)}")
    # Every kind of field that takes ids: one or many rows, people, teams, cycles, objectives.
    assert {
        "aligned_to", "pilot_teams", "owner", "team", "parent", "manager", "membership",
        "receiver", "objective", "key_result",
    } <= huge_id_fields  # fmt: skip


def test_the_parser_finds_fields_defaults_and_choices():
    parser = FormParser("/acme/x/")
    parser.feed(
        '<form method="post" action="save/"><input name="csrfmiddlewaretoken" type="hidden" '
        'value="t"><input name="title" value="A"><textarea name="note">hi</textarea>'
        '<select name="owner"><option value="">-</option><option value="7" selected>B</option>'
        '</select><input type="checkbox" name="done"><button type="submit">Go</button></form>'
        '<form><input name="q"></form>'
    )
    save, search = parser.forms
    assert (save.method, save.action, search.method, search.action) == (
        "post",
        "/acme/x/save/",
        "get",
        "/acme/x/",
    )
    assert defaults(save) == {
        "csrfmiddlewaretoken": ["t"],
        "title": ["A"],
        "note": ["hi"],
        "owner": ["7"],
    }
    labels = [label for label, _ in variants(save, {"team": 99})]
    assert labels == ["empty", "huge", "wrong type", "globex team id", "huge id", "html", "html"]
    foreign = dict(variants(save, {"team": 99}))["globex team id"]
    assert foreign["owner"] == ["99"] and foreign["title"] == ["A"]
    assert re.fullmatch(r"x{100000}", dict(variants(save, {}))["huge"]["title"][0])
