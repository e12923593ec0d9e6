"""``/v1/trajectories``: one thin handler per use case, and the current state."""

from typing import Annotated, Any
from uuid import UUID, uuid4

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import ValidationException
from litestar.params import (
    FromPath,
    FromQuery,
    HeaderParameter,
    JSONBody,
    QueryParameter,
)

from api.auth import Principal
from api.commands import CommandRunner
from api.reads import MaxWait, MinPosition, await_position
from api.schemas import (
    Accept,
    AgreeAction,
    AnswerRoleAgreement,
    BlockTrajectory,
    ChangeEscalationLevel,
    CloseGoal,
    CloseTrajectory,
    CommandAnswer,
    Decline,
    DeclineRoleAgreement,
    EndRoleAgreement,
    Evaluate,
    HandOver,
    HoldConsultation,
    ProposeRoleAgreement,
    RaiseEscalation,
    RecordFollowUpContact,
    Refer,
    RefFilter,
    RefInPath,
    ResolveEscalation,
    ReviseGoal,
    SetGoal,
    SignPlan,
    UnblockTrajectory,
    WaiveConsultation,
)
from api.services import ApiServices
from application.care_record import CareRecord
from domain.common import Sector
from domain.trajectory import Status
from projections.plan_state.listing import InvalidCursor, ListFilter, TrajectoryPage
from projections.queries import ReadModelQueries

IfMatch = Annotated[
    str | None,
    HeaderParameter(
        name="If-Match",
        required=False,
        description='The version you decided on, as its ETag ("7"); a stale one gets 412',
    ),
]
IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        required=False,
        description="Makes a retry safe: the same key returns the first answer",
    ),
]

Answer = Response[CommandAnswer]


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid4().hex[:12]}"


class TrajectoryController(Controller):
    path = "/v1/trajectories"
    tags = ["trajectories"]

    @post("/", sync_to_thread=True, summary="Refer a client: open a trajectory (aanmelding)")
    def refer(
        self,
        data: JSONBody[Refer],
        runner: NamedDependency[CommandRunner],
        care_record: NamedDependency[CareRecord],
        idempotency_key: IdempotencyKey = None,
    ) -> Answer:
        return runner.run(  # type: ignore[return-value]
            data,
            lambda ctx, _, d: care_record.refer(ctx, **d),
            action="refer",
            created=True,
            location=lambda r: f"/v1/trajectories/{r.id}",
        )

    @get("/", summary="Trajectories, newest referral first")
    async def trajectories(
        self,
        request: Request[Principal, Any, Any],
        services: NamedDependency[ApiServices],
        queries: NamedDependency[ReadModelQueries],
        status: FromQuery[Status | None] = None,
        region: RefFilter = None,
        sector: FromQuery[Sector | None] = None,
        organisation: RefFilter = None,
        cursor: FromQuery[str | None] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 50,
        min_position: MinPosition = None,
        max_wait_ms: MaxWait = 2000,
    ) -> TrajectoryPage:
        """Filter by status, region, sector and organisation; follow ``next_cursor`` for more."""
        await await_position(queries, "plan_state", min_position, max_wait_ms)
        _, organisation, region = services.policy.list_scope(request.user, organisation, region)
        try:
            return await queries.plan_state.trajectories(
                ListFilter(
                    status=status,
                    region=region,
                    sector=sector,
                    organisation=organisation,
                    limit=limit,
                    cursor=cursor,
                )
            )
        except InvalidCursor as e:
            raise ValidationException(
                str(e), extra=[{"key": "cursor", "message": str(e)}]
            ) from None

    def _run(
        self,
        runner: NamedDependency[CommandRunner],
        data: JSONBody[Any],
        use_case: Any,
        trajectory_id: FromPath[UUID],
        item_id: str | None = None,
        **extra: Any,
    ) -> Answer:
        return runner.run(  # type: ignore[return-value]
            data,
            lambda ctx, version, d: use_case(ctx, trajectory_id, version, **{**d, **extra}),
            action=use_case.__name__,
            item_id=item_id,
        )

    @post("/{trajectory_id:uuid}/acceptance", sync_to_thread=True, status_code=200)
    def accept(
        self,
        trajectory_id: FromPath[UUID],
        data: JSONBody[Accept],
        runner: NamedDependency[CommandRunner],
        care_record: NamedDependency[CareRecord],
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Answer:
        """Accept the referral; the actor's organisation coordinates unless another is named."""
        return self._run(runner, data, care_record.accept, trajectory_id)

    @post("/{trajectory_id:uuid}/declination", sync_to_thread=True, status_code=200)
    def decline(
        self,
        trajectory_id: FromPath[UUID],
        data: JSONBody[Decline],
        runner: NamedDependency[CommandRunner],
        care_record: NamedDependency[CareRecord],
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Answer:
        """Decline the referral, with a reason."""
        return self._run(runner, data, care_record.decline, trajectory_id)

    @post("/{trajectory_id:uuid}/consultations", sync_to_thread=True, status_code=200)
    def hold_consultation(
        self,
        trajectory_id: FromPath[UUID],
        data: JSONBody[HoldConsultation],
        runner: NamedDependency[CommandRunner],
        care_record: NamedDependency[CareRecord],
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Answer:
        """Record a consultation; every consultation but the end one plans the next (003)."""
        return self._run(runner, data, care_record.hold_consultation, trajectory_id)

    @post("/{trajectory_id:uuid}/consultation-waivers", sync_to_thread=True, status_code=200)
    def waive_consultation(
        self,
        trajectory_id: FromPath[UUID],
        data: JSONBody[WaiveConsultation],
        runner: NamedDependency[CommandRunner],
        care_record: NamedDependency[CareRecord],
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Answer:
        """Skip the start, three-month or end consultation, with a reason (001)."""
        return self._run(runner, data, care_record.waive_consultation, trajectory_id)

    @post("/{trajectory_id:uuid}/role-agreements", sync_to_thread=True, status_code=200)
    def propose_role_agreement(
        self,
        trajectory_id: FromPath[UUID],
        data: JSONBody[ProposeRoleAgreement],
        runner: NamedDependency[CommandRunner],
        care_record: NamedDependency[CareRecord],
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Answer:
        """Propose who takes which role; in force once every named party accepted."""
        agreement_id = data.agreement_id or new_id("agreement")
        return self._run(
            runner,
            data,
            care_record.propose_role_agreement,
            trajectory_id,
            item_id=agreement_id,
            agreement_id=agreement_id,
        )

    @post(
        "/{trajectory_id:uuid}/role-agreements/{agreement_id:str}/acceptances",
        sync_to_thread=True,
        status_code=200,
    )
    def accept_role_agreement(
        self,
        trajectory_id: FromPath[UUID],
        agreement_id: RefInPath,
        data: JSONBody[AnswerRoleAgreement],
        runner: NamedDependency[CommandRunner],
        care_record: NamedDependency[CareRecord],
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Answer:
        """The actor's organisation accepts its part of the agreement."""
        return self._run(
            runner,
            data,
            care_record.accept_role_agreement,
            trajectory_id,
            agreement_id=agreement_id,
        )

    @post(
        "/{trajectory_id:uuid}/role-agreements/{agreement_id:str}/declination",
        sync_to_thread=True,
        status_code=200,
    )
    def decline_role_agreement(
        self,
        trajectory_id: FromPath[UUID],
        agreement_id: RefInPath,
        data: JSONBody[DeclineRoleAgreement],
        runner: NamedDependency[CommandRunner],
        care_record: NamedDependency[CareRecord],
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Answer:
        """The actor's organisation declines the agreement; it will not come into force."""
        return self._run(
            runner,
            data,
            care_record.decline_role_agreement,
            trajectory_id,
            agreement_id=agreement_id,
        )

    @post(
        "/{trajectory_id:uuid}/role-agreements/{agreement_id:str}/end",
        sync_to_thread=True,
        status_code=200,
    )
    def end_role_agreement(
        self,
        trajectory_id: FromPath[UUID],
        agreement_id: RefInPath,
        data: JSONBody[EndRoleAgreement],
        runner: NamedDependency[CommandRunner],
        care_record: NamedDependency[CareRecord],
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Answer:
        """End a role agreement."""
        return self._run(
            runner, data, care_record.end_role_agreement, trajectory_id, agreement_id=agreement_id
        )

    @post("/{trajectory_id:uuid}/goals", sync_to_thread=True, status_code=200)
    def set_goal(
        self,
        trajectory_id: FromPath[UUID],
        data: JSONBody[SetGoal],
        runner: NamedDependency[CommandRunner],
        care_record: NamedDependency[CareRecord],
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Answer:
        """Set a goal of the support plan."""
        goal_id = data.goal_id or new_id("goal")
        return self._run(
            runner,
            data,
            care_record.set_goal,
            trajectory_id,
            item_id=goal_id,
            goal_id=goal_id,
        )

    @post(
        "/{trajectory_id:uuid}/goals/{goal_id:str}/revisions", sync_to_thread=True, status_code=200
    )
    def revise_goal(
        self,
        trajectory_id: FromPath[UUID],
        goal_id: RefInPath,
        data: JSONBody[ReviseGoal],
        runner: NamedDependency[CommandRunner],
        care_record: NamedDependency[CareRecord],
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Answer:
        """Revise a goal's wording."""
        return self._run(runner, data, care_record.revise_goal, trajectory_id, goal_id=goal_id)

    @post("/{trajectory_id:uuid}/goals/{goal_id:str}/closure", sync_to_thread=True, status_code=200)
    def close_goal(
        self,
        trajectory_id: FromPath[UUID],
        goal_id: RefInPath,
        data: JSONBody[CloseGoal],
        runner: NamedDependency[CommandRunner],
        care_record: NamedDependency[CareRecord],
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Answer:
        """Close a goal with its outcome."""
        return self._run(runner, data, care_record.close_goal, trajectory_id, goal_id=goal_id)

    @post("/{trajectory_id:uuid}/actions", sync_to_thread=True, status_code=200)
    def agree_action(
        self,
        trajectory_id: FromPath[UUID],
        data: JSONBody[AgreeAction],
        runner: NamedDependency[CommandRunner],
        care_record: NamedDependency[CareRecord],
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Answer:
        """Agree who does what, by when (003)."""
        action_id = data.action_id or new_id("action")
        return self._run(
            runner,
            data,
            care_record.agree_action,
            trajectory_id,
            item_id=action_id,
            action_id=action_id,
        )

    @post("/{trajectory_id:uuid}/plan-signatures", sync_to_thread=True, status_code=200)
    def sign_plan(
        self,
        trajectory_id: FromPath[UUID],
        data: JSONBody[SignPlan],
        runner: NamedDependency[CommandRunner],
        care_record: NamedDependency[CareRecord],
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Answer:
        """The client or their representative signs: the plan is in force from here (004)."""
        return self._run(runner, data, care_record.sign_plan, trajectory_id)

    @post("/{trajectory_id:uuid}/evaluations", sync_to_thread=True, status_code=200)
    def evaluate(
        self,
        trajectory_id: FromPath[UUID],
        data: JSONBody[Evaluate],
        runner: NamedDependency[CommandRunner],
        care_record: NamedDependency[CareRecord],
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Answer:
        """Evaluate the signed plan; the next evaluation is due within a year (004)."""
        return self._run(runner, data, care_record.evaluate, trajectory_id)

    @post("/{trajectory_id:uuid}/escalations", sync_to_thread=True, status_code=200)
    def raise_escalation(
        self,
        trajectory_id: FromPath[UUID],
        data: JSONBody[RaiseEscalation],
        runner: NamedDependency[CommandRunner],
        care_record: NamedDependency[CareRecord],
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Answer:
        """Raise an escalation at a level, with a reason category."""
        escalation_id = data.escalation_id or new_id("escalation")
        return self._run(
            runner,
            data,
            care_record.raise_escalation,
            trajectory_id,
            item_id=escalation_id,
            escalation_id=escalation_id,
        )

    @post(
        "/{trajectory_id:uuid}/escalations/{escalation_id:str}/level-changes",
        sync_to_thread=True,
        status_code=200,
    )
    def change_escalation_level(
        self,
        trajectory_id: FromPath[UUID],
        escalation_id: RefInPath,
        data: JSONBody[ChangeEscalationLevel],
        runner: NamedDependency[CommandRunner],
        care_record: NamedDependency[CareRecord],
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Answer:
        """Take an open escalation to another level."""
        return self._run(
            runner,
            data,
            care_record.change_escalation_level,
            trajectory_id,
            escalation_id=escalation_id,
        )

    @post(
        "/{trajectory_id:uuid}/escalations/{escalation_id:str}/resolution",
        sync_to_thread=True,
        status_code=200,
    )
    def resolve_escalation(
        self,
        trajectory_id: FromPath[UUID],
        escalation_id: RefInPath,
        data: JSONBody[ResolveEscalation],
        runner: NamedDependency[CommandRunner],
        care_record: NamedDependency[CareRecord],
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Answer:
        """Resolve an open escalation."""
        return self._run(
            runner, data, care_record.resolve_escalation, trajectory_id, escalation_id=escalation_id
        )

    @post("/{trajectory_id:uuid}/blocks", sync_to_thread=True, status_code=200)
    def block(
        self,
        trajectory_id: FromPath[UUID],
        data: JSONBody[BlockTrajectory],
        runner: NamedDependency[CommandRunner],
        care_record: NamedDependency[CareRecord],
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Answer:
        """Record that the trajectory is stuck, and why (reason categories)."""
        return self._run(runner, data, care_record.block, trajectory_id)

    @post("/{trajectory_id:uuid}/unblocking", sync_to_thread=True, status_code=200)
    def unblock(
        self,
        trajectory_id: FromPath[UUID],
        data: JSONBody[UnblockTrajectory],
        runner: NamedDependency[CommandRunner],
        care_record: NamedDependency[CareRecord],
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Answer:
        """Record that the block is lifted, and how."""
        return self._run(runner, data, care_record.unblock, trajectory_id)

    @post("/{trajectory_id:uuid}/handovers", sync_to_thread=True, status_code=200)
    def hand_over(
        self,
        trajectory_id: FromPath[UUID],
        data: JSONBody[HandOver],
        runner: NamedDependency[CommandRunner],
        care_record: NamedDependency[CareRecord],
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Answer:
        """Hand the plan over to another party; needs the client's consent covering it (004)."""
        return self._run(runner, data, care_record.hand_over, trajectory_id)

    @post("/{trajectory_id:uuid}/follow-up-contacts", sync_to_thread=True, status_code=200)
    def record_follow_up_contact(
        self,
        trajectory_id: FromPath[UUID],
        data: JSONBody[RecordFollowUpContact],
        runner: NamedDependency[CommandRunner],
        care_record: NamedDependency[CareRecord],
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Answer:
        """The follow-up contact after closing: is the plan still followed up? (000)"""
        return self._run(runner, data, care_record.record_follow_up_contact, trajectory_id)

    @post("/{trajectory_id:uuid}/closure", sync_to_thread=True, status_code=200)
    def close(
        self,
        trajectory_id: FromPath[UUID],
        data: JSONBody[CloseTrajectory],
        runner: NamedDependency[CommandRunner],
        care_record: NamedDependency[CareRecord],
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Answer:
        """Close the trajectory, naming who follows up the plan or why no one does (000)."""
        return self._run(runner, data, care_record.close_trajectory, trajectory_id)
