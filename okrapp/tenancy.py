"""The tenancy core: how every view, service and task reaches one organisation's data.

* Tenant models inherit :class:`TenantModel`. Their ``objects`` manager refuses to run a
  query until it is scoped with ``.for_org(org)``; the only unscoped door is the loudly
  named ``all_tenants`` manager, kept for framework internals (admin, uniqueness checks)
  and whole-database jobs. A test keeps app code off it.
* Every HTML URL under ``/<org_slug>/`` is resolved by :class:`TenantMiddleware` once per
  request: anonymous → login, not an active member → 404 (the organisation's existence is
  not revealed), and the view finds ``request.org`` and ``request.membership``.
* Role checks are the decorators below: wrong role → 403.
"""

from __future__ import annotations

from functools import wraps
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import Http404
from django.utils import timezone, translation

from okrapp import rls

if TYPE_CHECKING:
    from okrapp.models import Membership, Organization


class UnscopedQueryError(RuntimeError):
    """A tenant query ran without ``.for_org(org)``: a bug that could leak another tenant."""


def _attach_org(row, org, depth: int = 0) -> None:
    """Give a fetched row (and the tenant rows it selected with it) its organisation
    object, so ``row.organization`` (links, time zone) costs no query per row."""
    if not isinstance(row, TenantModel) or row.organization_id != org.pk or depth > 4:
        return
    cache = row._state.fields_cache
    cache.setdefault("organization", org)
    for related in list(cache.values()):
        if related is not org and isinstance(related, TenantModel):
            _attach_org(related, org, depth + 1)


class TenantQuerySet(models.QuerySet):
    """A queryset that only runs once it knows its organisation."""

    _scoped = False

    _org = None

    def for_org(self, org: Organization | int) -> TenantQuerySet:
        org_id = org if isinstance(org, int) else org.pk
        if org_id is None:
            raise ValueError("for_org() needs a saved organisation")
        qs = self.filter(organization_id=org_id)
        qs._scoped = True
        if not isinstance(org, int):
            qs._org = org
        return qs

    def _clone(self):
        clone = super()._clone()
        clone._scoped = self._scoped
        clone._org = self._org
        return clone

    def _check_scope(self) -> None:
        if not self._scoped:
            raise UnscopedQueryError(
                f"{self.model.__name__} query without .for_org(org); "
                "tenant data is only read inside one organisation."
            )

    def _fetch_all(self):
        if self._result_cache is None:
            self._check_scope()
            super()._fetch_all()
            if self._org is not None:
                for row in self._result_cache:
                    _attach_org(row, self._org)
        else:
            super()._fetch_all()

    def iterator(self, *args, **kwargs):
        self._check_scope()
        return super().iterator(*args, **kwargs)

    def count(self):
        self._check_scope()
        return super().count()

    def exists(self):
        self._check_scope()
        return super().exists()

    def aggregate(self, *args, **kwargs):
        self._check_scope()
        return super().aggregate(*args, **kwargs)

    def update(self, **kwargs):
        self._check_scope()
        return super().update(**kwargs)

    def delete(self):
        self._check_scope()
        return super().delete()

    def contains(self, obj):
        self._check_scope()
        return super().contains(obj)


class TenantModel(models.Model):
    """A row owned by one organisation.

    ``all_tenants`` is declared first so it is Django's default manager: the admin,
    ``validate_unique``, deletion cascades and related managers (``team.children``: rows
    reached from a row already read inside its organisation) use it. App code uses
    ``objects.for_org(org)``; creating through ``objects`` needs no scope because the
    organisation is a required field.
    """

    organization = models.ForeignKey(
        "okrapp.Organization", on_delete=models.CASCADE, related_name="+", editable=False
    )

    all_tenants = models.Manager()
    objects = TenantQuerySet.as_manager()

    class Meta:
        abstract = True
        # Subclasses write ``class Meta(TenantModel.Meta)`` to keep this; a test checks.
        default_manager_name = "all_tenants"


def require_same_org(org: Organization, *objects) -> None:
    """Refuse rows of another organisation handed to a service (ids from a form or API)."""
    from django.core.exceptions import ValidationError
    from django.utils.translation import gettext as _

    for obj in objects:
        if obj is not None and obj.organization_id != org.pk:
            raise ValidationError(_("That belongs to another organisation."))


# --- Requests -----------------------------------------------------------------------------


class TenantMiddleware:
    """Resolve ``<org_slug>`` once per request for every HTML view that has one.

    Runs in ``process_view`` so it covers every view under ``/<org_slug>/`` the day it is
    added, with no decorator to forget. API views resolve the organisation in
    ``okrapp.api`` because their authentication (tokens) happens inside DRF.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.org = None
        request.membership = None
        try:
            return self.get_response(request)
        finally:
            # The member's clock must not leak into the next request on this thread.
            timezone.deactivate()

    def process_view(self, request, view_func, view_args, view_kwargs):
        slug = view_kwargs.get("org_slug")
        if slug is None or getattr(view_func, "tenant_exempt", False):
            return None
        if not request.user.is_authenticated:
            from django.contrib.auth.views import redirect_to_login  # needs the user model

            return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)
        membership = resolve_membership(request.user, slug)
        if membership is None:
            raise Http404("No such organisation.")
        request.org = membership.organization
        request.membership = membership
        # Row-level security (PostgreSQL): from here on the database itself shows this
        # organisation's rows only; ``request_finished`` restores the connection's scope.
        rls.activate(rls.for_org(membership.organization_id))
        activate_membership_locale(request, membership)
        return None


def resolve_membership(user, slug: str) -> Membership | None:
    """The caller's active membership in the organisation ``slug``, or None (→ 404)."""
    from okrapp.models import Membership

    return (
        Membership.all_tenants.select_related("organization", "user")
        .filter(
            organization__slug=slug,
            user=user,
            active=True,
            user__is_active=True,
        )
        .first()
    )


def activate_membership_locale(request, membership: Membership) -> None:
    translation.activate(membership.language)
    request.LANGUAGE_CODE = translation.get_language()
    timezone.activate(membership.zoneinfo)


def role_required(*roles: str, okr_master: bool = False):
    """403 unless the caller's membership has one of ``roles`` (or the OKR Master flag)."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            membership = request.membership
            if membership is None:
                raise Http404
            if membership.role in roles or (okr_master and membership.is_okr_master):
                return view(request, *args, **kwargs)
            raise PermissionDenied

        return wrapped

    return decorator


def admin_required(view):
    from okrapp.models import Membership

    return role_required(Membership.Role.ADMIN)(view)
