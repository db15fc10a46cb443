"""Writes to the tenancy core. Views, the API, commands and tasks all come through here.

Every function is keyword-only, names its organisation, runs in one transaction and raises
``ValidationError`` with a message a person can act on.
"""

from __future__ import annotations

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.text import slugify
from django.utils.translation import gettext as _

from okrapp import cache as page_cache
from okrapp.models import (
    ApiToken,
    Invitation,
    Membership,
    Organization,
    Team,
    TeamMembership,
    User,
)

# --- Organisations ----------------------------------------------------------------------------


@transaction.atomic
def organization_create(
    *, user: User, name: str, slug: str, time_zone: str = "UTC", language: str = "en"
) -> Organization:
    """Create an organisation; its creator becomes its first admin."""
    org = Organization(
        name=name.strip(), slug=slug.strip().lower(), time_zone=time_zone, language=language
    )
    org.full_clean()
    try:
        with transaction.atomic():
            org.save()
    except IntegrityError as exc:
        raise ValidationError({"slug": _("That address is taken; please choose another.")}) from exc
    Membership.objects.create(
        organization=org,
        user=user,
        role=Membership.Role.ADMIN,
        time_zone=time_zone,
        language=language,
    )
    return org


ORGANIZATION_SETTINGS_FIELDS = (
    "name", "mission", "vision", "time_zone", "fiscal_year_start_month", "checkin_weekday",
    "checkin_hour", "escalation_grace_days", "language",
)  # fmt: skip


@transaction.atomic
def organization_update(*, org: Organization, by: Membership, **fields) -> Organization:
    _require_admin(org, by)
    unknown = set(fields) - set(ORGANIZATION_SETTINGS_FIELDS)
    if unknown:
        raise ValueError(f"Not organisation settings: {sorted(unknown)}")
    for field, value in fields.items():
        setattr(org, field, value.strip() if isinstance(value, str) else value)
    org.full_clean()
    org.save(update_fields=[*fields])
    page_cache.bump(org)
    return org


# --- Invitations ------------------------------------------------------------------------------


@transaction.atomic
def invitation_create(
    *,
    org: Organization,
    by: Membership,
    email: str,
    role: str = Membership.Role.MEMBER,
    team: Team | None = None,
) -> Invitation:
    """Invite ``email``; an open invitation to the same address is renewed and re-sent."""
    from okrapp.tasks import send_invitation_email

    _require_admin(org, by)
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError as exc:
        raise ValidationError(
            {"email": _("“%(email)s” is not a valid email address.") % {"email": email}}
        ) from exc
    if role not in Membership.Role.values:
        raise ValidationError({"role": _("Choose a role from the list.")})
    if team is not None and team.organization_id != org.pk:
        raise ValidationError({"team": _("Choose a team of this organisation.")})
    if Membership.objects.for_org(org).filter(user__email__iexact=email, active=True).exists():
        raise ValidationError(
            {
                "email": _("%(email)s is already a member of %(org)s.")
                % {"email": email, "org": org.name}
            }
        )
    invitation = (
        Invitation.objects.for_org(org)
        .select_for_update()
        .filter(email__iexact=email, accepted_at__isnull=True, revoked_at__isnull=True)
        .first()
    )
    now = timezone.now()
    if invitation is None:
        invitation = Invitation(organization=org, email=email)
    else:
        # Renewing changes the nonce, so only the newest link works.
        invitation.nonce = Invitation._meta.get_field("nonce").get_default()
        invitation.created_at = now
        invitation.expires_at = Invitation._meta.get_field("expires_at").get_default()
    invitation.role = role
    invitation.team = team
    invitation.invited_by = by
    try:
        with transaction.atomic():
            invitation.save()
    except IntegrityError as exc:  # a concurrent invitation to the same address won
        raise ValidationError(
            {"email": _("An invitation to %(email)s was just sent.") % {"email": email}}
        ) from exc
    send_invitation_email.delay_on_commit(org.pk, invitation.pk)
    return invitation


@transaction.atomic
def invitation_revoke(*, org: Organization, by: Membership, invitation: Invitation) -> Invitation:
    _require_admin(org, by)
    if invitation.accepted_at is None and invitation.revoked_at is None:
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at"])
    return invitation


class InvitationUnusable(Exception):
    """The link cannot be used; ``message`` says why and what to do."""

    def __init__(self, message: str, invitation: Invitation | None = None):
        super().__init__(message)
        self.message = message
        self.invitation = invitation


def invitation_from_token(token: str) -> Invitation:
    """The invitation a link names, or :class:`InvitationUnusable` with a clear reason.

    The token is signed by us; lookup by the id it carries is the one place an invitation
    is found without its organisation, because the invitee is not a member yet.
    """
    parsed = Invitation.id_and_nonce_from_token(token)
    invitation = None
    if parsed is not None:
        invitation = (
            Invitation.all_tenants.select_related("organization", "team", "invited_by__user")
            .filter(pk=parsed[0])
            .first()
        )
    if invitation is None or invitation.nonce != parsed[1]:
        if invitation is not None and invitation.accepted_at is None:
            raise InvitationUnusable(
                _(
                    "This invitation link was replaced by a newer one. Use the most recent "
                    "invitation mail, or ask an admin of %(org)s to invite you again."
                )
                % {"org": invitation.organization.name},
                invitation,
            )
        raise InvitationUnusable(
            _("This invitation link is not valid. Check that you copied the whole link.")
        )
    if invitation.accepted_at is not None:
        raise InvitationUnusable(
            _("This invitation has already been used. Log in to reach %(org)s.")
            % {"org": invitation.organization.name},
            invitation,
        )
    if invitation.revoked_at is not None:
        raise InvitationUnusable(
            _("This invitation was withdrawn. Ask an admin of %(org)s if you should still join.")
            % {"org": invitation.organization.name},
            invitation,
        )
    if invitation.is_expired:
        raise InvitationUnusable(
            _("This invitation expired on %(date)s. Ask an admin of %(org)s to invite you again.")
            % {
                "date": date_format(timezone.localtime(invitation.expires_at), "DATE_FORMAT"),
                "org": invitation.organization.name,
            },
            invitation,
        )
    return invitation


@transaction.atomic
def invitation_accept(
    *, invitation: Invitation, user: User | None = None, full_name: str = "", password: str = ""
) -> Membership:
    """Join the organisation: as ``user`` (signed in), or as a new account with ``password``."""
    invitation = (
        Invitation.objects.for_org(invitation.organization_id)
        .select_for_update()
        .get(pk=invitation.pk)
    )
    if invitation.accepted_at is not None or invitation.revoked_at is not None:
        raise ValidationError(_("This invitation has already been used."))
    if invitation.is_expired:
        raise ValidationError(_("This invitation has expired."))
    org = invitation.organization
    if user is None:
        if User.objects.filter(email__iexact=invitation.email).exists():
            raise ValidationError(
                _("An account for %(email)s exists already: log in to accept.")
                % {"email": invitation.email}
            )
        candidate = User(email=invitation.email, full_name=full_name.strip())
        try:
            validate_password(password, candidate)
        except ValidationError as exc:
            raise ValidationError({"password": exc.messages}) from exc
        candidate.set_password(password)
        candidate.save()
        user = candidate
    elif user.email.lower() != invitation.email.lower():
        raise ValidationError(
            _("This invitation is for %(email)s, but you are signed in as %(you)s.")
            % {"email": invitation.email, "you": user.email}
        )
    membership = Membership.objects.for_org(org).filter(user=user).first()
    if membership is None:
        membership = Membership.objects.create(
            organization=org,
            user=user,
            role=invitation.role,
            time_zone=org.time_zone,
            language=org.language,
        )
    else:  # a former member invited back
        membership.active = True
        membership.deactivated_at = None
        membership.role = invitation.role
        membership.save(update_fields=["active", "deactivated_at", "role"])
    if invitation.team_id:
        TeamMembership.objects.for_org(org).get_or_create(
            organization=org, team_id=invitation.team_id, membership=membership
        )
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = membership
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    page_cache.bump(org)  # one more person (and perhaps a team member) to count
    return membership


# --- Members ---------------------------------------------------------------------------------


def _require_admin(org: Organization, by: Membership) -> None:
    if by.organization_id != org.pk or by.role != Membership.Role.ADMIN or not by.active:
        raise PermissionDenied(_("Only admins of this organisation may do this."))


def _active_admin_count(org: Organization) -> int:
    return Membership.objects.for_org(org).active().admins().count()


@transaction.atomic
def membership_update(
    *,
    org: Organization,
    by: Membership,
    membership: Membership,
    role: str,
    manager: Membership | None,
    is_okr_master: bool,
) -> Membership:
    """Change a member's role, manager and OKR Master flag."""
    _require_admin(org, by)
    membership = Membership.objects.for_org(org).select_for_update().get(pk=membership.pk)
    errors: dict[str, str] = {}
    if role not in Membership.Role.values:
        errors["role"] = _("Choose a role from the list.")
    if (
        membership.role == Membership.Role.ADMIN
        and role != Membership.Role.ADMIN
        and membership.active
        and _active_admin_count(org) <= 1
    ):
        errors["role"] = _("%(org)s needs at least one admin; make someone else admin first.") % {
            "org": org.name
        }
    if manager is not None:
        if manager.organization_id != org.pk:
            errors["manager"] = _("Choose a manager from this organisation.")
        elif manager.pk == membership.pk:
            errors["manager"] = _("A person cannot be their own manager.")
        elif membership.pk in _manager_chain_ids(org, manager):
            errors["manager"] = _(
                "%(manager)s reports to %(person)s already; that would make a loop."
            ) % {"manager": manager.display_name, "person": membership.display_name}
    if errors:
        raise ValidationError(errors)
    membership.role = role
    membership.manager = manager
    membership.is_okr_master = is_okr_master
    membership.save(update_fields=["role", "manager", "is_okr_master"])
    page_cache.bump(org)
    return membership


def _manager_chain_ids(org: Organization, start: Membership) -> set[int]:
    """Ids of ``start`` and everyone above it (one query: managers of the whole org)."""
    manager_of = dict(Membership.objects.for_org(org).values_list("id", "manager_id"))
    seen: set[int] = set()
    current: int | None = start.pk
    while current is not None and current not in seen:
        seen.add(current)
        current = manager_of.get(current)
    return seen


@transaction.atomic
def membership_deactivate(
    *, org: Organization, by: Membership, membership: Membership
) -> Membership:
    """Take away access at once; their OKRs, check-ins and history stay."""
    _require_admin(org, by)
    membership = Membership.objects.for_org(org).select_for_update().get(pk=membership.pk)
    if not membership.active:
        return membership
    if membership.role == Membership.Role.ADMIN and _active_admin_count(org) <= 1:
        raise ValidationError(
            _("%(org)s needs at least one active admin; make someone else admin first.")
            % {"org": org.name}
        )
    membership.active = False
    membership.deactivated_at = timezone.now()
    membership.save(update_fields=["active", "deactivated_at"])
    page_cache.bump(org)
    return membership


@transaction.atomic
def membership_reactivate(
    *, org: Organization, by: Membership, membership: Membership
) -> Membership:
    _require_admin(org, by)
    membership = Membership.objects.for_org(org).select_for_update().get(pk=membership.pk)
    membership.active = True
    membership.deactivated_at = None
    membership.save(update_fields=["active", "deactivated_at"])
    page_cache.bump(org)
    return membership


@transaction.atomic
def profile_update(
    *, membership: Membership, full_name: str, time_zone: str, language: str
) -> Membership:
    """A person's own name (everywhere) and their time zone and language here."""
    user = membership.user
    user.full_name = full_name.strip()
    user.full_clean(exclude=["password"])
    user.save(update_fields=["full_name"])
    membership.time_zone = time_zone
    membership.language = language
    membership.full_clean(exclude=["organization", "user", "manager"])
    membership.save(update_fields=["time_zone", "language"])
    page_cache.bump(membership.organization)  # the name shows on cached pages
    return membership


# --- Teams ------------------------------------------------------------------------------------


def _unique_team_slug(org: Organization, name: str, exclude_pk: int | None = None) -> str:
    base = slugify(name)[:50] or "team"
    taken = {"new"} | set(  # "new" is the create page's address
        Team.objects.for_org(org)
        .exclude(pk=exclude_pk)
        .filter(slug__startswith=base)
        .values_list("slug", flat=True)
    )
    slug, n = base, 2
    while slug in taken:
        slug = f"{base}-{n}"
        n += 1
    return slug


def _check_team_fields(org: Organization, team: Team, parent: Team | None) -> None:
    errors: dict[str, str] = {}
    if not team.name.strip():
        errors["name"] = _("A team needs a name.")
    elif (
        Team.objects.for_org(org)
        .exclude(pk=team.pk)
        .filter(name__iexact=team.name.strip())
        .exists()
    ):
        errors["name"] = _("There is a team called “%(name)s” already.") % {"name": team.name}
    if parent is not None:
        if parent.organization_id != org.pk:
            errors["parent"] = _("Choose a team of this organisation.")
        elif team.pk is not None and team.pk in _team_ancestor_ids(org, parent):
            errors["parent"] = _("A team cannot be part of itself or of one of its sub-teams.")
    if errors:
        raise ValidationError(errors)


def _team_ancestor_ids(org: Organization, team: Team) -> set[int]:
    parent_of = dict(Team.objects.for_org(org).values_list("id", "parent_id"))
    seen: set[int] = set()
    current: int | None = team.pk
    while current is not None and current not in seen:
        seen.add(current)
        current = parent_of.get(current)
    return seen


@transaction.atomic
def team_create(
    *,
    org: Organization,
    by: Membership,
    name: str,
    parent: Team | None = None,
    description: str = "",
) -> Team:
    _require_admin(org, by)
    team = Team(organization=org, name=name.strip(), parent=parent, description=description.strip())
    _check_team_fields(org, team, parent)
    team.slug = _unique_team_slug(org, team.name)
    team.save()
    page_cache.bump(org)
    return team


@transaction.atomic
def team_update(
    *,
    org: Organization,
    by: Membership,
    team: Team,
    name: str,
    parent: Team | None,
    description: str = "",
) -> Team:
    """Rename, move in the tree or re-describe a team. Its address stays the same."""
    _require_admin(org, by)
    team.name = name.strip()
    team.parent = parent
    team.description = description.strip()
    _check_team_fields(org, team, parent)
    team.save(update_fields=["name", "parent", "description"])
    page_cache.bump(org)
    return team


@transaction.atomic
def team_delete(*, org: Organization, by: Membership, team: Team) -> None:
    _require_admin(org, by)
    if Team.objects.for_org(org).filter(parent=team).exists():
        raise ValidationError(_("Move or delete its sub-teams first."))
    team.delete()
    page_cache.bump(org)


@transaction.atomic
def team_member_set(
    *, org: Organization, by: Membership, team: Team, membership: Membership, is_lead: bool = False
) -> TeamMembership:
    """Put a person on a team (or change whether they lead it)."""
    _require_admin(org, by)
    if team.organization_id != org.pk or membership.organization_id != org.pk:
        raise ValidationError(_("Choose a person and a team of this organisation."))
    team_membership, _created = TeamMembership.objects.for_org(org).update_or_create(
        organization=org, team=team, membership=membership, defaults={"is_lead": is_lead}
    )
    page_cache.bump(org)
    return team_membership


@transaction.atomic
def team_member_remove(
    *, org: Organization, by: Membership, team: Team, membership: Membership
) -> None:
    _require_admin(org, by)
    TeamMembership.objects.for_org(org).filter(team=team, membership=membership).delete()
    page_cache.bump(org)


# --- API tokens ---------------------------------------------------------------------------------

API_TOKENS_PER_PERSON = 20


@transaction.atomic
def api_token_create(*, org: Organization, by: Membership, name: str) -> tuple[ApiToken, str]:
    """A personal token for ``by`` in ``org``; returns it with its secret, shown only now."""
    if by.organization_id != org.pk or not by.active:
        raise PermissionDenied(_("Only members of this organisation may create tokens here."))
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": _("Give the token a name, e.g. what it is for.")})
    live = ApiToken.objects.for_org(org).filter(membership=by, revoked_at__isnull=True)
    if live.count() >= API_TOKENS_PER_PERSON:
        raise ValidationError(
            {
                "name": _("You have %(count)d tokens already; revoke one you no longer use.")
                % {"count": API_TOKENS_PER_PERSON}
            }
        )
    secret = ApiToken.new_secret(org.pk)
    token = ApiToken(
        organization=org,
        membership=by,
        name=name,
        key_prefix=ApiToken.prefix_of(secret),
        key_hash=ApiToken.hash_secret(secret),
    )
    token.full_clean(exclude=["organization", "membership"])
    token.save()
    return token, secret


@transaction.atomic
def api_token_revoke(*, org: Organization, by: Membership, token: ApiToken) -> ApiToken:
    """Stop a token at once. People revoke their own tokens only."""
    if token.organization_id != org.pk or token.membership_id != by.pk:
        raise PermissionDenied(_("You can only revoke your own tokens."))
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token
