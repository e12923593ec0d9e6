"""``/v1/trajectories``: referral, one thin handler per command, and the list.

Every command is a typed ``application.commands`` Struct; a handler decodes it (adding the item
its path names) and hands it to the runner, whose dependency declares the command headers.
"""

from typing import Annotated

from litestar import Controller, get, post
from litestar.exceptions import ValidationException
from litestar.params import FromQuery, JSONBody, QueryParameter

from api.commands import Answer, Runner, command_route
from api.common import Caller, Consistency, Id, Queries, Services
from api.schemas import RefFilter, RefInPath
from application.commands import (
    Accept,
    AcceptRoleAgreementAt,
    AgreeAction,
    AnswerRoleAgreement,
    BlockTrajectory,
    ChangeEscalationLevel,
    ChangeEscalationLevelAt,
    CloseGoal,
    CloseGoalAt,
    CloseTrajectory,
    Decline,
    DeclineRoleAgreement,
    DeclineRoleAgreementAt,
    EndRoleAgreement,
    EndRoleAgreementAt,
    Evaluate,
    HandOver,
    HoldConsultation,
    ProposeRoleAgreement,
    RaiseEscalation,
    RecordFollowUpContact,
    Refer,
    ResolveEscalation,
    ResolveEscalationAt,
    ReviseGoal,
    ReviseGoalAt,
    SetGoal,
    SignPlan,
    UnblockTrajectory,
    WaiveConsultation,
)
from domain.common import Sector
from domain.trajectory import Status
from projections.plan_state.listing import InvalidCursor, ListFilter, TrajectoryPage


class TrajectoryController(Controller):
    path = "/v1/trajectories"
    tags = ["trajectories"]

    @post("/", sync_to_thread=True, summary="Refer a client: open a trajectory (aanmelding)")
    def refer(self, data: JSONBody[Refer], intake: Runner) -> Answer:
        return intake.refer(data)

    @get("/", summary="Trajectories, newest referral first")
    async def trajectories(
        self,
        request: Caller,
        services: Services,
        queries: Queries,
        consistency: Consistency,
        status: FromQuery[Status | None] = None,
        region: RefFilter = None,
        sector: FromQuery[Sector | None] = None,
        organisation: RefFilter = None,
        cursor: FromQuery[str | None] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 50,
    ) -> TrajectoryPage:
        """Filter by status, region, sector and organisation; follow ``next_cursor`` for more."""
        await consistency.reached("plan_state")
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

    @command_route("/{trajectory_id:uuid}/acceptance")
    def accept(self, trajectory_id: Id, data: JSONBody[Accept], runner: Runner) -> Answer:
        """Accept the referral; the actor's organisation coordinates unless another is named."""
        return runner.on_trajectory(trajectory_id, data)

    @command_route("/{trajectory_id:uuid}/declination")
    def decline(self, trajectory_id: Id, data: JSONBody[Decline], runner: Runner) -> Answer:
        """Decline the referral, with a reason."""
        return runner.on_trajectory(trajectory_id, data)

    @command_route("/{trajectory_id:uuid}/consultations")
    def hold_consultation(
        self,
        trajectory_id: Id,
        data: JSONBody[HoldConsultation],
        runner: Runner,
    ) -> Answer:
        """Record a consultation; every consultation but the end one plans the next (003)."""
        return runner.on_trajectory(trajectory_id, data)

    @command_route("/{trajectory_id:uuid}/consultation-waivers")
    def waive_consultation(
        self,
        trajectory_id: Id,
        data: JSONBody[WaiveConsultation],
        runner: Runner,
    ) -> Answer:
        """Skip the start, three-month or end consultation, with a reason (001)."""
        return runner.on_trajectory(trajectory_id, data)

    @command_route("/{trajectory_id:uuid}/role-agreements")
    def propose_role_agreement(
        self,
        trajectory_id: Id,
        data: JSONBody[ProposeRoleAgreement],
        runner: Runner,
    ) -> Answer:
        """Propose who takes which role; in force once every named party accepted."""
        return runner.on_trajectory(trajectory_id, data)

    @command_route("/{trajectory_id:uuid}/role-agreements/{agreement_id:str}/acceptances")
    def accept_role_agreement(
        self,
        trajectory_id: Id,
        agreement_id: RefInPath,
        data: JSONBody[AnswerRoleAgreement],
        runner: Runner,
    ) -> Answer:
        """The actor's organisation accepts its part of the agreement."""
        return runner.on_trajectory(
            trajectory_id, AcceptRoleAgreementAt.at(data, agreement_id=agreement_id)
        )

    @command_route("/{trajectory_id:uuid}/role-agreements/{agreement_id:str}/declination")
    def decline_role_agreement(
        self,
        trajectory_id: Id,
        agreement_id: RefInPath,
        data: JSONBody[DeclineRoleAgreement],
        runner: Runner,
    ) -> Answer:
        """The actor's organisation declines the agreement; it will not come into force."""
        return runner.on_trajectory(
            trajectory_id, DeclineRoleAgreementAt.at(data, agreement_id=agreement_id)
        )

    @command_route("/{trajectory_id:uuid}/role-agreements/{agreement_id:str}/end")
    def end_role_agreement(
        self,
        trajectory_id: Id,
        agreement_id: RefInPath,
        data: JSONBody[EndRoleAgreement],
        runner: Runner,
    ) -> Answer:
        """End a role agreement."""
        return runner.on_trajectory(
            trajectory_id, EndRoleAgreementAt.at(data, agreement_id=agreement_id)
        )

    @command_route("/{trajectory_id:uuid}/goals")
    def set_goal(self, trajectory_id: Id, data: JSONBody[SetGoal], runner: Runner) -> Answer:
        """Set a goal of the support plan."""
        return runner.on_trajectory(trajectory_id, data)

    @command_route("/{trajectory_id:uuid}/goals/{goal_id:str}/revisions")
    def revise_goal(
        self,
        trajectory_id: Id,
        goal_id: RefInPath,
        data: JSONBody[ReviseGoal],
        runner: Runner,
    ) -> Answer:
        """Revise a goal's wording."""
        return runner.on_trajectory(trajectory_id, ReviseGoalAt.at(data, goal_id=goal_id))

    @command_route("/{trajectory_id:uuid}/goals/{goal_id:str}/closure")
    def close_goal(
        self,
        trajectory_id: Id,
        goal_id: RefInPath,
        data: JSONBody[CloseGoal],
        runner: Runner,
    ) -> Answer:
        """Close a goal with its outcome."""
        return runner.on_trajectory(trajectory_id, CloseGoalAt.at(data, goal_id=goal_id))

    @command_route("/{trajectory_id:uuid}/actions")
    def agree_action(
        self,
        trajectory_id: Id,
        data: JSONBody[AgreeAction],
        runner: Runner,
    ) -> Answer:
        """Agree who does what, by when (003)."""
        return runner.on_trajectory(trajectory_id, data)

    @command_route("/{trajectory_id:uuid}/plan-signatures")
    def sign_plan(self, trajectory_id: Id, data: JSONBody[SignPlan], runner: Runner) -> Answer:
        """The client or their representative signs: the plan is in force from here (004)."""
        return runner.on_trajectory(trajectory_id, data)

    @command_route("/{trajectory_id:uuid}/evaluations")
    def evaluate(self, trajectory_id: Id, data: JSONBody[Evaluate], runner: Runner) -> Answer:
        """Evaluate the signed plan; the next evaluation is due within a year (004)."""
        return runner.on_trajectory(trajectory_id, data)

    @command_route("/{trajectory_id:uuid}/escalations")
    def raise_escalation(
        self,
        trajectory_id: Id,
        data: JSONBody[RaiseEscalation],
        runner: Runner,
    ) -> Answer:
        """Raise an escalation at a level, with a reason category."""
        return runner.on_trajectory(trajectory_id, data)

    @command_route("/{trajectory_id:uuid}/escalations/{escalation_id:str}/level-changes")
    def change_escalation_level(
        self,
        trajectory_id: Id,
        escalation_id: RefInPath,
        data: JSONBody[ChangeEscalationLevel],
        runner: Runner,
    ) -> Answer:
        """Take an open escalation to another level."""
        return runner.on_trajectory(
            trajectory_id, ChangeEscalationLevelAt.at(data, escalation_id=escalation_id)
        )

    @command_route("/{trajectory_id:uuid}/escalations/{escalation_id:str}/resolution")
    def resolve_escalation(
        self,
        trajectory_id: Id,
        escalation_id: RefInPath,
        data: JSONBody[ResolveEscalation],
        runner: Runner,
    ) -> Answer:
        """Resolve an open escalation."""
        return runner.on_trajectory(
            trajectory_id, ResolveEscalationAt.at(data, escalation_id=escalation_id)
        )

    @command_route("/{trajectory_id:uuid}/blocks")
    def block(self, trajectory_id: Id, data: JSONBody[BlockTrajectory], runner: Runner) -> Answer:
        """Record that the trajectory is stuck, and why (reason categories)."""
        return runner.on_trajectory(trajectory_id, data)

    @command_route("/{trajectory_id:uuid}/unblocking")
    def unblock(
        self,
        trajectory_id: Id,
        data: JSONBody[UnblockTrajectory],
        runner: Runner,
    ) -> Answer:
        """Record that the block is lifted, and how."""
        return runner.on_trajectory(trajectory_id, data)

    @command_route("/{trajectory_id:uuid}/handovers")
    def hand_over(self, trajectory_id: Id, data: JSONBody[HandOver], runner: Runner) -> Answer:
        """Hand the plan over to another party; needs the client's consent covering it (004)."""
        return runner.on_trajectory(trajectory_id, data)

    @command_route("/{trajectory_id:uuid}/follow-up-contacts")
    def record_follow_up_contact(
        self,
        trajectory_id: Id,
        data: JSONBody[RecordFollowUpContact],
        runner: Runner,
    ) -> Answer:
        """The follow-up contact after closing: is the plan still followed up? (000)"""
        return runner.on_trajectory(trajectory_id, data)

    @command_route("/{trajectory_id:uuid}/closure")
    def close(self, trajectory_id: Id, data: JSONBody[CloseTrajectory], runner: Runner) -> Answer:
        """Close the trajectory, naming who follows up the plan or why no one does (000)."""
        return runner.on_trajectory(trajectory_id, data)
