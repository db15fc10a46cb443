"""A file mail backend that is also a delivery ledger.

:class:`LedgerFileBackend` writes each message to its own file under ``EMAIL_FILE_PATH``,
named after the message's ``Message-ID``. A file appears whole or not at all (written to a
hidden temporary file, flushed to disk, then hard-linked to its final name), and a second
message with the same ``Message-ID`` is refused (the link fails when the name exists), so
delivering the same mail twice leaves one file.

That makes the backend able to answer what SMTP cannot: "was the message with this
``Message-ID`` delivered?" (:meth:`LedgerFileBackend.delivered`). The notification recovery
(``checkins.reminders.recover_stuck``) asks it about mails whose worker died mid-send;
a backend without ``delivered`` (SMTP, console, locmem) leaves those claims to people.

A process killed between writing and linking leaves a hidden ``.incoming-*.part`` file
behind: it was never delivered, is not counted, and may be deleted at any time.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
from collections.abc import Iterable

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.mail.backends.base import BaseEmailBackend

SUFFIX = ".eml"
_UNSAFE = re.compile(r"[^A-Za-z0-9._@+-]")


def ledger_name(message_id: str) -> str:
    """The file name of the message with this ``Message-ID``: readable, and unique by a hash
    of the exact header (two ids that read alike after cleaning still differ)."""
    exact = message_id.strip()
    digest = hashlib.sha256(exact.encode()).hexdigest()[:16]
    return f"{_UNSAFE.sub('_', exact.strip('<>'))[:100]}-{digest}{SUFFIX}"


class LedgerFileBackend(BaseEmailBackend):
    def __init__(self, *args, file_path: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        path = file_path or getattr(settings, "EMAIL_FILE_PATH", None)
        if not path:
            raise ImproperlyConfigured("LedgerFileBackend needs EMAIL_FILE_PATH.")
        self.file_path = os.path.abspath(path)
        try:
            os.makedirs(self.file_path, exist_ok=True)
        except OSError as exc:
            raise ImproperlyConfigured(
                f"Cannot create the mail folder {self.file_path}: {exc}"
            ) from exc
        if not os.access(self.file_path, os.W_OK):
            raise ImproperlyConfigured(f"The mail folder {self.file_path} is not writable.")

    def send_messages(self, email_messages) -> int:
        """Deliver each message once. A message whose ``Message-ID`` was delivered before
        counts as sent (it has been) and is not written again."""
        count = 0
        for message in email_messages:
            try:
                self._deliver(message)
            except OSError:
                if not self.fail_silently:
                    raise
            else:
                count += 1
        return count

    def delivered(self, message_ids: Iterable[str]) -> set[str]:
        """The ``Message-ID``\\ s among these whose message is in the folder."""
        return {
            mid
            for mid in message_ids
            if os.path.exists(os.path.join(self.file_path, ledger_name(mid)))
        }

    def _deliver(self, message) -> bool:
        """True when this call delivered it, False when it had been delivered already."""
        mime = message.message()
        final = os.path.join(self.file_path, ledger_name(mime["Message-ID"]))
        if os.path.exists(final):
            return False
        fd, incoming = tempfile.mkstemp(dir=self.file_path, prefix=".incoming-", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as stream:
                stream.write(mime.as_bytes())
                stream.flush()
                os.fsync(stream.fileno())
            try:
                os.link(incoming, final)  # atomic, and refuses an existing name
            except FileExistsError:
                return False
            self._sync_folder()
            return True
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(incoming)

    def _sync_folder(self) -> None:
        """Make the new name durable, so "delivered" survives a machine crash too."""
        fd = os.open(self.file_path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
