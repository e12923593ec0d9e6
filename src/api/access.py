"""Who may see and do what: decided here, in one place, for every endpoint (issue #4).

Two questions, in this order:

1. **Role.** What the token's roles allow at all: ``coordinator`` records and reads within its
   trajectories; ``professional`` reads them and records what a role agreement covers;
   ``auditor`` reads (history too) in its region and changes nothing; ``learning_network`` sees
   anonymised statistics only, never a single trajectory; ``admin`` manages retention and
   erasure, never case data. A role that may not → 403.
2. **Relation.** An organisation sees and acts on a trajectory only while it is a party to it
   (referrer, coordinator, a role agreement in force) or holds a consent of the client that is in
   force and covers it. Without a relation the trajectory or client does not exist for it → 404,
   so existence does not leak.

Consent is checked on the client's record itself (not a read model), so a revocation takes
effect on the very next request. Every refusal is logged with the role, organisation, action
and reason: never a name, never a body.
"""

from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from uuid import UUID

import structlog
from eventsourcing.domain import Aggregate

from api.auth import Principal
from application.care_record import CareRecord
from domain.client import Client
from domain.common import ConsentScope
from domain.errors import ClientNotFound, NotFound, TrajectoryNotFound
from domain.trajectory import Trajectory

log = structlog.get_logger("rodedraad.access")


class Role(StrEnum):
    COORDINATOR = "coordinator"
    PROFESSIONAL = "professional"
    AUDITOR = "auditor"
    LEARNING_NETWORK = "learning_network"
    ADMIN = "admin"


class Forbidden(Exception):
    """The token's roles do not allow this action (403)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


#: Trajectory commands a professional may record, when a role agreement in force names their
#: organisation (or, for answering an agreement, when it names them).
PROFESSIONAL_COMMANDS = frozenset(
    {
        "hold_consultation",
        "agree_action",
        "evaluate",
        "record_follow_up_contact",
        "accept_role_agreement",
        "decline_role_agreement",
    }
)
#: Commands answered by the party an agreement names, before that party is in force.
ANSWERING_AN_AGREEMENT = frozenset({"accept_role_agreement", "decline_role_agreement"})

ANY_SCOPE = frozenset(ConsentScope)
#: A consent opens a trajectory when it covers the plan or the dossier.
CASE_SCOPES = frozenset({ConsentScope.PLAN, ConsentScope.DOSSIER})

#: Commands on a client (and opening trajectories for one): coordinators of a related
#: organisation only.
CLIENT_COMMANDS = frozenset(
    {
        "register_client",
        "refer",
        "appoint_representative",
        "exclude_representative",
        "grant_consent",
        "revoke_consent",
    }
)
ADMIN_COMMANDS = frozenset({"erase_client"})

CASE_READERS: frozenset[str] = frozenset({Role.COORDINATOR, Role.PROFESSIONAL, Role.AUDITOR})
CASE_RECORDERS: frozenset[str] = frozenset({Role.COORDINATOR, Role.PROFESSIONAL})
COORDINATORS: frozenset[str] = frozenset({Role.COORDINATOR})
AUDITORS: frozenset[str] = frozenset({Role.AUDITOR})
ADMINS: frozenset[str] = frozenset({Role.ADMIN})


def _roles(principal: Principal) -> set[str]:
    return set(principal.roles)


def refuse(principal: Principal, action: str, reason: str, error: Exception) -> Exception:
    log.info(
        "access refused",
        action=action,
        reason=reason,
        roles=list(principal.roles),
        organisation=principal.organisation,
    )
    return error


class AccessPolicy:
    """The single place where access is decided; the API asks it before every answer."""

    def __init__(self, care_record: CareRecord) -> None:
        self.care_record = care_record

    # --- roles ------------------------------------------------------------------------------------

    def require_role(self, principal: Principal, action: str, allowed: frozenset[str]) -> None:
        if not _roles(principal) & allowed:
            raise refuse(
                principal,
                action,
                "role",
                Forbidden(
                    f"{action} needs one of the roles {', '.join(sorted(allowed))}; "
                    f"this token has {', '.join(principal.roles) or 'none'}"
                ),
            )

    def check_command_role(self, principal: Principal, action: str) -> None:
        """The role question for a command (403); the relation is checked on the record."""
        if action in CLIENT_COMMANDS:
            self.require_role(principal, action, COORDINATORS)
        elif action in ADMIN_COMMANDS:
            self.require_role(principal, action, ADMINS)
        else:
            self.may_record(principal, action)

    def may_record(self, principal: Principal, command: str) -> None:
        roles = _roles(principal)
        if Role.COORDINATOR in roles:
            return
        if Role.PROFESSIONAL in roles and command in PROFESSIONAL_COMMANDS:
            return
        raise refuse(
            principal,
            command,
            "role",
            Forbidden(
                f"{command.replace('_', ' ')} is recorded by a coordinator"
                + (
                    " (a professional records consultations, actions, evaluations, follow-up "
                    "contacts and answers role agreements)"
                    if Role.PROFESSIONAL in roles
                    else ""
                )
            ),
        )

    # --- relations --------------------------------------------------------------------------------

    @staticmethod
    def holds_consent(
        client: Client, organisation: str, scopes: frozenset[ConsentScope] = ANY_SCOPE
    ) -> bool:
        """A consent of the client in force today that names the organisation and covers one
        of ``scopes`` (004: what passes is named: the plan, the dossier, the contact details)."""
        today = datetime.now(UTC).date()
        return any(
            consent.revoked_at is None
            and consent.to_party == organisation
            and consent.granted_on <= today
            and (consent.until is None or today <= consent.until)
            and not scopes.isdisjoint(consent.scopes)
            for consent in client.consents.values()
        )

    def related_to_trajectory(
        self, principal: Principal, parties: list[str], client_id: UUID, region: str
    ) -> bool:
        """Auditors: their region. Others: a party, or holding the client's consent."""
        decided = self.related_without_client(principal, parties, region)
        if decided is not None:
            return decided
        return self.holds_consent(
            self.care_record.client(client_id), principal.organisation, CASE_SCOPES
        )

    @staticmethod
    def related_without_client(
        principal: Principal, parties: list[str], region: str
    ) -> bool | None:
        """What ``related_to_trajectory`` decides without the client's record (no I/O): an
        auditor of the region, a party, or a role that never relates; ``None``: ask the
        client's consents."""
        roles = _roles(principal)
        if Role.AUDITOR in roles and region == principal.region:
            return True
        if not roles & {Role.COORDINATOR, Role.PROFESSIONAL}:
            return False
        if principal.organisation in parties:
            return True
        return None

    def sees_contact_details(self, principal: Principal, client: Client) -> bool:
        """The registering organisation, auditors, or a consent covering the contact details."""
        if Role.AUDITOR in _roles(principal):
            return True
        return client.registering_organisation == principal.organisation or self.holds_consent(
            client, principal.organisation, frozenset({ConsentScope.CONTACT_DETAILS})
        )

    def related_to_client(
        self, principal: Principal, client: Client, regions: set[str] | None = None
    ) -> bool:
        """Auditors: a client with a trajectory in their region (``regions``); otherwise the
        organisation that registered the client, or one holding a consent of the client."""
        roles = _roles(principal)
        if Role.AUDITOR in roles and principal.region in (regions or set()):
            return True
        if not roles & {Role.COORDINATOR, Role.PROFESSIONAL}:
            return False
        return client.registering_organisation == principal.organisation or self.holds_consent(
            client, principal.organisation
        )

    @staticmethod
    def hidden(principal: Principal, action: str, error: NotFound) -> NotFound:
        log.info(
            "access refused",
            action=action,
            reason="no relation",
            roles=list(principal.roles),
            organisation=principal.organisation,
        )
        return error

    # --- commands: applied to the aggregate the use case loaded ----------------------------------

    def command_guard(
        self, principal: Principal, command: str, on_behalf_of: str | None = None
    ) -> Callable[[Aggregate], None]:
        """What ``application.care_record.access_check`` runs on each aggregate before a command."""

        def check(aggregate: Aggregate) -> None:
            if isinstance(aggregate, Trajectory):
                self._check_trajectory_command(principal, command, aggregate)
                if on_behalf_of:
                    client = self.care_record.client(aggregate.client_id)
                    self.check_not_excluded(principal, client, on_behalf_of)
            elif isinstance(aggregate, Client):
                if command in ADMIN_COMMANDS:
                    return  # erasure needs the pseudonymous id only; the role was checked
                if not self.related_to_client(principal, aggregate):
                    raise self.hidden(
                        principal, command, ClientNotFound(f"no client with id {aggregate.id}")
                    )
                if on_behalf_of:
                    self.check_not_excluded(principal, aggregate, on_behalf_of)

        return check

    def _check_trajectory_command(
        self, principal: Principal, command: str, trajectory: Trajectory
    ) -> None:
        organisation = principal.organisation
        agreements = trajectory.role_agreements.values()
        answering = command in ANSWERING_AN_AGREEMENT and any(
            organisation in a.parties for a in agreements if a.pending
        )
        if not answering and not self.related_to_trajectory(
            principal, trajectory.parties, trajectory.client_id, trajectory.region
        ):
            raise self.hidden(
                principal, command, TrajectoryNotFound(f"no trajectory with id {trajectory.id}")
            )
        if Role.COORDINATOR in _roles(principal) or answering:
            return
        if not any(organisation in a.parties for a in agreements if a.in_force):
            raise refuse(
                principal,
                command,
                "no role agreement",
                Forbidden(
                    "a professional records on a trajectory only under a role agreement in force "
                    "that names their organisation"
                ),
            )

    # --- reads ------------------------------------------------------------------------------------

    def list_scope(
        self, principal: Principal, organisation: str | None, region: str | None
    ) -> tuple[str | None, str | None]:
        """Board and list: an organisation sees its own trajectories, an auditor its region."""
        self.require_role(principal, "list trajectories", CASE_READERS)
        roles = _roles(principal)
        if roles & CASE_RECORDERS:
            if organisation not in (None, principal.organisation):
                raise refuse(
                    principal,
                    "list trajectories",
                    "other organisation",
                    Forbidden("you can list only your own organisation's trajectories"),
                )
            return principal.organisation, region
        if region not in (None, principal.region):
            raise refuse(
                principal,
                "list trajectories",
                "other region",
                Forbidden("an auditor lists the trajectories of their own region"),
            )
        return organisation, principal.region

    def check_not_excluded(self, principal: Principal, client: Client, on_behalf_of: str) -> None:
        """004: a representative the client excluded can neither sign nor see the plan."""
        representative = client.representatives.get(on_behalf_of)
        if representative is not None and representative.excluded_at is not None:
            raise refuse(
                principal,
                "read the plan",
                "excluded representative",
                Forbidden("the client excluded this representative: they may not see the plan"),
            )
