"""The Trajectory aggregate: one coordinated period of support for one client, and its plan.

The event classes nested in ``Trajectory`` are the stored contract (DESIGN §3): past-tense
names, never renamed; a change of fields gets a ``class_version`` and an upcaster.
Each command method checks the rules of the procedures, then triggers one event; each
event's ``apply`` only changes state and never refuses.

State machine (issue #2)::

    referred ──accept──▶ accepted ──start consultation (or waiver)──▶ active ⇄ blocked
        └──decline──▶ declined                  active / blocked ──close──▶ closed
"""

from collections.abc import Collection, Mapping
from datetime import date, datetime
from enum import StrEnum
from typing import Any, ClassVar
from uuid import UUID

import msgspec
from eventsourcing.domain import Aggregate

from domain.common import (
    ERASED,
    MILESTONE_KINDS,
    Actor,
    ClientInvolvement,
    CommandContext,
    ConsentScope,
    ConsultationKind,
    EscalationLevel,
    PdcaPhase,
    ReasonCategory,
    Role,
    Sector,
    Signatory,
    add_months,
    held,
    require_identifier,
    require_text,
)
from domain.errors import (
    ConsultationAlreadyHeld,
    ContinuationNotAllowed,
    DomainError,
    EndConsultationRequired,
    EscalationNotOpen,
    EvaluationIntervalTooLong,
    FactBeforeWhatItConcerns,
    FactOutsideItsStatus,
    FollowUpNotNamed,
    InvalidValue,
    NextConsultationNotPlanned,
    NotAParty,
    OccurredBeforeReferral,
    PlanNotInForce,
    ReasonRequired,
    RoleAgreementNotPending,
    RuleConflict,
    StartConsultationRequired,
    StatusChangeBeforeCurrentStatus,
    TrajectoryAlreadyContinued,
    TrajectoryNotFound,
    TransitionNotAllowed,
)
from domain.record import Record
from domain.snapshots import CopiedThroughState, TypedSnapshot

#: 004: "een handelingsplan is maximaal 3 jaar geldig".
PLAN_VALIDITY_MONTHS = 36
#: 004: "minstens jaarlijks geëvalueerd".
EVALUATION_INTERVAL_MONTHS = 12


class Status(StrEnum):
    REFERRED = "referred"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    ACTIVE = "active"
    BLOCKED = "blocked"
    CLOSED = "closed"


#: Statuses in which support is under way: consultations, agreements, plan work, escalation.
RUNNING = frozenset({Status.ACTIVE, Status.BLOCKED})
#: Statuses in which the plan is worked on (agreements, goals, actions, signing).
PLANNING = RUNNING | {Status.ACCEPTED}
#: A trajectory that is still someone's to coordinate: its coordinating organisation manages
#: the client (``CareRecord.manages``).
OPEN = RUNNING | {Status.ACCEPTED}
#: Every status: the scheduler's facts depend on no status.
ANY_STATUS = frozenset(Status)


# --- values carried by events ---------------------------------------------------------------


class Participant(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A party at a consultation: an organisation, or a person of the client's network."""

    organisation: str
    role: Role
    #: A reference to a person of the network; sealed like free text, so that a name typed
    #: here is erased with the client's other personal data.
    person_ref: str | None = None


class RoleAssignment(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One line of a role agreement: who takes which role, with what responsibility."""

    party: str
    role: Role
    responsibilities: str = ""


# --- state kept by the aggregate --------------------------------------------------------------


class RoleAgreement(msgspec.Struct):
    assignments: tuple[RoleAssignment, ...]
    proposed_at: datetime
    accepted_by: list[str] = msgspec.field(default_factory=list)
    declined_by: str | None = None
    ended_at: datetime | None = None

    @property
    def parties(self) -> list[str]:
        return sorted({a.party for a in self.assignments})

    @property
    def in_force(self) -> bool:
        """Rule: a role agreement is in force only when every named party has accepted it."""
        return (
            self.declined_by is None
            and self.ended_at is None
            and set(self.accepted_by) >= set(self.parties)
        )

    @property
    def pending(self) -> bool:
        return self.declined_by is None and self.ended_at is None and not self.in_force


class CarriedFrom(msgspec.Struct, frozen=True):
    """Where a goal or an action of the plan came from: the earlier trajectory this one
    continues, as of the continuation (000, issue #17), and the version of its signed plan."""

    trajectory_id: UUID
    as_of: datetime
    plan_version: int | None


class Goal(msgspec.Struct):
    description: str
    set_at: datetime
    closed_at: datetime | None = None
    outcome: str | None = None
    #: Carried by a continuation: not in force here until the plan is signed here.
    carried_from: CarriedFrom | None = None


class AgreedAction(msgspec.Struct):
    description: str
    owner: str
    due_on: date | None
    goal_id: str | None
    carried_from: CarriedFrom | None = None


class CarriedAction(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """An action of the earlier plan, as ``ContinuedFrom`` carries it (version 2)."""

    action_id: str
    description: str
    owner: str
    due_on: date | None
    goal_id: str | None


class Escalation(msgspec.Struct):
    level: EscalationLevel
    reason: ReasonCategory
    raised_at: datetime
    resolved_at: datetime | None = None


class Block(msgspec.Struct):
    reasons: tuple[ReasonCategory, ...]
    since: datetime


class StatusChange(msgspec.Struct, frozen=True):
    """The trajectory entered ``status`` at ``since`` (world time): its status timeline."""

    since: datetime
    status: Status


class SignedPlan(msgspec.Struct):
    version: int
    signed_at: datetime
    signatory: Signatory
    representative_ref: str | None
    valid_until: date


class PartialSignature(msgspec.Struct, frozen=True):
    """One of the two signatures a plan needs where the minor and a parent decide together
    (NL, 12-15: ``domain.minors.needs_both_signatures``); the plan is not in force yet."""

    signatory: Signatory
    representative_ref: str | None
    signed_at: datetime


class ClientInput(msgspec.Struct, frozen=True):
    """What the person said ahead of a consultation, in their own words (001, issue #19)."""

    statement: str
    for_kind: ConsultationKind | None
    given_by: Signatory
    representative_ref: str | None
    given_at: datetime


class TrajectorySnapshotState(msgspec.Struct, forbid_unknown_fields=True):
    """The types of ``Trajectory``'s attributes, for decoding snapshots (kept equal by a test)."""

    _created_on: datetime
    _modified_on: datetime
    client_id: UUID
    referrer_organisation: str
    intake_organisation: str
    question: str
    sector: Sector
    region: str
    referred_at: datetime
    last_recorded_at: datetime
    status: Status
    coordinating_organisation: str | None
    accepted_at: datetime | None
    milestones: dict[ConsultationKind, datetime]
    waivers: dict[ConsultationKind, str]
    consultation_count: int
    last_consultation_at: datetime | None
    next_consultation_on: date | None
    role_agreements: dict[str, RoleAgreement]
    goals: dict[str, Goal]
    actions: dict[str, AgreedAction]
    plan: SignedPlan | None
    last_evaluated_at: datetime | None
    next_evaluation_on: date | None
    escalations: dict[str, Escalation]
    current_block: Block | None
    handover_count: int
    missed_deadlines: list[str]
    met_late_deadlines: list[str]
    reminded_deadlines: list[str]
    closed_at: datetime | None
    follow_up_by: str | None
    follow_up_contacted_at: datetime | None
    continued_from: UUID | None
    #: Issue #15; absent from snapshots taken before it (then the ordering rules that need the
    #: timeline are not checked until the aggregate is next folded from its events).
    status_changes: list[StatusChange] = msgspec.field(default_factory=list)
    fact_times: dict[str, datetime] = msgspec.field(default_factory=dict)
    #: Issue #17; absent from snapshots taken before it.
    client_criteria: tuple[str, ...] = ()
    referrer_engagement: str = ""
    continued_by: list[UUID] = msgspec.field(default_factory=list)
    #: Issue #19 point 5; absent from snapshots taken before it.
    partial_signature: PartialSignature | None = None
    client_inputs: list[ClientInput] = msgspec.field(default_factory=list)


class Trajectory(CopiedThroughState, Record):
    """One trajectory of one client, with its support plan (DESIGN §3)."""

    not_found = TrajectoryNotFound
    holds_personal_data = True

    # --- events -------------------------------------------------------------------------------

    class Event(Record.Event):
        """Every trajectory event carries the actor, the world time and the correlation ids."""

        #: Whether the event is activity on the trajectory (the scheduler's own are not: a
        #: missed deadline must not make a stuck trajectory look alive).
        counts_as_activity: ClassVar[bool] = True
        #: The statuses in which the fact is possible (issue #15: at its ``occurred_at``).
        allowed_in: ClassVar[frozenset[Status]] = PLANNING
        #: Whether the fact changes the trajectory's status.
        changes_status: ClassVar[bool] = False
        #: What the fact is about (``kind``, id field), for the rule that a fact may not
        #: predate the latest fact about the same thing; the id field "" means the one plan.
        concerns: ClassVar[tuple[str, str] | None] = None

        def apply(self, aggregate: Any) -> None:
            if self.counts_as_activity:
                aggregate.last_recorded_at = self.occurred_at
            before = aggregate.status
            self.apply_to(aggregate)
            if self.changes_status or aggregate.status != before:
                aggregate.status_changes.append(
                    StatusChange(since=self.occurred_at, status=aggregate.status)
                )
            subject = Trajectory.subject_of(type(self), vars(self))
            if subject is not None:
                latest = aggregate.fact_times.get(subject)
                aggregate.fact_times[subject] = (
                    self.occurred_at if latest is None else max(latest, self.occurred_at)
                )

        @classmethod
        def statuses_allowing(cls, fields: dict[str, Any]) -> frozenset[Status]:
            """The statuses in which this fact, with these fields, is possible."""
            return cls.allowed_in

        @classmethod
        def is_status_change(cls, fields: dict[str, Any]) -> bool:
            """Whether this fact, with these fields, changes the trajectory's status."""
            return cls.changes_status

        def apply_to(self, trajectory: "Trajectory") -> None:
            """Change the trajectory's state; never refuse (the command already checked)."""

    class Referred(Event, Aggregate.Created):
        """*Aanmelding*: the question, the client criteria and the referrer's engagement (001)."""

        personal_fields = ("question", "client_criteria", "referrer_engagement")

        client_id: UUID
        referrer_organisation: str
        question: str
        client_criteria: tuple[str, ...]
        referrer_engagement: str
        sector: Sector
        region: str

        def apply(self, aggregate: Any) -> None:
            """Creation goes through ``Trajectory.__init__``; nothing to add here."""

        def key_owner(self) -> UUID:
            """The client whose key seals this trajectory's personal data."""
            return self.client_id

    class Accepted(Event):
        allowed_in = frozenset({Status.REFERRED})
        changes_status = True
        coordinating_organisation: str

        def apply_to(self, trajectory: "Trajectory") -> None:
            trajectory.status = Status.ACCEPTED
            trajectory.coordinating_organisation = self.coordinating_organisation
            trajectory.accepted_at = self.occurred_at

    class Declined(Event):
        allowed_in = frozenset({Status.REFERRED})
        changes_status = True
        personal_fields = ("reason",)
        reason: str

        def apply_to(self, trajectory: "Trajectory") -> None:
            trajectory.status = Status.DECLINED

    class ConsultationHeld(Event):
        personal_fields = ("decisions", "no_next_reason", "participants[].person_ref")
        allowed_in = RUNNING
        kind: ConsultationKind
        participants: tuple[Participant, ...]
        client_involvement: ClientInvolvement
        decisions: tuple[str, ...]
        next_consultation_on: date | None
        no_next_reason: str | None
        #: Issue #19: whether the person whose plan it is reads the decisions (off unless the
        #: professional says so; events recorded before it read as not visible).
        visible_to_client: bool = False

        @classmethod
        def statuses_allowing(cls, fields: dict[str, Any]) -> frozenset[Status]:
            """001: the start consultation opens a running trajectory; the others run in it."""
            if fields.get("kind") == ConsultationKind.START:
                return frozenset({Status.ACCEPTED})
            return RUNNING

        @classmethod
        def is_status_change(cls, fields: dict[str, Any]) -> bool:
            return fields.get("kind") == ConsultationKind.START

        def apply_to(self, trajectory: "Trajectory") -> None:
            if self.kind == ConsultationKind.START:
                trajectory.status = Status.ACTIVE
            trajectory.milestones[self.kind] = self.occurred_at
            trajectory.last_consultation_at = self.occurred_at
            trajectory.next_consultation_on = self.next_consultation_on
            trajectory.consultation_count += 1

    class ConsultationWaived(Event):
        """A milestone consultation (start, three-month, end) that did not take place, and why."""

        personal_fields = ("reason",)
        allowed_in = RUNNING

        kind: ConsultationKind
        reason: str

        @classmethod
        def statuses_allowing(cls, fields: dict[str, Any]) -> frozenset[Status]:
            return Trajectory.ConsultationHeld.statuses_allowing(fields)

        @classmethod
        def is_status_change(cls, fields: dict[str, Any]) -> bool:
            return fields.get("kind") == ConsultationKind.START

        def apply_to(self, trajectory: "Trajectory") -> None:
            if self.kind == ConsultationKind.START:
                trajectory.status = Status.ACTIVE
            trajectory.milestones[self.kind] = self.occurred_at
            trajectory.waivers[self.kind] = self.reason

    class RoleAgreementProposed(Event):
        personal_fields = ("assignments[].responsibilities",)
        concerns = ("agreement", "agreement_id")
        agreement_id: str
        assignments: tuple[RoleAssignment, ...]

        def apply_to(self, trajectory: "Trajectory") -> None:
            trajectory.role_agreements[self.agreement_id] = RoleAgreement(
                assignments=self.assignments, proposed_at=self.occurred_at
            )

    class RoleAgreementAccepted(Event):
        concerns = ("agreement", "agreement_id")
        agreement_id: str
        party: str

        def apply_to(self, trajectory: "Trajectory") -> None:
            trajectory.role_agreements[self.agreement_id].accepted_by.append(self.party)

    class RoleAgreementDeclined(Event):
        personal_fields = ("reason",)
        concerns = ("agreement", "agreement_id")
        agreement_id: str
        party: str
        reason: str

        def apply_to(self, trajectory: "Trajectory") -> None:
            trajectory.role_agreements[self.agreement_id].declined_by = self.party

    class RoleAgreementEnded(Event):
        personal_fields = ("reason",)
        allowed_in = PLANNING | {Status.CLOSED}
        concerns = ("agreement", "agreement_id")
        agreement_id: str
        reason: str

        def apply_to(self, trajectory: "Trajectory") -> None:
            trajectory.role_agreements[self.agreement_id].ended_at = self.occurred_at

    class GoalSet(Event):
        personal_fields = ("description",)
        concerns = ("goal", "goal_id")
        goal_id: str
        description: str

        def apply_to(self, trajectory: "Trajectory") -> None:
            trajectory.goals[self.goal_id] = Goal(
                description=self.description, set_at=self.occurred_at
            )

    class GoalRevised(Event):
        personal_fields = ("description", "reason")
        concerns = ("goal", "goal_id")
        goal_id: str
        description: str
        reason: str

        def apply_to(self, trajectory: "Trajectory") -> None:
            trajectory.goals[self.goal_id].description = self.description

    class GoalClosed(Event):
        personal_fields = ("outcome",)
        concerns = ("goal", "goal_id")
        goal_id: str
        outcome: str

        def apply_to(self, trajectory: "Trajectory") -> None:
            goal = trajectory.goals[self.goal_id]
            goal.closed_at = self.occurred_at
            goal.outcome = self.outcome

    class ActionAgreed(Event):
        personal_fields = ("description",)
        action_id: str
        description: str
        owner: str
        due_on: date | None
        goal_id: str | None

        def apply_to(self, trajectory: "Trajectory") -> None:
            trajectory.actions[self.action_id] = AgreedAction(
                description=self.description,
                owner=self.owner,
                due_on=self.due_on,
                goal_id=self.goal_id,
            )

    class PlanSigned(Event):
        """The plan is in force from here (004), valid until ``valid_until``."""

        concerns = ("plan", "")
        plan_version: int
        signatory: Signatory
        representative_ref: str | None
        valid_until: date
        next_evaluation_on: date

        def apply_to(self, trajectory: "Trajectory") -> None:
            trajectory.plan = SignedPlan(
                version=self.plan_version,
                signed_at=self.occurred_at,
                signatory=self.signatory,
                representative_ref=self.representative_ref,
                valid_until=self.valid_until,
            )
            trajectory.next_evaluation_on = self.next_evaluation_on
            trajectory.partial_signature = None

    class PlanSignedInPart(Event):
        """Issue #19: the minor or a parent signed where both must (NL, 12-15); the plan
        comes into force with the other's signature (``PlanSigned``), not before."""

        concerns = ("plan", "")
        signatory: Signatory
        representative_ref: str | None

        def apply_to(self, trajectory: "Trajectory") -> None:
            trajectory.partial_signature = PartialSignature(
                signatory=self.signatory,
                representative_ref=self.representative_ref,
                signed_at=self.occurred_at,
            )

    class ConsultationInputGiven(Event):
        """Issue #19 (001: "zelf aanwezig of vooraf bevraagd"): the person's own statement
        ahead of a planned consultation, recorded by the person. Not activity of the
        professionals: it does not make a stuck trajectory look alive."""

        counts_as_activity = False
        allowed_in = RUNNING | {Status.ACCEPTED}
        personal_fields = ("statement",)
        statement: str
        for_kind: ConsultationKind | None
        given_by: Signatory
        representative_ref: str | None

        def apply_to(self, trajectory: "Trajectory") -> None:
            trajectory.client_inputs.append(
                ClientInput(
                    statement=self.statement,
                    for_kind=self.for_kind,
                    given_by=self.given_by,
                    representative_ref=self.representative_ref,
                    given_at=self.occurred_at,
                )
            )

    class Evaluated(Event):
        personal_fields = ("results", "new_agreements")
        allowed_in = RUNNING
        concerns = ("plan", "")
        results: str
        blocking: tuple[ReasonCategory, ...]
        pdca_phase: PdcaPhase | None
        new_agreements: tuple[str, ...]
        next_evaluation_on: date

        def apply_to(self, trajectory: "Trajectory") -> None:
            trajectory.last_evaluated_at = self.occurred_at
            trajectory.next_evaluation_on = self.next_evaluation_on

    class EscalationRaised(Event):
        personal_fields = ("description",)
        allowed_in = RUNNING
        concerns = ("escalation", "escalation_id")
        escalation_id: str
        level: EscalationLevel
        reason: ReasonCategory
        description: str
        #: Issue #19: whether the person reads the description (off unless said so).
        visible_to_client: bool = False

        def apply_to(self, trajectory: "Trajectory") -> None:
            trajectory.escalations[self.escalation_id] = Escalation(
                level=self.level, reason=self.reason, raised_at=self.occurred_at
            )

    class EscalationLevelChanged(Event):
        personal_fields = ("reason",)
        allowed_in = RUNNING
        concerns = ("escalation", "escalation_id")
        escalation_id: str
        from_level: EscalationLevel
        to_level: EscalationLevel
        reason: str

        def apply_to(self, trajectory: "Trajectory") -> None:
            trajectory.escalations[self.escalation_id].level = self.to_level

    class EscalationResolved(Event):
        personal_fields = ("resolution",)
        allowed_in = RUNNING | {Status.CLOSED}
        concerns = ("escalation", "escalation_id")
        escalation_id: str
        resolution: str

        def apply_to(self, trajectory: "Trajectory") -> None:
            trajectory.escalations[self.escalation_id].resolved_at = self.occurred_at

    class Blocked(Event):
        personal_fields = ("description",)
        allowed_in = frozenset({Status.ACTIVE})
        changes_status = True
        reasons: tuple[ReasonCategory, ...]
        description: str
        #: Issue #19: whether the person reads the description (off unless said so).
        visible_to_client: bool = False

        def apply_to(self, trajectory: "Trajectory") -> None:
            trajectory.status = Status.BLOCKED
            trajectory.current_block = Block(reasons=self.reasons, since=self.occurred_at)

    class Unblocked(Event):
        personal_fields = ("resolution",)
        allowed_in = frozenset({Status.BLOCKED})
        changes_status = True
        resolution: str

        def apply_to(self, trajectory: "Trajectory") -> None:
            trajectory.status = Status.ACTIVE
            trajectory.current_block = None

    class HandedOver(Event):
        """*Overdracht*: the plan (and maybe the dossier, and coordination) passes on (000, 004)."""

        allowed_in = RUNNING | {Status.CLOSED}

        from_party: str
        to_party: str
        scopes: tuple[ConsentScope, ...]
        consent_id: str
        transfers_coordination: bool

        def apply_to(self, trajectory: "Trajectory") -> None:
            trajectory.handover_count += 1
            if self.transfers_coordination:
                trajectory.coordinating_organisation = self.to_party

    class DeadlineMissed(Event):
        """Recorded by the scheduler; once per rule and due date, and never after the deadline
        was recorded as met late (one standing per deadline: a miss recorded before the late
        meeting stays, as that meeting's history). A store may hold a miss recorded after the
        late meeting (a catch-up ``run-once --now`` in the past, before the record refused it):
        the late meeting wins, so that the state agrees with the deadline's standing."""

        counts_as_activity = False
        allowed_in = ANY_STATUS

        rule: str
        due_on: date
        expected: str

        def apply_to(self, trajectory: "Trajectory") -> None:
            key = f"{self.rule}@{self.due_on.isoformat()}"
            if key not in trajectory.met_late_deadlines:
                trajectory.missed_deadlines.append(key)

    class DeadlineMetLate(Event):
        """Recorded by the scheduler: a deadline was met, but after its due date."""

        counts_as_activity = False
        allowed_in = ANY_STATUS

        rule: str
        due_on: date
        met_on: date

        def apply_to(self, trajectory: "Trajectory") -> None:
            trajectory.met_late_deadlines.append(f"{self.rule}@{self.due_on.isoformat()}")

    class DeadlineReminderIssued(Event):
        """Recorded by the scheduler shortly before a deadline that is not yet met."""

        counts_as_activity = False
        allowed_in = ANY_STATUS

        rule: str
        due_on: date
        expected: str

        def apply_to(self, trajectory: "Trajectory") -> None:
            trajectory.reminded_deadlines.append(f"{self.rule}@{self.due_on.isoformat()}")

    class FollowUpContacted(Event):
        """000: a follow-up call some months after closing: is the plan still followed up?"""

        personal_fields = ("outcome",)
        allowed_in = frozenset({Status.CLOSED})

        contacted_party: str
        outcome: str

        def apply_to(self, trajectory: "Trajectory") -> None:
            trajectory.follow_up_contacted_at = self.occurred_at

    class FindingShared(Event):
        """Issue #14 point 2: a finding of this trajectory was shared with the region's learning
        network. The trajectory keeps only that it did, and with which region: neither the text
        nor anything the network records of it, so no id leads either way."""

        allowed_in = RUNNING
        region: str

    class Closed(Event):
        personal_fields = ("reason", "no_follow_up_reason")
        allowed_in = RUNNING
        changes_status = True
        reason: str
        follow_up_by: str | None
        no_follow_up_reason: str | None

        def apply_to(self, trajectory: "Trajectory") -> None:
            trajectory.status = Status.CLOSED
            trajectory.closed_at = self.occurred_at
            trajectory.follow_up_by = self.follow_up_by

    class ContinuedFrom(Event):
        """The thread (000): this trajectory carries the plan of an earlier one.

        Version 2 (issue #17) carries the open goals with their ids and the actions of open
        goals (or of no goal), so they come into this trajectory's plan, marked as carried; a
        version 1 event carried only the goals' texts (upcast: no ids, no actions; its goals
        come in as ``carried-1``, ``carried-2``, …).
        """

        class_version = 2
        personal_fields = ("carried_goals", "carried_actions[].description")
        allowed_in = frozenset({Status.REFERRED})

        previous_trajectory_id: UUID
        carried_goals: tuple[str, ...]
        plan_version: int | None
        carried_goal_ids: tuple[str, ...]
        carried_actions: tuple[CarriedAction, ...]

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["carried_goal_ids"] = []
            state["carried_actions"] = []

        def apply_to(self, trajectory: "Trajectory") -> None:
            trajectory.continued_from = self.previous_trajectory_id
            source = CarriedFrom(
                trajectory_id=self.previous_trajectory_id,
                as_of=self.occurred_at,
                plan_version=self.plan_version,
            )
            # The ids are plain, the texts sealed: once the client is erased the texts read as
            # an empty tuple, and the goals stay, "[erased]" (version 1 had no ids).
            texts = self.carried_goals
            ids = self.carried_goal_ids or tuple(f"carried-{n + 1}" for n in range(len(texts)))
            for n, goal_id in enumerate(ids):
                trajectory.goals[goal_id] = Goal(
                    description=texts[n] if n < len(texts) else ERASED,
                    set_at=self.occurred_at,
                    carried_from=source,
                )
            for action in self.carried_actions:
                trajectory.actions[action.action_id] = AgreedAction(
                    description=action.description,
                    owner=action.owner,
                    due_on=action.due_on,
                    goal_id=action.goal_id,
                    carried_from=source,
                )

    class ContinuedBy(Event):
        """The thread the other way (issue #17): a later trajectory, opened by
        ``organisation``, continues this closed one. Recorded on this trajectory in the same
        commit as the later one's ``ContinuedFrom``, so each names the other."""

        allowed_in = frozenset({Status.CLOSED})
        #: A closed trajectory is not made active by being continued elsewhere.
        counts_as_activity = False

        next_trajectory_id: UUID
        organisation: str

        def apply_to(self, trajectory: "Trajectory") -> None:
            trajectory.continued_by.append(self.next_trajectory_id)

    # --- creation -------------------------------------------------------------------------------

    @classmethod
    def refer(
        cls,
        ctx: CommandContext,
        *,
        client_id: UUID,
        question: str,
        client_criteria: tuple[str, ...],
        referrer_engagement: str,
        sector: Sector,
        region: str,
        referrer_organisation: str | None = None,
        trajectory_id: UUID | None = None,
    ) -> "Trajectory":
        """*Aanmelding*: the request that opens a trajectory (001).

        The referrer is the actor's organisation unless the actor records a referral made by
        another organisation (a school, a GP) on its behalf.
        """
        ctx.check_occurred_at()
        return cls._create(
            cls.Referred,
            id=trajectory_id,
            **ctx.event_fields(),
            client_id=client_id,
            referrer_organisation=(
                require_identifier(referrer_organisation, "referrer_organisation")
                if referrer_organisation and referrer_organisation.strip()
                else ctx.actor.organisation
            ),
            question=require_text(question, "question"),
            client_criteria=tuple(c.strip() for c in client_criteria if c.strip()),
            referrer_engagement=referrer_engagement.strip(),
            sector=sector,
            region=require_identifier(region, "region"),
        )

    def __init__(
        self,
        client_id: UUID,
        referrer_organisation: str,
        question: str,
        sector: Sector,
        region: str,
        occurred_at: datetime,
        actor: Actor,
        client_criteria: tuple[str, ...] = (),
        referrer_engagement: str = "",
    ) -> None:
        self.client_id = client_id
        self.referrer_organisation = referrer_organisation
        #: The organisation that recorded the referral (may differ from the referrer).
        self.intake_organisation = actor.organisation
        self.question = question
        self.sector = sector
        self.region = region
        self.referred_at = occurred_at
        self.last_recorded_at = occurred_at
        self.status = Status.REFERRED
        self.coordinating_organisation: str | None = None
        self.accepted_at: datetime | None = None
        self.milestones: dict[ConsultationKind, datetime] = {}
        self.waivers: dict[ConsultationKind, str] = {}
        self.consultation_count = 0
        self.last_consultation_at: datetime | None = None
        self.next_consultation_on: date | None = None
        self.role_agreements: dict[str, RoleAgreement] = {}
        self.goals: dict[str, Goal] = {}
        self.actions: dict[str, AgreedAction] = {}
        self.plan: SignedPlan | None = None
        self.last_evaluated_at: datetime | None = None
        self.next_evaluation_on: date | None = None
        self.escalations: dict[str, Escalation] = {}
        self.current_block: Block | None = None
        self.handover_count = 0
        self.missed_deadlines: list[str] = []
        self.met_late_deadlines: list[str] = []
        self.reminded_deadlines: list[str] = []
        self.closed_at: datetime | None = None
        self.follow_up_by: str | None = None
        self.follow_up_contacted_at: datetime | None = None
        self.continued_from: UUID | None = None
        self.status_changes: list[StatusChange] = [
            StatusChange(since=occurred_at, status=Status.REFERRED)
        ]
        self.fact_times: dict[str, datetime] = {}
        # Issue #17, in the order of ``TrajectorySnapshotState`` (the plan state stores the
        # attributes in this order, and a row read back must encode to the same bytes).
        #: What the referral asked (001: part of the intake).
        self.client_criteria = client_criteria
        self.referrer_engagement = referrer_engagement
        #: Later trajectories that continue this one (the thread both ways).
        self.continued_by: list[UUID] = []
        #: Issue #19: the first of the two signatures a plan signed together needs.
        self.partial_signature: PartialSignature | None = None
        #: Issue #19: the person's input ahead of consultations, oldest first.
        self.client_inputs: list[ClientInput] = []

    # --- queries on state -----------------------------------------------------------------------

    @property
    def parties(self) -> list[str]:
        """Organisations that are party: referrer, intake, coordinator, agreements in force."""
        found = {self.referrer_organisation, self.intake_organisation}
        if self.coordinating_organisation:
            found.add(self.coordinating_organisation)
        for agreement in self.role_agreements.values():
            if agreement.in_force:
                found.update(agreement.parties)
        return sorted(found)

    @property
    def open_escalations(self) -> dict[str, Escalation]:
        return {k: e for k, e in self.escalations.items() if e.resolved_at is None}

    @property
    def open_missed_deadlines(self) -> list[str]:
        """Missed deadlines (``rule@due``) not yet met late."""
        met = set(self.met_late_deadlines)
        return [d for d in self.missed_deadlines if d not in met]

    def status_shown_without(self, hidden: Collection[ReasonCategory]) -> Status:
        """The status as a reader who may not learn of the ``hidden`` reasons reads it. A block
        whose every reason is hidden (a representative and a block for ``safety`` alone) shows
        as no block: "blocked" with no reason given would tell a parent that a child-protection
        concern holds the trajectory up. A block is only ever raised on an active trajectory and
        lifted back to active (``block``, ``unblock``). Only while blocked: a trajectory closed
        while blocked keeps its last block, and is closed."""
        block = self.current_block
        if self.status != Status.BLOCKED or block is None:
            return self.status
        if hidden and set(block.reasons) <= set(hidden):
            return Status.ACTIVE
        return self.status

    def plan_in_force_on(self, day: date) -> bool:
        return self.plan is not None and day <= self.plan.valid_until

    # --- the order of facts in the world (issue #15) -------------------------------------------

    def status_at(self, moment: datetime) -> Status | None:
        """The status the trajectory had at ``moment`` (world time), as the record knows it
        now; ``None`` before the referral, or when the timeline is unknown (a snapshot taken
        before issue #15)."""
        found: Status | None = None
        for change in self.status_changes:
            if change.since > moment:
                break
            found = change.status
        return found

    @staticmethod
    def subject_of(event_class: type["Trajectory.Event"], fields: dict[str, Any]) -> str | None:
        """The key of what a fact is about (``agreement:a1``, ``goal:g1``, ``plan``), if any."""
        if event_class.concerns is None:
            return None
        kind, field = event_class.concerns
        return f"{kind}:{fields[field]}" if field else kind

    def ordering_conflict(
        self, event_class: type["Trajectory.Event"], occurred_at: datetime, fields: dict[str, Any]
    ) -> DomainError | None:
        """The ordering rule a fact of ``event_class`` at ``occurred_at`` would break, given
        the facts recorded so far (issue #15), or ``None``.

        The rules make "the state at T" (the facts that occurred by T, folded in the record's
        order) well defined: a fact never predates what it depends on, so the facts up to any T
        hold everything each of them needs. One function serves the write side (refusals) and
        the check of histories recorded before the rules (``ordering_violations``).
        (The refusals name the moment the rule needs, never the ``occurred_at`` asked for: an
        answer does not echo the value it refuses.)
        """
        if self.status_changes:
            current = self.status_changes[-1]
            if event_class.is_status_change(fields) and occurred_at < current.since:
                return StatusChangeBeforeCurrentStatus(
                    f"occurred_at lies before the trajectory became {current.status.value} "
                    f"({current.since.isoformat()}); a change of status cannot predate it",
                    field="occurred_at",
                )
            then = self.status_at(occurred_at)
            allowed = event_class.statuses_allowing(fields)
            if then is not None and then not in allowed:
                return FactOutsideItsStatus(
                    f"at occurred_at the trajectory was {then.value}; this fact is possible "
                    f"only when it is {', '.join(sorted(s.value for s in allowed))}",
                    field="occurred_at",
                )
        subject = self.subject_of(event_class, fields)
        needed: list[tuple[str, datetime]] = []
        if subject is not None and (latest := self.fact_times.get(subject)) is not None:
            if event_class is Trajectory.RoleAgreementAccepted:
                agreement = self.role_agreements.get(fields["agreement_id"])
                if agreement is not None:  # parties accept in any order, after the proposal
                    latest = agreement.proposed_at
            needed.append((subject.replace(":", " "), latest))
        if event_class is Trajectory.ActionAgreed and fields.get("goal_id") in self.goals:
            needed.append((f"goal {fields['goal_id']}", self.goals[fields["goal_id"]].set_at))
        if event_class is Trajectory.Closed and ConsultationKind.END in self.milestones:
            needed.append(("the end consultation", self.milestones[ConsultationKind.END]))
        if event_class is Trajectory.PlanSigned and self.goals:
            open_then = [
                g
                for g in self.goals.values()
                if g.set_at <= occurred_at and (g.closed_at is None or g.closed_at > occurred_at)
            ]
            if not open_then:
                return FactBeforeWhatItConcerns(
                    f"at occurred_at the plan had no open goal (the goals were set from "
                    f"{min(g.set_at for g in self.goals.values()).isoformat()}); a plan is "
                    "signed with at least one open goal",
                    field="occurred_at",
                )
        for what, moment in needed:
            if occurred_at < moment:
                return FactBeforeWhatItConcerns(
                    f"occurred_at lies before the latest fact about {what} "
                    f"({moment.isoformat()}); a fact cannot predate what it depends on",
                    field="occurred_at",
                )
        return None

    def trigger_event(self, event_class: type[Any], **kwargs: Any) -> None:
        """Every new fact is checked against the ordering rules first (issue #15)."""
        if isinstance(event_class, type) and issubclass(event_class, Trajectory.Event):
            conflict = self.ordering_conflict(event_class, kwargs["occurred_at"], kwargs)
            if conflict is not None:
                raise conflict
        super().trigger_event(event_class, **kwargs)

    # --- guards ---------------------------------------------------------------------------------

    def check_time(self, ctx: CommandContext) -> None:
        """``occurred_at`` is a real moment, not in the future, not before the referral."""
        ctx.check_occurred_at()
        if ctx.occurred_at < self.referred_at:
            raise OccurredBeforeReferral(
                f"occurred_at lies before the referral ({self.referred_at.isoformat()})",
                field="occurred_at",
            )

    def _begin(self, ctx: CommandContext, action: str, allowed: frozenset[Status]) -> None:
        """Common checks of every command: world time, then the state machine."""
        self.check_time(ctx)
        if self.status not in allowed:
            raise TransitionNotAllowed(
                f"cannot {action} a trajectory that is {self.status.value}; "
                f"allowed when {', '.join(sorted(s.value for s in allowed))}"
            )

    _HERE = "not part of this trajectory"

    def _role_agreement(self, agreement_id: str) -> RoleAgreement:
        return held(
            self.role_agreements,
            agreement_id,
            kind="role agreement",
            where=self._HERE,
            field="agreement_id",
        )

    def _goal(self, goal_id: str) -> Goal:
        return held(self.goals, goal_id, kind="goal", where=self._HERE, field="goal_id")

    def _open_escalation(self, escalation_id: str) -> Escalation:
        escalation = held(
            self.escalations,
            escalation_id,
            kind="escalation",
            where=self._HERE,
            field="escalation_id",
        )
        if escalation.resolved_at is not None:
            raise EscalationNotOpen(f"escalation {escalation_id!r} is already resolved")
        return escalation

    @staticmethod
    def _check_new_id(kind: str, item_id: str, existing: dict[str, Any]) -> None:
        if not item_id.strip():
            raise InvalidValue(f"{kind} id must not be empty", field=f"{kind}_id")
        if item_id in existing:
            raise InvalidValue(
                f"{kind} id {item_id!r} is already used in this trajectory", field=f"{kind}_id"
            )

    # --- commands: intake -----------------------------------------------------------------------

    def check_answers_referral(self, ctx: CommandContext) -> None:
        """Only the organisation that recorded the referral (the intake organisation) accepts or
        declines it: a referrer it names (a school, a GP) asked for help, it does not decide who
        gives it, nor who coordinates (issue #10 review, B1)."""
        if ctx.actor.organisation != self.intake_organisation:
            raise NotAParty(
                f"only the organisation that recorded this referral ({self.intake_organisation!r}) "
                "accepts or declines it; ask it to"
            )

    def accept(self, ctx: CommandContext, *, coordinating_organisation: str | None) -> None:
        """The intake organisation accepts; it coordinates unless it names another organisation
        (whose consent of the client the application checks first, ``CareRecord.accept``)."""
        self._begin(ctx, "accept", frozenset({Status.REFERRED}))
        self.check_answers_referral(ctx)
        self.trigger_event(
            self.Accepted,
            **ctx.event_fields(),
            coordinating_organisation=(
                require_identifier(coordinating_organisation, "coordinating_organisation")
                if coordinating_organisation
                else ctx.actor.organisation
            ),
        )

    def decline(self, ctx: CommandContext, *, reason: str) -> None:
        self._begin(ctx, "decline", frozenset({Status.REFERRED}))
        self.check_answers_referral(ctx)
        self.trigger_event(
            self.Declined, **ctx.event_fields(), reason=require_text(reason, "reason")
        )

    # --- commands: consultations --------------------------------------------------------------

    def hold_consultation(
        self,
        ctx: CommandContext,
        *,
        kind: ConsultationKind,
        participants: tuple[Participant, ...],
        client_involvement: ClientInvolvement,
        decisions: tuple[str, ...],
        next_consultation_on: date | None,
        no_next_reason: str | None,
        visible_to_client: bool = False,
    ) -> None:
        """001: start, three-month, ad hoc and end consultations; 003: plan the next one."""
        if kind == ConsultationKind.START:
            self._begin(ctx, "hold the start consultation of", frozenset({Status.ACCEPTED}))
        else:
            self._begin(ctx, f"hold a {kind.value} consultation in", RUNNING | {Status.ACCEPTED})
            if self.status == Status.ACCEPTED:
                raise StartConsultationRequired(
                    "the first consultation of a trajectory is the start consultation "
                    "(or waive it with a reason)"
                )
        self._check_milestone_not_done(kind)
        if not participants:
            raise InvalidValue("a consultation has at least one participant", field="participants")
        for participant in participants:
            require_identifier(participant.organisation, "participants.organisation")
        if kind != ConsultationKind.END:
            self._check_next_consultation_planned(ctx, next_consultation_on, no_next_reason)
        self.trigger_event(
            self.ConsultationHeld,
            **ctx.event_fields(),
            kind=kind,
            participants=participants,
            client_involvement=client_involvement,
            decisions=tuple(d.strip() for d in decisions if d.strip()),
            next_consultation_on=next_consultation_on,
            no_next_reason=(no_next_reason or "").strip() or None,
            visible_to_client=visible_to_client,
        )

    def _check_milestone_not_done(self, kind: ConsultationKind) -> None:
        if kind in MILESTONE_KINDS and kind in self.milestones:
            done = "waived" if kind in self.waivers else "held"
            raise ConsultationAlreadyHeld(
                f"the {kind.value} consultation of this trajectory was already {done}"
            )

    @staticmethod
    def _check_next_consultation_planned(
        ctx: CommandContext, next_on: date | None, no_next_reason: str | None
    ) -> None:
        if next_on is None:
            if not (no_next_reason or "").strip():
                raise NextConsultationNotPlanned(
                    "plan the next consultation (next_consultation_on), "
                    "or give no_next_reason why there is none",
                    field="next_consultation_on",
                )
        elif next_on <= ctx.occurred_on:
            raise InvalidValue(
                "next_consultation_on must lie after the consultation",
                field="next_consultation_on",
            )

    def waive_consultation(
        self, ctx: CommandContext, *, kind: ConsultationKind, reason: str
    ) -> None:
        """001: a milestone consultation may be skipped, but only with a reason."""
        if kind not in MILESTONE_KINDS:
            raise InvalidValue(
                "only the start, three_month and end consultations can be waived", field="kind"
            )
        allowed = frozenset({Status.ACCEPTED}) if kind == ConsultationKind.START else RUNNING
        self._begin(ctx, f"waive the {kind.value} consultation of", allowed)
        self._check_milestone_not_done(kind)
        if not reason.strip():
            raise ReasonRequired("a waived consultation needs a reason", field="reason")
        self.trigger_event(
            self.ConsultationWaived, **ctx.event_fields(), kind=kind, reason=reason.strip()
        )

    # --- commands: role agreements ------------------------------------------------------------

    def propose_role_agreement(
        self, ctx: CommandContext, *, agreement_id: str, assignments: tuple[RoleAssignment, ...]
    ) -> None:
        """*Wie neemt wat op*: a proposal, in force once every named party accepted it."""
        self._begin(ctx, "propose a role agreement in", RUNNING | {Status.ACCEPTED})
        self._check_new_id("agreement", agreement_id, self.role_agreements)
        if not assignments:
            raise InvalidValue("a role agreement names at least one role", field="assignments")
        for assignment in assignments:
            require_identifier(assignment.party, "assignments.party")
        self.trigger_event(
            self.RoleAgreementProposed,
            **ctx.event_fields(),
            agreement_id=agreement_id,
            assignments=assignments,
        )

    def _check_pending_party(self, ctx: CommandContext, agreement_id: str) -> RoleAgreement:
        agreement = self._role_agreement(agreement_id)
        if not agreement.pending:
            raise RoleAgreementNotPending(
                f"role agreement {agreement_id!r} is no longer open for acceptance"
            )
        party = ctx.actor.organisation
        if party not in agreement.parties:
            raise NotAParty(
                f"organisation {party!r} is not named in role agreement {agreement_id!r}; "
                f"its parties are {', '.join(agreement.parties)}"
            )
        if party in agreement.accepted_by:
            raise RoleAgreementNotPending(
                f"{party!r} already accepted role agreement {agreement_id!r}"
            )
        return agreement

    def accept_role_agreement(self, ctx: CommandContext, *, agreement_id: str) -> None:
        """Accepted by the actor's organisation, one of the agreement's parties."""
        self._begin(ctx, "accept a role agreement in", RUNNING | {Status.ACCEPTED})
        self._check_pending_party(ctx, agreement_id)
        self.trigger_event(
            self.RoleAgreementAccepted,
            **ctx.event_fields(),
            agreement_id=agreement_id,
            party=ctx.actor.organisation,
        )

    def decline_role_agreement(
        self, ctx: CommandContext, *, agreement_id: str, reason: str
    ) -> None:
        self._begin(ctx, "decline a role agreement in", RUNNING | {Status.ACCEPTED})
        self._check_pending_party(ctx, agreement_id)
        self.trigger_event(
            self.RoleAgreementDeclined,
            **ctx.event_fields(),
            agreement_id=agreement_id,
            party=ctx.actor.organisation,
            reason=require_text(reason, "reason"),
        )

    def end_role_agreement(self, ctx: CommandContext, *, agreement_id: str, reason: str) -> None:
        self._begin(ctx, "end a role agreement in", RUNNING | {Status.ACCEPTED, Status.CLOSED})
        agreement = self._role_agreement(agreement_id)
        if agreement.ended_at is not None or agreement.declined_by is not None:
            raise RoleAgreementNotPending(f"role agreement {agreement_id!r} has already ended")
        self.trigger_event(
            self.RoleAgreementEnded,
            **ctx.event_fields(),
            agreement_id=agreement_id,
            reason=require_text(reason, "reason"),
        )

    # --- commands: the plan ---------------------------------------------------------------------

    def set_goal(self, ctx: CommandContext, *, goal_id: str, description: str) -> None:
        self._begin(ctx, "set a goal in", RUNNING | {Status.ACCEPTED})
        self._check_new_id("goal", goal_id, self.goals)
        self.trigger_event(
            self.GoalSet,
            **ctx.event_fields(),
            goal_id=goal_id,
            description=require_text(description, "description"),
        )

    def revise_goal(
        self, ctx: CommandContext, *, goal_id: str, description: str, reason: str
    ) -> None:
        self._begin(ctx, "revise a goal in", RUNNING | {Status.ACCEPTED})
        if self._goal(goal_id).closed_at is not None:
            raise TransitionNotAllowed(f"goal {goal_id!r} is closed; set a new goal instead")
        self.trigger_event(
            self.GoalRevised,
            **ctx.event_fields(),
            goal_id=goal_id,
            description=require_text(description, "description"),
            reason=reason.strip(),
        )

    def close_goal(self, ctx: CommandContext, *, goal_id: str, outcome: str) -> None:
        self._begin(ctx, "close a goal in", RUNNING | {Status.ACCEPTED})
        if self._goal(goal_id).closed_at is not None:
            raise TransitionNotAllowed(f"goal {goal_id!r} is already closed")
        self.trigger_event(
            self.GoalClosed,
            **ctx.event_fields(),
            goal_id=goal_id,
            outcome=require_text(outcome, "outcome"),
        )

    def agree_action(
        self,
        ctx: CommandContext,
        *,
        action_id: str,
        description: str,
        owner: str,
        due_on: date | None,
        goal_id: str | None,
    ) -> None:
        """ "Wie doet wat" (003): an action with an owner and a due date."""
        self._begin(ctx, "agree an action in", RUNNING | {Status.ACCEPTED})
        self._check_new_id("action", action_id, self.actions)
        if goal_id is not None:
            self._goal(goal_id)
        if due_on is not None and due_on < ctx.occurred_on:
            raise InvalidValue("due_on must not lie before the agreement", field="due_on")
        self.trigger_event(
            self.ActionAgreed,
            **ctx.event_fields(),
            action_id=action_id,
            description=require_text(description, "description"),
            owner=require_text(owner, "owner"),
            due_on=due_on,
            goal_id=goal_id,
        )

    def sign_plan(
        self, ctx: CommandContext, *, signatory: Signatory, representative_ref: str | None
    ) -> None:
        """004: in force from the signature; evaluated within a year; valid at most 3 years.

        Whether the representative may sign is the Client's rule (``Client.check_may_sign``);
        the application checks it before calling this.
        """
        self._begin(ctx, "sign the plan of", RUNNING | {Status.ACCEPTED})
        if not any(g.closed_at is None for g in self.goals.values()):
            raise PlanNotInForce("a plan needs at least one open goal before it is signed")
        if signatory == Signatory.REPRESENTATIVE and not representative_ref:
            raise InvalidValue(
                "name the representative_ref who signs for the client", field="representative_ref"
            )
        signed_on = ctx.occurred_on
        self.trigger_event(
            self.PlanSigned,
            **ctx.event_fields(),
            plan_version=(self.plan.version + 1) if self.plan else 1,
            signatory=signatory,
            representative_ref=representative_ref
            if signatory == Signatory.REPRESENTATIVE
            else None,
            valid_until=add_months(signed_on, PLAN_VALIDITY_MONTHS),
            next_evaluation_on=add_months(signed_on, EVALUATION_INTERVAL_MONTHS),
        )

    def sign_plan_together(
        self, ctx: CommandContext, *, signatory: Signatory, representative_ref: str | None
    ) -> bool:
        """Issue #19 (NL, 12-15, ``domain.minors.needs_both_signatures``): the minor and a
        parent both sign; the first signature is recorded in part, the other's puts the plan
        in force (``PlanSigned``, naming the second signatory and the parent). → whether the
        plan is now in force. The same side signing twice is refused."""
        self._begin(ctx, "sign the plan of", RUNNING | {Status.ACCEPTED})
        if not any(g.closed_at is None for g in self.goals.values()):
            raise PlanNotInForce("a plan needs at least one open goal before it is signed")
        first = self.partial_signature
        if first is None:
            self.trigger_event(
                self.PlanSignedInPart,
                **ctx.event_fields(),
                signatory=signatory,
                representative_ref=representative_ref,
            )
            return False
        if first.signatory == signatory:
            raise RuleConflict(
                f"the {signatory.value} already signed this plan; it comes into force with the "
                f"{'parent' if signatory == Signatory.CLIENT else 'minor'}'s signature"
            )
        parent = representative_ref if signatory == Signatory.REPRESENTATIVE else None
        self.sign_plan(
            ctx,
            signatory=signatory,
            representative_ref=parent or first.representative_ref,
        )
        return True

    def give_consultation_input(
        self,
        ctx: CommandContext,
        *,
        statement: str,
        for_kind: ConsultationKind | None,
        given_by: Signatory,
        representative_ref: str | None,
    ) -> None:
        """001: the client is present at a consultation or asked beforehand; this records
        what they said beforehand, in their own words."""
        self._begin(ctx, "give your input for a consultation of", RUNNING | {Status.ACCEPTED})
        self.trigger_event(
            self.ConsultationInputGiven,
            **ctx.event_fields(),
            statement=require_text(statement, "statement"),
            for_kind=for_kind,
            given_by=given_by,
            representative_ref=representative_ref,
        )

    def evaluate(
        self,
        ctx: CommandContext,
        *,
        results: str,
        blocking: tuple[ReasonCategory, ...],
        pdca_phase: PdcaPhase | None,
        new_agreements: tuple[str, ...],
        next_evaluation_on: date | None,
    ) -> None:
        """004: the signed plan is evaluated at least yearly, while it is valid."""
        self._begin(ctx, "evaluate the plan of", RUNNING)
        if self.plan is None:
            raise PlanNotInForce("there is no signed plan to evaluate; sign the plan first")
        if not self.plan_in_force_on(ctx.occurred_on):
            raise PlanNotInForce(
                f"the plan expired on {self.plan.valid_until.isoformat()} (valid at most three "
                "years); start a new cycle by signing a renewed plan"
            )
        latest = add_months(ctx.occurred_on, EVALUATION_INTERVAL_MONTHS)
        next_on = next_evaluation_on or latest
        if next_on > latest:
            raise EvaluationIntervalTooLong(
                f"the next evaluation is due by {latest.isoformat()} at the latest",
                field="next_evaluation_on",
            )
        if next_on <= ctx.occurred_on:
            raise InvalidValue(
                "next_evaluation_on must lie after the evaluation", field="next_evaluation_on"
            )
        self.trigger_event(
            self.Evaluated,
            **ctx.event_fields(),
            results=require_text(results, "results"),
            blocking=blocking,
            pdca_phase=pdca_phase,
            new_agreements=tuple(a.strip() for a in new_agreements if a.strip()),
            next_evaluation_on=next_on,
        )

    # --- commands: escalation and blocks ------------------------------------------------------

    def raise_escalation(
        self,
        ctx: CommandContext,
        *,
        escalation_id: str,
        level: EscalationLevel,
        reason: ReasonCategory,
        description: str,
        visible_to_client: bool = False,
    ) -> None:
        self._begin(ctx, "raise an escalation in", RUNNING)
        self._check_new_id("escalation", escalation_id, self.escalations)
        self.trigger_event(
            self.EscalationRaised,
            **ctx.event_fields(),
            escalation_id=escalation_id,
            level=level,
            reason=reason,
            description=description.strip(),
            visible_to_client=visible_to_client,
        )

    def change_escalation_level(
        self, ctx: CommandContext, *, escalation_id: str, to_level: EscalationLevel, reason: str
    ) -> None:
        self._begin(ctx, "change an escalation in", RUNNING)
        escalation = self._open_escalation(escalation_id)
        if escalation.level == to_level:
            raise InvalidValue(
                f"the escalation is already at level {to_level.value}; give another to_level",
                field="to_level",
            )
        self.trigger_event(
            self.EscalationLevelChanged,
            **ctx.event_fields(),
            escalation_id=escalation_id,
            from_level=escalation.level,
            to_level=to_level,
            reason=require_text(reason, "reason"),
        )

    def resolve_escalation(
        self, ctx: CommandContext, *, escalation_id: str, resolution: str
    ) -> None:
        self._begin(ctx, "resolve an escalation in", RUNNING | {Status.CLOSED})
        self._open_escalation(escalation_id)
        self.trigger_event(
            self.EscalationResolved,
            **ctx.event_fields(),
            escalation_id=escalation_id,
            resolution=require_text(resolution, "resolution"),
        )

    def block(
        self,
        ctx: CommandContext,
        *,
        reasons: tuple[ReasonCategory, ...],
        description: str,
        visible_to_client: bool = False,
    ) -> None:
        """*Vastgelopen traject*: the trajectory cannot go on, for these reasons."""
        self._begin(ctx, "block", frozenset({Status.ACTIVE}))
        if not reasons:
            raise ReasonRequired("a block names at least one reason category", field="reasons")
        self.trigger_event(
            self.Blocked,
            **ctx.event_fields(),
            reasons=tuple(dict.fromkeys(reasons)),
            description=description.strip(),
            visible_to_client=visible_to_client,
        )

    def unblock(self, ctx: CommandContext, *, resolution: str) -> None:
        self._begin(ctx, "unblock", frozenset({Status.BLOCKED}))
        self.trigger_event(
            self.Unblocked, **ctx.event_fields(), resolution=require_text(resolution, "resolution")
        )

    def share_finding(self, ctx: CommandContext, *, region: str) -> None:
        """001: a finding of the consultations becomes a theme of the region's learning network
        (issue #14 point 2). Shared while the trajectory runs, with its own region's network."""
        self._begin(ctx, "share a finding of", RUNNING)
        if region != self.region:
            raise InvalidValue(
                f"a finding is shared with the learning network of the trajectory's region "
                f"({self.region!r}), not of {region!r}",
                field="network_id",
            )
        self.trigger_event(self.FindingShared, **ctx.event_fields(), region=region)

    # --- commands: handover, deadlines, closing -----------------------------------------------

    def hand_over(
        self,
        ctx: CommandContext,
        *,
        to_party: str,
        scopes: tuple[ConsentScope, ...],
        consent_id: str,
        transfers_coordination: bool,
    ) -> None:
        """000/004: the plan passes on, covered by a consent the application has verified.

        Coordination passes only when asked for, and only while the trajectory runs: a closed
        trajectory's plan may still be handed over (000: the plan outlives the trajectory), but
        nobody takes up coordinating what has ended; a continuation opens a new trajectory.
        """
        self._begin(ctx, "hand over", RUNNING | {Status.CLOSED})
        if transfers_coordination and self.status not in RUNNING:
            raise TransitionNotAllowed(
                f"a {self.status.value} trajectory has no coordination to transfer; hand over "
                "the plan without transfers_coordination, or continue it in a new trajectory"
            )
        to_party = require_identifier(to_party, "to_party")
        if not scopes:
            raise InvalidValue("name what is handed over (plan, dossier, …)", field="scopes")
        from_party = self.coordinating_organisation or self.referrer_organisation
        if to_party == from_party:
            raise InvalidValue(
                f"{to_party!r} already coordinates this trajectory", field="to_party"
            )
        self.trigger_event(
            self.HandedOver,
            **ctx.event_fields(),
            from_party=from_party,
            to_party=to_party,
            scopes=tuple(dict.fromkeys(scopes)),
            consent_id=consent_id,
            transfers_coordination=transfers_coordination,
        )

    def _record_deadline_once(
        self,
        ctx: CommandContext,
        recorded: list[str],
        event_class: type["Trajectory.Event"],
        rule: str,
        due_on: date,
        settled: Collection[str] = (),
        **fields: Any,
    ) -> bool:
        """The scheduler's facts are idempotent: one per kind, rule and due date; ``settled``
        names the deadlines (``rule@due``) whose standing is already recorded otherwise, for
        which this fact is not recorded either."""
        ctx.check_occurred_at()
        rule = require_text(rule, "rule")
        key = f"{rule}@{due_on.isoformat()}"
        if key in recorded or key in settled:
            return False
        self.trigger_event(event_class, **ctx.event_fields(), rule=rule, due_on=due_on, **fields)
        return True

    def record_missed_deadline(
        self, ctx: CommandContext, *, rule: str, due_on: date, expected: str
    ) -> bool:
        """Idempotent: a deadline (rule and due date) is recorded once. Returns whether it was.
        One standing per deadline: a deadline already recorded as met late is not recorded as
        missed (a catch-up run at a past moment finds it unmet then), and that is no error."""
        return self._record_deadline_once(
            ctx,
            self.missed_deadlines,
            self.DeadlineMissed,
            rule,
            due_on,
            settled=self.met_late_deadlines,
            expected=expected,
        )

    def record_deadline_met_late(
        self, ctx: CommandContext, *, rule: str, due_on: date, met_on: date
    ) -> bool:
        """Idempotent: a deadline met after its due date is recorded as such once."""
        if met_on <= due_on:
            raise InvalidValue("a deadline met on or before its due date was met in time")
        return self._record_deadline_once(
            ctx, self.met_late_deadlines, self.DeadlineMetLate, rule, due_on, met_on=met_on
        )

    def record_deadline_reminder(
        self, ctx: CommandContext, *, rule: str, due_on: date, expected: str
    ) -> bool:
        """Idempotent: one reminder per deadline (rule and due date)."""
        return self._record_deadline_once(
            ctx,
            self.reminded_deadlines,
            self.DeadlineReminderIssued,
            rule,
            due_on,
            expected=expected,
        )

    def record_follow_up_contact(
        self, ctx: CommandContext, *, contacted_party: str, outcome: str
    ) -> None:
        self._begin(ctx, "record a follow-up contact for", frozenset({Status.CLOSED}))
        self.trigger_event(
            self.FollowUpContacted,
            **ctx.event_fields(),
            contacted_party=require_text(contacted_party, "contacted_party"),
            outcome=require_text(outcome, "outcome"),
        )

    def close(
        self,
        ctx: CommandContext,
        *,
        reason: str,
        follow_up_by: str | None,
        no_follow_up_reason: str | None,
    ) -> None:
        """001: ends with an end consultation; 000: names who follows up the plan, or why no one."""
        self._begin(ctx, "close", RUNNING)
        if ConsultationKind.END not in self.milestones:
            raise EndConsultationRequired(
                "hold the end consultation (or waive it with a reason) before closing"
            )
        follow_up = (follow_up_by or "").strip() or None
        no_follow_up = (no_follow_up_reason or "").strip() or None
        if follow_up is None and no_follow_up is None:
            raise FollowUpNotNamed(
                "name who follows up the plan (follow_up_by), or record why no one does "
                "(no_follow_up_reason)",
                field="follow_up_by",
            )
        if follow_up is not None and no_follow_up is not None:
            raise FollowUpNotNamed(
                "give one of the two: who follows up the plan (follow_up_by), or why no one "
                "does (no_follow_up_reason); leave no_follow_up_reason out when someone does",
                field="no_follow_up_reason",
            )
        self.trigger_event(
            self.Closed,
            **ctx.event_fields(),
            reason=require_text(reason, "reason"),
            follow_up_by=follow_up,
            no_follow_up_reason=no_follow_up,
        )

    def continue_from(self, ctx: CommandContext, *, previous: "Trajectory") -> None:
        """Carry the open goals and the plan of an earlier, closed trajectory of the same client."""
        self._begin(ctx, "continue", frozenset({Status.REFERRED}))
        if previous.id == self.id:
            raise ContinuationNotAllowed("a trajectory cannot continue itself")
        if previous.client_id != self.client_id:
            raise ContinuationNotAllowed("a trajectory continues one of the same client only")
        if previous.status != Status.CLOSED:
            raise ContinuationNotAllowed(
                f"the earlier trajectory is {previous.status.value}; only a closed one is continued"
            )
        if self.continued_from is not None:
            raise ContinuationNotAllowed("this trajectory already continues an earlier one")
        open_goals = {k: g for k, g in previous.goals.items() if g.closed_at is None}
        self.trigger_event(
            self.ContinuedFrom,
            **ctx.event_fields(),
            previous_trajectory_id=previous.id,
            carried_goals=tuple(g.description for g in open_goals.values()),
            plan_version=previous.plan.version if previous.plan else None,
            carried_goal_ids=tuple(open_goals),
            carried_actions=tuple(
                CarriedAction(
                    action_id=action_id,
                    description=a.description,
                    owner=a.owner,
                    due_on=a.due_on,
                    goal_id=a.goal_id,
                )
                for action_id, a in previous.actions.items()
                if a.goal_id is None or a.goal_id in open_goals
            ),
        )

    def check_continuable(self, continuations: Mapping[UUID, Status]) -> None:
        """A closed trajectory is continued by one live continuation at most (issue #17): one
        person's plan runs in one place. ``continuations`` holds the status of each trajectory
        in ``continued_by`` (other aggregates: the application reads them).

        One whose referral was declined does not count: the client still needs care, and this
        one may be continued again. One still open (referred, accepted, active, blocked)
        carries the plan now. One that closed carried the plan on: the thread goes on from it.
        Several continuations recorded before this rule stay as they are.
        """
        counted = [
            c for c in dict.fromkeys(self.continued_by) if continuations[c] != Status.DECLINED
        ]
        live = [c for c in counted if continuations[c] != Status.CLOSED]
        if live:
            # Open, never its exact status: the caller may read this trajectory only (a
            # continuation consent), not where the client is in care now, nor how it goes.
            later = live[-1]
            raise TrajectoryAlreadyContinued(
                f"trajectory {self.id} is continued already by trajectory {later}, still open: "
                "the plan goes on there; this one may be continued again if that referral is "
                f"declined, or, once that one is closed, continue from trajectory {later}",
                field="continues_from",
            )
        if counted:
            raise TrajectoryAlreadyContinued(
                f"trajectory {self.id} was continued by trajectory {counted[-1]}, closed since: "
                f"the plan went on there; continue from trajectory {counted[-1]} instead",
                field="continues_from",
            )

    def record_continued_by(self, ctx: CommandContext, *, continuing: "Trajectory") -> None:
        """Issue #17: this closed trajectory names the later one that continues it (the other
        end of ``continue_from``, which the application records in the same commit)."""
        self._begin(ctx, "continue", frozenset({Status.CLOSED}))
        if continuing.continued_from != self.id:
            raise ContinuationNotAllowed("the later trajectory does not continue this one")
        self.trigger_event(
            self.ContinuedBy,
            **ctx.event_fields(),
            next_trajectory_id=continuing.id,
            organisation=ctx.actor.organisation,
        )

    # --- snapshots ------------------------------------------------------------------------------

    Snapshot = TypedSnapshot
    snapshot_state = TrajectorySnapshotState
