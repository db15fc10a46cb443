"""The Traditional Chinese (zh-Hant, Taiwan) catalogue: complete, faithful to its
placeholders and markup, and actually used when a member reads okrapp in Chinese.

Dependency-free: the .po file is parsed here, and for the rendering tests compiled here
into a fresh .mo under a temporary LOCALE_PATHS, so they never depend on a stale or
missing ``okrapp/locale/zh_Hant/LC_MESSAGES/django.mo``.
"""

import ast
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.utils import translation
from django.utils.translation import trans_real

PO_PATH = Path(django_settings.LOCALE_PATHS[0]) / "zh_Hant" / "LC_MESSAGES" / "django.po"
MO_PATH = PO_PATH.with_suffix(".mo")

# %(name)s, %(count)d, a literal %%, a bare %s / %d.
PLACEHOLDER = re.compile(r"%\([^)]+\)[sdifr]|%%|%[sdifr]")
TAG = re.compile(r"</?[a-zA-Z][^>]*>")
CJK = re.compile(r"[\u4e00-\u9fff]")


# --- A tiny .po reader and .mo writer ----------------------------------------------------------


@dataclass
class Entry:
    msgctxt: str | None = None
    msgid: str = ""
    msgid_plural: str | None = None
    msgstr: str = ""
    msgstr_plural: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    line: int = 0

    @property
    def label(self) -> str:
        return f"line {self.line}: {self.msgid[:70]!r}"


def _unquote(token: str) -> str:
    # A PO string is a C string literal; for what gettext emits, Python's reading agrees.
    return ast.literal_eval(token)


def parse_po(text: str) -> list[Entry]:
    """Entries of a .po file, the header (msgid "") included; obsolete ``#~`` entries skipped."""
    entries: list[Entry] = []
    current = Entry()
    target: tuple[str, int | None] | None = None
    started = False

    def flush():
        nonlocal current, started, target
        if started:
            entries.append(current)
        current, started, target = Entry(), False, None

    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            flush()
            continue
        if line.startswith("#~"):
            continue
        if line.startswith("#"):
            if target and target[0].startswith("msgstr"):
                flush()  # a comment after a msgstr opens the next entry
            if line.startswith("#,"):
                current.flags.update(f.strip() for f in line[2:].split(",") if f.strip())
            continue
        keyword, _, rest = line.partition(" ")
        if line.startswith('"'):
            if target is None:
                raise ValueError(f"line {number}: continuation without a keyword")
            name, index = target
            value = _unquote(line)
            if name == "msgstr_plural":
                current.msgstr_plural[index] += value
            else:
                setattr(current, name, getattr(current, name) + value)
            continue
        if (
            keyword in ("msgctxt", "msgid")
            and started
            and target
            and target[0].startswith("msgstr")
        ):
            flush()
        if not started:
            current.line = number
            started = True
        match = re.fullmatch(r"msgstr\[(\d+)\]", keyword)
        if match:
            index = int(match.group(1))
            current.msgstr_plural[index] = _unquote(rest)
            target = ("msgstr_plural", index)
        elif keyword in ("msgctxt", "msgid", "msgid_plural", "msgstr"):
            setattr(current, keyword, _unquote(rest))
            target = (keyword, None)
        else:
            raise ValueError(f"line {number}: unexpected {keyword!r}")
    flush()
    return entries


def write_mo(entries: list[Entry], path: Path) -> None:
    """A GNU .mo file of the non-fuzzy, translated entries (what msgfmt would produce)."""
    pairs: dict[bytes, bytes] = {}
    for entry in entries:
        if "fuzzy" in entry.flags and entry.msgid:
            continue
        key = entry.msgid
        if entry.msgctxt is not None:
            key = f"{entry.msgctxt}\x04{key}"
        if entry.msgid_plural is not None:
            key = f"{key}\x00{entry.msgid_plural}"
            values = [entry.msgstr_plural[i] for i in sorted(entry.msgstr_plural)]
            if not any(values):
                continue
            value = "\x00".join(values)
        else:
            if not entry.msgstr:
                continue
            value = entry.msgstr
        pairs[key.encode()] = value.encode()
    keys = sorted(pairs)
    ids = strs = b""
    offsets = []
    for key in keys:
        offsets.append((len(ids), len(key), len(strs), len(pairs[key])))
        ids += key + b"\x00"
        strs += pairs[key] + b"\x00"
    count = len(keys)
    key_start = 7 * 4 + 16 * count
    value_start = key_start + len(ids)
    key_table, value_table = [], []
    for id_offset, id_len, str_offset, str_len in offsets:
        key_table += [id_len, key_start + id_offset]
        value_table += [str_len, value_start + str_offset]
    header = struct.pack("Iiiiiii", 0x950412DE, 0, count, 7 * 4, 7 * 4 + count * 8, 0, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(
        header
        + struct.pack(f"{len(key_table)}i", *key_table)
        + struct.pack(f"{len(value_table)}i", *value_table)
        + ids
        + strs
    )


@pytest.fixture(scope="module")
def catalogue() -> list[Entry]:
    assert PO_PATH.exists(), f"{PO_PATH} is missing: run makemessages -l zh_Hant"
    return parse_po(PO_PATH.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def messages(catalogue) -> list[Entry]:
    return [entry for entry in catalogue if entry.msgid]


# --- The catalogue itself --------------------------------------------------------------------


# --- The catalogue against the source ----------------------------------------------------------

# What ``make messages`` leaves out of the walk (its --ignore list, plus hidden folders).
NOT_EXTRACTED = {".venv", "staticfiles", "var", "tests", "bench", "node_modules", "__pycache__"}
# The keywords makemessages hands xgettext for the "django" domain (gettext, ngettext and
# friends are xgettext's own defaults for Python).
XGETTEXT_PYTHON = [
    "--language=Python",
    "--from-code=UTF-8",
    "--keyword=gettext_noop",
    "--keyword=gettext_lazy",
    "--keyword=ngettext_lazy:1,2",
    "--keyword=pgettext:1c,2",
    "--keyword=npgettext:1c,2,3",
    "--keyword=pgettext_lazy:1c,2",
    "--keyword=npgettext_lazy:1c,2,3",
]


def _translatable_files(root: Path) -> list[Path]:
    found = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).parts
        if any(part in NOT_EXTRACTED or part.startswith(".") for part in relative[:-1]):
            continue
        if path.is_file() and path.suffix in (".py", ".html", ".txt"):
            found.append(path)
    return found


def extract_messages(root: Path, work: Path) -> dict[tuple[str | None, str], str]:
    """Every (msgctxt, msgid) the source marks for translation, as ``makemessages`` finds
    them (templates through Django's templatize, then xgettext), with where each is used."""
    import shutil
    import subprocess

    from django.utils.translation import templatize

    xgettext = shutil.which("xgettext")
    if xgettext is None:
        pytest.skip("xgettext is missing: `make test-deps` installs Debian's gettext")
    inputs = []
    for path in _translatable_files(root):
        if path.suffix == ".py":
            inputs.append(path)
            continue
        # templatize turns a template into Python that xgettext reads; one file per template,
        # named after it so a failure says where the string is.
        source = path.read_text(encoding="utf-8")
        target = work / path.relative_to(root).with_suffix(path.suffix + ".py")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(templatize(source, origin=str(path)), encoding="utf-8")
        inputs.append(target)
    file_list = work / "files.txt"
    file_list.write_text("\n".join(str(p) for p in inputs), encoding="utf-8")
    pot = work / "django.pot"
    subprocess.run(  # noqa: S603
        [xgettext, *XGETTEXT_PYTHON, f"--files-from={file_list}", f"--output={pot}"],
        check=True,
        capture_output=True,
    )
    where: dict[tuple[str | None, str], str] = {}
    for block in pot.read_text(encoding="utf-8").split("\n\n"):
        # "#: file:line" comments say where a message is used, for the failure message.
        used_in = " ".join(line[2:].strip() for line in block.splitlines() if line.startswith("#:"))
        for folder in (f"{work}/", f"{root}/"):
            used_in = used_in.replace(folder, "")
        used_in = re.sub(r"\.(html|txt)\.py:", r".\1:", used_in)
        for entry in parse_po(block):
            if entry.msgid:
                where[(entry.msgctxt, entry.msgid)] = used_in[:200]
    return where


def test_every_string_in_the_source_is_in_the_catalogue(messages, tmp_path):
    """A string added to a template, a mail or a Python module without ``make messages`` and a
    translation would reach a Chinese reader in English: the catalogue must hold it."""
    in_source = extract_messages(Path(django_settings.BASE_DIR), tmp_path)
    assert len(in_source) > 1000, "the extraction found too little: is xgettext working?"
    in_catalogue = {(entry.msgctxt, entry.msgid) for entry in messages}
    missing = [
        f"{msgid[:70]!r}{f' (context {ctxt!r})' if ctxt else ''} in {in_source[(ctxt, msgid)]}"
        for ctxt, msgid in sorted(in_source, key=lambda key: (key[1], key[0] or ""))
        if (ctxt, msgid) not in in_catalogue
    ]
    assert not missing, (
        f"{len(missing)} string(s) not in the zh-Hant catalogue (run `make messages`, then "
        "translate them):\n" + "\n".join(missing)
    )


def test_header_declares_one_plural_form(catalogue):
    header = next(entry for entry in catalogue if not entry.msgid)
    assert "nplurals=1; plural=0;" in header.msgstr
    assert "charset=UTF-8" in header.msgstr


def test_catalogue_is_not_trivially_small(messages):
    # Guards the parser as much as the file: okrapp has well over a thousand strings.
    assert len(messages) > 1000


def test_every_message_is_translated(messages):
    untranslated = []
    for entry in messages:
        if entry.msgid_plural is not None:
            if not entry.msgstr_plural.get(0, "").strip():
                untranslated.append(entry.label)
        elif not entry.msgstr.strip():
            untranslated.append(entry.label)
    assert not untranslated, f"{len(untranslated)} untranslated:\n" + "\n".join(untranslated)


def test_no_translation_is_fuzzy(messages):
    # Fuzzy translations are not compiled: the page would fall back to English.
    fuzzy = [entry.label for entry in messages if "fuzzy" in entry.flags]
    assert not fuzzy, f"{len(fuzzy)} fuzzy:\n" + "\n".join(fuzzy)


def test_plural_entries_have_exactly_one_form(messages):
    wrong = [
        entry.label
        for entry in messages
        if entry.msgid_plural is not None and sorted(entry.msgstr_plural) != [0]
    ]
    assert not wrong, "zh has one plural form (msgstr[0]):\n" + "\n".join(wrong)


def _translations(entry: Entry) -> list[tuple[str, str]]:
    """(source, translation) pairs to compare: the plural form is compared with msgid_plural."""
    if entry.msgid_plural is not None:
        return [(entry.msgid_plural, entry.msgstr_plural.get(0, ""))]
    return [(entry.msgid, entry.msgstr)]


def test_placeholders_are_kept(messages):
    wrong = []
    for entry in messages:
        for source, translated in _translations(entry):
            if translated and sorted(PLACEHOLDER.findall(source)) != sorted(
                PLACEHOLDER.findall(translated)
            ):
                wrong.append(f"{entry.label} -> {translated!r}")
    assert not wrong, "placeholders differ:\n" + "\n".join(wrong)


def test_markup_is_kept(messages):
    wrong = []
    for entry in messages:
        for source, translated in _translations(entry):
            if translated and sorted(TAG.findall(source)) != sorted(TAG.findall(translated)):
                wrong.append(f"{entry.label} -> {translated!r}")
    assert not wrong, "HTML tags differ:\n" + "\n".join(wrong)


def test_leading_and_trailing_whitespace_is_kept(messages):
    wrong = []
    for entry in messages:
        for source, translated in _translations(entry):
            if not translated:
                continue
            if (source[:1].isspace(), source[-1:] == "\n") != (
                translated[:1].isspace(),
                translated[-1:] == "\n",
            ):
                wrong.append(entry.label)
    assert not wrong, "\n".join(wrong)


def test_translations_are_chinese(messages):
    """Apart from names and symbols kept on purpose, every translation has Chinese in it."""
    kept_as_is = {
        "English",
        "OKR Master",
        "OKRs",
        "Slack",
        "Microsoft Teams",
        "OpenID Connect",
        "SAML 2.0",
    }
    latin_only = [
        entry.label
        for entry in messages
        for source, translated in _translations(entry)
        if translated
        and not CJK.search(translated)
        and source not in kept_as_is
        and re.search(r"[A-Za-z]{3,}", PLACEHOLDER.sub("", TAG.sub("", source)))
    ]
    assert not latin_only, "left in English:\n" + "\n".join(latin_only)


def test_key_terms_are_consistent(messages):
    by_source = {entry.msgid: entry.msgstr for entry in messages if entry.msgid_plural is None}
    assert by_source["Key result"] == "關鍵結果"
    assert by_source["Objective"] == "目標"
    assert by_source["Check-ins"] == "進度回報"
    assert by_source["Confidence"] == "信心度"
    assert by_source["Initiatives"] == "行動方案"
    assert by_source["Kudos"] == "讚賞"
    assert [by_source[s] for s in ("Draft", "Planning", "Active", "Scoring", "Closed")] == [
        "草稿",
        "規劃中",
        "進行中",
        "評分中",
        "已結束",
    ]


# --- Pages in Chinese ------------------------------------------------------------------------


@pytest.fixture
def compiled_locale(settings, tmp_path, catalogue):
    """LOCALE_PATHS pointing at a .mo compiled from the current .po, caches reset around it."""
    locale_dir = tmp_path / "locale"
    write_mo(catalogue, locale_dir / "zh_Hant" / "LC_MESSAGES" / "django.mo")
    settings.LOCALE_PATHS = [locale_dir]
    trans_real._translations = {}
    trans_real._default = None
    yield locale_dir
    translation.deactivate()
    trans_real._translations = {}
    trans_real._default = None


def test_the_compiled_catalogue_translates(compiled_locale):
    with translation.override("zh-hant"):
        assert translation.gettext("My week") == "我的一週"
        assert (
            translation.ngettext("%(counter)s week", "%(counter)s weeks", 3) % {"counter": 3}
            == "3 週"
        )
    with translation.override("en"):
        assert translation.gettext("My week") == "My week"


@pytest.fixture
def carol_in_chinese(carol):
    carol.language = "zh-hant"
    carol.save(update_fields=["language"])
    return carol


@pytest.mark.django_db
def test_home_page_is_in_chinese(compiled_locale, carol_in_chinese, login):
    response = login(carol_in_chinese).get("/acme/")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<html lang="zh-hant">' in html
    for chinese in ("我的一週", "我的 OKR", "讚賞", "登出"):
        assert chinese in html, chinese
    for english in (">My week<", ">My OKRs<", ">Log out<", "Skip to main content"):
        assert english not in html, english


@pytest.mark.django_db
def test_my_week_is_in_chinese(compiled_locale, carol_in_chinese, login):
    response = login(carol_in_chinese).get("/acme/my-week/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "我的一週" in html
    assert "跳至主要內容" in html
    assert "Skip to main content" not in html
    assert ">My week<" not in html


@pytest.mark.django_db
def test_english_member_still_reads_english(compiled_locale, carol, login):
    response = login(carol).get("/acme/my-week/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Skip to main content" in html
    assert "跳至主要內容" not in html


@pytest.fixture
def carols_key_result(acme, alice, carol):
    """An active cycle around this week and a key result of carol's in it."""
    from datetime import timedelta
    from decimal import Decimal

    from checkins.services import current_week
    from cycles import services as okr
    from cycles.models import Level

    week = current_week(acme)
    cycle = okr.cycle_create(
        org=acme,
        by=alice,
        name="This quarter",
        start_date=week - timedelta(weeks=2),
        end_date=week + timedelta(weeks=10),
    )
    for state in ("planning", "active"):
        cycle = okr.cycle_transition(org=acme, by=alice, cycle=cycle, to_state=state)
    objective = okr.objective_create(
        org=acme, by=carol, cycle=cycle, level=Level.INDIVIDUAL, owner=carol, title="Calibrate"
    )
    return okr.key_result_create(
        org=acme,
        by=carol,
        objective=objective,
        owner=carol,
        title="Publish 12 guides",
        start_value=Decimal(0),
        target_value=Decimal(12),
    )


def _zh_date(day) -> str:
    return f"{day.year}年{day.month}月{day.day}日"  # Django's zh-Hant DATE_FORMAT, Y年n月j日


@pytest.mark.django_db
def test_my_week_dates_the_week_the_chinese_way(
    compiled_locale, carol_in_chinese, carols_key_result, login
):
    from checkins.services import current_week

    week = current_week(carols_key_result.organization)
    html = login(carol_in_chinese).get("/acme/my-week/").content.decode()
    assert f'<time datetime="{week.isoformat()}">{_zh_date(week)} 起的一週</time>' in html
    english = login(carol_in_chinese).get("/acme/my-week/", HTTP_ACCEPT_LANGUAGE="en")
    assert "起的一週" in english.content.decode()  # the member's choice beats the browser's


@pytest.mark.django_db
def test_the_profile_lists_each_language_under_its_own_name(compiled_locale, carol, login):
    client = login(carol)
    html = client.get("/acme/profile/").content.decode()
    assert '<option value="zh-hant">繁體中文 (Traditional Chinese)</option>' in html
    assert '<option value="en" selected>English</option>' in html
    response = client.post(
        "/acme/profile/",
        {"full_name": "Carol Tsai", "time_zone": carol.time_zone, "language": "zh-hant"},
        follow=True,
    )
    html = response.content.decode()
    assert '<html lang="zh-hant">' in html and "個人資料已儲存。" in html
    assert '<option value="zh-hant" selected>繁體中文</option>' in html


@pytest.mark.django_db
def test_the_check_in_reminder_is_written_in_chinese(
    compiled_locale, carol_in_chinese, carols_key_result, mailoutbox
):
    from datetime import timedelta

    from checkins import notifications, reminders
    from checkins.services import current_week

    acme = carols_key_result.organization
    moment = reminders.checkin_moment(acme, current_week(acme), carol_in_chinese.time_zone)
    notifications.send_claims(acme, reminders.claim_due(acme, moment + timedelta(minutes=1)))
    (mail,) = mailoutbox
    html = mail.alternatives[0][0]
    assert mail.subject == "Acme Robotics：本週有 1 個關鍵結果需要回報進度"  # noqa: RUF001
    assert "該回報進度了。" in mail.body and "Publish 12 guides" in mail.body
    assert '<html lang="zh-hant">' in html and "立即回報進度" in html
    for english in ("check-in time", "It takes about a minute", "Check in now", "Hello"):
        assert english not in mail.body + html, english


def test_the_committed_mo_matches_the_po(messages):
    """The compiled catalogue in git is the .po's (``make messages`` rebuilds it)."""
    import gettext

    with MO_PATH.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    for entry in messages:
        if entry.msgid_plural is not None:
            got = compiled.ngettext(entry.msgid, entry.msgid_plural, 1)
            assert got == entry.msgstr_plural[0], entry.label
        elif entry.msgctxt is not None:
            assert compiled.pgettext(entry.msgctxt, entry.msgid) == entry.msgstr, entry.label
        else:
            assert compiled.gettext(entry.msgid) == entry.msgstr, entry.label
