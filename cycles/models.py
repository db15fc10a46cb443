"""What an organisation plans and scores: cycles, objectives, key results, initiatives.

Progress figures come from ``cycles.scoring`` (pure math); this module stores them and
reads them in sets. Writes go through ``cycles.services``.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cycles import scoring
from okrapp.history import HistoricalRecords
from okrapp.models import Membership, Team
from okrapp.tenancy import TenantModel, TenantQuerySet

VALUE_FIELD = {"max_digits": 20, "decimal_places": 4}
PROGRESS_FIELD = {"max_digits": 12, "decimal_places": 4}


# --- Cycles --------------------------------------------------------------------------------------


class CycleState(models.TextChoices):
    DRAFT = "draft", _("Draft")
    PLANNING = "planning", _("Planning")
    ACTIVE = "active", _("Active")
    SCORING = "scoring", _("Scoring")
    CLOSED = "closed", _("Closed")


# Allowed moves. Going back is allowed before a cycle closes (planning → draft to rework the
# dates, scoring → active to reopen check-ins); closed is final: values are frozen.
CYCLE_TRANSITIONS: dict[str, tuple[str, ...]] = {
    CycleState.DRAFT: (CycleState.PLANNING,),
    CycleState.PLANNING: (CycleState.ACTIVE, CycleState.DRAFT),
    CycleState.ACTIVE: (CycleState.SCORING,),
    CycleState.SCORING: (CycleState.CLOSED, CycleState.ACTIVE),
    CycleState.CLOSED: (),
}


class CycleQuerySet(TenantQuerySet):
    def active(self):
        return self.filter(state=CycleState.ACTIVE)

    def past_scoring_deadline(self, org, now: datetime):
        """In scoring, with a scoring deadline whose day has ended on ``org``'s clock."""
        today = timezone.localtime(now, org.zoneinfo).date()
        return self.filter(state=CycleState.SCORING, scoring_deadline__lt=today)

    def current_first(self):
        """Active first, then planning, scoring, draft; newest first within each."""
        order = models.Case(
            models.When(state=CycleState.ACTIVE, then=0),
            models.When(state=CycleState.PLANNING, then=1),
            models.When(state=CycleState.SCORING, then=2),
            models.When(state=CycleState.DRAFT, then=3),
            default=4,
        )
        return self.order_by(order, "-start_date")


class Cycle(TenantModel):
    """A planning period, usually a fiscal quarter."""

    name = models.CharField(_("name"), max_length=60)
    start_date = models.DateField(_("starts"))
    end_date = models.DateField(_("ends"))
    state = models.CharField(
        _("state"), max_length=10, choices=CycleState.choices, default=CycleState.DRAFT
    )
    is_pilot = models.BooleanField(
        _("pilot"),
        default=False,
        help_text=_(
            "Run this cycle with chosen teams only. Everyone sees the OKRs; only pilot "
            "teams get reminders and scoring requests."
        ),
    )
    pilot_teams = models.ManyToManyField(
        Team, through="CyclePilotTeam", related_name="+", blank=True, verbose_name=_("pilot teams")
    )
    scoring_deadline = models.DateField(_("scoring deadline"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = CycleQuerySet.as_manager()

    class Meta(TenantModel.Meta):
        verbose_name = _("cycle")
        verbose_name_plural = _("cycles")
        ordering = ["-start_date"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "id"], name="cycle_org_id_unique"),
            models.UniqueConstraint(fields=["organization", "name"], name="cycle_org_name_unique"),
            models.UniqueConstraint(
                fields=["organization"],
                condition=Q(state="active"),
                name="cycle_one_active_per_org",
            ),
            models.CheckConstraint(
                condition=Q(end_date__gte=models.F("start_date")), name="cycle_end_after_start"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse(
            "cycle_detail", kwargs={"org_slug": self.organization.slug, "cycle_id": self.pk}
        )

    @property
    def is_frozen(self) -> bool:
        return self.state == CycleState.CLOSED

    @property
    def next_states(self) -> tuple[str, ...]:
        return CYCLE_TRANSITIONS[self.state]

    def expected_progress(self, on: date) -> Decimal:
        return scoring.expected_progress(start=self.start_date, end=self.end_date, on=on)

    def today(self) -> date:
        """Today in the organisation's time zone."""
        return timezone.localtime(timezone.now(), self.organization.zoneinfo).date()


class CyclePilotTeam(TenantModel):
    cycle = models.ForeignKey(Cycle, on_delete=models.CASCADE, related_name="pilot_links")
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")

    class Meta(TenantModel.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "cycle", "team"], name="cyclepilotteam_unique"
            ),
        ]


class CycleTransition(TenantModel):
    """Who moved a cycle from one state to the next, and when.

    ``by`` is empty when the system made the move (``by_deadline``: scoring closed at the
    scoring deadline) or when the person who made it has been removed since.
    """

    cycle = models.ForeignKey(Cycle, on_delete=models.CASCADE, related_name="transitions")
    from_state = models.CharField(max_length=10, choices=CycleState.choices)
    to_state = models.CharField(max_length=10, choices=CycleState.choices)
    by = models.ForeignKey(Membership, null=True, on_delete=models.SET_NULL, related_name="+")
    by_deadline = models.BooleanField(default=False)
    at = models.DateTimeField(default=timezone.now)

    class Meta(TenantModel.Meta):
        ordering = ["-at"]


# --- Objectives ----------------------------------------------------------------------------------


class Level(models.IntegerChoices):
    """Company ← team ← individual. A lower number is a higher level."""

    COMPANY = 1, _("Company")
    TEAM = 2, _("Team")
    INDIVIDUAL = 3, _("Individual")


class ObjectiveType(models.TextChoices):
    COMMITTED = "committed", _("Committed")
    ASPIRATIONAL = "aspirational", _("Aspirational")


class Visibility(models.TextChoices):
    PUBLIC = "public", _("Public")
    PRIVATE = "private", _("Private")


class ObjectiveStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    PUBLISHED = "published", _("Published")
    ARCHIVED = "archived", _("Archived")


class ReviewStatus(models.TextChoices):
    NOT_REVIEWED = "not_reviewed", _("Not reviewed")
    APPROVED = "approved", _("Approved")
    CHANGES_REQUESTED = "changes_requested", _("Changes requested")


class ObjectiveQuerySet(TenantQuerySet):
    def in_cycle(self, cycle: Cycle):
        return self.filter(cycle=cycle)

    def current(self):
        return self.exclude(status=ObjectiveStatus.ARCHIVED)

    def with_people(self):
        return self.select_related("owner__user", "team", "cycle")

    def visible_to(self, membership: Membership, managed_team_ids: set[int]):
        """Rows whose content ``membership`` may read (private ones only for the few):
        ``permissions.can_read_objective`` in SQL."""
        from cycles.permissions import readable_objectives_q

        readable = readable_objectives_q(membership, managed_team_ids=managed_team_ids)
        return self if readable is None else self.filter(readable)


class Objective(TenantModel):
    cycle = models.ForeignKey(Cycle, on_delete=models.CASCADE, related_name="objectives")
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    why_it_matters = models.TextField(_("why it matters"), blank=True)
    mission_link = models.TextField(
        _("part of the mission it serves"),
        blank=True,
        help_text=_("Company objectives say which part of the mission they serve."),
    )
    level = models.PositiveSmallIntegerField(_("level"), choices=Level.choices)
    team = models.ForeignKey(
        Team,
        verbose_name=_("team"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="objectives",
    )
    owner = models.ForeignKey(
        Membership, verbose_name=_("owner"), on_delete=models.PROTECT, related_name="objectives"
    )
    type = models.CharField(
        _("type"), max_length=12, choices=ObjectiveType.choices, default=ObjectiveType.COMMITTED
    )
    visibility = models.CharField(
        _("visibility"), max_length=8, choices=Visibility.choices, default=Visibility.PUBLIC
    )
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=ObjectiveStatus.choices,
        default=ObjectiveStatus.DRAFT,
    )
    review_status = models.CharField(
        _("review"),
        max_length=20,
        choices=ReviewStatus.choices,
        default=ReviewStatus.NOT_REVIEWED,
    )
    aligned_to = models.ManyToManyField(
        "self",
        through="Alignment",
        symmetrical=False,
        related_name="contributors",
        blank=True,
        verbose_name=_("contributes to"),
    )
    carried_from = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="carried_to",
        verbose_name=_("carried over from"),
    )
    # Weighted mean of the KRs' capped progress (cycles.scoring), kept current by services.
    progress = models.DecimalField(null=True, blank=True, **PROGRESS_FIELD)
    # Another figure, not this objective's own: how the objectives aligned to it are doing,
    # at every level below it (cycles.scoring.aligned_progress): the mean of their stored
    # progress, None when none counts. ``aligned_count`` is how many count and
    # ``aligned_total`` their progress summed in ten-thousandths (progress has 4 places), so
    # that a check-in moves the figure by an exact increment on every database. All three
    # kept current by cycles.services.objective_rollup_ancestors.
    aligned_progress = models.DecimalField(
        _("aligned progress"), null=True, blank=True, editable=False, **PROGRESS_FIELD
    )
    aligned_total = models.BigIntegerField(default=0, editable=False)
    aligned_count = models.PositiveIntegerField(default=0, editable=False)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords(
        excluded_fields=[
            "progress",
            "aligned_progress",
            "aligned_total",
            "aligned_count",
            "updated_at",
        ]
    )
    objects = ObjectiveQuerySet.as_manager()

    class Meta(TenantModel.Meta):
        verbose_name = _("objective")
        verbose_name_plural = _("objectives")
        ordering = ["level", "title"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "id"], name="objective_org_id_unique"),
            models.CheckConstraint(
                condition=~Q(level=Level.TEAM) | Q(team__isnull=False),
                name="objective_team_level_has_team",
            ),
        ]
        indexes = [models.Index(fields=["organization", "cycle", "level"])]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse(
            "objective_detail", kwargs={"org_slug": self.organization.slug, "objective_id": self.pk}
        )

    @property
    def is_private(self) -> bool:
        return self.visibility == Visibility.PRIVATE

    @property
    def is_committed(self) -> bool:
        return self.type == ObjectiveType.COMMITTED

    @property
    def capped_progress(self) -> Decimal | None:
        return None if self.progress is None else scoring.capped(self.progress)

    @property
    def aligned_contribution(self) -> tuple[int, int]:
        """What this objective adds to ``aligned_total`` and ``aligned_count`` of each
        objective it contributes to: its progress in ten-thousandths and 1, or nothing when
        it is archived or has no key results (``scoring.aligned_progress``)."""
        if self.progress is None or self.status == ObjectiveStatus.ARCHIVED:
            return (0, 0)
        return (int(self.progress.scaleb(4).to_integral_value(ROUND_HALF_UP)), 1)


class Alignment(TenantModel):
    """``child`` contributes to ``parent`` (a higher-level objective of the same cycle)."""

    child = models.ForeignKey(Objective, on_delete=models.CASCADE, related_name="up_links")
    parent = models.ForeignKey(Objective, on_delete=models.CASCADE, related_name="down_links")

    # Links added and removed, for the objective's change history ("contributes to").
    history = HistoricalRecords()

    class Meta(TenantModel.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "child", "parent"], name="alignment_unique"
            ),
            models.CheckConstraint(
                condition=~Q(child=models.F("parent")), name="alignment_not_self"
            ),
        ]


# --- Key results ------------------------------------------------------------------------------


class Kind(models.TextChoices):
    NUMBER = scoring.Kind.NUMBER.value, _("Number")
    PERCENT = scoring.Kind.PERCENT.value, _("Percent")
    CURRENCY = scoring.Kind.CURRENCY.value, _("Currency")
    MILESTONE = scoring.Kind.MILESTONE.value, _("Milestone")


class Direction(models.TextChoices):
    INCREASE = scoring.Direction.INCREASE.value, _("Increase to")
    DECREASE = scoring.Direction.DECREASE.value, _("Decrease to")
    STAY_AT_LEAST = scoring.Direction.STAY_AT_LEAST.value, _("Stay at least")
    STAY_AT_MOST = scoring.Direction.STAY_AT_MOST.value, _("Stay at most")
    STAY_BETWEEN = scoring.Direction.STAY_BETWEEN.value, _("Stay between")


class KeyResultQuerySet(TenantQuerySet):
    def in_cycle(self, cycle: Cycle):
        return self.filter(objective__cycle=cycle)

    def with_objective(self):
        return self.select_related("objective__cycle", "objective__team", "owner__user")


class KeyResult(TenantModel):
    objective = models.ForeignKey(Objective, on_delete=models.CASCADE, related_name="key_results")
    title = models.CharField(_("title"), max_length=200)
    owner = models.ForeignKey(
        Membership, verbose_name=_("owner"), on_delete=models.PROTECT, related_name="key_results"
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default="number")
    currency = models.CharField(
        _("currency"), max_length=3, blank=True, help_text=_("ISO 4217 code, e.g. USD, TWD.")
    )
    direction = models.CharField(
        _("direction"), max_length=14, choices=Direction.choices, default="increase"
    )
    start_value = models.DecimalField(_("start"), null=True, blank=True, **VALUE_FIELD)
    target_value = models.DecimalField(_("target"), null=True, blank=True, **VALUE_FIELD)
    lower_bound = models.DecimalField(_("lower bound"), null=True, blank=True, **VALUE_FIELD)
    upper_bound = models.DecimalField(_("upper bound"), null=True, blank=True, **VALUE_FIELD)
    current_value = models.DecimalField(_("current"), null=True, blank=True, **VALUE_FIELD)
    unit = models.CharField(_("unit"), max_length=30, blank=True)
    weight = models.DecimalField(
        _("weight"),
        max_digits=6,
        decimal_places=2,
        default=Decimal(1),
        validators=[MinValueValidator(Decimal("0.01"))],
    )
    confidence = models.PositiveSmallIntegerField(
        _("confidence"), default=5, validators=[MinValueValidator(1), MaxValueValidator(10)]
    )
    # Raw progress (may exceed 0..1); shown capped. Kept current by services.
    progress = models.DecimalField(default=Decimal(0), **PROGRESS_FIELD)
    carried_from = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="carried_to",
        verbose_name=_("carried over from"),
    )
    position = models.PositiveIntegerField(default=0)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords(excluded_fields=["progress", "updated_at", "position"])
    objects = KeyResultQuerySet.as_manager()

    class Meta(TenantModel.Meta):
        verbose_name = _("key result")
        verbose_name_plural = _("key results")
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "id"], name="keyresult_org_id_unique"),
            models.CheckConstraint(
                condition=Q(confidence__gte=1, confidence__lte=10), name="keyresult_confidence_1_10"
            ),
            models.CheckConstraint(condition=Q(weight__gt=0), name="keyresult_weight_positive"),
        ]
        indexes = [models.Index(fields=["organization", "owner"])]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse(
            "key_result_detail", kwargs={"org_slug": self.organization.slug, "kr_id": self.pk}
        )

    def compute_progress(self) -> Decimal:
        return self.progress_at(self.current_value)

    def progress_at(self, value: Decimal | None) -> Decimal:
        """Raw progress at ``value`` (``scoring.raw_progress`` for this key result)."""
        return scoring.raw_progress(
            kind=self.kind,
            direction=self.direction,
            start=self.start_value,
            target=self.target_value,
            current=value,
            lower=self.lower_bound,
            upper=self.upper_bound,
        )

    @property
    def capped_progress(self) -> Decimal:
        return scoring.capped(self.progress)

    @property
    def is_milestone(self) -> bool:
        return self.kind == scoring.Kind.MILESTONE

    @property
    def is_stay(self) -> bool:
        return scoring.Direction(self.direction).is_stay

    @property
    def is_done(self) -> bool:
        return self.capped_progress >= 1


class InitiativeStatus(models.TextChoices):
    NOT_STARTED = "not_started", _("Not started")
    IN_PROGRESS = "in_progress", _("In progress")
    DONE = "done", _("Done")
    BLOCKED = "blocked", _("Blocked")


class Initiative(TenantModel):
    """Project work that should move a key result; links to the team's backlog."""

    key_result = models.ForeignKey(KeyResult, on_delete=models.CASCADE, related_name="initiatives")
    title = models.CharField(_("title"), max_length=200)
    owner = models.ForeignKey(
        Membership,
        verbose_name=_("owner"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    status = models.CharField(
        _("status"),
        max_length=12,
        choices=InitiativeStatus.choices,
        default=InitiativeStatus.NOT_STARTED,
    )
    backlog_url = models.URLField(_("backlog item"), blank=True, max_length=500)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(TenantModel.Meta):
        verbose_name = _("initiative")
        verbose_name_plural = _("initiatives")
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.title


# --- Quality review ---------------------------------------------------------------------------


class ReviewDecision(models.TextChoices):
    APPROVED = "approved", _("Approved")
    CHANGES_REQUESTED = "changes_requested", _("Changes requested")


class Review(TenantModel):
    """An OKR Master's verdict on an objective, with a comment for its owner."""

    objective = models.ForeignKey(Objective, on_delete=models.CASCADE, related_name="reviews")
    reviewer = models.ForeignKey(Membership, null=True, on_delete=models.SET_NULL, related_name="+")
    decision = models.CharField(max_length=20, choices=ReviewDecision.choices)
    comment = models.TextField(_("comment"), blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta(TenantModel.Meta):
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_decision_display()} on {self.objective_id}"


# --- End-of-quarter self-scoring -----------------------------------------------------------------


class ReasonCode(models.TextChoices):
    ACHIEVED = "achieved", _("Achieved as planned")
    TOO_AMBITIOUS = "too_ambitious", _("Target too ambitious")
    TOO_EASY = "too_easy", _("Target too easy")
    PRIORITIES_CHANGED = "priorities_changed", _("Priorities changed")
    BLOCKED = "blocked", _("Blocked by a dependency")
    RESOURCES = "resources", _("Lacked people or budget")
    WRONG_MEASURE = "wrong_measure", _("Measured the wrong thing")
    OTHER = "other", _("Other")


class ScoreQuerySet(TenantQuerySet):
    def in_cycle(self, cycle: Cycle):
        return self.filter(key_result__objective__cycle=cycle)


class KeyResultScore(TenantModel):
    """The owner's end-of-quarter score of a key result (0.0-1.0) and their reflection."""

    key_result = models.OneToOneField(KeyResult, on_delete=models.CASCADE, related_name="score")
    score = models.DecimalField(
        _("score"),
        max_digits=2,
        decimal_places=1,
        validators=[MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(1))],
    )
    # What progress suggested when the owner scored (cycles.scoring.suggested_score).
    suggested = models.DecimalField(max_digits=2, decimal_places=1)
    what_worked = models.TextField(_("what worked"), blank=True)
    what_to_change = models.TextField(_("what to change next time"), blank=True)
    reason = models.CharField(
        _("main reason"), max_length=20, choices=ReasonCode.choices, blank=True
    )
    scored_by = models.ForeignKey(Membership, on_delete=models.PROTECT, related_name="+")
    scored_at = models.DateTimeField(default=timezone.now)
    manager_comment = models.TextField(_("manager's comment"), blank=True)
    reviewed_by = models.ForeignKey(
        Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)

    history = HistoricalRecords()
    objects = ScoreQuerySet.as_manager()

    class Meta(TenantModel.Meta):
        verbose_name = _("key result score")
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "key_result"], name="score_one_per_key_result"
            ),
            models.CheckConstraint(
                condition=Q(score__gte=0, score__lte=1), name="score_between_0_and_1"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.key_result_id}: {self.score}"

    @property
    def band(self) -> str:
        return scoring.score_band(self.score).value
