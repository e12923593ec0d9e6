"""``/v1/trajectories``: referral, the list, and one route per command.

Every command is a typed ``application.commands`` Struct; its route is a row of ``COMMANDS``,
whose handler (``api.commands.command_handlers``) decodes it, adds the item its path names, and
hands it to the runner, whose dependency declares the command headers.
"""

from typing import Annotated

from litestar import Controller, get, post
from litestar.exceptions import ValidationException
from litestar.params import FromQuery, JSONBody, QueryParameter

from api.commands import Answer, CommandRoute, CommandRunner, Runner, command_handlers
from api.common import Caller, Consistency, Queries, Services
from api.schemas import RefFilter
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
    ShareFinding,
    SignPlan,
    UnblockTrajectory,
    WaiveConsultation,
)
from domain.common import Sector
from domain.trajectory import Status
from projections.plan_state.listing import InvalidCursor, ListFilter, TrajectoryPage
from projections.plan_state.standby import plan_state_lists


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
        await consistency.reached("plan_state", on_standby=True)
        _, organisation, region = services.policy.list_scope(request.user, organisation, region)
        # With a standby: the page is read there, its rows kept as the primary allows.
        lists = plan_state_lists(queries.plan_state, services.standby_plan_state)
        try:
            return await lists.trajectories(
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


#: Every command on a recorded trajectory: ``POST /v1/trajectories/{trajectory_id}/…``.
COMMANDS = (
    CommandRoute(
        "accept",
        "/acceptance",
        Accept,
        "Accept the referral; the actor's organisation coordinates unless another is named.",
    ),
    CommandRoute("decline", "/declination", Decline, "Decline the referral, with a reason."),
    CommandRoute(
        "hold_consultation",
        "/consultations",
        HoldConsultation,
        "Record a consultation; every consultation but the end one plans the next (003).",
    ),
    CommandRoute(
        "waive_consultation",
        "/consultation-waivers",
        WaiveConsultation,
        "Skip the start, three-month or end consultation, with a reason (001).",
    ),
    CommandRoute(
        "propose_role_agreement",
        "/role-agreements",
        ProposeRoleAgreement,
        "Propose who takes which role; in force once every named party accepted.",
    ),
    CommandRoute(
        "accept_role_agreement",
        "/role-agreements/{agreement_id:str}/acceptances",
        AnswerRoleAgreement,
        "The actor's organisation accepts its part of the agreement.",
        at=AcceptRoleAgreementAt,
    ),
    CommandRoute(
        "decline_role_agreement",
        "/role-agreements/{agreement_id:str}/declination",
        DeclineRoleAgreement,
        "The actor's organisation declines the agreement; it will not come into force.",
        at=DeclineRoleAgreementAt,
    ),
    CommandRoute(
        "end_role_agreement",
        "/role-agreements/{agreement_id:str}/end",
        EndRoleAgreement,
        "End a role agreement.",
        at=EndRoleAgreementAt,
    ),
    CommandRoute("set_goal", "/goals", SetGoal, "Set a goal of the support plan."),
    CommandRoute(
        "revise_goal",
        "/goals/{goal_id:str}/revisions",
        ReviseGoal,
        "Revise a goal's wording.",
        at=ReviseGoalAt,
    ),
    CommandRoute(
        "close_goal",
        "/goals/{goal_id:str}/closure",
        CloseGoal,
        "Close a goal with its outcome.",
        at=CloseGoalAt,
    ),
    CommandRoute("agree_action", "/actions", AgreeAction, "Agree who does what, by when (003)."),
    CommandRoute(
        "sign_plan",
        "/plan-signatures",
        SignPlan,
        "The client or their representative signs: the plan is in force from here (004).",
    ),
    CommandRoute(
        "evaluate",
        "/evaluations",
        Evaluate,
        "Evaluate the signed plan; the next evaluation is due within a year (004).",
    ),
    CommandRoute(
        "raise_escalation",
        "/escalations",
        RaiseEscalation,
        "Raise an escalation at a level, with a reason category.",
    ),
    CommandRoute(
        "change_escalation_level",
        "/escalations/{escalation_id:str}/level-changes",
        ChangeEscalationLevel,
        "Take an open escalation to another level.",
        at=ChangeEscalationLevelAt,
    ),
    CommandRoute(
        "resolve_escalation",
        "/escalations/{escalation_id:str}/resolution",
        ResolveEscalation,
        "Resolve an open escalation.",
        at=ResolveEscalationAt,
    ),
    CommandRoute(
        "block",
        "/blocks",
        BlockTrajectory,
        "Record that the trajectory is stuck, and why (reason categories).",
    ),
    CommandRoute(
        "unblock", "/unblocking", UnblockTrajectory, "Record that the block is lifted, and how."
    ),
    CommandRoute(
        "hand_over",
        "/handovers",
        HandOver,
        "Hand the plan over to another party; needs the client's consent covering it (004).",
    ),
    CommandRoute(
        "record_follow_up_contact",
        "/follow-up-contacts",
        RecordFollowUpContact,
        "The follow-up contact after closing: is the plan still followed up? (000)",
    ),
    CommandRoute(
        "close",
        "/closure",
        CloseTrajectory,
        "Close the trajectory, naming who follows up the plan or why no one does (000).",
    ),
)

trajectory_command_handlers = command_handlers(
    "/v1/trajectories/{trajectory_id:uuid}",
    CommandRunner.on_trajectory,
    COMMANDS,
    tags=["trajectories"],
)

#: Issue #14 point 2: a finding shared with the region's learning network. Recorded on the
#: trajectory, then held in its region's batch (another store, another transaction): the
#: network receives it later, with ids of its own (``application.finding_batches``).
finding_handlers = command_handlers(
    "/v1/trajectories/{trajectory_id:uuid}",
    CommandRunner.share_finding,
    (
        CommandRoute(
            "share_finding",
            "/findings/share",
            ShareFinding,
            "Share a finding of the trajectory's consultations with the region's learning "
            "network as a theme proposal, without a trace back: confirm it names no person, "
            "school, town or date (names_no_one); names recorded for the trajectory, e-mail "
            "addresses, bank account numbers (IBAN), national register numbers and BSNs, phone "
            "numbers and dates are refused (422), the problem naming what kind matched and "
            "where, never the text; names of other people are not recognised. It enters the "
            "network in its region's next batch (three trajectories, or a month).",
        ),
    ),
    tags=["trajectories"],
)
