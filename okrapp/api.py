"""The tenant API base: how every DRF endpoint under ``/api/v1/<org_slug>/`` reaches data.

* Authentication: personal tokens (``Authorization: Bearer <secret>``, or ``Token <secret>``)
  first, so an anonymous call gets 401 with ``WWW-Authenticate``; then the browser session
  (DRF enforces CSRF for it on unsafe methods).
* :class:`TenantViewSet` resolves ``org_slug`` to the caller's active membership once per
  request, after authentication and before any permission check: not a member, an unknown
  organisation, or a token of another organisation all get the same 404. Its
  ``get_queryset`` is always ``tenant_model.objects.for_org(self.org)``; subclasses refine it
  in ``get_tenant_queryset`` and cannot replace it.
* :func:`exception_handler` turns the services' exceptions into HTTP: ``ValidationError``
  → 400 with messages by field, ``PermissionDenied`` → 403, a version conflict → 409 with
  the current values, ``ObjectDoesNotExist`` → 404.

``TenantMiddleware`` skips these views (``tenant_exempt``): it would redirect a script to
the login page, and tokens are only known inside DRF.
"""

from __future__ import annotations

from datetime import date
from typing import ClassVar

from django.core.exceptions import (
    NON_FIELD_ERRORS,
    ImproperlyConfigured,
    ObjectDoesNotExist,
    PermissionDenied,
)
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from django.utils import timezone, translation
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import exceptions, serializers, status, viewsets
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from okrapp import rls
from okrapp.authentication import ApiTokenAuthentication
from okrapp.models import ApiToken, Membership, Organization
from okrapp.tenancy import TenantModel, resolve_membership

# --- Authentication (the class is in okrapp.authentication) ---------------------------------


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = ApiTokenAuthentication
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": (
                "A personal API token from your profile page in the organisation: "
                "`Authorization: Bearer okr_…`. `Token okr_…` is accepted too."
            ),
        }


# --- Errors ----------------------------------------------------------------------------------


def _is_conflict(exc: Exception) -> bool:
    """A lost optimistic-lock race: a ValidationError coded "conflict" carrying ``current``.

    Recognised by shape so that the core does not import the apps (``cycles.services``
    raises ``ConflictError``).
    """
    return (
        isinstance(exc, DjangoValidationError)
        and getattr(exc, "code", None) == "conflict"
        and hasattr(exc, "current")
    )


def validation_error_data(exc: DjangoValidationError) -> dict[str, list[str]]:
    """A service's ValidationError as DRF shapes serializer errors: field → messages."""
    non_field = api_settings.NON_FIELD_ERRORS_KEY
    if hasattr(exc, "error_dict"):
        return {
            (non_field if field == NON_FIELD_ERRORS else field): messages
            for field, messages in exc.message_dict.items()
        }
    return {non_field: exc.messages}


def exception_handler(exc, context):
    view = context.get("view")
    if _is_conflict(exc):
        set_rollback()
        render = getattr(view, "get_conflict_data", None)
        current = render(exc.current) if render is not None else None
        return Response(
            {"detail": exc.messages[0], "code": "conflict", "current": current},
            status=status.HTTP_409_CONFLICT,
        )
    if isinstance(exc, DjangoValidationError):
        set_rollback()
        return Response(validation_error_data(exc), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, Http404 | ObjectDoesNotExist):
        # One body for "no such row", "another organisation's row" and "no such organisation".
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(*exc.args)
    return drf_exception_handler(exc, context)


@csrf_exempt  # it changes nothing; a CSRF 403 page would answer HTML to a script
def api_not_found(request, *args, **kwargs):
    """Any other path under /api/: the same JSON 404 as a missing row."""
    return JsonResponse({"detail": str(exceptions.NotFound.default_detail)}, status=404)


# --- Schema helpers ----------------------------------------------------------------------------


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()


VALIDATION_ERROR_SCHEMA = {
    "type": "object",
    "description": (
        "Messages by field name; `non_field_errors` for the request as a whole, `detail` "
        "when the body could not be read (e.g. malformed JSON)."
    ),
    "additionalProperties": {
        "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]
    },
}

ERROR_DESCRIPTIONS = {
    400: "Invalid input: malformed JSON, wrong types, unknown ids, or a rule of the service.",
    401: "No credentials, or an invalid or revoked token.",
    403: "A member of the organisation whose role does not allow this.",
    404: "No such row here, or no such organisation for you (the two are not told apart).",
}


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    """OpenAPI responses for the error codes an endpoint may answer with."""
    responses = {}
    for code in codes:
        schema = VALIDATION_ERROR_SCHEMA if code == 400 else ErrorSerializer
        responses[code] = OpenApiResponse(schema, description=ERROR_DESCRIPTIONS[code])
    return responses


def protocol_error_responses(result, generator, request, public):
    """drf-spectacular post-processing hook: the errors DRF's content negotiation answers
    on any operation, documented once rather than on every view — 406 when ``Accept``
    names nothing we serve, and 415 on operations with a body whose ``Content-Type`` is
    not one we parse. Both carry the same ``{"detail": …}`` body as a 404."""
    for path in result.get("paths", {}).values():
        for operation in path.values():
            responses = operation.get("responses", {})
            error = responses.get("404")
            if error is None:
                continue
            content = error.get("content", {})
            responses.setdefault(
                "406",
                {"content": content, "description": "No media type in `Accept` is served."},
            )
            if "requestBody" in operation:
                responses.setdefault(
                    "415",
                    {"content": content, "description": "A `Content-Type` the API cannot read."},
                )
    return result


def conflict_response(
    serializer_class, name: str, *, current_may_be_null: bool = False
) -> dict[int, OpenApiResponse]:
    """The 409 of a stale ``version``: message and the row as it is now (``null`` when the
    row the caller expected is gone, where ``current_may_be_null``)."""
    body = inline_serializer(
        name=name,
        fields={
            "detail": serializers.CharField(),
            "code": serializers.CharField(),
            "current": serializer_class(allow_null=current_may_be_null),
        },
    )
    return {
        409: OpenApiResponse(
            body, description="Changed by someone else since `version`: the current values."
        )
    }


READ_ERRORS = (401, 404)
FILTERED_LIST_ERRORS = (400, 401, 404)
WRITE_ERRORS = (400, 401, 403, 404)


# --- Fields ------------------------------------------------------------------------------------


class TenantPrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    """An id of a row of ``model`` in the request's organisation (else 400 "does not exist").

    ``scope(queryset, view)`` narrows further, e.g. to objectives the caller may read, so
    that an id the caller may not see is refused like an unknown one.
    """

    def __init__(self, model: type[TenantModel], scope=None, **kwargs):
        self.model = model
        self.scope = scope
        if not kwargs.get("read_only"):
            kwargs["queryset"] = model.objects.none()  # for the schema; never evaluated
        super().__init__(**kwargs)

    def get_queryset(self):
        view = self.context["view"]
        queryset = self.model.objects.for_org(view.org)
        return self.scope(queryset, view) if self.scope else queryset


# --- Pagination ---------------------------------------------------------------------------------


class Pagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 200


# --- Viewsets -----------------------------------------------------------------------------------


class TenantViewSet(viewsets.GenericViewSet):
    """Base of every viewset under ``/api/v1/<org_slug>/``.

    Subclasses name ``tenant_model`` and may refine the scoped queryset in
    ``get_tenant_queryset(queryset)``; defining ``get_queryset`` or ``queryset`` is refused
    when the class is created, so a read outside the organisation cannot be written here.
    """

    tenant_model: ClassVar[type[TenantModel] | None] = None
    lookup_value_converter = "int"
    pagination_class = Pagination  # not in settings: DRF reads those while this module loads
    # OPTIONS would describe the output serializers as input; the OpenAPI schema is the docs.
    metadata_class = None

    org: Organization
    membership: Membership

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "get_queryset" in cls.__dict__ or cls.__dict__.get("queryset") is not None:
            raise ImproperlyConfigured(
                f"{cls.__name__}: refine reads in get_tenant_queryset(queryset); "
                "get_queryset and queryset belong to TenantViewSet."
            )

    @classmethod
    def as_view(cls, *args, **kwargs):
        if cls.tenant_model is None or not issubclass(cls.tenant_model, TenantModel):
            raise ImproperlyConfigured(f"{cls.__name__} needs tenant_model (a TenantModel).")
        view = super().as_view(*args, **kwargs)
        view.tenant_exempt = True  # TenantMiddleware: this view resolves the org itself
        return view

    # -- the organisation -----------------------------------------------------------------

    def perform_authentication(self, request):
        """Authenticate, then resolve the organisation, before any permission check."""
        super().perform_authentication(request)
        self.resolve_tenant(request)

    def resolve_tenant(self, request) -> None:
        if not request.user or not request.user.is_authenticated:
            raise exceptions.NotAuthenticated()
        slug = self.kwargs.get("org_slug")
        if isinstance(request.auth, ApiToken):
            membership = request.auth.membership
            if membership.organization.slug != slug:
                raise exceptions.NotFound()
        else:
            membership = resolve_membership(request.user, slug)
            if membership is None:
                raise exceptions.NotFound()
        self.org = membership.organization
        self.membership = membership
        # Row-level security: the rest of the request sees this organisation's rows only.
        rls.activate(rls.for_org(membership.organization_id))
        # On Django's request too, where middleware and logging look for them.
        request._request.org, request._request.membership = self.org, membership
        translation.activate(membership.language)
        request.LANGUAGE_CODE = translation.get_language()

    def today(self) -> date:
        """Today in the organisation's time zone (expected progress runs on local dates)."""
        return timezone.localtime(timezone.now(), self.org.zoneinfo).date()

    # -- reads ---------------------------------------------------------------------------

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular builds the schema
            return self.tenant_model.objects.none()
        queryset = self.get_tenant_queryset(self.tenant_model.objects.for_org(self.org))
        if queryset.model is not self.tenant_model or not getattr(queryset, "_scoped", False):
            raise ImproperlyConfigured(
                f"{type(self).__name__}.get_tenant_queryset must refine the scoped queryset."
            )
        return queryset

    def get_tenant_queryset(self, queryset):
        return queryset

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if hasattr(self, "org"):
            context.update(org=self.org, membership=self.membership, today=self.today())
        return context

    def filter_params(self, serializer_class) -> dict:
        """Query-string filters, validated: a bad value is a 400 with its message."""
        serializer = serializer_class(
            data=self.request.query_params, context=self.get_serializer_context()
        )
        serializer.is_valid(raise_exception=True)
        return {k: v for k, v in serializer.validated_data.items() if v is not None}

    # -- writes ----------------------------------------------------------------------------

    def input(self, serializer_class, *, partial: bool = False) -> dict:
        """Validated request body (shape only; the service checks the rules)."""
        serializer = serializer_class(
            data=self.request.data, partial=partial, context=self.get_serializer_context()
        )
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    def output(self, instance, status_code: int = status.HTTP_200_OK) -> Response:
        return Response(self.get_serializer(instance).data, status=status_code)

    def get_conflict_data(self, current):
        return self.get_serializer(current).data
