"""``/v1/learning-networks``: the meso and macro levels of seed 001 (issue #14 point 4).

One learning network per region (``meso``) and one forum per deployment (``macro``). A
``forum`` token or an admin establishes a network and names its coordinating organisation,
which admits members and publishes the yearly lessons. A ``learning_network`` token reads the
networks of its region and records for one only when its organisation is a member; a ``forum``
token reads every network and records for the forum; a coordinator proposes themes and raises
policy signals in its region's network; an auditor reads its region's (``api.access``).

Commands are the ``application.commands`` network commands, one route each (``COMMANDS``),
with ``If-Match``, ``Idempotency-Key`` and read-your-writes as on every record. Reads come from
the ``learning_networks`` read model (``projections.learning_networks``; on the hot standby when
one is set, since who reads a network depends on its level and region only): the network's state
(members, themes, meetings, signals with their status and age, lessons, improvement
trajectories over their measurement moments) and the signals overview.
"""

from datetime import UTC

from litestar import Controller, Response, get, post
from litestar.params import FromQuery, JSONBody

from api.access import NETWORK_READERS
from api.commands import Answer, CommandRoute, CommandRunner, Runner, command_handlers
from api.common import Caller, Consistency, Id, Queries, Services, StandbyBehind, etag
from application.commands import (
    AdmitNetworkMember,
    AnswerPolicySignal,
    AnswerPolicySignalAt,
    CloseLearningNetwork,
    ClosePolicySignal,
    ClosePolicySignalAt,
    CloseTheme,
    CloseThemeAt,
    EscalatePolicySignal,
    EscalatePolicySignalAt,
    EstablishLearningNetwork,
    HoldNetworkMeeting,
    MeasureImprovementTrajectory,
    MeasureImprovementTrajectoryAt,
    ProposeTheme,
    PublishLessons,
    RaisePolicySignal,
    RecordNetworkMemberLeft,
    RecordNetworkMemberLeftAt,
    ScheduleTheme,
    ScheduleThemeAt,
    StartImprovementTrajectory,
)
from domain.learning_network import LearningNetworkNotFound, SignalStatus
from projections.learning_networks import (
    CadenceStatus,
    NetworkSummary,
    NetworkView,
    SignalsOverview,
)

PROJECTION = "learning_networks"
READ = "read the learning networks"


class LearningNetworkController(Controller):
    path = "/v1/learning-networks"
    tags = ["learning networks"]

    @post("/", sync_to_thread=True, summary="Establish a region's learning network or the forum")
    def establish(self, data: JSONBody[EstablishLearningNetwork], intake: Runner) -> Answer:
        """A region's learning network (``level`` ``meso``, a ``region``) or the deployment's
        forum (``macro``, no region), with its coordinating organisation. One per region, one
        forum: a second is refused (409). Answered 201 with the network's id."""
        return intake.establish_learning_network(data)

    @get("/", summary="The learning networks the caller reads")
    async def networks(
        self, request: Caller, services: Services, queries: Queries, consistency: Consistency
    ) -> list[NetworkSummary]:
        """The forum and admins: every network; a learning network or an auditor: its region's."""
        await consistency.reached(PROJECTION, on_standby=True)
        acting = services.policy.require_role(request.user, READ, NETWORK_READERS)
        reads = services.standby or queries  # no per-person access facts: all on the standby
        return await reads.learning_networks.list(services.policy.network_regions(acting))

    @get("/signals", summary="Policy signals: open per category and region, how long open")
    async def signals(
        self,
        request: Caller,
        services: Services,
        queries: Queries,
        consistency: Consistency,
        status: FromQuery[SignalStatus | None] = None,
    ) -> SignalsOverview:
        """Per region (``null``: the forum) and category: how many signals are open, answered,
        escalated to the forum or closed, and how long the ones still open have been; then
        every signal with its status and days open."""
        await consistency.reached(PROJECTION, on_standby=True)
        acting = services.policy.require_role(request.user, READ, NETWORK_READERS)
        today = services.policy.clock().astimezone(UTC).date()
        return await (services.standby or queries).learning_networks.signals(
            services.policy.network_regions(acting), today, status
        )

    @get("/cadence", summary="The cadence board: how often each network met, and is due to")
    async def cadence(
        self, request: Caller, services: Services, queries: Queries, consistency: Consistency
    ) -> list[CadenceStatus]:
        """Issue #14 point 3, for network coordinators (read as the networks are: the forum and
        admins every network, a learning network or an auditor its region's): per network the
        first year the cadence holds, this year's meetings per kind against the policy's
        numbers, the years and quarters recorded short, and what the scheduler will record."""
        await consistency.reached(PROJECTION, on_standby=True)
        acting = services.policy.require_role(request.user, READ, NETWORK_READERS)
        return await (services.standby or queries).learning_networks.cadence(
            services.policy.network_regions(acting),
            services.policy.clock(),
            services.cadence,
        )

    @get("/{network_id:uuid}", summary="A learning network as it stands")
    async def network(
        self,
        network_id: Id,
        request: Caller,
        services: Services,
        queries: Queries,
        consistency: Consistency,
    ) -> Response[NetworkView]:
        """Members, themes, meetings, policy signals, lessons and improvement trajectories (with
        their measurement moments), with the network's version as ``ETag``."""
        await consistency.reached(PROJECTION, on_standby=True)
        today = services.policy.clock().astimezone(UTC).date()
        found = await (services.standby or queries).learning_networks.one(network_id, today)
        missing = LearningNetworkNotFound(f"no learning network with id {network_id}")
        if (
            found is None
            and services.standby is not None
            and await queries.learning_networks.one(network_id, today) is not None
        ):
            raise StandbyBehind()  # the primary has it: the standby has not replayed it yet
        if found is None:
            services.policy.require_role(request.user, READ, NETWORK_READERS)
            raise services.policy.hidden(request.user, READ, missing)
        services.policy.network_reader(
            request.user, READ, network_id, found.level.value, found.region
        )
        return Response(found, headers={"ETag": etag(found.version)})


COMMANDS = (
    CommandRoute(
        "admit_network_member",
        "/members",
        AdmitNetworkMember,
        "The coordinating organisation admits an organisation of the register to the pool, "
        "with its expertise and role (a client representative's organisation, never a client).",
    ),
    CommandRoute(
        "record_network_member_left",
        "/members/{organisation:str}/departure",
        RecordNetworkMemberLeft,
        "A member leaves the pool (the coordinating organisation stays while it coordinates).",
        at=RecordNetworkMemberLeftAt,
    ),
    CommandRoute(
        "propose_theme",
        "/themes",
        ProposeTheme,
        "A theme for the network (a member, the forum, or a coordinator of the region); its "
        "proposer is shown as a kind, never an organisation.",
    ),
    CommandRoute(
        "schedule_theme",
        "/themes/{theme_id:str}/scheduling",
        ScheduleTheme,
        "Schedule an open theme for a meeting.",
        at=ScheduleThemeAt,
    ),
    CommandRoute(
        "close_theme",
        "/themes/{theme_id:str}/closure",
        CloseTheme,
        "Close a discussed theme with its conclusion.",
        at=CloseThemeAt,
    ),
    CommandRoute(
        "hold_network_meeting",
        "/meetings",
        HoldNetworkMeeting,
        "A meeting held: kind, day, members present (members only), open themes discussed, "
        "statistics releases consulted (by number), conclusions.",
    ),
    CommandRoute(
        "raise_policy_signal",
        "/signals",
        RaisePolicySignal,
        "Signal a blocking structure to policy, resting on at least one theme or release.",
    ),
    CommandRoute(
        "answer_policy_signal",
        "/signals/{signal_id:str}/answer",
        AnswerPolicySignal,
        "Record the answer policy gave to an open signal.",
        at=AnswerPolicySignalAt,
    ),
    CommandRoute(
        "close_policy_signal",
        "/signals/{signal_id:str}/closure",
        ClosePolicySignal,
        "Close a signal, with the reason.",
        at=ClosePolicySignalAt,
    ),
    CommandRoute(
        "escalate_policy_signal",
        "/signals/{signal_id:str}/escalation",
        EscalatePolicySignal,
        "Take a region's open or answered signal to the forum (recorded on both).",
        at=EscalatePolicySignalAt,
    ),
    CommandRoute(
        "publish_lessons",
        "/lessons",
        PublishLessons,
        "The coordinating organisation publishes the year's lessons, improvement paths and "
        "action proposals, for named audiences (once a year).",
    ),
    CommandRoute(
        "start_improvement_trajectory",
        "/improvement-trajectories",
        StartImprovementTrajectory,
        "Follow what the network decided to change (an action proposal) as an improvement "
        "trajectory.",
    ),
    CommandRoute(
        "measure_improvement_trajectory",
        "/improvement-trajectories/{improvement_id:str}/measurements",
        MeasureImprovementTrajectory,
        "A measurement moment (002): PDCA phase, participation ladder rung, confidence 1 to 5, "
        "reach.",
        at=MeasureImprovementTrajectoryAt,
    ),
    CommandRoute(
        "close_learning_network",
        "/closure",
        CloseLearningNetwork,
        "The forum or an admin closes a network: it takes nothing from then on.",
    ),
)

learning_network_command_handlers = command_handlers(
    "/v1/learning-networks/{network_id:uuid}",
    CommandRunner.on_network,
    COMMANDS,
    tags=["learning networks"],
)
