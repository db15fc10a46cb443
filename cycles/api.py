"""REST API for cycles, objectives, key results and initiatives: ``/api/v1/<org_slug>/…``.

Thin on purpose: an input serializer checks the shape of the body, the same service as the
HTML pages applies the rules and the role table (``cycles.services``), an output serializer
renders the result. Reads start from ``okrapp.api.TenantViewSet`` (one organisation, its
members only). Private objectives the caller may not read appear in lists as a blanked item
(``{"id", "cycle", "level", "private": true}``); their detail, key results and initiatives
are 404 to them.
"""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db.models import Prefetch, Q
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import (
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from cycles import permissions, scoring, services
from cycles.models import (
    VALUE_FIELD,
    Alignment,
    Cycle,
    CyclePilotTeam,
    CycleState,
    Direction,
    Initiative,
    InitiativeStatus,
    KeyResult,
    KeyResultScore,
    Kind,
    Level,
    Objective,
    ObjectiveStatus,
    ObjectiveType,
    ReasonCode,
    Visibility,
)
from okrapp.api import (
    FILTERED_LIST_ERRORS,
    READ_ERRORS,
    WRITE_ERRORS,
    TenantPrimaryKeyRelatedField,
    TenantViewSet,
    conflict_response,
    error_responses,
)
from okrapp.models import Membership, Team
from okrapp.rows import MAX_ID, is_id

VERSION_REQUIRED = _("Send the version you read, so a newer change is not overwritten.")
PROGRESS = {"max_digits": 12, "decimal_places": 4}


# --- Shared fields ------------------------------------------------------------------------------

LEVEL_NAMES = {Level.COMPANY: "company", Level.TEAM: "team", Level.INDIVIDUAL: "individual"}
LEVEL_BY_NAME = {name: level for level, name in LEVEL_NAMES.items()}


class LevelField(serializers.ChoiceField):
    """Levels by name in the API (``company``, ``team``, ``individual``)."""

    def __init__(self, **kwargs):
        super().__init__(choices=list(LEVEL_BY_NAME), **kwargs)

    def to_representation(self, value):
        return LEVEL_NAMES[Level(value)]

    def to_internal_value(self, data):
        return LEVEL_BY_NAME[super().to_internal_value(data)]


def id_filter(help_text: str) -> serializers.IntegerField:
    return serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, help_text=help_text
    )


def team_filter(help_text: str = "Team id or team address (slug).") -> serializers.SlugField:
    """A team by id or address; an unknown one matches nothing (an empty list)."""
    return serializers.SlugField(required=False, max_length=60, help_text=help_text)


def objective_filters(params: dict, prefix: str = "") -> Q:
    """The ``cycle``, ``team`` and ``level`` filters of a list, on the objective reached
    through ``prefix`` (``""``: the objectives themselves)."""
    match = Q()
    if "cycle" in params:
        match &= Q(**{f"{prefix}cycle_id": params["cycle"]})
    if "team" in params:
        team = params["team"]
        by_team = Q(**{f"{prefix}team__slug": team})
        if is_id(team):
            by_team |= Q(**{f"{prefix}team_id": int(team)})
        match &= by_team
    if "level" in params:
        match &= Q(**{f"{prefix}level": params["level"]})
    return match


def value_field(**kwargs) -> serializers.DecimalField:
    return serializers.DecimalField(**VALUE_FIELD, required=False, allow_null=True, **kwargs)


def _visible_objectives(view):
    """Objectives whose content the caller may read (``permissions.can_read_objective``)."""
    queryset = Objective.objects.for_org(view.org)
    return queryset.visible_to(view.membership, view.membership.managed_team_ids)


def _expected_progress(cycle: Cycle, context: dict) -> Decimal | None:
    """Elapsed share of the cycle today; computed once per cycle per response."""
    if "today" not in context:
        return None
    cache = context.setdefault("_expected", {})
    if cycle.pk not in cache:
        cache[cycle.pk] = cycle.expected_progress(context["today"])
    return cache[cycle.pk]


def _progress_status(progress, cycle: Cycle, context: dict) -> str | None:
    """On track / at risk / behind by the calendar, as the pages say it."""
    expected = _expected_progress(cycle, context)
    track = None if expected is None else scoring.progress_status(progress, expected)
    return None if track is None else track.value


PROGRESS_STATUS_FIELD = serializers.ChoiceField(
    choices=[s.value for s in scoring.Status], allow_null=True
)
DECIMAL_OR_NULL = {"type": "string", "format": "decimal", "nullable": True}


class ProgressFieldsMixin(serializers.Serializer):
    """``expected_progress`` and ``progress_status`` of a row with ``progress`` in a cycle."""

    expected_progress = serializers.SerializerMethodField(
        help_text="Elapsed share of the cycle today (organisation's time zone), 0..1."
    )
    progress_status = serializers.SerializerMethodField(
        help_text="on_track, at_risk or behind against expected progress (by date, whatever "
        "the cycle's state: before it starts nothing is expected, so on_track); null "
        "without key results."
    )

    def cycle_of(self, obj) -> Cycle:
        raise NotImplementedError

    @extend_schema_field(DECIMAL_OR_NULL)
    def get_expected_progress(self, obj):
        expected = _expected_progress(self.cycle_of(obj), self.context)
        return None if expected is None else str(expected)

    @extend_schema_field(PROGRESS_STATUS_FIELD)
    def get_progress_status(self, obj):
        return _progress_status(obj.progress, self.cycle_of(obj), self.context)


# --- Cycles -------------------------------------------------------------------------------------


class CycleSerializer(serializers.ModelSerializer):
    pilot_teams = serializers.SerializerMethodField()
    next_states = serializers.ListField(
        child=serializers.ChoiceField(choices=CycleState.choices), read_only=True
    )
    expected_progress = serializers.SerializerMethodField(
        help_text="Elapsed share of the cycle today (organisation's time zone), 0..1."
    )

    class Meta:
        model = Cycle
        fields = [
            "id", "name", "start_date", "end_date", "state", "is_pilot", "pilot_teams",
            "scoring_deadline", "next_states", "expected_progress", "created_at",
        ]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_pilot_teams(self, cycle):
        return [link.team_id for link in cycle.pilot_links.all()]

    @extend_schema_field(DECIMAL_OR_NULL)
    def get_expected_progress(self, cycle):
        expected = _expected_progress(cycle, self.context)
        return None if expected is None else str(expected)


class CycleWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=60)
    start_date = serializers.DateField()
    end_date = serializers.DateField()
    is_pilot = serializers.BooleanField(required=False, default=False)
    pilot_teams = TenantPrimaryKeyRelatedField(
        Team, many=True, required=False, help_text="Team ids; a pilot cycle needs at least one."
    )
    scoring_deadline = serializers.DateField(required=False, allow_null=True)


class CycleTransitionSerializer(serializers.Serializer):
    to_state = serializers.ChoiceField(choices=CycleState.choices)


class CarryOverSerializer(serializers.Serializer):
    from_cycle = TenantPrimaryKeyRelatedField(
        Cycle, help_text="Copy the unfinished key results of this cycle into this one."
    )


class CarryOverResultSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    key_results = serializers.ListField(child=serializers.IntegerField())


class CycleFilterSerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=CycleState.choices, required=False)


CYCLE_WRITE_ERRORS = error_responses(*WRITE_ERRORS)


@extend_schema_view(
    list=extend_schema(
        summary="List cycles",
        parameters=[CycleFilterSerializer],
        responses={200: CycleSerializer(many=True), **error_responses(*FILTERED_LIST_ERRORS)},
    ),
    retrieve=extend_schema(
        summary="A cycle", responses={200: CycleSerializer, **error_responses(*READ_ERRORS)}
    ),
    create=extend_schema(
        summary="Create a cycle (admins)",
        request=CycleWriteSerializer,
        responses={201: CycleSerializer, **CYCLE_WRITE_ERRORS},
    ),
    update=extend_schema(
        summary="Replace a cycle's settings (admins)",
        request=CycleWriteSerializer,
        responses={200: CycleSerializer, **CYCLE_WRITE_ERRORS},
    ),
    partial_update=extend_schema(
        summary="Change some of a cycle's settings (admins)",
        request=CycleWriteSerializer,
        responses={200: CycleSerializer, **CYCLE_WRITE_ERRORS},
    ),
)
class CycleViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    """Cycles of the organisation. Everyone reads; admins create, edit and move them."""

    tenant_model = Cycle
    serializer_class = CycleSerializer

    def get_tenant_queryset(self, queryset):
        if self.action == "list":
            queryset = queryset.filter(**self.filter_params(CycleFilterSerializer))
        return queryset.prefetch_related(
            Prefetch("pilot_links", queryset=CyclePilotTeam.objects.for_org(self.org))
        ).order_by("-start_date", "-id")

    def create(self, request, *args, **kwargs):
        data = self.input(CycleWriteSerializer)
        cycle = services.cycle_create(org=self.org, by=self.membership, **data)
        return self.output(cycle, status.HTTP_201_CREATED)

    def update(self, request, *args, partial=False, **kwargs):
        cycle = self.get_object()
        current = {
            "name": cycle.name,
            "start_date": cycle.start_date,
            "end_date": cycle.end_date,
            "is_pilot": cycle.is_pilot,
            "pilot_teams": [link.team for link in cycle.pilot_links.all()],
            "scoring_deadline": cycle.scoring_deadline,
        }
        data = self.input(CycleWriteSerializer, partial=partial)
        cycle = services.cycle_update(
            org=self.org, by=self.membership, cycle=cycle, **(current | data)
        )
        return self.output(self._reread(cycle))

    def partial_update(self, request, *args, **kwargs):
        return self.update(request, *args, partial=True, **kwargs)

    def _reread(self, cycle: Cycle) -> Cycle:
        return self.get_queryset().get(pk=cycle.pk)

    @extend_schema(
        summary="Move a cycle to its next state (admins)",
        request=CycleTransitionSerializer,
        responses={200: CycleSerializer, **CYCLE_WRITE_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def transition(self, request, *args, **kwargs):
        cycle = self.get_object()
        to_state = self.input(CycleTransitionSerializer)["to_state"]
        try:
            cycle = services.cycle_transition(
                org=self.org, by=self.membership, cycle=cycle, to_state=to_state
            )
        except ValidationError as exc:
            if hasattr(exc, "error_dict"):
                raise
            raise ValidationError({"to_state": exc.messages}) from exc
        return self.output(self._reread(cycle))

    @extend_schema(
        summary="Carry unfinished key results over from another cycle (admins)",
        request=CarryOverSerializer,
        responses={200: CarryOverResultSerializer, **CYCLE_WRITE_ERRORS},
    )
    @action(detail=True, methods=["post"], url_path="carry-over")
    def carry_over(self, request, *args, **kwargs):
        cycle = self.get_object()
        from_cycle = self.input(CarryOverSerializer)["from_cycle"]
        created = services.cycle_carry_over(
            org=self.org, by=self.membership, from_cycle=from_cycle, to_cycle=cycle
        )
        body = {"count": len(created), "key_results": [kr.pk for kr in created]}
        return Response(CarryOverResultSerializer(body).data)


# --- Objectives ---------------------------------------------------------------------------------


class KeyResultSummarySerializer(serializers.ModelSerializer):
    progress_capped = serializers.DecimalField(**PROGRESS, source="capped_progress", read_only=True)

    class Meta:
        model = KeyResult
        fields = ["id", "title", "owner", "progress", "progress_capped"]
        read_only_fields = fields


class ObjectiveSerializer(ProgressFieldsMixin, serializers.ModelSerializer):
    """An objective with its key results (for those who may read it)."""

    level = LevelField(read_only=True)
    owner_name = serializers.CharField(source="owner.display_name", read_only=True)
    team_name = serializers.CharField(source="team.name", read_only=True, allow_null=True)
    aligned_to = serializers.SerializerMethodField(
        help_text="Ids of the higher-level objectives this one contributes to."
    )
    key_results = KeyResultSummarySerializer(many=True, read_only=True)
    progress_capped = serializers.DecimalField(
        **PROGRESS, source="capped_progress", read_only=True, allow_null=True
    )
    # Private contributors count in it (a number, nothing of their content); a private
    # objective the caller may not read is blanked whole, this figure with the rest.
    aligned_progress = serializers.DecimalField(
        **PROGRESS,
        read_only=True,
        allow_null=True,
        help_text="Mean progress of the objectives aligned to this one, at every level "
        "below it (each counted once; archived ones and ones without key results left "
        "out); null when none counts. Not part of progress, which comes from the "
        "objective's own key results.",
    )
    aligned_count = serializers.IntegerField(
        read_only=True, help_text="How many objectives aligned_progress is the mean of."
    )

    class Meta:
        model = Objective
        fields = [
            "id", "cycle", "title", "description", "why_it_matters", "mission_link", "level",
            "team", "team_name", "owner", "owner_name", "type", "visibility", "status",
            "review_status", "aligned_to", "carried_from", "key_results", "progress",
            "progress_capped", "expected_progress", "progress_status", "aligned_progress",
            "aligned_count", "version", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = fields

    def cycle_of(self, objective):
        return objective.cycle

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_aligned_to(self, objective):
        return sorted(link.parent_id for link in objective.up_links.all())

    def to_representation(self, objective):
        membership = self.context.get("membership")
        if membership is None or not permissions.can_read_objective(membership, objective):
            return PrivateObjectiveSerializer(objective, context=self.context).data
        return super().to_representation(objective)


class PrivateObjectiveSerializer(serializers.Serializer):
    """What everyone may know of a private objective they cannot read."""

    id = serializers.IntegerField(read_only=True)
    cycle = serializers.IntegerField(source="cycle_id", read_only=True)
    level = LevelField(read_only=True)
    private = serializers.SerializerMethodField()

    @extend_schema_field({"type": "boolean", "enum": [True]})
    def get_private(self, objective) -> bool:
        return True


OBJECTIVE_LIST_ITEM = PolymorphicProxySerializer(
    component_name="ObjectiveListItem",
    serializers=[ObjectiveSerializer, PrivateObjectiveSerializer],
    resource_type_field_name=None,
    many=True,
)


def _readable_objectives(queryset, view):
    return queryset.visible_to(view.membership, view.membership.managed_team_ids)


class ObjectiveFieldsSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    level = LevelField()
    owner = TenantPrimaryKeyRelatedField(
        Membership, required=False, help_text="Membership id; you when left out."
    )
    team = TenantPrimaryKeyRelatedField(
        Team, required=False, allow_null=True, help_text="Required for team objectives."
    )
    type = serializers.ChoiceField(choices=ObjectiveType.choices, required=False)
    visibility = serializers.ChoiceField(choices=Visibility.choices, required=False)
    status = serializers.ChoiceField(choices=ObjectiveStatus.choices, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    why_it_matters = serializers.CharField(required=False, allow_blank=True)
    mission_link = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="Company objectives say which part of the mission they serve.",
    )
    aligned_to = TenantPrimaryKeyRelatedField(
        Objective,
        scope=_readable_objectives,
        many=True,
        required=False,
        help_text="Ids of higher-level objectives of the same cycle.",
    )


class ObjectiveCreateSerializer(ObjectiveFieldsSerializer):
    cycle = TenantPrimaryKeyRelatedField(Cycle)


class ObjectiveUpdateSerializer(ObjectiveFieldsSerializer):
    version = serializers.IntegerField(
        min_value=1,
        max_value=MAX_ID,
        help_text="The version you read; a newer one on the server answers 409.",
    )

    def validate(self, attrs):
        if "version" not in attrs:  # also on PATCH: every edit names the version it read
            raise serializers.ValidationError({"version": [VERSION_REQUIRED]})
        return attrs


class ObjectiveFilterSerializer(serializers.Serializer):
    cycle = id_filter("Cycle id.")
    team = team_filter()
    owner = id_filter("Membership id of the owner.")
    level = LevelField(required=False)
    status = serializers.ChoiceField(choices=ObjectiveStatus.choices, required=False)


def _changed(instance, data: dict) -> dict:
    """The values in ``data`` that differ from ``instance`` (what the caller edits).

    Safe against races: the service compares the version under a row lock first.
    """
    return {name: value for name, value in data.items() if getattr(instance, name) != value}


OBJECTIVE_WRITE_ERRORS = error_responses(*WRITE_ERRORS)
OBJECTIVE_CONFLICT = conflict_response(ObjectiveSerializer, "ObjectiveConflict")


@extend_schema_view(
    list=extend_schema(
        summary="List objectives",
        description="Private objectives you may not read are listed blanked: id, cycle, level "
        'and `"private": true`.',
        parameters=[ObjectiveFilterSerializer],
        responses={200: OBJECTIVE_LIST_ITEM, **error_responses(*FILTERED_LIST_ERRORS)},
    ),
    retrieve=extend_schema(
        summary="An objective with its key results",
        responses={200: ObjectiveSerializer, **error_responses(*READ_ERRORS)},
    ),
    create=extend_schema(
        summary="Create an objective",
        request=ObjectiveCreateSerializer,
        responses={201: ObjectiveSerializer, **OBJECTIVE_WRITE_ERRORS},
    ),
    update=extend_schema(
        summary="Edit an objective",
        description="Fields left out keep their values; `version` is required.",
        request=ObjectiveUpdateSerializer,
        responses={200: ObjectiveSerializer, **OBJECTIVE_WRITE_ERRORS, **OBJECTIVE_CONFLICT},
    ),
    partial_update=extend_schema(
        summary="Edit some fields of an objective",
        description="`version` is required.",
        request=ObjectiveUpdateSerializer,
        responses={200: ObjectiveSerializer, **OBJECTIVE_WRITE_ERRORS, **OBJECTIVE_CONFLICT},
    ),
    destroy=extend_schema(
        summary="Delete an objective (draft or planning cycles only)",
        responses={204: OpenApiResponse(description="Deleted."), **OBJECTIVE_WRITE_ERRORS},
    ),
)
class ObjectiveViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, TenantViewSet
):
    """Objectives of every level. Writes follow the role table (``cycles.permissions``)."""

    tenant_model = Objective
    serializer_class = ObjectiveSerializer

    def get_tenant_queryset(self, queryset):
        if self.action == "list":
            queryset = self._filter(queryset, self.filter_params(ObjectiveFilterSerializer))
        else:
            queryset = _readable_objectives(queryset, self)
        return (
            queryset.with_people()
            .prefetch_related(
                Prefetch(
                    "key_results",
                    queryset=KeyResult.objects.for_org(self.org).order_by("position", "id"),
                ),
                Prefetch("up_links", queryset=Alignment.objects.for_org(self.org)),
            )
            .order_by("-cycle__start_date", "cycle_id", "level", "title", "id")
        )

    @staticmethod
    def _filter(queryset, params: dict):
        queryset = queryset.filter(objective_filters(params))
        if "owner" in params:
            queryset = queryset.filter(owner_id=params["owner"])
        if "status" in params:
            queryset = queryset.filter(status=params["status"])
        return queryset

    def create(self, request, *args, **kwargs):
        data = self.input(ObjectiveCreateSerializer)
        data.setdefault("owner", self.membership)
        objective = services.objective_create(org=self.org, by=self.membership, **data)
        return self.output(self._reread(objective), status.HTTP_201_CREATED)

    def update(self, request, *args, partial=False, **kwargs):
        objective = self.get_object()
        data = self.input(ObjectiveUpdateSerializer, partial=partial)
        version = data.pop("version")
        aligned_to = data.pop("aligned_to", None)
        objective = services.objective_update(
            org=self.org,
            by=self.membership,
            objective=objective,
            expected_version=version,
            aligned_to=aligned_to,
            **_changed(objective, data),
        )
        return self.output(self._reread(objective))

    def partial_update(self, request, *args, **kwargs):
        return self.update(request, *args, partial=True, **kwargs)

    def perform_destroy(self, objective):
        services.objective_delete(org=self.org, by=self.membership, objective=objective)

    def _reread(self, objective: Objective) -> Objective:
        return self.get_queryset().get(pk=objective.pk)


# --- Key results --------------------------------------------------------------------------------


class KeyResultSerializer(ProgressFieldsMixin, serializers.ModelSerializer):
    """A key result; ``progress`` is raw (may leave 0..1), ``progress_capped`` is shown."""

    cycle = serializers.IntegerField(source="objective.cycle_id", read_only=True)
    owner_name = serializers.CharField(source="owner.display_name", read_only=True)
    progress_capped = serializers.DecimalField(**PROGRESS, source="capped_progress", read_only=True)

    class Meta:
        model = KeyResult
        fields = [
            "id", "objective", "cycle", "title", "owner", "owner_name", "kind", "currency",
            "direction", "start_value", "target_value", "lower_bound", "upper_bound",
            "current_value", "unit", "weight", "confidence", "progress", "progress_capped",
            "expected_progress", "progress_status", "carried_from", "position", "version",
            "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = fields

    def cycle_of(self, key_result):
        return key_result.objective.cycle


class KeyResultFieldsSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    owner = TenantPrimaryKeyRelatedField(
        Membership, required=False, help_text="Membership id; you when left out."
    )
    kind = serializers.ChoiceField(choices=Kind.choices, required=False)
    direction = serializers.ChoiceField(choices=Direction.choices, required=False)
    start_value = value_field()
    target_value = value_field()
    lower_bound = value_field(help_text="For stay_between.")
    upper_bound = value_field(help_text="For stay_between.")
    current_value = value_field()
    unit = serializers.CharField(max_length=30, required=False, allow_blank=True)
    currency = serializers.CharField(
        max_length=3, required=False, allow_blank=True, help_text="ISO 4217, for currency KRs."
    )
    weight = serializers.DecimalField(
        max_digits=6, decimal_places=2, min_value=Decimal("0.01"), required=False
    )
    confidence = serializers.IntegerField(min_value=1, max_value=10, required=False)


def _readable_key_results(queryset, view):
    if view.membership.is_admin:
        return queryset
    return queryset.filter(objective__in=_visible_objectives(view))


class KeyResultCreateSerializer(KeyResultFieldsSerializer):
    objective = TenantPrimaryKeyRelatedField(Objective, scope=_readable_objectives)


class KeyResultUpdateSerializer(KeyResultFieldsSerializer):
    version = serializers.IntegerField(
        min_value=1,
        max_value=MAX_ID,
        help_text="The version you read; a newer one on the server answers 409.",
    )

    def validate(self, attrs):
        if "version" not in attrs:
            raise serializers.ValidationError({"version": [VERSION_REQUIRED]})
        return attrs


class KeyResultFilterSerializer(serializers.Serializer):
    cycle = id_filter("Cycle id.")
    objective = id_filter("Objective id.")
    team = team_filter("Team id or team address (slug) of the key result's objective.")
    owner = id_filter("Membership id of the key result's owner.")
    level = LevelField(required=False, help_text="Level of the key result's objective.")


KR_WRITE_ERRORS = error_responses(*WRITE_ERRORS)
KR_CONFLICT = conflict_response(KeyResultSerializer, "KeyResultConflict")


@extend_schema_view(
    list=extend_schema(
        summary="List key results",
        description="Key results of private objectives you may not read are left out.",
        parameters=[KeyResultFilterSerializer],
        responses={200: KeyResultSerializer(many=True), **error_responses(*FILTERED_LIST_ERRORS)},
    ),
    retrieve=extend_schema(
        summary="A key result",
        responses={200: KeyResultSerializer, **error_responses(*READ_ERRORS)},
    ),
    create=extend_schema(
        summary="Add a key result to an objective",
        request=KeyResultCreateSerializer,
        responses={201: KeyResultSerializer, **KR_WRITE_ERRORS},
    ),
    update=extend_schema(
        summary="Edit a key result",
        description="Fields left out keep their values; `version` is required.",
        request=KeyResultUpdateSerializer,
        responses={200: KeyResultSerializer, **KR_WRITE_ERRORS, **KR_CONFLICT},
    ),
    partial_update=extend_schema(
        summary="Edit some fields of a key result",
        description="`version` is required.",
        request=KeyResultUpdateSerializer,
        responses={200: KeyResultSerializer, **KR_WRITE_ERRORS, **KR_CONFLICT},
    ),
    destroy=extend_schema(
        summary="Delete a key result",
        responses={204: OpenApiResponse(description="Deleted."), **KR_WRITE_ERRORS},
    ),
)
class KeyResultViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, TenantViewSet
):
    """Key results; their owners and whoever may edit the objective write them."""

    tenant_model = KeyResult
    serializer_class = KeyResultSerializer

    def get_tenant_queryset(self, queryset):
        queryset = _readable_key_results(queryset, self)
        if self.action != "list":
            return queryset.with_objective()
        params = self.filter_params(KeyResultFilterSerializer)
        queryset = queryset.filter(objective_filters(params, "objective__"))
        if "objective" in params:
            queryset = queryset.filter(objective_id=params["objective"])
        if "owner" in params:
            queryset = queryset.filter(owner_id=params["owner"])
        # The page of key results first, then its objectives (with cycle and team) and owners
        # (two queries). Joined instead, to every key result of the organisation before the
        # sort and the page's LIMIT, each join filtered again by row-level security,
        # PostgreSQL misjudged the row counts and chose nested loops: 72 ms on the scale
        # data as the application role, 28 ms this way.
        return queryset.order_by("objective_id", "position", "id").prefetch_related(
            Prefetch(
                "objective", Objective.objects.for_org(self.org).select_related("cycle", "team")
            ),
            Prefetch("owner", Membership.objects.for_org(self.org).select_related("user")),
        )

    def create(self, request, *args, **kwargs):
        data = self.input(KeyResultCreateSerializer)
        data.setdefault("owner", self.membership)
        key_result = services.key_result_create(org=self.org, by=self.membership, **data)
        return self.output(self._reread(key_result), status.HTTP_201_CREATED)

    def update(self, request, *args, partial=False, **kwargs):
        key_result = self.get_object()
        data = self.input(KeyResultUpdateSerializer, partial=partial)
        version = data.pop("version")
        key_result = services.key_result_update(
            org=self.org,
            by=self.membership,
            key_result=key_result,
            expected_version=version,
            **data,
        )
        return self.output(self._reread(key_result))

    def partial_update(self, request, *args, **kwargs):
        return self.update(request, *args, partial=True, **kwargs)

    def perform_destroy(self, key_result):
        services.key_result_delete(org=self.org, by=self.membership, key_result=key_result)

    def _reread(self, key_result: KeyResult) -> KeyResult:
        return self.get_queryset().get(pk=key_result.pk)


# --- Initiatives --------------------------------------------------------------------------------


class InitiativeSerializer(serializers.ModelSerializer):
    owner_name = serializers.CharField(source="owner.display_name", read_only=True, allow_null=True)
    # A string, not format "uri": it is empty when there is no backlog item.
    backlog_url = serializers.CharField(read_only=True, help_text="Backlog item URL, or empty.")

    class Meta:
        model = Initiative
        fields = [
            "id", "key_result", "title", "owner", "owner_name", "status", "backlog_url",
            "created_at",
        ]  # fmt: skip
        read_only_fields = fields


class InitiativeFieldsSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    status = serializers.ChoiceField(choices=InitiativeStatus.choices, required=False)
    owner = TenantPrimaryKeyRelatedField(Membership, required=False, allow_null=True)
    backlog_url = serializers.URLField(
        max_length=500, required=False, allow_blank=True, help_text="The team's backlog item."
    )


class InitiativeCreateSerializer(InitiativeFieldsSerializer):
    key_result = TenantPrimaryKeyRelatedField(KeyResult, scope=_readable_key_results)


class InitiativeFilterSerializer(serializers.Serializer):
    cycle = id_filter("Cycle id.")
    key_result = id_filter("Key result id.")
    team = team_filter("Team id or team address (slug) of the key result's objective.")
    owner = id_filter("Membership id of the initiative's owner.")
    level = LevelField(required=False, help_text="Level of the key result's objective.")
    status = serializers.ChoiceField(choices=InitiativeStatus.choices, required=False)


INITIATIVE_WRITE_ERRORS = error_responses(*WRITE_ERRORS)


@extend_schema_view(
    list=extend_schema(
        summary="List initiatives",
        parameters=[InitiativeFilterSerializer],
        responses={200: InitiativeSerializer(many=True), **error_responses(*FILTERED_LIST_ERRORS)},
    ),
    retrieve=extend_schema(
        summary="An initiative",
        responses={200: InitiativeSerializer, **error_responses(*READ_ERRORS)},
    ),
    create=extend_schema(
        summary="Add an initiative to a key result",
        request=InitiativeCreateSerializer,
        responses={201: InitiativeSerializer, **INITIATIVE_WRITE_ERRORS},
    ),
    update=extend_schema(
        summary="Edit an initiative",
        description="Fields left out keep their values.",
        request=InitiativeFieldsSerializer,
        responses={200: InitiativeSerializer, **INITIATIVE_WRITE_ERRORS},
    ),
    partial_update=extend_schema(
        summary="Edit some fields of an initiative",
        request=InitiativeFieldsSerializer,
        responses={200: InitiativeSerializer, **INITIATIVE_WRITE_ERRORS},
    ),
    destroy=extend_schema(
        summary="Delete an initiative",
        responses={204: OpenApiResponse(description="Deleted."), **INITIATIVE_WRITE_ERRORS},
    ),
)
class InitiativeViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, TenantViewSet
):
    """Project work under key results, written by whoever may edit the key result."""

    tenant_model = Initiative
    serializer_class = InitiativeSerializer

    def get_tenant_queryset(self, queryset):
        if not self.membership.is_admin:
            queryset = queryset.filter(key_result__objective__in=_visible_objectives(self))
        if self.action == "list":
            params = self.filter_params(InitiativeFilterSerializer)
            queryset = queryset.filter(objective_filters(params, "key_result__objective__"))
            if "owner" in params:
                queryset = queryset.filter(owner_id=params["owner"])
            if "key_result" in params:
                queryset = queryset.filter(key_result_id=params["key_result"])
            if "status" in params:
                queryset = queryset.filter(status=params["status"])
        return queryset.select_related("owner__user").order_by("created_at", "id")

    def create(self, request, *args, **kwargs):
        data = self.input(InitiativeCreateSerializer)
        initiative = services.initiative_save(org=self.org, by=self.membership, **data)
        return self.output(initiative, status.HTTP_201_CREATED)

    def update(self, request, *args, partial=False, **kwargs):
        initiative = self.get_object()
        current = {
            "title": initiative.title,
            "status": initiative.status,
            "owner": initiative.owner,
            "backlog_url": initiative.backlog_url,
        }
        data = self.input(InitiativeFieldsSerializer, partial=partial)
        initiative = services.initiative_save(
            org=self.org,
            by=self.membership,
            key_result=initiative.key_result,
            initiative=initiative,
            **(current | data),
        )
        return self.output(initiative)

    def partial_update(self, request, *args, **kwargs):
        return self.update(request, *args, partial=True, **kwargs)

    def perform_destroy(self, initiative):
        services.initiative_delete(org=self.org, by=self.membership, initiative=initiative)


# --- End-of-quarter scores ----------------------------------------------------------------------


class ScoreSerializer(serializers.ModelSerializer):
    """An owner's end-of-quarter score of a key result, with the reflection and the manager's
    comment; ``band`` is red (0.0-0.3), yellow (0.4-0.6) or green (0.7-1.0)."""

    cycle = serializers.IntegerField(source="key_result.objective.cycle_id", read_only=True)
    owner = serializers.IntegerField(source="key_result.owner_id", read_only=True)
    band = serializers.ChoiceField(choices=[b.value for b in scoring.ScoreBand], read_only=True)
    # Empty when no reason was given; the schema must say so (an enum alone would not).
    reason = serializers.ChoiceField(choices=ReasonCode.choices, allow_blank=True, read_only=True)
    met_expectation = serializers.SerializerMethodField(
        help_text="Reaches 1.0 (committed) or about 0.7 (aspirational)."
    )

    class Meta:
        model = KeyResultScore
        fields = [
            "id", "key_result", "cycle", "owner", "score", "suggested", "band",
            "met_expectation", "what_worked", "what_to_change", "reason", "scored_by",
            "scored_at", "manager_comment", "reviewed_by", "reviewed_at",
        ]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(serializers.BooleanField())
    def get_met_expectation(self, record) -> bool:
        return scoring.met_expectation(record.score, record.key_result.objective.is_committed)


class ScoreFieldsSerializer(serializers.Serializer):
    score = serializers.DecimalField(
        max_digits=4, decimal_places=2, help_text="0.0 to 1.0, one decimal."
    )
    what_worked = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    what_to_change = serializers.CharField(
        max_length=2000,
        required=False,
        allow_blank=True,
        help_text="Required with `reason` when a committed key result is scored below 1.0.",
    )
    reason = serializers.ChoiceField(choices=ReasonCode.choices, required=False, allow_blank=True)


class ScoreCreateSerializer(ScoreFieldsSerializer):
    key_result = TenantPrimaryKeyRelatedField(KeyResult, scope=_readable_key_results)


class ScoreFilterSerializer(serializers.Serializer):
    cycle = id_filter("Cycle id.")
    owner = id_filter("Membership id of the key result's owner.")
    key_result = id_filter("Key result id.")


SCORE_WRITE_ERRORS = error_responses(*WRITE_ERRORS)


@extend_schema_view(
    list=extend_schema(
        summary="List end-of-quarter scores",
        description="Scores of key results of private objectives you may not read are left out.",
        parameters=[ScoreFilterSerializer],
        responses={200: ScoreSerializer(many=True), **error_responses(*FILTERED_LIST_ERRORS)},
    ),
    retrieve=extend_schema(
        summary="An end-of-quarter score",
        responses={200: ScoreSerializer, **error_responses(*READ_ERRORS)},
    ),
    create=extend_schema(
        summary="Score a key result",
        description=(
            "Only while its cycle is in scoring, by its owner (or an admin). Scoring a key "
            "result again replaces its score (200)."
        ),
        request=ScoreCreateSerializer,
        responses={201: ScoreSerializer, 200: ScoreSerializer, **SCORE_WRITE_ERRORS},
    ),
    update=extend_schema(
        summary="Change a score",
        description="Fields left out keep their values.",
        request=ScoreFieldsSerializer,
        responses={200: ScoreSerializer, **SCORE_WRITE_ERRORS},
    ),
    partial_update=extend_schema(
        summary="Change some fields of a score",
        request=ScoreFieldsSerializer,
        responses={200: ScoreSerializer, **SCORE_WRITE_ERRORS},
    ),
)
class ScoreViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    """End-of-quarter self-scores, written through ``services.score_submit``."""

    tenant_model = KeyResultScore
    serializer_class = ScoreSerializer

    def get_tenant_queryset(self, queryset):
        if not self.membership.is_admin:
            queryset = queryset.filter(key_result__objective__in=_visible_objectives(self))
        if self.action == "list":
            params = self.filter_params(ScoreFilterSerializer)
            if "cycle" in params:
                queryset = queryset.filter(key_result__objective__cycle_id=params["cycle"])
            if "owner" in params:
                queryset = queryset.filter(key_result__owner_id=params["owner"])
            if "key_result" in params:
                queryset = queryset.filter(key_result_id=params["key_result"])
        return queryset.select_related("key_result__objective").order_by("key_result_id")

    def create(self, request, *args, **kwargs):
        data = self.input(ScoreCreateSerializer)
        replaced = (
            KeyResultScore.objects.for_org(self.org).filter(key_result=data["key_result"]).exists()
        )
        record = services.score_submit(org=self.org, by=self.membership, **data)
        code = status.HTTP_200_OK if replaced else status.HTTP_201_CREATED
        return self.output(self.get_queryset().get(pk=record.pk), code)

    def update(self, request, *args, partial=False, **kwargs):
        record = self.get_object()
        current = {
            "score": record.score,
            "what_worked": record.what_worked,
            "what_to_change": record.what_to_change,
            "reason": record.reason,
        }
        data = self.input(ScoreFieldsSerializer, partial=partial)
        record = services.score_submit(
            org=self.org, by=self.membership, key_result=record.key_result, **(current | data)
        )
        return self.output(self.get_queryset().get(pk=record.pk))

    def partial_update(self, request, *args, **kwargs):
        return self.update(request, *args, partial=True, **kwargs)


# --- URLs (included under /api/v1/<org_slug>/ by okrapp.api_urls) ------------------------------

router = SimpleRouter(use_regex_path=False)
router.register("cycles", CycleViewSet, basename="api-cycle")
router.register("objectives", ObjectiveViewSet, basename="api-objective")
router.register("key-results", KeyResultViewSet, basename="api-key-result")
router.register("initiatives", InitiativeViewSet, basename="api-initiative")
router.register("scores", ScoreViewSet, basename="api-score")
urlpatterns = router.urls
