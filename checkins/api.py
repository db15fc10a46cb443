"""REST API of the weekly cadence: check-ins, comments and kudos under ``/api/v1/<org_slug>/``.

Built like ``cycles.api``: an input serializer checks the shape of the body, the same
service as the pages applies the rules (``checkins.services``), an output serializer renders
the result, and reads start from ``okrapp.api.TenantViewSet``.

* ``key-results/<kr_id>/check-ins/``: the key result's check-ins, newest week first; POST
  records this week's check-in or revises it (``revision``: the one you read, 409 when it
  moved on). A key result of a private objective the caller may not read is 404, as on the
  pages (``cycles.views.common.get_readable_key_result``).
* ``comments/``: comments on key results, objectives and check-ins the caller may read;
  comments on private objectives of others are never listed and their detail is 404.
* ``kudos/``: the organisation's kudos feed; what a kudos was for is left out (and
  ``subject_hidden`` set) when it is a private objective the caller may not read.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import exceptions, mixins, serializers, status
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from checkins import services
from checkins.forms import VALUE_LIMIT
from checkins.models import CheckIn, Comment, Kudos
from cycles import permissions
from cycles.models import KeyResult, Objective
from cycles.views.common import get_readable_key_result
from okrapp.api import (
    FILTERED_LIST_ERRORS,
    READ_ERRORS,
    WRITE_ERRORS,
    TenantPrimaryKeyRelatedField,
    TenantViewSet,
    conflict_response,
    error_responses,
)
from okrapp.models import Membership
from okrapp.rows import MAX_ID

CONFIDENCE_RANGE = _("Confidence is from 1 to 10.")
COMMENT_TOO_LONG = _("Keep comments under 5,000 characters.")
ONE_SUBJECT = _("Filter by one of key_result, objective or checkin, not several.")


# --- What the caller may read -------------------------------------------------------------------


def _visible_objectives(view):
    """Objectives whose content the caller may read (``permissions.can_read_objective``)."""
    queryset = Objective.objects.for_org(view.org)
    return queryset.visible_to(view.membership, view.membership.managed_team_ids)


def _readable_objectives(queryset, view):
    return queryset.visible_to(view.membership, view.membership.managed_team_ids)


def _readable_key_results(queryset, view):
    if view.membership.is_admin:
        return queryset
    return queryset.filter(objective__in=_visible_objectives(view))


def _readable_checkins(queryset, view):
    if view.membership.is_admin:
        return queryset
    return queryset.filter(key_result__objective__in=_visible_objectives(view))


def _readable_comments(queryset, view):
    if view.membership.is_admin:
        return queryset
    visible = _visible_objectives(view)
    return queryset.filter(
        Q(objective__in=visible)
        | Q(key_result__objective__in=visible)
        | Q(checkin__key_result__objective__in=visible)
    )


# --- Check-ins ----------------------------------------------------------------------------------


class AcknowledgementSerializer(serializers.Serializer):
    by = serializers.IntegerField(source="by_id", read_only=True, help_text="Membership id.")
    reply = serializers.CharField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)


class CheckInSerializer(serializers.ModelSerializer):
    """One week's check-in; ``on_behalf`` when a manager recorded it for the owner."""

    week_label = serializers.CharField(read_only=True, help_text="ISO week, e.g. 2026-W41.")
    on_behalf = serializers.BooleanField(read_only=True)
    acknowledgement = serializers.SerializerMethodField()

    class Meta:
        model = CheckIn
        fields = [
            "id", "key_result", "week", "week_label", "value", "confidence", "note",
            "need_help", "recorded_by", "owner", "on_behalf", "revision", "created_at",
            "updated_at", "acknowledgement",
        ]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(AcknowledgementSerializer(allow_null=True))
    def get_acknowledgement(self, checkin):
        try:
            ack = checkin.acknowledgement
        except CheckIn.acknowledgement.RelatedObjectDoesNotExist:
            return None
        return AcknowledgementSerializer(ack).data


class CheckInWriteSerializer(serializers.Serializer):
    value = serializers.DecimalField(
        max_digits=20,
        decimal_places=4,
        min_value=-VALUE_LIMIT,
        max_value=VALUE_LIMIT,
        error_messages={"invalid": _("Enter a number, e.g. 42 or 3.5.")},
        help_text="The key result's value this week.",
    )
    confidence = serializers.IntegerField(
        min_value=1,
        max_value=10,
        error_messages={
            "min_value": CONFIDENCE_RANGE,
            "max_value": CONFIDENCE_RANGE,
            "invalid": _("Confidence is a whole number from 1 to 10."),
        },
    )
    note = serializers.CharField(max_length=4000, required=False, allow_blank=True, default="")
    need_help = serializers.BooleanField(required=False, default=False)
    revision = serializers.IntegerField(
        min_value=0,
        max_value=MAX_ID,
        required=False,
        allow_null=True,
        help_text="The revision of this week's check-in you read (0: none yet); a newer one "
        "on the server answers 409. Left out: no check.",
    )


# current is null when the revision sent names a check-in this week does not have yet.
CHECKIN_CONFLICT = conflict_response(CheckInSerializer, "CheckInConflict", current_may_be_null=True)


@extend_schema_view(
    list=extend_schema(
        summary="A key result's check-ins, newest week first",
        responses={200: CheckInSerializer(many=True), **error_responses(*READ_ERRORS)},
    ),
    create=extend_schema(
        summary="Check in on a key result this week (or revise this week's check-in)",
        description=(
            "By the key result's owner or their manager (recorded as on their behalf), "
            "only while its cycle is active. The week is the current ISO week in the "
            "organisation's time zone; a second check-in in the same week revises the "
            "first (200). Send `revision` to be told (409) when someone saved in between."
        ),
        request=CheckInWriteSerializer,
        responses={
            201: CheckInSerializer,
            200: CheckInSerializer,
            **error_responses(*WRITE_ERRORS),
            **CHECKIN_CONFLICT,
        },
    ),
)
class CheckInViewSet(mixins.ListModelMixin, TenantViewSet):
    """Weekly check-ins of one key result, written through ``services.checkin_record``."""

    tenant_model = CheckIn
    serializer_class = CheckInSerializer

    def key_result(self) -> KeyResult:
        """The key result of the URL; 404 when unknown here or of a private objective."""
        if not hasattr(self, "_key_result"):
            kr_id = self.kwargs["kr_id"]
            if kr_id > MAX_ID:
                raise exceptions.NotFound()
            self._key_result = get_readable_key_result(self.request, kr_id)
        return self._key_result

    def get_tenant_queryset(self, queryset):
        return (
            queryset.filter(key_result=self.key_result())
            .select_related("acknowledgement")
            .order_by("-week", "-updated_at", "-id")
        )

    def create(self, request, *args, **kwargs):
        key_result = self.key_result()
        if not services.can_check_in(self.membership, key_result):
            # Before the body is read, as on the key result page (the service says the same).
            raise PermissionDenied(_("Only the key result's owner or their manager can check in."))
        data = self.input(CheckInWriteSerializer)
        checkin = services.checkin_record(
            org=self.org,
            by=self.membership,
            key_result=key_result,
            value=data["value"],
            confidence=data["confidence"],
            note=data["note"],
            need_help=data["need_help"],
            expected_revision=data.get("revision"),
        )
        code = status.HTTP_201_CREATED if checkin.revision == 1 else status.HTTP_200_OK
        return self.output(self.get_queryset().get(pk=checkin.pk), code)

    def get_conflict_data(self, current):
        return None if current is None else super().get_conflict_data(current)


# --- Comments -----------------------------------------------------------------------------------


class CommentSerializer(serializers.ModelSerializer):
    author_name = serializers.CharField(source="author.display_name", read_only=True)
    mentions = serializers.SerializerMethodField(help_text="Membership ids of those @mentioned.")

    class Meta:
        model = Comment
        fields = [
            "id", "author", "author_name", "body", "key_result", "objective", "checkin",
            "mentions", "created_at", "edited_at",
        ]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_mentions(self, comment):
        return sorted(m.pk for m in comment.mentions.all())


def comment_body(**kwargs) -> serializers.CharField:
    # Blank bodies reach the service, which answers "Write something first." as the pages do.
    return serializers.CharField(
        max_length=5000,
        allow_blank=True,
        error_messages={"max_length": COMMENT_TOO_LONG},
        **kwargs,
    )


class CommentCreateSerializer(serializers.Serializer):
    body = comment_body(help_text="`@name` mentions a colleague (email local part).")
    key_result = TenantPrimaryKeyRelatedField(
        KeyResult, scope=_readable_key_results, required=False, allow_null=True
    )
    objective = TenantPrimaryKeyRelatedField(
        Objective, scope=_readable_objectives, required=False, allow_null=True
    )
    checkin = TenantPrimaryKeyRelatedField(
        CheckIn, scope=_readable_checkins, required=False, allow_null=True
    )


class CommentUpdateSerializer(serializers.Serializer):
    body = comment_body()


class CommentFilterSerializer(serializers.Serializer):
    key_result = TenantPrimaryKeyRelatedField(
        KeyResult, scope=_readable_key_results, required=False, help_text="Key result id."
    )
    objective = TenantPrimaryKeyRelatedField(
        Objective, scope=_readable_objectives, required=False, help_text="Objective id."
    )
    checkin = TenantPrimaryKeyRelatedField(
        CheckIn, scope=_readable_checkins, required=False, help_text="Check-in id."
    )

    def validate(self, attrs):
        if sum(attrs.get(name) is not None for name in ("key_result", "objective", "checkin")) > 1:
            raise serializers.ValidationError(ONE_SUBJECT)
        return attrs


COMMENT_WRITE_ERRORS = error_responses(*WRITE_ERRORS)


@extend_schema_view(
    list=extend_schema(
        summary="List comments",
        description=(
            "Comments of one key result, objective or check-in (at most one filter), or "
            "without a filter every comment you may read, oldest first. Comments on private "
            "objectives you may not read are never listed."
        ),
        parameters=[CommentFilterSerializer],
        responses={200: CommentSerializer(many=True), **error_responses(*FILTERED_LIST_ERRORS)},
    ),
    retrieve=extend_schema(
        summary="A comment", responses={200: CommentSerializer, **error_responses(*READ_ERRORS)}
    ),
    create=extend_schema(
        summary="Comment on a key result, objective or check-in",
        description="Send `body` and exactly one of `key_result`, `objective`, `checkin`.",
        request=CommentCreateSerializer,
        responses={201: CommentSerializer, **COMMENT_WRITE_ERRORS},
    ),
    partial_update=extend_schema(
        summary="Edit your comment",
        request=CommentUpdateSerializer,
        responses={200: CommentSerializer, **COMMENT_WRITE_ERRORS},
    ),
    destroy=extend_schema(
        summary="Delete your comment",
        responses={204: OpenApiResponse(description="Deleted."), **COMMENT_WRITE_ERRORS},
    ),
)
class CommentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    """Comments with @mentions; their authors alone edit and delete them."""

    tenant_model = Comment
    serializer_class = CommentSerializer

    def get_tenant_queryset(self, queryset):
        queryset = _readable_comments(queryset, self)
        if self.action == "list":
            params = self.filter_params(CommentFilterSerializer)
            for name in ("key_result", "objective", "checkin"):
                if name in params:
                    queryset = queryset.filter(**{name: params[name]})
        return queryset.with_people().order_by("created_at", "id")

    def create(self, request, *args, **kwargs):
        data = self.input(CommentCreateSerializer)
        comment = services.comment_create(org=self.org, by=self.membership, **data)
        return self.output(self.get_queryset().get(pk=comment.pk), status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        comment = self.get_object()
        body = self.input(CommentUpdateSerializer)["body"]
        comment = services.comment_update(
            org=self.org, by=self.membership, comment=comment, body=body
        )
        return self.output(self.get_queryset().get(pk=comment.pk))

    def destroy(self, request, *args, **kwargs):
        comment = self.get_object()
        services.comment_delete(org=self.org, by=self.membership, comment=comment)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Kudos --------------------------------------------------------------------------------------


class KudosSerializer(serializers.ModelSerializer):
    giver_name = serializers.CharField(source="giver.display_name", read_only=True)
    receiver_name = serializers.CharField(source="receiver.display_name", read_only=True)
    key_result = serializers.SerializerMethodField(
        help_text="What it was for; null when a private objective you may not read."
    )
    objective = serializers.SerializerMethodField(
        help_text="What it was for; null when a private objective you may not read."
    )
    subject_hidden = serializers.SerializerMethodField(
        help_text="It was for a private objective (or its key result) you may not read."
    )

    class Meta:
        model = Kudos
        fields = [
            "id", "giver", "giver_name", "receiver", "receiver_name", "message",
            "key_result", "objective", "subject_hidden", "created_at",
        ]  # fmt: skip
        read_only_fields = fields

    def _hidden(self, kudos) -> bool:
        objective = kudos.objective or (kudos.key_result.objective if kudos.key_result else None)
        membership = self.context.get("membership")
        if objective is None or membership is None:
            return False
        return not permissions.can_read_objective(membership, objective)

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_key_result(self, kudos):
        return None if self._hidden(kudos) else kudos.key_result_id

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_objective(self, kudos):
        return None if self._hidden(kudos) else kudos.objective_id

    @extend_schema_field(serializers.BooleanField())
    def get_subject_hidden(self, kudos) -> bool:
        return self._hidden(kudos)


class KudosCreateSerializer(serializers.Serializer):
    receiver = TenantPrimaryKeyRelatedField(Membership, help_text="Membership id of a colleague.")
    # Blank messages reach the service: "Say what you are recognising."
    message = serializers.CharField(allow_blank=True)
    key_result = TenantPrimaryKeyRelatedField(
        KeyResult, scope=_readable_key_results, required=False, allow_null=True
    )
    objective = TenantPrimaryKeyRelatedField(
        Objective, scope=_readable_objectives, required=False, allow_null=True
    )


class KudosFilterSerializer(serializers.Serializer):
    receiver = TenantPrimaryKeyRelatedField(
        Membership, required=False, help_text="Membership id of the receiver."
    )
    giver = TenantPrimaryKeyRelatedField(
        Membership, required=False, help_text="Membership id of the giver."
    )


@extend_schema_view(
    list=extend_schema(
        summary="List kudos, newest first",
        parameters=[KudosFilterSerializer],
        responses={200: KudosSerializer(many=True), **error_responses(*FILTERED_LIST_ERRORS)},
    ),
    create=extend_schema(
        summary="Give kudos to a colleague",
        description="Optionally for a key result or objective you may read.",
        request=KudosCreateSerializer,
        responses={201: KudosSerializer, **error_responses(*WRITE_ERRORS)},
    ),
)
class KudosViewSet(mixins.ListModelMixin, TenantViewSet):
    """Recognition between colleagues, given through ``services.kudos_give``."""

    tenant_model = Kudos
    serializer_class = KudosSerializer

    def get_tenant_queryset(self, queryset):
        if self.action == "list":
            params = self.filter_params(KudosFilterSerializer)
            for name in ("receiver", "giver"):
                if name in params:
                    queryset = queryset.filter(**{name: params[name]})
        return queryset.select_related(
            "giver__user",
            "receiver__user",
            "objective__owner",
            "key_result__objective__owner",
        ).order_by("-created_at", "-id")

    def create(self, request, *args, **kwargs):
        data = self.input(KudosCreateSerializer)
        kudos = services.kudos_give(org=self.org, by=self.membership, **data)
        return self.output(self.get_queryset().get(pk=kudos.pk), status.HTTP_201_CREATED)


# --- URLs (included under /api/v1/<org_slug>/ by okrapp.api_urls) ------------------------------

router = SimpleRouter(use_regex_path=False)
router.register("key-results/<int:kr_id>/check-ins", CheckInViewSet, basename="api-checkin")
router.register("comments", CommentViewSet, basename="api-comment")
router.register("kudos", KudosViewSet, basename="api-kudos")
urlpatterns = router.urls
