"""Mail in the recipient's language: a subject, a plain-text body and an HTML body.

A caller that must know later whether a mail went out (the notification claims) gives it
a stable ``Message-ID`` (:func:`stable_message_id`) and asks :func:`delivered` after a
crash. Only a backend that keeps a ledger can answer (``okrapp.mail_backends``); for SMTP
the answer is "cannot tell" and the caller must not guess.
"""

from __future__ import annotations

from collections.abc import Iterable
from email.utils import parseaddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.template.loader import render_to_string
from django.utils import translation


def send_templated_mail(
    *,
    to: list[str],
    template: str,
    context: dict,
    language: str = "en",
    message_id: str | None = None,
) -> int:
    """Render ``<template>_subject.txt``, ``.txt`` and ``.html`` and send one message.

    ``message_id`` (from :func:`stable_message_id`) is the same on every attempt at the
    same mail, so a ledger backend refuses a second copy and can say if it was delivered.
    """
    context = {"site_url": settings.SITE_URL, **context}
    with translation.override(language):
        subject = " ".join(render_to_string(f"{template}_subject.txt", context).split())
        text = render_to_string(f"{template}.txt", context)
        html = render_to_string(f"{template}.html", context)
    headers = {"Message-ID": message_id} if message_id else None
    message = EmailMultiAlternatives(subject=subject, body=text, to=to, headers=headers)
    message.attach_alternative(html, "text/html")
    return message.send()


def stable_message_id(local_part: str) -> str:
    """A ``Message-ID`` that every worker on every host derives alike: the local part the
    caller names, at the domain of ``DEFAULT_FROM_EMAIL`` (not the host name, which
    differs between workers)."""
    domain = parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2] or "okrapp.localhost"
    return f"<{local_part}@{domain}>"


def delivered(message_ids: Iterable[str]) -> set[str] | None:
    """Which of these ``Message-ID``\\ s the mail backend has delivered, or ``None`` when the
    backend cannot tell (SMTP hands a message over and keeps no record we can ask)."""
    ask = getattr(get_connection(), "delivered", None)
    return None if ask is None else set(ask(list(message_ids)))
