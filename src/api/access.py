"""Who may see and do what: decided here, in one place, for every endpoint (issues #4, #10).

**Per role.** A token may carry several roles; each request is decided per role, and a role's
permission counts only with that role's own relation (DESIGN §7): a coordinator records on the
trajectories its organisation is party to, an auditor reads its region — a token with both may
not record on its region's trajectories through the auditor's relation. The roles are tried in a
fixed order (``PRECEDENCE``); the first that may act, acts, and that role is the one recorded on
the event and in the personal-data read log.

**For one role**, two questions, in this order:

1. *Role.* What the role allows at all: ``coordinator`` records and reads; ``professional`` reads
   and records what a role agreement covers; ``auditor`` reads (history too) in its region and
   changes nothing; ``data_protection_officer`` erases, reads no case data; ``admin`` sees what
   passed its retention, never case data, and keeps the organisation register;
   ``learning_network`` reads the statistics releases of its region, ``forum`` those of every
   region (issue #12); the ``data_protection_officer`` records and revokes export
   authorisations, and an export needs one in force for the caller's user, organisation and
   region, whatever its roles (issue #13). A role that may not → 403.
2. *Relation.* Who the organisation is to the record:

   - **party** to a trajectory (referrer, the organisation that recorded the referral, its
     coordinator, a role agreement in force): reads it and records on it;
   - **a consent** of the client in force that names the organisation and covers the plan or the
     dossier: reads the trajectory — and records nothing (a consent lets information pass; it
     gives no say over the trajectory);
   - **a continuation consent** (issue #17): scope ``plan``, purpose ``continuation``, naming one
     trajectory: reads that trajectory only, and lets its holder open a continuation of it at
     its own organisation (``continue``); the client and everything else stay 404 to it;
   - **manages the client**: the organisation that registered the client, or the coordinating
     organisation of one of the client's open trajectories, acting for the client: manages its
     consents and representatives and refers it. A consent never lets its holder manage consents
     or refer the client elsewhere;
   - an auditor's **region**: the trajectories of the region and the clients with one there.

   No relation → 404, so existence does not leak; a relation that sees the record but does not
   allow the action → 403.

**The organisation register** (issue #12) is no case data and has no relation: any known role
reads it; a coordinator registers an organisation provisionally on the spot (a handover to a
school never waits for an admin), an admin registers confirmed ones and confirms or corrects any.

Rules that are the domain's (a consent in force covering a scope, an excluded representative)
are asked of the domain. Consent is checked on the client's record itself (not a read model), so
a revocation takes effect on the very next request. A refusal is logged once, with the roles,
organisation, action and reason: never a name, never a body.
"""

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any, TypeVar
from uuid import UUID

import msgspec
import structlog

from api.auth import Principal
from application.care_record import CareRecord
from application.commands import Action
from domain.client import Client
from domain.common import Actor, ConsentScope
from domain.errors import ClientNotFound, NotFound, TrajectoryNotFound
from domain.export_authorisation import ExportAuthorisation
from domain.learning_network import LearningNetwork, LearningNetworkNotFound, NetworkLevel
from domain.organisation import Organisation
from domain.trajectory import Trajectory

log = structlog.get_logger("rodedraad.access")

R = TypeVar("R")


class Role(StrEnum):
    COORDINATOR = "coordinator"
    PROFESSIONAL = "professional"
    AUDITOR = "auditor"
    DATA_PROTECTION_OFFICER = "data_protection_officer"
    ADMIN = "admin"
    LEARNING_NETWORK = "learning_network"
    #: Macro: the forum reads the statistics releases of every region of the deployment.
    FORUM = "forum"


#: The order in which a token's roles are tried: the first that may act, acts.
PRECEDENCE: tuple[Role, ...] = tuple(Role)


class Forbidden(Exception):
    """The role may not (403).

    ``visible``: the role's relation sees the record, so the refusal says nothing about whether
    it exists; such a refusal wins over another role's "no relation" (404).
    """

    def __init__(self, message: str, *, visible: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.visible = visible


#: Trajectory commands a professional may record, when a role agreement in force names their
#: organisation (or, for answering an agreement, when it names them).
PROFESSIONAL_COMMANDS = frozenset(
    {
        Action.HOLD_CONSULTATION,
        Action.AGREE_ACTION,
        Action.EVALUATE,
        Action.RECORD_FOLLOW_UP_CONTACT,
        Action.ACCEPT_ROLE_AGREEMENT,
        Action.DECLINE_ROLE_AGREEMENT,
    }
)
#: Commands answered by the party an agreement names, before that party is in force.
ANSWERING_AN_AGREEMENT = frozenset({Action.ACCEPT_ROLE_AGREEMENT, Action.DECLINE_ROLE_AGREEMENT})

#: A consent opens a trajectory (for reading) when it covers the plan or the dossier.
CASE_SCOPES = frozenset({ConsentScope.PLAN, ConsentScope.DOSSIER})
ANY_SCOPE = frozenset(ConsentScope)
CONTACT = frozenset({ConsentScope.CONTACT_DETAILS})

#: Issue #19: the person as a user — identity links, year of birth, capacity assessment —
#: recorded by a coordinator of an organisation that manages the client.
PERSON_RECORD = frozenset(
    {
        Action.LINK_IDENTITY,
        Action.REVOKE_IDENTITY_LINK,
        Action.RECORD_BIRTH_YEAR,
        Action.ASSESS_CAPACITY,
    }
)
#: Issue #19 point 5: what only the person does, through ``/v1/me`` (the record's own use
#: cases, decided by the identity link, never by this policy): no organisation's role takes it.
PERSON_ONLY = frozenset({Action.FILE_REQUEST, Action.GIVE_CONSULTATION_INPUT})
#: A person's request is decided by the organisation that manages the client (the coordinating
#: organisation) or by the deployment's data protection officer.
REQUEST_DECISION = Action.DECIDE_REQUEST
#: Acting for the client: only an organisation that manages the client (module docstring).
CLIENT_MANAGEMENT = (
    frozenset(
        {
            Action.REFER,
            Action.APPOINT_REPRESENTATIVE,
            Action.EXCLUDE_REPRESENTATIVE,
            Action.GRANT_CONSENT,
            Action.REVOKE_CONSENT,
        }
    )
    | PERSON_RECORD
)
#: Issue #17: a continuation at the caller's own organisation; besides those that manage the
#: client, the holder of the client's continuation consent opens it (``Client.lets_continue``).
CONTINUATION = Action.CONTINUE
REGISTRATION = Action.REGISTER_CLIENT
ERASURE = Action.ERASE_CLIENT
#: The organisation register: a coordinator registers (provisionally), an admin also confirms
#: and corrects; no command of the register acts for a client.
ORGANISATION_REGISTRATION = Action.REGISTER_ORGANISATION
ORGANISATION_MANAGEMENT = frozenset({Action.CONFIRM_ORGANISATION, Action.CORRECT_ORGANISATION})
ORGANISATION_COMMANDS = ORGANISATION_MANAGEMENT | {ORGANISATION_REGISTRATION}
#: Export authorisations (issue #13): recorded and revoked by the data protection officer only.
EXPORT_AUTHORISATION_COMMANDS = frozenset(
    {Action.GRANT_EXPORT_AUTHORISATION, Action.REVOKE_EXPORT_AUTHORISATION}
)

#: Learning networks (issue #14). The forum or an admin establishes (and closes) a network; its
#: coordinating organisation admits members and publishes lessons; members record; a coordinator
#: of the region proposes themes and raises signals.
NETWORK_FOUNDING = frozenset({Action.ESTABLISH_LEARNING_NETWORK, Action.CLOSE_LEARNING_NETWORK})
NETWORK_COORDINATING = frozenset(
    {Action.ADMIT_NETWORK_MEMBER, Action.RECORD_NETWORK_MEMBER_LEFT, Action.PUBLISH_LESSONS}
)
NETWORK_FROM_THE_REGION = frozenset({Action.PROPOSE_THEME, Action.RAISE_POLICY_SIGNAL})
NETWORK_MEMBERS = frozenset(
    {
        Action.SCHEDULE_THEME,
        Action.CLOSE_THEME,
        Action.HOLD_NETWORK_MEETING,
        Action.ANSWER_POLICY_SIGNAL,
        Action.CLOSE_POLICY_SIGNAL,
        Action.ESCALATE_POLICY_SIGNAL,
        Action.START_IMPROVEMENT_TRAJECTORY,
        Action.MEASURE_IMPROVEMENT_TRAJECTORY,
    }
)
NETWORK_COMMANDS = (
    NETWORK_FOUNDING | NETWORK_COORDINATING | NETWORK_FROM_THE_REGION | NETWORK_MEMBERS
)
#: Who reads learning networks: the forum and admins every one, a learning network and an
#: auditor their region's.
NETWORK_READERS: frozenset[str] = frozenset(
    {Role.LEARNING_NETWORK, Role.FORUM, Role.AUDITOR, Role.ADMIN}
)

CASE_READERS: frozenset[str] = frozenset({Role.COORDINATOR, Role.PROFESSIONAL, Role.AUDITOR})
CASE_RECORDERS: frozenset[str] = frozenset({Role.COORDINATOR, Role.PROFESSIONAL})
AUDITORS: frozenset[str] = frozenset({Role.AUDITOR})
RETENTION_READERS: frozenset[str] = frozenset({Role.ADMIN, Role.DATA_PROTECTION_OFFICER})
#: The export authorisations: the data protection officer lists them (issue #13).
EXPORT_AUTHORISATION_READERS: frozenset[str] = frozenset({Role.DATA_PROTECTION_OFFICER})
#: Statistics releases (issue #12): a region's learning network and its auditors read the
#: releases of their region, the forum those of every region.
STATISTICS_READERS: frozenset[str] = frozenset({Role.LEARNING_NETWORK, Role.FORUM, Role.AUDITOR})
#: Registry data, no case data: every known role reads the register (unknown roles never act).
ORGANISATION_READERS: frozenset[str] = frozenset(Role)


def acting_roles(principal: Principal) -> list[Principal]:
    """The token as each of its known roles alone, in ``PRECEDENCE`` (unknown roles never act)."""
    return [principal.acting_as(role) for role in PRECEDENCE if role in principal.roles]


def role_of(principal: Principal) -> str:
    """The role a single-role principal acts in."""
    return principal.roles[0] if principal.roles else ""


class AccessPolicy:
    """The single place where access is decided; the API asks it before every answer.

    ``clock`` says what day it is for the consents (a consent is in force on a day); it is
    passed in, so tests decide the day and the policy reads no clock of its own.
    """

    def __init__(
        self, care_record: CareRecord, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self.care_record = care_record
        self.clock = clock

    # --- deciding per role ----------------------------------------------------------------------

    def decide(
        self, principal: Principal, action: str, check: Callable[[Principal], R]
    ) -> tuple[Principal, R]:
        """Run ``check`` for each role alone, in order; the first role it lets through acts.

        Refused by every role: a refusal by a role that sees the record (403) wins over "no
        relation" (404), which wins over "the role may not" (403), so a second role never
        reveals more than it may.
        """
        refusal: Exception | None = None
        rank = -1
        found: Exception
        for single in acting_roles(principal):
            try:
                return single, check(single)
            except Forbidden as e:
                found, weight = e, 2 if e.visible else 0
            except NotFound as e:
                found, weight = e, 1
            if weight > rank:
                refusal, rank = found, weight
        if refusal is None:
            refusal = Forbidden(
                f"{action.replace('_', ' ')} needs a role this token does not have "
                f"(it has {', '.join(principal.roles) or 'none'})"
            )
        log.info(
            "access refused",
            action=action,
            reason="no relation" if isinstance(refusal, NotFound) else "role",
            roles=list(principal.roles),
            organisation=principal.organisation,
        )
        raise refusal

    @staticmethod
    def hidden(principal: Principal, action: str, error: NotFound) -> NotFound:
        """A record that does not exist for the caller (no relation): logged, then raised."""
        log.info(
            "access refused",
            action=action,
            reason="no relation",
            roles=list(principal.roles),
            organisation=principal.organisation,
        )
        return error

    @staticmethod
    def statistics_regions(acting: Principal) -> frozenset[str] | None:
        """The regions whose released statistics a role reads: the forum every region of the
        deployment (``None``), a learning network or an auditor its own region."""
        return None if role_of(acting) == Role.FORUM else frozenset({acting.region})

    def require_role(self, principal: Principal, action: str, allowed: frozenset[str]) -> Principal:
        """The principal acting in the first of its roles that ``allowed`` names, or 403."""

        def check(single: Principal) -> None:
            if role_of(single) not in allowed:
                raise Forbidden(
                    f"{action} needs one of the roles {', '.join(sorted(allowed))}; "
                    f"this token has {', '.join(principal.roles) or 'none'}"
                )

        return self.decide(principal, action, check)[0]

    # --- commands ---------------------------------------------------------------------------------

    @staticmethod
    def permits(role: str, action: str) -> bool:
        """Whether ``role`` may take ``action`` at all, whatever the record (the 403 question)."""
        if action in (REGISTRATION, CONTINUATION) or action in CLIENT_MANAGEMENT:
            return role == Role.COORDINATOR
        if action in PERSON_ONLY:
            return False
        if action == REQUEST_DECISION:
            return role in (Role.COORDINATOR, Role.DATA_PROTECTION_OFFICER)
        if action == ORGANISATION_REGISTRATION:
            return role in (Role.COORDINATOR, Role.ADMIN)
        if action in ORGANISATION_MANAGEMENT:
            return role == Role.ADMIN
        if action == ERASURE or action in EXPORT_AUTHORISATION_COMMANDS:
            return role == Role.DATA_PROTECTION_OFFICER
        if action in NETWORK_FOUNDING:
            return role in (Role.FORUM, Role.ADMIN)
        if action in NETWORK_FROM_THE_REGION:
            return role in (Role.LEARNING_NETWORK, Role.FORUM, Role.COORDINATOR)
        if action in NETWORK_COMMANDS:
            return role in (Role.LEARNING_NETWORK, Role.FORUM)
        return role == Role.COORDINATOR or (
            role == Role.PROFESSIONAL and action in PROFESSIONAL_COMMANDS
        )

    @staticmethod
    def registers_provisionally(role: str) -> bool:
        """Whether an organisation registered by ``role`` awaits an admin's confirmation: every
        registration but an admin's is provisional."""
        return role != Role.ADMIN

    def check_command_role(self, principal: Principal, action: str) -> Principal:
        """The role question for a command (403): the principal acting in the first role that
        may take the action at all. The record then decides the relation (``command_guard``)."""

        def check(single: Principal) -> None:
            if not self.permits(role_of(single), action):
                raise Forbidden(self._role_refusal(principal, action))

        return self.decide(principal, action, check)[0]

    @staticmethod
    def _role_refusal(principal: Principal, action: str) -> str:
        words = action.replace("_", " ")
        if action in PERSON_ONLY:
            return f"{words} is the person's own, through /v1/me with their own token"
        if action == REQUEST_DECISION:
            return (
                "a person's request is decided by a coordinator of the organisation that manages "
                "the client, or by the data_protection_officer role"
            )
        if action == ERASURE:
            return (
                "erasing a client's personal data is irreversible: only the "
                "data_protection_officer role erases"
            )
        if action in EXPORT_AUTHORISATION_COMMANDS:
            return (
                f"{words}: an export is pseudonymised personal data, authorised only by the "
                "data_protection_officer role"
            )
        if action in NETWORK_FOUNDING:
            return f"{words} is the forum's (or an admin's)"
        if action in NETWORK_FROM_THE_REGION:
            return (
                f"{words} is recorded by a member of the learning network, the forum or a "
                "coordinator of the region"
            )
        if action in NETWORK_COMMANDS:
            return f"{words} is recorded by a member of the learning network (or the forum's)"
        if action == ORGANISATION_REGISTRATION:
            return (
                "registering an organisation needs the coordinator role (a provisional "
                "registration) or the admin role"
            )
        if action in ORGANISATION_MANAGEMENT:
            return (
                f"{words} is an admin's: a coordinator registers an organisation provisionally, "
                "an admin confirms or corrects the register"
            )
        if Role.PROFESSIONAL in principal.roles and action not in CLIENT_MANAGEMENT | {
            REGISTRATION
        }:
            return (
                f"{words} is recorded by a coordinator (a professional records consultations, "
                "actions, evaluations, follow-up contacts and answers role agreements)"
            )
        return f"{words} is recorded by a coordinator"

    def command_guard(
        self, principal: Principal, action: str, on_behalf_of: str | None = None
    ) -> Callable[[Any], Actor]:
        """What a command's context calls with each recorded aggregate it changes or relies on:
        decides which of the token's roles acts (per role, with that role's relation), checks
        the representative named in ``X-On-Behalf-Of``, and returns the actor to record.

        One role acts for the whole command: once decided on the first aggregate, only that
        role is asked about the next.
        """
        acting: list[Principal] = []

        def check(aggregate: Any) -> Actor:
            asking = acting[0] if acting else principal
            single, client = self.decide(
                asking, action, lambda p: self._check_command(p, action, aggregate)
            )
            if not acting:
                acting.append(single)
            if on_behalf_of is not None and client is not None:
                client.check_may_act_for(on_behalf_of)
            return single.actor(on_behalf_of)

        return check

    def _check_command(self, principal: Principal, action: str, aggregate: Any) -> Client | None:
        """One role's decision on one aggregate; returns the client whose record it is (none for
        the organisation register)."""
        if not self.permits(role_of(principal), action):
            raise Forbidden(self._role_refusal(principal, action))
        if isinstance(aggregate, Organisation):
            if action not in ORGANISATION_MANAGEMENT:
                raise Forbidden(f"{action.replace('_', ' ')} is not a command on an organisation")
            return None  # the role suffices: the register is the deployment's, not a case's
        if isinstance(aggregate, ExportAuthorisation):
            if action not in EXPORT_AUTHORISATION_COMMANDS:
                raise Forbidden(f"{action.replace('_', ' ')} is not a command on an authorisation")
            return None  # the role suffices: the officer keeps the deployment's authorisations
        if isinstance(aggregate, LearningNetwork):
            self._check_network_command(principal, action, aggregate)
            return None
        if isinstance(aggregate, Client):
            self._check_client_command(principal, action, aggregate)
            return aggregate
        if isinstance(aggregate, Trajectory):
            self._check_trajectory_command(principal, action, aggregate)
            return self.care_record.client(aggregate.client_id)
        # A kind of record this policy does not know is never acted on by default.
        raise Forbidden(
            f"{action.replace('_', ' ')} on a {type(aggregate).__name__} is not something the "
            "access policy knows; refused"
        )

    @staticmethod
    def sees_network(principal: Principal, level: str, region: str | None) -> bool:
        """One role's relation for reading a learning network: the forum and admins every
        network, a learning network and an auditor their region's (issue #14)."""
        role = role_of(principal)
        if role in (Role.FORUM, Role.ADMIN):
            return True
        if role in (Role.LEARNING_NETWORK, Role.AUDITOR):
            return level == NetworkLevel.MESO and region == principal.region
        return False

    @staticmethod
    def network_regions(acting: Principal) -> frozenset[str] | None:
        """The regions whose networks a role lists: every one (``None``) for the forum and
        admins, else its own region (the forum of the deployment is not a region's)."""
        return None if role_of(acting) in (Role.FORUM, Role.ADMIN) else frozenset({acting.region})

    def network_reader(
        self, principal: Principal, action: str, network: UUID, level: str, region: str | None
    ) -> Principal:
        """The principal acting in the first role that may read the network, or the refusal
        (404 when no role sees it: a region's network does not exist for another region)."""

        def check(single: Principal) -> None:
            if role_of(single) not in NETWORK_READERS:
                raise Forbidden(
                    f"{action} needs one of the roles {', '.join(sorted(NETWORK_READERS))}"
                )
            if not self.sees_network(single, level, region):
                raise LearningNetworkNotFound(f"no learning network with id {network}")

        return self.decide(principal, action, check)[0]

    @staticmethod
    def _check_network_command(principal: Principal, action: str, network: LearningNetwork) -> None:
        """Issue #14: members record for their network (in their region); its coordinating
        organisation admits members and publishes lessons; the forum's role records for the
        forum when its organisation is a member of it (as in a region: an outside probe's forum
        token of a non-member recorded themes there), and reads every region's; a coordinator of
        the region proposes themes and raises signals."""
        if action not in NETWORK_COMMANDS:
            raise Forbidden(f"{action.replace('_', ' ')} is not a command on a learning network")
        role, organisation = role_of(principal), principal.organisation
        meso = network.level == NetworkLevel.MESO
        if role == Role.ADMIN or (role == Role.FORUM and action in NETWORK_FOUNDING):
            return  # the deployment's: it established the network, it closes it
        if role == Role.COORDINATOR:
            if not (meso and network.region == principal.region):
                raise LearningNetworkNotFound(f"no learning network with id {network.id}")
            return  # permits() let it only propose themes and raise signals
        if role == Role.LEARNING_NETWORK and not (meso and network.region == principal.region):
            raise LearningNetworkNotFound(f"no learning network with id {network.id}")
        if role == Role.FORUM and meso:
            raise Forbidden(
                "the forum reads a region's learning network; its members record for it",
                visible=True,
            )
        if action in NETWORK_COORDINATING:
            if organisation != network.coordinating_organisation:
                raise Forbidden(
                    f"{action.replace('_', ' ')} is the coordinating organisation's "
                    f"({network.coordinating_organisation!r})",
                    visible=True,
                )
            return
        if organisation not in network.members:  # the forum's role too: its members record
            which = "this learning network" if meso else "the forum"
            raise Forbidden(
                f"your organisation is no member of {which}: its members record for it (its "
                "coordinating organisation admits members)",
                visible=True,
            )

    def _check_client_command(self, principal: Principal, action: str, client: Client) -> None:
        if action == ERASURE:
            return  # the role suffices: the deployment's officer, on the pseudonymous id
        if action == REQUEST_DECISION and role_of(principal) == Role.DATA_PROTECTION_OFFICER:
            return  # the deployment's officer decides any person's request
        if action == CONTINUATION and client.lets_continue(
            principal.organisation, self.clock().date()
        ):
            return  # issue #17: a consent to continue; the trajectory decides which one
        if action == CONTINUATION:
            action = Action.REFER  # otherwise a continuation is a referral like any other
        if action not in CLIENT_MANAGEMENT | {REQUEST_DECISION}:
            raise Forbidden(f"{action.replace('_', ' ')} is not a command on a client")
        if self.manages(principal, client):
            return
        if not self.sees_client(principal, client):
            raise ClientNotFound(f"no client with id {client.id}")
        raise Forbidden(
            "only the organisation that registered the client, or one that coordinates an open "
            "trajectory of the client, acts for the client (consents, representatives, "
            "referrals); a consent lets its holder see, not manage (one with scope plan and "
            "purpose continuation lets its holder continue a closed trajectory of the client, "
            "at its own organisation)",
            visible=True,
        )

    def _check_trajectory_command(
        self, principal: Principal, action: str, trajectory: Trajectory
    ) -> None:
        organisation, role = principal.organisation, role_of(principal)
        if action == CONTINUATION:
            self._check_continuation(principal, trajectory)
            return
        if action == Action.REFER:  # the trajectory a new referral continues: it is read
            if not self.reads_trajectory(
                principal,
                trajectory.parties,
                trajectory.client_id,
                trajectory.region,
                trajectory.id,
            ):
                raise TrajectoryNotFound(f"no trajectory with id {trajectory.id}")
            return
        agreements = trajectory.role_agreements.values()
        if action in ANSWERING_AN_AGREEMENT and any(
            organisation in a.parties for a in agreements if a.pending
        ):
            return  # the party an agreement names answers it before it is a party
        party = organisation in trajectory.parties
        if not party and not self.reads_trajectory(
            principal, trajectory.parties, trajectory.client_id, trajectory.region, trajectory.id
        ):
            raise TrajectoryNotFound(f"no trajectory with id {trajectory.id}")
        if role == Role.COORDINATOR:
            if party:
                return
            raise Forbidden(
                "your organisation holds the client's consent to see this trajectory, not to "
                "record on it: only its parties record",
                visible=True,
            )
        if not any(organisation in a.parties for a in agreements if a.in_force):
            raise Forbidden(
                "a professional records on a trajectory only under a role agreement in force "
                "that names their organisation",
                visible=True,
            )

    def _check_continuation(self, principal: Principal, trajectory: Trajectory) -> None:
        """Issue #17: the trajectory a continuation at the caller's organisation continues. The
        holder of the client's continuation consent for it continues it; an organisation that
        manages the client continues any it reads; whoever reads it otherwise is refused (403),
        and to anyone else it does not exist (404)."""
        client = self.care_record.client(trajectory.client_id)
        if client.lets_continue(principal.organisation, self.clock().date(), trajectory.id):
            return
        if not self.reads_trajectory(
            principal, trajectory.parties, trajectory.client_id, trajectory.region, trajectory.id
        ):
            raise TrajectoryNotFound(f"no trajectory with id {trajectory.id}")
        if self.manages(principal, client):
            return
        raise Forbidden(
            "a consent for the purpose continuation lets its holder continue the trajectory it "
            "names, and no other",
            visible=True,
        )

    # --- relations --------------------------------------------------------------------------------

    def manages(self, principal: Principal, client: Client) -> bool:
        """The organisation that registered the client, or the coordinating organisation of one
        of its open trajectories (``CareRecord.manages``: read from the record, never from a
        read model)."""
        return self.care_record.manages(principal.organisation, client)

    def sees_client(
        self, principal: Principal, client: Client, regions: set[str] | None = None
    ) -> bool:
        """One role's relation to a client: an auditor, a client with a trajectory in its region
        (``regions``); a coordinator or professional, the organisation that manages the client
        or holds one of its consents in force."""
        role = role_of(principal)
        if role == Role.AUDITOR:
            return principal.region in (regions or set())
        if role not in CASE_RECORDERS:
            return False
        return client.shares_with(
            principal.organisation, ANY_SCOPE, self.clock().date()
        ) or self.manages(principal, client)

    def trajectories_read(self, principal: Principal, client: Client) -> frozenset[UUID]:
        """The client's trajectories one role reads (``reads_trajectory``): a consent that names
        one of the others shows to it as no consent at all, since a trajectory it does not read
        does not exist for it (its id, nor the consent's purpose)."""
        return frozenset(
            t.id
            for t in self.care_record.trajectories_of(client.id)
            if self.reads_trajectory(principal, t.parties, client.id, t.region, t.id)
        )

    def sees_contact_details(self, principal: Principal, client: Client) -> bool:
        """Auditors, the registering organisation, or a consent covering the contact details."""
        if role_of(principal) == Role.AUDITOR:
            return True
        return client.registering_organisation == principal.organisation or client.shares_with(
            principal.organisation, CONTACT, self.clock().date()
        )

    def reads_trajectory(
        self,
        principal: Principal,
        parties: Sequence[str],
        client_id: UUID,
        region: str,
        trajectory_id: UUID,
    ) -> bool:
        """One role's relation for reading a trajectory (the client's consents are read only
        when the organisation is no party; a consent that names a trajectory, for its
        continuation, reaches that one only)."""
        decided = self.reads_without_client(principal, parties, region)
        if decided is not None:
            return decided
        client = self.care_record.client(client_id)
        return client.shares_with(
            principal.organisation, CASE_SCOPES, self.clock().date(), trajectory_id
        )

    @staticmethod
    def reads_without_client(
        principal: Principal, parties: Sequence[str], region: str
    ) -> bool | None:
        """What ``reads_trajectory`` decides without the client's record (no I/O); ``None``:
        ask the client's consents."""
        role = role_of(principal)
        if role == Role.AUDITOR:
            return region == principal.region
        if role not in CASE_RECORDERS:
            return False
        if principal.organisation in parties:
            return True
        return None

    # --- reads ------------------------------------------------------------------------------------

    def trajectory_reader_without_client(
        self, principal: Principal, parties: Sequence[str], region: str
    ) -> Principal | None:
        """The fast path of ``trajectory_reader``: the acting principal when one of its roles is
        decided without the client's record; ``None`` when the consents must be read."""
        for single in acting_roles(principal):
            if role_of(single) in CASE_READERS and self.reads_without_client(
                single, parties, region
            ):
                return single
        return None

    def trajectory_reader(
        self,
        principal: Principal,
        action: str,
        trajectory_id: UUID,
        parties: Sequence[str],
        client_id: UUID,
        region: str,
    ) -> Principal:
        """The principal acting in the first role that may read the trajectory, or the refusal."""

        def check(single: Principal) -> None:
            if role_of(single) not in CASE_READERS:
                raise Forbidden(
                    f"{action} needs one of the roles {', '.join(sorted(CASE_READERS))}"
                )
            if not self.reads_trajectory(single, parties, client_id, region, trajectory_id):
                raise TrajectoryNotFound(f"no trajectory with id {trajectory_id}")

        return self.decide(principal, action, check)[0]

    def client_reader(
        self, principal: Principal, action: str, client: Client, regions: set[str]
    ) -> Principal:
        """The principal acting in the first role that may read the client, or the refusal."""

        def check(single: Principal) -> None:
            if role_of(single) not in CASE_READERS:
                raise Forbidden(
                    f"{action} needs one of the roles {', '.join(sorted(CASE_READERS))}"
                )
            if not self.sees_client(single, client, regions):
                raise ClientNotFound(f"no client with id {client.id}")

        return self.decide(principal, action, check)[0]

    def list_scope(
        self, principal: Principal, organisation: str | None, region: str | None
    ) -> tuple[Principal, str | None, str | None]:
        """Board and list: an organisation sees its own trajectories, an auditor its region.
        → (acting principal, organisation filter, region filter)."""

        def check(single: Principal) -> tuple[str | None, str | None]:
            role = role_of(single)
            if role in CASE_RECORDERS:
                if organisation not in (None, principal.organisation):
                    raise Forbidden(
                        "you can list only your own organisation's trajectories", visible=True
                    )
                return principal.organisation, region
            if role == Role.AUDITOR:
                if region not in (None, principal.region):
                    raise Forbidden(
                        "an auditor lists the trajectories of their own region", visible=True
                    )
                return organisation, principal.region
            raise Forbidden(
                f"listing trajectories needs one of the roles {', '.join(sorted(CASE_READERS))}"
            )

        single, (scope_organisation, scope_region) = self.decide(
            principal, "list trajectories", check
        )
        return single, scope_organisation, scope_region

    # --- who has access and why (issue #19 point 4) ---------------------------------------------

    def trajectory_access(self, trajectory: Trajectory, client: Client) -> list["AccessGrant"]:
        """Who reads ``trajectory`` and why, for the person whose plan it is: computed by the
        relations ``reads_trajectory`` decides with, and each organisation listed is asked of
        ``reads_trajectory`` itself (as a coordinator would read), so the list never names one
        the policy refuses, and names every one it lets read: the parties, the holders of a
        consent covering the plan or the dossier, and the auditors of the trajectory's region."""
        today = self.clock().date()
        grants: list[AccessGrant] = []
        coordinating = trajectory.coordinating_organisation
        for organisation in trajectory.parties:
            if not self._reads_as_case_reader(organisation, trajectory):
                continue
            why = party_reasons(trajectory, organisation)
            grants.append(
                AccessGrant(
                    organisation=organisation,
                    relation="party",
                    reasons=why,
                    revocable=False,
                    legal_reason=PARTY_LEGAL_REASON
                    if organisation != coordinating
                    else COORDINATOR_LEGAL_REASON,
                )
            )
        parties = set(trajectory.parties)
        for consent_id, consent in client.consents.items():
            if consent.to_party in parties or not consent.in_force_for(consent.to_party, today):
                continue
            if CASE_SCOPES.isdisjoint(consent.scopes) or not consent.reaches(trajectory.id):
                continue
            if not self._reads_as_case_reader(consent.to_party, trajectory):
                continue
            grants.append(
                AccessGrant(
                    organisation=consent.to_party,
                    relation="consent",
                    reasons=("consent",),
                    revocable=True,
                    consent_id=consent_id,
                    scopes=tuple(s.value for s in consent.scopes),
                    purpose=consent.purpose,
                    until=consent.until,
                )
            )
        auditor = Principal(
            user_id="", organisation="", roles=(Role.AUDITOR,), region=trajectory.region
        )
        if self.reads_trajectory(
            auditor, trajectory.parties, trajectory.client_id, trajectory.region, trajectory.id
        ):
            grants.append(
                AccessGrant(
                    organisation=None,
                    relation="audit",
                    reasons=("region_auditor",),
                    revocable=False,
                    region=trajectory.region,
                    legal_reason=AUDIT_LEGAL_REASON,
                )
            )
        return grants

    def _reads_as_case_reader(self, organisation: str, trajectory: Trajectory) -> bool:
        """Whether a case reader (coordinator or professional) of ``organisation`` reads the
        trajectory: ``reads_trajectory`` asked, not a second rule."""
        reader = Principal(
            user_id="", organisation=organisation, roles=(Role.COORDINATOR,), region=""
        )
        return self.reads_trajectory(
            reader, trajectory.parties, trajectory.client_id, trajectory.region, trajectory.id
        )

    def read_purpose(
        self, organisation: str, role: str, trajectory: Trajectory | None, client: Client, on: date
    ) -> str:
        """The relation a logged read went through, derived as the policy decides it: ``audit``
        for an auditor, ``party`` for an organisation party to the trajectory (or managing the
        client), ``consent: <purpose>`` for one holding a consent in force that day; ``other``
        when none of these holds any more (a relation since ended)."""
        if role == Role.AUDITOR:
            return "audit"
        if trajectory is not None and organisation in trajectory.parties:
            return "party"
        for consent in client.consents.values():
            reached = consent.reaches(trajectory.id if trajectory is not None else None)
            if consent.in_force_for(organisation, on) and reached:
                return f"consent: {consent.purpose}"
        if client.registering_organisation == organisation:
            return "party"
        return "other"


#: Why an organisation the person cannot revoke reads the plan (issue #19 point 4).
COORDINATOR_LEGAL_REASON = (
    "coordinating organisation: keeps the plan and the record of the support it coordinates "
    "(seed 004: kept at least 10 years after the end of service)"
)
PARTY_LEGAL_REASON = (
    "party to the trajectory (referrer, intake or a role agreement in force): needs the plan "
    "to give the support it agreed to"
)
AUDIT_LEGAL_REASON = (
    "the region's auditors supervise the care given (oversight); they read, and change nothing"
)


def party_reasons(trajectory: Trajectory, organisation: str) -> tuple[str, ...]:
    """Why ``organisation`` is party to ``trajectory`` (as ``Trajectory.parties`` counts it)."""
    reasons = []
    if organisation == trajectory.coordinating_organisation:
        reasons.append("coordinating_organisation")
    if organisation == trajectory.referrer_organisation:
        reasons.append("referrer")
    if organisation == trajectory.intake_organisation:
        reasons.append("intake")
    if any(organisation in a.parties for a in trajectory.role_agreements.values() if a.in_force):
        reasons.append("role_agreement")
    return tuple(reasons)


class AccessGrant(msgspec.Struct, frozen=True, omit_defaults=True):
    """One organisation (or a region's auditors) that reads a trajectory, and why."""

    organisation: str | None
    relation: str
    reasons: tuple[str, ...]
    revocable: bool
    legal_reason: str | None = None
    consent_id: str | None = None
    scopes: tuple[str, ...] = ()
    purpose: str | None = None
    until: date | None = None
    region: str | None = None
