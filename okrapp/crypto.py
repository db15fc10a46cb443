"""Secrets at rest: the one place okrapp encrypts and decrypts credentials.

Credentials an admin enters (Slack bot token and signing secret, the Teams webhook URL,
the OpenID Connect client secret) are stored with Fernet (AES-128-CBC + HMAC-SHA256, from
``cryptography``) through :class:`EncryptedTextField`; the database, its backups and its
dumps hold only tokens.

Keys come from the ``FIELD_ENCRYPTION_KEYS`` setting (environment variable of the same
name): comma-separated Fernet keys, newest first. The first one encrypts; every one of them
decrypts (``MultiFernet``), which is how keys are rotated (docs/integrations.md, "Secrets at
rest"): put a new key first, run ``manage.py rotate_field_encryption``, then drop the old
key. Without the setting a key is derived from ``SECRET_KEY`` (HKDF-SHA256), so the embedded
laptop default works; production should set its own keys, because changing ``SECRET_KEY``
would otherwise make the stored secrets unreadable.
"""

from __future__ import annotations

import base64
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

# Every Fernet token starts with its version byte 0x80, i.e. "gAAAAA" in base64.
TOKEN_PREFIX = "gAAAAA"  # noqa: S105 - a format marker, not a secret


class DecryptionFailed(ImproperlyConfigured):
    """A stored secret cannot be decrypted with any key in FIELD_ENCRYPTION_KEYS."""


def derived_key(secret_key: str) -> bytes:
    """The Fernet key used when FIELD_ENCRYPTION_KEYS is not set."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"okrapp field encryption")
    return base64.urlsafe_b64encode(hkdf.derive(secret_key.encode()))


def configured_keys() -> tuple[str, ...]:
    keys = getattr(settings, "FIELD_ENCRYPTION_KEYS", None) or ()
    if isinstance(keys, str):
        keys = keys.split(",")
    keys = tuple(k.strip() for k in keys if k and k.strip())
    return keys or (derived_key(settings.SECRET_KEY).decode(),)


@lru_cache(maxsize=8)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except ValueError as exc:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS must be comma-separated Fernet keys "
            "(make one with: python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())')."
        ) from exc


def fernet() -> MultiFernet:
    return _fernet(configured_keys())


def encrypt(plaintext: str) -> str:
    return fernet().encrypt(plaintext.encode("utf-8")).decode("ascii")


def decrypt(token: str) -> str:
    try:
        return fernet().decrypt(token.encode("ascii")).decode("utf-8")
    except (InvalidToken, UnicodeEncodeError) as exc:
        raise DecryptionFailed(
            "A stored secret cannot be decrypted: FIELD_ENCRYPTION_KEYS lacks the key it was "
            "encrypted with (was SECRET_KEY changed while FIELD_ENCRYPTION_KEYS is unset?)."
        ) from exc


def is_token(value: str) -> bool:
    """Whether ``value`` is already a token under one of the current keys."""
    if not value.startswith(TOKEN_PREFIX):
        return False
    try:
        fernet().decrypt(value.encode("ascii"))
    except (InvalidToken, UnicodeEncodeError):
        return False
    return True


def rotate(token: str) -> str:
    """The same secret, re-encrypted with the first (newest) key."""
    return fernet().rotate(token.encode("ascii")).decode("ascii")


class EncryptedTextField(models.TextField):
    """Text stored as a Fernet token; Python code sees the plaintext.

    The empty string stays empty (it means "no secret", and says nothing else). Lookups
    by value cannot work (every encryption differs), so none are offered beyond isnull /
    exact "". ``max_length`` limits the plaintext a form accepts, not the column.
    """

    description = "Text encrypted at rest (Fernet)"

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        return decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt(value)

    def get_lookup(self, lookup_name):
        if lookup_name not in ("exact", "isnull"):
            return None
        return super().get_lookup(lookup_name)


# --- Data migrations ----------------------------------------------------------------------------


def _rewrite_columns(cursor, qn, table: str, pk_column: str, columns: list[str], change) -> int:
    """Rewrite in place every non-empty value of ``columns`` for which ``change(value)``
    returns a new value (None: leave it); returns how many values were rewritten."""
    names = ", ".join(qn(c) for c in columns)
    cursor.execute(f"SELECT {qn(pk_column)}, {names} FROM {qn(table)}")  # noqa: S608 - quoted
    rewritten = 0
    for pk, *values in cursor.fetchall():
        changed = {}
        for column, value in zip(columns, values, strict=True):
            if value and (new := change(value)) is not None:
                changed[column] = new
        if changed:
            sets = ", ".join(f"{qn(c)} = %s" for c in changed)
            cursor.execute(
                f"UPDATE {qn(table)} SET {sets} WHERE {qn(pk_column)} = %s",  # noqa: S608
                [*changed.values(), pk],
            )
            rewritten += len(changed)
    return rewritten


def encrypt_columns(schema_editor, table: str, columns: list[str], *, forwards: bool = True):
    """Encrypt (or, backwards, decrypt) existing values of ``columns`` in place.

    Raw SQL, because the migration state already declares the columns encrypted and the
    historical model would try to decrypt plaintext. Idempotent: a value that is already a
    token under the current keys is left alone going forwards.
    """

    def change(value: str) -> str | None:
        if forwards:
            return None if is_token(value) else encrypt(value)
        return decrypt(value) if is_token(value) else None

    connection = schema_editor.connection
    with connection.cursor() as cursor:
        _rewrite_columns(cursor, connection.ops.quote_name, table, "id", columns, change)


def encrypted_columns() -> list[tuple[str, str, list[str]]]:
    """(table, primary key column, columns) of every EncryptedTextField of the models."""
    from django.apps import apps

    found = []
    for model in apps.get_models():
        columns = [
            f.column for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)
        ]
        if columns:
            found.append((model._meta.db_table, model._meta.pk.column, columns))
    return found


def rotate_all(connection=None) -> int:
    """Re-encrypt every stored secret with the first key; returns how many were rewritten.

    Safe to run while the site is up and to run twice: a value is rewritten only when its
    token was not made with the first key (``MultiFernet.rotate`` keeps the original
    timestamp; nothing here depends on it).
    """
    from django.db import connection as default_connection
    from django.db import transaction

    connection = connection or default_connection
    qn = connection.ops.quote_name
    first = Fernet(configured_keys()[0].encode())

    def change(value: str) -> str | None:
        try:
            first.decrypt(value.encode("ascii"))
        except InvalidToken:
            return rotate(value)
        return None

    rewritten = 0
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        for table, pk_column, columns in encrypted_columns():
            rewritten += _rewrite_columns(cursor, qn, table, pk_column, columns, change)
    return rewritten
