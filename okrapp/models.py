"""The tenancy core: people, organisations, memberships and teams.

Everything another app owns hangs off an :class:`Organization`; see ``okrapp.tenancy`` for
how tenant rows are read.
"""

from __future__ import annotations

import hashlib
import secrets
import zoneinfo
from datetime import timedelta
from functools import cached_property

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from okrapp.tenancy import TenantModel, TenantQuerySet

TIME_ZONE_CHOICES = [
    *sorted((tz, tz) for tz in zoneinfo.available_timezones() if "/" in tz),
    ("UTC", "UTC"),
]


class Language(models.TextChoices):
    ENGLISH = "en", _("English")
    TRADITIONAL_CHINESE = "zh-hant", _("Traditional Chinese")


class Weekday(models.IntegerChoices):
    MONDAY = 0, _("Monday")
    TUESDAY = 1, _("Tuesday")
    WEDNESDAY = 2, _("Wednesday")
    THURSDAY = 3, _("Thursday")
    FRIDAY = 4, _("Friday")
    SATURDAY = 5, _("Saturday")
    SUNDAY = 6, _("Sunday")


class Month(models.IntegerChoices):
    JANUARY = 1, _("January")
    FEBRUARY = 2, _("February")
    MARCH = 3, _("March")
    APRIL = 4, _("April")
    MAY = 5, _("May")
    JUNE = 6, _("June")
    JULY = 7, _("July")
    AUGUST = 8, _("August")
    SEPTEMBER = 9, _("September")
    OCTOBER = 10, _("October")
    NOVEMBER = 11, _("November")
    DECEMBER = 12, _("December")


def validate_time_zone(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError(
            _("“%(value)s” is not a known time zone."), params={"value": value}
        ) from exc


# --- Users ---------------------------------------------------------------------------------


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra):
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who signs in by email. What they may do lives on their memberships."""

    email = models.EmailField(_("email address"), unique=True)
    full_name = models.CharField(_("full name"), max_length=150, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    # Operators of the installation (Django admin), not organisation admins.
    is_staff = models.BooleanField(_("staff status"), default=False)
    date_joined = models.DateTimeField(_("date joined"), default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [
            models.UniqueConstraint(Lower("email"), name="user_email_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.display_name

    def clean(self):
        super().clean()
        self.email = self.__class__.objects.normalize_email(self.email).lower()

    @property
    def display_name(self) -> str:
        return self.full_name or self.email

    def get_full_name(self) -> str:
        return self.display_name

    def get_short_name(self) -> str:
        return (self.full_name.split() or [self.email])[0]


# --- Organisations ----------------------------------------------------------------------------

# First path segments the root URLconf owns; an organisation slug may not take one.
# tests/okrapp/test_organizations.py checks this list against the URLconf.
RESERVED_SLUGS = frozenset(
    {
        "accounts", "admin", "api", "healthz", "invitations", "orgs", "static", "media",
        "login", "logout", "signup", "settings", "www", "help", "docs", "about", "new",
        "i18n", "jsi18n", "favicon.ico", "robots.txt", "me", "profile", "app", "okrapp",
        "calendar", "integrations",
    }
)  # fmt: skip


def validate_org_slug(value: str) -> None:
    if value.lower() in RESERVED_SLUGS:
        raise ValidationError(
            _("“%(slug)s” is reserved for the application; please choose another address."),
            params={"slug": value},
            code="reserved",
        )


class Organization(models.Model):
    """A tenant: one company running OKRs, with its mission and vision and its cadence."""

    name = models.CharField(_("name"), max_length=120)
    slug = models.SlugField(
        _("address"),
        max_length=50,
        unique=True,
        validators=[validate_org_slug],
        help_text=_("Used in every link: /<address>/. Lower-case letters, digits and hyphens."),
    )
    mission = models.TextField(
        _("mission"), blank=True, help_text=_("Why the organisation exists.")
    )
    vision = models.TextField(
        _("vision"), blank=True, help_text=_("Where it wants to be in a few years.")
    )
    time_zone = models.CharField(
        _("time zone"), max_length=64, default="UTC", validators=[validate_time_zone]
    )
    fiscal_year_start_month = models.PositiveSmallIntegerField(
        _("fiscal year starts in"), choices=Month.choices, default=Month.JANUARY
    )
    checkin_weekday = models.PositiveSmallIntegerField(
        _("weekly check-in day"), choices=Weekday.choices, default=Weekday.MONDAY
    )
    checkin_hour = models.PositiveSmallIntegerField(
        _("weekly check-in hour"),
        default=10,
        validators=[MinValueValidator(0), MaxValueValidator(23)],
        help_text=_("Local hour of each person's day (0-23) when the check-in reminder goes."),
    )
    escalation_grace_days = models.PositiveSmallIntegerField(
        _("escalation after (days)"),
        default=2,
        validators=[MaxValueValidator(6)],
        help_text=_(
            "Days after the check-in moment before managers get a digest of missing check-ins."
        ),
    )
    language = models.CharField(
        _("default language"),
        max_length=10,
        choices=Language.choices,
        default=Language.ENGLISH,
        help_text=_("Language of new members until they choose their own."),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")
        constraints = [
            models.CheckConstraint(
                condition=Q(checkin_hour__gte=0, checkin_hour__lte=23),
                name="organization_checkin_hour_range",
            ),
            models.CheckConstraint(
                condition=Q(fiscal_year_start_month__gte=1, fiscal_year_start_month__lte=12),
                name="organization_fiscal_month_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("org_home", kwargs={"org_slug": self.slug})

    @property
    def has_mission_and_vision(self) -> bool:
        return bool(self.mission.strip() and self.vision.strip())

    @property
    def zoneinfo(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)


# --- Memberships ------------------------------------------------------------------------------


class MembershipQuerySet(TenantQuerySet):
    def active(self):
        return self.filter(active=True, user__is_active=True)

    def admins(self):
        return self.filter(role=Membership.Role.ADMIN)

    def with_user(self):
        return self.select_related("user", "manager__user")

    def ordered(self):
        return self.order_by(Lower("user__full_name"), "user__email")


class Membership(TenantModel):
    """A person in one organisation: their role there, their manager, language and clock."""

    class Role(models.TextChoices):
        ADMIN = "admin", _("Admin")
        MANAGER = "manager", _("Manager")
        MEMBER = "member", _("Member")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(_("role"), max_length=10, choices=Role.choices, default=Role.MEMBER)
    is_okr_master = models.BooleanField(
        _("OKR Master"),
        default=False,
        help_text=_(
            "Owns OKR quality: reviews objectives and key results across the organisation."
        ),
    )
    time_zone = models.CharField(
        _("time zone"), max_length=64, default="UTC", validators=[validate_time_zone]
    )
    language = models.CharField(
        _("language"), max_length=10, choices=Language.choices, default=Language.ENGLISH
    )
    manager = models.ForeignKey(
        "self",
        verbose_name=_("manager"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="reports",
    )
    active = models.BooleanField(_("active"), default=True)
    # What this person wants to be mailed about (every mail links to change it).
    notify_reminders = models.BooleanField(_("weekly check-in reminders"), default=True)
    notify_mentions = models.BooleanField(_("mentions in comments"), default=True)
    notify_digests = models.BooleanField(
        _("weekly digests for managers and OKR Masters"), default=True
    )
    joined_at = models.DateTimeField(_("joined"), default=timezone.now)
    deactivated_at = models.DateTimeField(null=True, blank=True)

    objects = MembershipQuerySet.as_manager()

    class Meta(TenantModel.Meta):
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "user"], name="membership_org_user_unique"
            ),
            models.UniqueConstraint(fields=["organization", "id"], name="membership_org_id_unique"),
            models.CheckConstraint(
                condition=~Q(manager=models.F("id")), name="membership_not_own_manager"
            ),
        ]
        indexes = [models.Index(fields=["user", "active"])]

    def __str__(self) -> str:
        return f"{self.user.display_name} @ {self.organization_id}"

    @property
    def display_name(self) -> str:
        return self.user.display_name

    @property
    def email(self) -> str:
        return self.user.email

    @property
    def is_admin(self) -> bool:
        return self.role == self.Role.ADMIN

    @property
    def is_manager(self) -> bool:
        return self.role in (self.Role.MANAGER, self.Role.ADMIN)

    @cached_property
    def team_ids(self) -> set[int]:
        """Teams this person is on."""
        return set(
            TeamMembership.objects.for_org(self.organization_id)
            .filter(membership=self)
            .values_list("team_id", flat=True)
        )

    @cached_property
    def managed_team_ids(self) -> frozenset[int]:
        """Teams this person leads, and every team below them (two queries)."""
        led = set(
            TeamMembership.objects.for_org(self.organization_id)
            .filter(membership=self, is_lead=True)
            .values_list("team_id", flat=True)
        )
        if not led:
            return frozenset()
        children: dict[int | None, list[int]] = {}
        for team_id, parent_id in Team.objects.for_org(self.organization_id).values_list(
            "id", "parent_id"
        ):
            children.setdefault(parent_id, []).append(team_id)
        managed, stack = set(), list(led)
        while stack:
            team_id = stack.pop()
            if team_id not in managed:
                managed.add(team_id)
                stack.extend(children.get(team_id, ()))
        return frozenset(managed)

    @cached_property
    def zoneinfo(self) -> zoneinfo.ZoneInfo:
        try:
            return zoneinfo.ZoneInfo(self.time_zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            return zoneinfo.ZoneInfo("UTC")


# --- Teams ---------------------------------------------------------------------------------------


class TeamQuerySet(TenantQuerySet):
    def with_people(self):
        return self.prefetch_related("team_memberships__membership__user")


class Team(TenantModel):
    """A team in the organisation's tree; its leads manage it."""

    name = models.CharField(_("name"), max_length=120)
    slug = models.SlugField(_("address"), max_length=60)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("part of"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    description = models.TextField(_("description"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TeamQuerySet.as_manager()

    class Meta(TenantModel.Meta):
        verbose_name = _("team")
        verbose_name_plural = _("teams")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "slug"], name="team_org_slug_unique"),
            models.UniqueConstraint("organization", Lower("name"), name="team_org_name_ci_unique"),
            models.UniqueConstraint(fields=["organization", "id"], name="team_org_id_unique"),
            models.CheckConstraint(condition=~Q(parent=models.F("id")), name="team_not_own_parent"),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse(
            "team_dashboard", kwargs={"org_slug": self.organization.slug, "team_slug": self.slug}
        )


class TeamMembership(TenantModel):
    """A person on a team; leads are the team's managers."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="team_memberships")
    membership = models.ForeignKey(
        Membership, on_delete=models.CASCADE, related_name="team_memberships"
    )
    is_lead = models.BooleanField(_("lead"), default=False)

    class Meta(TenantModel.Meta):
        verbose_name = _("team member")
        verbose_name_plural = _("team members")
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "team", "membership"], name="teammembership_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.membership_id} in {self.team_id}"


# --- Invitations ----------------------------------------------------------------------------------


class InvitationQuerySet(TenantQuerySet):
    def pending(self):
        return self.filter(
            accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now()
        )


def _new_nonce() -> str:
    return secrets.token_urlsafe(16)


def _default_expiry():
    return timezone.now() + timedelta(days=settings.INVITATION_VALID_DAYS)


class Invitation(TenantModel):
    """An emailed, single-use link to join an organisation with a role (and a team)."""

    INVITATION_SALT = "okrapp.invitation"

    email = models.EmailField(_("email address"))
    role = models.CharField(
        _("role"), max_length=10, choices=Membership.Role.choices, default=Membership.Role.MEMBER
    )
    team = models.ForeignKey(
        Team,
        verbose_name=_("team"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    invited_by = models.ForeignKey(
        Membership, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Changing the nonce revokes every link sent before; the link itself is signed, so
    # the database never stores a usable token.
    nonce = models.CharField(max_length=32, default=_new_nonce)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(default=_default_expiry)
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = InvitationQuerySet.as_manager()

    class Meta(TenantModel.Meta):
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                "organization",
                Lower("email"),
                condition=Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="invitation_one_open_per_email",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} → {self.organization_id}"

    @property
    def token(self) -> str:
        return signing.dumps({"i": self.pk, "n": self.nonce}, salt=self.INVITATION_SALT)

    @classmethod
    def id_and_nonce_from_token(cls, token: str) -> tuple[int, str] | None:
        try:
            data = signing.loads(token, salt=cls.INVITATION_SALT)
            return int(data["i"]), str(data["n"])
        except (signing.BadSignature, KeyError, TypeError, ValueError):
            return None

    @property
    def url(self) -> str:
        return settings.SITE_URL + reverse("invitation_accept", kwargs={"token": self.token})

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()

    @property
    def status(self) -> str:
        if self.accepted_at:
            return "accepted"
        if self.revoked_at:
            return "revoked"
        if self.is_expired:
            return "expired"
        return "pending"


# --- API tokens -----------------------------------------------------------------------------------


class ApiTokenQuerySet(TenantQuerySet):
    def usable(self):
        """Not revoked, and its person still has access (a deactivated member's stop at once)."""
        return self.filter(
            revoked_at__isnull=True, membership__active=True, membership__user__is_active=True
        )


class ApiToken(TenantModel):
    """A personal token for scripts: one person in one organisation.

    The secret is shown once, when it is made; only its SHA-256 is stored. It reads
    ``okr_<organisation id>_<random>``, so authentication finds the row inside its
    organisation (``for_org``) like every other tenant read; the id is not a secret, and
    changing it only makes the hash miss.
    """

    SCHEME = "okr"
    PREFIX_CHARS = 6  # of the random part, kept to tell tokens apart on the profile page

    membership = models.ForeignKey(
        Membership, on_delete=models.CASCADE, related_name="api_tokens", verbose_name=_("person")
    )
    name = models.CharField(
        _("name"), max_length=80, help_text=_("What the token is for, e.g. “weekly export”.")
    )
    key_prefix = models.CharField(_("token starts with"), max_length=40, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta(TenantModel.Meta):
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        ordering = ["-created_at", "-id"]
        constraints = [
            # The organisation leads, as in every unique constraint here (ready to distribute
            # by organisation); the hash covers the organisation id too, so it is unique alone.
            models.UniqueConstraint(
                fields=["organization", "key_hash"], name="apitoken_org_key_hash_unique"
            ),
        ]
        indexes = [models.Index(fields=["membership", "revoked_at"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.key_prefix}…)"

    @classmethod
    def new_secret(cls, org_id: int) -> str:
        return f"{cls.SCHEME}_{org_id}_{secrets.token_urlsafe(32)}"

    @staticmethod
    def hash_secret(secret: str) -> str:
        return hashlib.sha256(secret.encode()).hexdigest()

    @classmethod
    def prefix_of(cls, secret: str) -> str:
        scheme, org_id, random_part = secret.split("_", 2)
        return f"{scheme}_{org_id}_{random_part[: cls.PREFIX_CHARS]}"

    @classmethod
    def org_id_of(cls, secret: str) -> int | None:
        """The organisation a well-formed secret names, or None."""
        parts = secret.split("_", 2)
        if len(parts) != 3 or parts[0] != cls.SCHEME or not parts[1].isascii():
            return None
        if not parts[1].isdigit() or len(parts[1]) > 18 or not parts[2]:
            return None
        return int(parts[1])

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


# Single sign-on's models live in okrapp.sso; importing them here registers them with the app.
from okrapp.sso.models import SsoConfiguration, SsoDomain  # noqa: E402, F401
