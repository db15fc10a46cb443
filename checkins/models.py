"""The weekly cadence: check-ins, acknowledgements, comments, kudos and one-on-ones."""

from __future__ import annotations

from datetime import date, timedelta

from django.core.validators import (
    MaxLengthValidator,
    MaxValueValidator,
    MinValueValidator,
    URLValidator,
)
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cycles.models import VALUE_FIELD, KeyResult, Objective
from okrapp.crypto import EncryptedTextField
from okrapp.history import HistoricalRecords
from okrapp.models import Membership
from okrapp.tenancy import TenantModel, TenantQuerySet


def week_start(day: date) -> date:
    """Monday of the ISO week that ``day`` falls in."""
    return day - timedelta(days=day.weekday())


def week_label(monday: date) -> str:
    year, week, _weekday = monday.isocalendar()
    return f"{year}-W{week:02d}"


# --- Check-ins ----------------------------------------------------------------------------------


class CheckInQuerySet(TenantQuerySet):
    def for_week(self, monday: date):
        return self.filter(week=monday)

    def with_people(self):
        return self.select_related("recorded_by__user", "key_result__owner__user")


class CheckIn(TenantModel):
    """One key result's value, confidence and note for one ISO week.

    The week is the Monday of the ISO week in the organisation's time zone. Checking in
    again in the same week revises this row (``revision`` counts up) and
    django-simple-history keeps every earlier version.
    """

    key_result = models.ForeignKey(KeyResult, on_delete=models.CASCADE, related_name="checkins")
    week = models.DateField(_("week"))
    value = models.DecimalField(_("value"), **VALUE_FIELD)
    confidence = models.PositiveSmallIntegerField(
        _("confidence"), validators=[MinValueValidator(1), MaxValueValidator(10)]
    )
    note = models.TextField(_("note"), blank=True)
    need_help = models.BooleanField(_("need help"), default=False)
    # Who typed it: the KR owner, or a manager on their behalf (shown as such).
    recorded_by = models.ForeignKey(
        Membership, on_delete=models.PROTECT, related_name="+", verbose_name=_("recorded by")
    )
    owner = models.ForeignKey(
        Membership, on_delete=models.PROTECT, related_name="checkins", verbose_name=_("owner")
    )
    revision = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    history = HistoricalRecords()
    objects = CheckInQuerySet.as_manager()

    class Meta(TenantModel.Meta):
        verbose_name = _("check-in")
        verbose_name_plural = _("check-ins")
        ordering = ["-week", "-updated_at"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "id"], name="checkin_org_id_unique"),
            models.UniqueConstraint(
                fields=["organization", "key_result", "week"], name="checkin_one_per_kr_week"
            ),
            models.CheckConstraint(
                condition=Q(confidence__gte=1, confidence__lte=10), name="checkin_confidence_1_10"
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "owner", "week"]),
            models.Index(fields=["organization", "week"]),
        ]

    def __str__(self) -> str:
        return f"{self.key_result_id} {week_label(self.week)}"

    @property
    def week_label(self) -> str:
        return week_label(self.week)

    @property
    def on_behalf(self) -> bool:
        return self.recorded_by_id != self.owner_id


class Acknowledgement(TenantModel):
    """A manager has seen a report's check-in, perhaps with a reply."""

    checkin = models.OneToOneField(
        CheckIn, on_delete=models.CASCADE, related_name="acknowledgement"
    )
    by = models.ForeignKey(Membership, on_delete=models.PROTECT, related_name="+")
    reply = models.TextField(_("reply"), blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta(TenantModel.Meta):
        verbose_name = _("acknowledgement")
        constraints = [
            models.UniqueConstraint(fields=["organization", "checkin"], name="ack_one_per_checkin"),
        ]


# --- Conversation ------------------------------------------------------------------------------


class CommentQuerySet(TenantQuerySet):
    def with_people(self):
        return self.select_related("author__user").prefetch_related("mentions__user")


class Comment(TenantModel):
    """A comment on exactly one of: a key result, an objective, a check-in."""

    author = models.ForeignKey(Membership, on_delete=models.PROTECT, related_name="comments")
    body = models.TextField(_("comment"), max_length=5000)
    key_result = models.ForeignKey(
        KeyResult, null=True, blank=True, on_delete=models.CASCADE, related_name="comments"
    )
    objective = models.ForeignKey(
        Objective, null=True, blank=True, on_delete=models.CASCADE, related_name="comments"
    )
    checkin = models.ForeignKey(
        CheckIn, null=True, blank=True, on_delete=models.CASCADE, related_name="comments"
    )
    mentions = models.ManyToManyField(
        Membership, through="Mention", related_name="mentioned_in", blank=True
    )
    created_at = models.DateTimeField(default=timezone.now)
    edited_at = models.DateTimeField(null=True, blank=True)

    objects = CommentQuerySet.as_manager()

    class Meta(TenantModel.Meta):
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "id"], name="comment_org_id_unique"),
            models.CheckConstraint(
                condition=(
                    Q(key_result__isnull=False, objective__isnull=True, checkin__isnull=True)
                    | Q(key_result__isnull=True, objective__isnull=False, checkin__isnull=True)
                    | Q(key_result__isnull=True, objective__isnull=True, checkin__isnull=False)
                ),
                name="comment_exactly_one_subject",
            ),
        ]

    def __str__(self) -> str:
        return self.body[:40]


class Mention(TenantModel):
    comment = models.ForeignKey(Comment, on_delete=models.CASCADE, related_name="mention_links")
    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="+")

    class Meta(TenantModel.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "comment", "membership"], name="mention_unique"
            ),
        ]


class KudosQuerySet(TenantQuerySet):
    def with_people(self):
        return self.select_related("giver__user", "receiver__user", "key_result", "objective")


class Kudos(TenantModel):
    """Recognition from one colleague to another, perhaps for a key result or objective."""

    giver = models.ForeignKey(Membership, on_delete=models.PROTECT, related_name="kudos_given")
    receiver = models.ForeignKey(
        Membership,
        on_delete=models.PROTECT,
        related_name="kudos_received",
        verbose_name=_("to"),
    )
    message = models.TextField(_("message"), max_length=2000)
    key_result = models.ForeignKey(
        KeyResult,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="kudos",
        verbose_name=_("for the key result"),
    )
    objective = models.ForeignKey(
        Objective,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="kudos",
        verbose_name=_("for the objective"),
    )
    created_at = models.DateTimeField(default=timezone.now)

    objects = KudosQuerySet.as_manager()

    class Meta(TenantModel.Meta):
        verbose_name = _("kudos")
        verbose_name_plural = _("kudos")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(giver=models.F("receiver")), name="kudos_not_to_self"
            ),
        ]


# --- One-on-ones ----------------------------------------------------------------------------


class Rhythm(models.TextChoices):
    WEEKLY = "weekly", _("Weekly")
    BIWEEKLY = "biweekly", _("Every two weeks")
    MONTHLY = "monthly", _("Monthly")


class OneOnOne(TenantModel):
    """A manager and a report who meet regularly."""

    manager = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="+")
    report = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="+")
    rhythm = models.CharField(
        _("rhythm"), max_length=10, choices=Rhythm.choices, default=Rhythm.WEEKLY
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta(TenantModel.Meta):
        verbose_name = _("one-on-one")
        constraints = [
            models.UniqueConstraint(fields=["organization", "id"], name="oneonone_org_id_unique"),
            models.UniqueConstraint(
                fields=["organization", "manager", "report"], name="oneonone_pair_unique"
            ),
            models.CheckConstraint(
                condition=~Q(manager=models.F("report")), name="oneonone_two_people"
            ),
        ]


class Meeting(TenantModel):
    one_on_one = models.ForeignKey(OneOnOne, on_delete=models.CASCADE, related_name="meetings")
    date = models.DateField(_("date"))
    shared_notes = models.TextField(_("shared notes"), blank=True)
    # Only the manager reads these.
    private_notes = models.TextField(_("private notes"), blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta(TenantModel.Meta):
        ordering = ["-date", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "id"], name="meeting_org_id_unique"),
        ]


class AgendaItem(TenantModel):
    """One line of a meeting's agenda, prepared from check-ins and open action items."""

    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="agenda")
    checkin = models.ForeignKey(
        CheckIn, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action_item = models.ForeignKey(
        "ActionItem", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    text = models.CharField(max_length=300)
    position = models.PositiveIntegerField(default=0)

    class Meta(TenantModel.Meta):
        ordering = ["position", "id"]


class ActionItem(TenantModel):
    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="action_items")
    text = models.CharField(_("action"), max_length=300)
    owner = models.ForeignKey(
        Membership,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("owner"),
    )
    done = models.BooleanField(_("done"), default=False)
    done_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta(TenantModel.Meta):
        ordering = ["done", "created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "id"], name="actionitem_org_id_unique"),
        ]


# --- Notifications ---------------------------------------------------------------------------


class AwayPeriod(TenantModel):
    """Out of office: no reminders on these days (inclusive, in the person's own calendar)."""

    membership = models.ForeignKey(
        Membership, on_delete=models.CASCADE, related_name="away_periods"
    )
    starts_on = models.DateField(_("from"))
    ends_on = models.DateField(_("until"))
    note = models.CharField(_("note"), max_length=120, blank=True)

    class Meta(TenantModel.Meta):
        verbose_name = _("time away")
        ordering = ["starts_on"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_on__gte=models.F("starts_on")), name="away_ends_after_it_starts"
            ),
        ]


class NotificationKind(models.TextChoices):
    CHECKIN_REMINDER = "checkin_reminder", _("Check-in reminder")
    MANAGER_DIGEST = "manager_digest", _("Manager digest")
    MASTER_SUMMARY = "master_summary", _("OKR Master summary")
    SCORING_REQUEST = "scoring_request", _("Scoring request")
    SCORING_REMINDER = "scoring_reminder", _("Scoring reminder")


class ClaimStatus(models.TextChoices):
    CLAIMED = "claimed", _("Claimed")  # the tick decided it is due; nothing sent yet
    SENDING = "sending", _("Sending")  # a worker is handing it to the mail server
    SENT = "sent", _("Sent")
    SKIPPED = "skipped", _("Skipped")  # no longer due when the worker got to it
    # Given up: refused too often, or its week ended before it could go.
    FAILED = "failed", _("Not delivered")


class NotificationClaim(TenantModel):
    """Exactly one notification per (person, week, kind, channel).

    The tick inserts the row before anything is sent (the unique constraint makes two
    ticks agree); a worker moves it claimed → sending → sent. A row left in "sending" means
    a worker died while handing the mail over: it is never re-sent blindly. Its mail carries
    :attr:`message_id`, the same on every attempt; when the mail backend keeps a ledger it
    says whether that mail was delivered, and the tick marks the row sent or sends it
    (``checkins.reminders.recover_stuck``); otherwise the row is reported to admins.
    """

    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="+")
    week = models.DateField()
    kind = models.CharField(max_length=20, choices=NotificationKind.choices)
    channel = models.CharField(max_length=10, default="email")
    status = models.CharField(
        max_length=10, choices=ClaimStatus.choices, default=ClaimStatus.CLAIMED
    )
    batch = models.CharField(max_length=32, db_index=True)
    claimed_at = models.DateTimeField(default=timezone.now)
    sending_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.CharField(max_length=300, blank=True)

    class Meta(TenantModel.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "membership", "week", "kind", "channel"],
                name="notification_once_per_week_kind_channel",
            ),
        ]
        indexes = [models.Index(fields=["organization", "status"])]

    @property
    def message_id(self) -> str:
        """The ``Message-ID`` of this claim's mail. The batch (a random id of the tick that
        inserted the row) keeps it unique even when ids repeat after a database reset while
        the mail folder stays."""
        from okrapp.mail import stable_message_id

        return stable_message_id(f"notification.{self.pk}.{self.batch}")


class MailClaim(TenantModel):
    """A one-off mail (a mention, "the report is ready") that goes at most once.

    Its task inserts the row for the mail's :attr:`key` before sending and takes it
    claimed → sending with a conditional UPDATE, so a task delivered twice (``acks_late``
    re-delivers when a worker dies; a message can be duplicated) sends once. A refused mail
    goes back to "claimed" for the task's retry. As with :class:`NotificationClaim`, a row
    left "sending" by a dead worker is not sent again on a guess.
    """

    key = models.CharField(max_length=100)
    status = models.CharField(
        max_length=10, choices=ClaimStatus.choices, default=ClaimStatus.CLAIMED
    )
    claimed_at = models.DateTimeField(default=timezone.now)
    sending_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta(TenantModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["organization", "key"], name="mail_claim_once"),
        ]

    @property
    def message_id(self) -> str:
        """The same on every attempt; the claim time keeps it unique when ids repeat after a
        database reset while a mail folder stays."""
        from okrapp.mail import stable_message_id

        return stable_message_id(f"mail.{self.pk}.{self.claimed_at:%Y%m%d%H%M%S%f}")


# --- Reports ------------------------------------------------------------------------------------


class ReportStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    BUILDING = "building", _("Building")
    READY = "ready", _("Ready")
    FAILED = "failed", _("Failed")


class ReportStage(models.TextChoices):
    """What the worker is doing now; shown as the progress bar's label."""

    QUEUED = "queued", _("Waiting for a worker")
    FIGURES = "figures", _("Computing the figures")
    HTML = "html", _("Writing the report")
    CSV = "csv", _("Writing the spreadsheet")
    PDF = "pdf", _("Typesetting the PDF")
    STORING = "storing", _("Storing the files")
    DONE = "done", _("Done")
    FAILED = "failed", _("Stopped by an error")


def report_file_path(report: Report, filename: str) -> str:
    return f"reports/{report.organization_id}/{report.cycle_id}/{filename}"


class Report(TenantModel):
    """The end-of-quarter report of one cycle: one current row per cycle, with its files.

    Each request bumps ``generation``; a build only writes while its generation is still
    the row's (``checkins.report_tasks.build_report``), so an older build that is still
    running stops instead of overwriting a newer one. The files are named by generation and
    the previous generation's files are deleted once the new ones are in place.
    """

    cycle = models.ForeignKey(
        "cycles.Cycle", on_delete=models.CASCADE, related_name="+", verbose_name=_("cycle")
    )
    status = models.CharField(
        _("status"), max_length=10, choices=ReportStatus.choices, default=ReportStatus.QUEUED
    )
    progress = models.PositiveSmallIntegerField(
        _("progress"), default=0, validators=[MaxValueValidator(100)]
    )
    stage = models.CharField(
        _("stage"), max_length=10, choices=ReportStage.choices, default=ReportStage.QUEUED
    )
    generation = models.PositiveIntegerField(default=0)
    requested_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(_("error"), blank=True)
    generated_by = models.ForeignKey(
        Membership,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("requested by"),
    )
    # The stored edition (whole organisation, in the organisation's language).
    language = models.CharField(max_length=10, blank=True)
    html_file = models.FileField(upload_to=report_file_path, max_length=255, blank=True)
    csv_file = models.FileField(upload_to=report_file_path, max_length=255, blank=True)
    pdf_file = models.FileField(upload_to=report_file_path, max_length=255, blank=True)
    # The facts the figures come from (checkins.reports.collect), for per-viewer editions.
    figures_file = models.FileField(upload_to=report_file_path, max_length=255, blank=True)
    # The generation whose "report ready" mail has gone (claimed before sending).
    mailed_generation = models.PositiveIntegerField(default=0)

    class Meta(TenantModel.Meta):
        verbose_name = _("report")
        verbose_name_plural = _("reports")
        constraints = [
            models.UniqueConstraint(fields=["organization", "cycle"], name="report_one_per_cycle"),
            models.CheckConstraint(
                condition=Q(progress__gte=0, progress__lte=100), name="report_progress_0_100"
            ),
        ]

    def __str__(self) -> str:
        return f"Report of cycle {self.cycle_id} ({self.status}, #{self.generation})"

    @property
    def is_ready(self) -> bool:
        return self.status == ReportStatus.READY

    @property
    def in_progress(self) -> bool:
        return self.status in (ReportStatus.QUEUED, ReportStatus.BUILDING)


# --- Calendar feed ------------------------------------------------------------------------------


class CalendarFeedQuerySet(TenantQuerySet):
    def live(self):
        """Not revoked, and its person still has access."""
        return self.filter(
            revoked_at__isnull=True, membership__active=True, membership__user__is_active=True
        )


class CalendarFeed(TenantModel):
    """A person's secret ICS address (``/calendar/<token>.ics``): check-in slot, 1:1s, milestones.

    A calendar app has no session, so the address itself is the credential. It reads
    ``<organisation id>_<random>`` so the feed is found inside its organisation (``for_org``);
    only the SHA-256 of the token is stored, and the token is shown once, when it is made.
    One live feed per person: making a new one revokes the old.
    """

    membership = models.ForeignKey(
        Membership, on_delete=models.CASCADE, related_name="calendar_feeds"
    )
    token_hash = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = CalendarFeedQuerySet.as_manager()

    class Meta(TenantModel.Meta):
        verbose_name = _("calendar feed")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "token_hash"], name="calendarfeed_org_token_unique"
            ),
            models.UniqueConstraint(
                fields=["organization", "membership"],
                condition=Q(revoked_at__isnull=True),
                name="calendarfeed_one_live_per_person",
            ),
        ]

    def __str__(self) -> str:
        return f"Calendar feed of {self.membership_id}"


# --- Slack and Microsoft Teams ------------------------------------------------------------------


class Channel(models.TextChoices):
    """Where a notification goes (``NotificationClaim.channel``)."""

    EMAIL = "email", _("Email")
    SLACK = "slack", _("Slack")
    TEAMS = "teams", _("Microsoft Teams")


class Integration(TenantModel):
    """An organisation's Slack workspace and/or Teams incoming webhook, set by an admin.

    The bot token, signing secret and webhook URL are credentials: they are stored
    encrypted (:mod:`okrapp.crypto`), and pages show only their last characters
    (:func:`checkins.integrations.masked`), never the whole value.
    """

    slack_team_id = models.CharField(_("Slack workspace id"), max_length=32, blank=True)
    slack_bot_token = EncryptedTextField(
        _("Slack bot token"), blank=True, validators=[MaxLengthValidator(255)]
    )
    slack_signing_secret = EncryptedTextField(
        _("Slack signing secret"), blank=True, validators=[MaxLengthValidator(255)]
    )
    teams_webhook_url = EncryptedTextField(
        _("Teams incoming webhook"),
        blank=True,
        validators=[URLValidator(), MaxLengthValidator(1000)],
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TenantModel.Meta):
        verbose_name = _("integration")
        constraints = [
            models.UniqueConstraint(fields=["organization"], name="integration_one_per_org"),
        ]
        indexes = [models.Index(fields=["slack_team_id"])]

    def __str__(self) -> str:
        return f"Integrations of {self.organization_id}"

    @property
    def has_slack(self) -> bool:
        return bool(self.slack_team_id and self.slack_bot_token and self.slack_signing_secret)

    @property
    def has_teams(self) -> bool:
        return bool(self.teams_webhook_url)


class ChannelPreference(TenantModel):
    """Where one person wants reminders and digests, and who they are in Slack.

    No row means the defaults: mail only. ``Membership.notify_reminders`` and
    ``notify_digests`` still decide whether the person gets them at all.
    """

    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="+")
    slack_user_id = models.CharField(_("Slack user id"), max_length=32, blank=True)
    reminders_email = models.BooleanField(_("reminders by mail"), default=True)
    reminders_slack = models.BooleanField(_("reminders in Slack"), default=False)
    reminders_teams = models.BooleanField(_("reminders in Teams"), default=False)
    digests_email = models.BooleanField(_("digests by mail"), default=True)
    digests_slack = models.BooleanField(_("digests in Slack"), default=False)
    digests_teams = models.BooleanField(_("digests in Teams"), default=False)

    class Meta(TenantModel.Meta):
        verbose_name = _("channel preference")
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "membership"], name="channelpreference_one_per_person"
            ),
        ]
        indexes = [models.Index(fields=["organization", "slack_user_id"])]

    def __str__(self) -> str:
        return f"Channels of {self.membership_id}"


# --- Organisation export ------------------------------------------------------------------------


def export_file_path(export: OrgExport, filename: str) -> str:
    return f"exports/{export.organization_id}/{filename}"


class OrgExport(TenantModel):
    """A JSON archive of the whole organisation, built by a Celery task (checkins.portability)."""

    requested_by = models.ForeignKey(
        Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(
        _("status"), max_length=10, choices=ReportStatus.choices, default=ReportStatus.QUEUED
    )
    requested_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    file = models.FileField(upload_to=export_file_path, max_length=255, blank=True)
    size = models.PositiveBigIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta(TenantModel.Meta):
        verbose_name = _("organisation export")
        ordering = ["-requested_at", "-id"]

    @property
    def in_progress(self) -> bool:
        return self.status in (ReportStatus.QUEUED, ReportStatus.BUILDING)

    @property
    def is_ready(self) -> bool:
        return self.status == ReportStatus.READY
