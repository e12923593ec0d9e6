"""Running a command over HTTP: actor from the token, ``If-Match``, ``Idempotency-Key``.

Handlers stay thin: they decode the typed command (``application.commands``) and hand it to a
``CommandRunner``, which checks the role, builds the command context (with the access policy's
guard, so the record decides the relation), honours the preconditions, runs the use case once
and shapes the answer (the new version in the body and as ``ETag``). The runner is a dependency
whose parameters are the command headers, so they are declared once for every command route.
"""

import inspect
import operator
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple, TypeVar
from uuid import UUID

import msgspec
from litestar import MediaType, Request, Response, post
from litestar.di import NamedDependency
from litestar.exceptions import ServiceUnavailableException, ValidationException
from litestar.handlers import HTTPRouteHandler
from litestar.params import JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from api.access import NETWORK_COMMANDS, ORGANISATION_COMMANDS, Forbidden
from api.auth import PERSON_ROLES, Principal
from api.common import (
    ON_BEHALF_OF,
    Id,
    IdempotencyKey,
    IfMatch,
    etag,
    expected_version,
    on_behalf_of,
)
from api.idempotency import KEY_MAX_LENGTH, StoredAnswer, request_of
from api.schemas import CommandAnswer, RefInPath
from api.services import ApiServices
from application.care_record import CareRecord, CommandResult
from application.commands import (
    Action,
    ClientCommand,
    Command,
    EraseClient,
    EscalatePolicySignalAt,
    EstablishLearningNetwork,
    GrantExportAuthorisation,
    LinkIdentity,
    NetworkCommand,
    OrganisationCommand,
    Refer,
    RegisterClient,
    RegisterOrganisation,
    RevokeExportAuthorisation,
    ShareFinding,
    TrajectoryCommand,
)
from application.metrics import metrics
from application.unavailable import is_unavailable
from domain.common import Actor, CommandContext

_KEY = re.compile(rf"^[\x21-\x7e]{{1,{KEY_MAX_LENGTH}}}$")

#: A use case with the request's context and the version the caller expects.
UseCase = Callable[[CommandContext, int | None], CommandResult]
C = TypeVar("C", bound=Command)
#: A use case on one recorded aggregate: (context, its id, expected version, command).
RecordUseCase = Callable[[CommandContext, UUID, int | None, C], CommandResult]
Answer = Response[CommandAnswer]


def command_route(path: str, **options: Any) -> Callable[[Callable[..., Any]], HTTPRouteHandler]:
    """A command on a recorded trajectory or client: ``POST path``, answered 200 with the new
    version, run in a worker thread (the write side is synchronous)."""
    return post(path, sync_to_thread=True, status_code=200, **options)


#: An item named by a command's path, e.g. ``{goal_id:str}``.
_ITEM = re.compile(r"\{(\w+):str\}")


class CommandRoute(NamedTuple):
    """One command on a recorded aggregate, as ``POST``: ``command_handlers`` makes its handler.

    ``name`` is the handler's (the operation's summary and id), ``path`` is below the record's
    (``/goals/{goal_id:str}/closure``), ``body`` the request body, ``doc`` the operation's
    description. Where the path names an item, ``at`` is the command on it (``CloseGoalAt``),
    made from the body and the item's id; else the body is the command."""

    name: str
    path: str
    body: type[Command]
    doc: str
    at: type[Command] | None = None


#: What a handler does with the record's id and the command: a ``CommandRunner`` use case.
RunOn = Callable[["CommandRunner", UUID, Any], Answer]


def command_handlers(
    record_path: str, run: RunOn, routes: Iterable[CommandRoute], **options: Any
) -> list[HTTPRouteHandler]:
    """One handler a route, below ``record_path`` (``/v1/trajectories/{trajectory_id:uuid}``):
    it decodes the body (adding the item its path names) and hands the command to ``run``."""
    (record,) = re.findall(r"\{(\w+):uuid\}", record_path)
    return [
        command_route(record_path + route.path, **options)(_handler(record, route, run))
        for route in routes
    ]


def _handler(record: str, route: CommandRoute, run: RunOn) -> Callable[..., Answer]:
    at = route.at

    def handle(*, data: Command, runner: "CommandRunner", **ids: Any) -> Answer:
        record_id = ids.pop(record)
        return run(runner, record_id, at.at(data, **ids) if at else data)

    # Litestar reads what a handler takes from its signature: the record's id, the items the
    # path names, the typed body and the runner (whose parameters are the command headers).
    keyword = inspect.Parameter.KEYWORD_ONLY
    parameters = [
        inspect.Parameter(record, keyword, annotation=Id),
        *(
            inspect.Parameter(item, keyword, annotation=RefInPath)
            for item in _ITEM.findall(route.path)
        ),
        inspect.Parameter("data", keyword, annotation=operator.getitem(JSONBody, route.body)),
        inspect.Parameter("runner", keyword, annotation=Runner),
    ]
    handle.__dict__["__signature__"] = inspect.Signature(parameters, return_annotation=Answer)
    handle.__annotations__ = {p.name: p.annotation for p in parameters} | {"return": Answer}
    handle.__name__ = handle.__qualname__ = route.name
    handle.__doc__ = route.doc
    return handle


@dataclass(frozen=True)
class CommandRunner:
    """One per request: runs one use case with the request's actor and preconditions."""

    request: Request[Principal, Any, Any]
    services: ApiServices
    if_match: str | None
    idempotency_key: str | None

    @property
    def care_record(self) -> CareRecord:
        return self.services.care_record

    # --- the use cases ----------------------------------------------------------------------------

    def on_trajectory(self, trajectory_id: UUID, command: TrajectoryCommand) -> Answer:
        return self._on(trajectory_id, command, command.action, self.care_record.change_trajectory)

    def share_finding(self, trajectory_id: UUID, command: ShareFinding) -> Answer:
        """Issue #14 point 2: recorded on the trajectory, then held in its region's batch."""
        outbox = self.services.findings
        if outbox is None:
            raise ServiceUnavailableException("shared findings are not kept by this service")
        return self._on(
            trajectory_id,
            command,
            Action.SHARE_FINDING,
            lambda ctx, record, version, c: self.care_record.share_finding(
                ctx, record, version, c, outbox
            ),
        )

    def on_client(self, client_id: UUID, command: ClientCommand) -> Answer:
        return self._on(client_id, command, command.action, self.care_record.change_client)

    def link_identity(self, client_id: UUID, command: LinkIdentity) -> Answer:
        """Issue #19: the subject is keyed with the deployment's pepper, then recorded."""
        identities = self.services.identities
        if identities is None:
            raise ServiceUnavailableException("identity links are not kept by this service")
        return self.on_client(client_id, command.keyed(identities.keyed(command.subject)))

    def erase(self, client_id: UUID, command: EraseClient) -> Answer:
        return self._on(client_id, command, Action.ERASE_CLIENT, self.care_record.erase_client)

    def _on(
        self, record_id: UUID, command: C, action: Action, use_case: RecordUseCase[C]
    ) -> Answer:
        """A command on a recorded trajectory or client: the version the caller expects."""
        return self.run(
            command, action, lambda ctx, version: use_case(ctx, record_id, version, command)
        )

    def register(self, command: RegisterClient) -> Answer:
        return self._create(command, Action.REGISTER_CLIENT, self.care_record.register_client)

    def refer(self, command: Refer) -> Answer:
        """A continuation at the caller's own organisation is decided as ``CONTINUE`` (which the
        client's continuation consent allows, issue #17); any other referral as ``REFER``
        (only an organisation that manages the client refers it, for whichever referrer)."""
        own = self.request.user.organisation
        at_own = command.referrer_organisation in (None, own)
        continues = command.continues_from is not None and at_own
        action = Action.CONTINUE if continues else Action.REFER
        return self._create(command, action, self.care_record.refer)

    def register_organisation(self, command: RegisterOrganisation) -> Answer:
        """Provisional unless an admin registers it (the policy says which role acted)."""
        policy, care_record = self.services.policy, self.care_record
        return self.run(
            command,
            Action.REGISTER_ORGANISATION,
            lambda ctx, _: care_record.register_organisation(
                ctx, command, provisional=policy.registers_provisionally(ctx.actor.role)
            ),
            # An identifier is a ``Ref``: no braces, so the location is its own format.
            location=f"/v1/organisations/{command.identifier}",
        )

    def on_organisation(self, identifier: str, command: OrganisationCommand) -> Answer:
        """Confirm or correct a registered organisation, named by its identifier."""
        return self.run(
            command,
            command.action,
            lambda ctx, version: self.care_record.change_organisation(
                ctx, identifier, version, command
            ),
        )

    def grant_export_authorisation(self, command: GrantExportAuthorisation) -> Answer:
        """Answered 201 with the new authorisation's id (``item_id`` too)."""
        return self.run(
            command,
            Action.GRANT_EXPORT_AUTHORISATION,
            lambda ctx, _: self.care_record.grant_export_authorisation(ctx, command),
            location="/v1/exports/authorisations/{}",
        )

    def revoke_export_authorisation(
        self, authorisation_id: UUID, command: RevokeExportAuthorisation
    ) -> Answer:
        return self._on(
            authorisation_id,
            command,
            Action.REVOKE_EXPORT_AUTHORISATION,
            self.care_record.revoke_export_authorisation,
        )

    def establish_learning_network(self, command: EstablishLearningNetwork) -> Answer:
        """Answered 201 with the network's id (derived from its level and region)."""
        return self.run(
            command,
            Action.ESTABLISH_LEARNING_NETWORK,
            lambda ctx, _: self.care_record.establish_learning_network(ctx, command),
            location="/v1/learning-networks/{}",
        )

    def on_network(
        self, network_id: UUID, command: NetworkCommand | EscalatePolicySignalAt
    ) -> Answer:
        """A command on a learning network; meetings and signals cite statistics releases by
        number, checked against the release store."""
        if isinstance(command, EscalatePolicySignalAt):
            return self._on(
                network_id,
                command,
                Action.ESCALATE_POLICY_SIGNAL,
                self.care_record.escalate_policy_signal,
            )
        released = self._released
        return self._on(
            network_id,
            command,
            command.action,
            lambda ctx, record, version, c: self.care_record.change_network(
                ctx, record, version, c, released
            ),
        )

    def _released(self, number: int) -> bool:
        store = self.services.releases
        return store is not None and store.release(number) is not None

    def _create(
        self, command: C, action: Action, use_case: Callable[[CommandContext, C], CommandResult]
    ) -> Answer:
        """A command that creates a record: answered 201 with its ``Location``."""
        where = "clients" if action == Action.REGISTER_CLIENT else "trajectories"
        return self.run(
            command, action, lambda ctx, _: use_case(ctx, command), location=f"/v1/{where}/{{}}"
        )

    # --- one run --------------------------------------------------------------------------------

    def context(
        self,
        occurred_at: datetime,
        actor: Actor,
        authorise: Callable[[Any], Actor],
        sees_names: Callable[[Any], bool],
    ) -> CommandContext:
        state = self.request.scope.get("state", {})
        request_id: str = state.get("request_id", "")
        return CommandContext(
            actor=actor,
            occurred_at=occurred_at,
            # As the middleware validated it, never the raw header (issue #10 review, S2).
            correlation_id=state.get("correlation_id") or request_id,
            causation_id=request_id or None,
            now=datetime.now(UTC),
            authorise=authorise,
            sees_names=sees_names,
        )

    def run(
        self, command: Command, action: Action, use_case: UseCase, *, location: str | None = None
    ) -> Answer:
        """Run ``action`` once: role first, then (on the loaded record) the relation.
        ``location``: the new record's path (``{}`` for its id): a creation, answered 201."""
        principal, policy = self.request.user, self.services.policy
        acting = policy.check_command_role(principal, action)
        representative = on_behalf_of(self.request)
        if representative is not None and action == Action.REGISTER_CLIENT:
            raise ValidationException(
                f"{ON_BEHALF_OF} names a representative of a registered client; a client being "
                "registered has none yet",
                extra=[{"key": ON_BEHALF_OF, "message": "no representative yet"}],
            )
        if representative is not None and action in ORGANISATION_COMMANDS | NETWORK_COMMANDS:
            raise ValidationException(
                f"{ON_BEHALF_OF} names a client's representative; the organisation register "
                "and the learning networks are kept by no one on a client's behalf: leave the "
                "header out",
                extra=[{"key": ON_BEHALF_OF, "message": "not for a register or a network"}],
            )
        return self.run_as(
            command,
            action,
            use_case,
            acting.actor(representative),
            policy.command_guard(principal, action, representative),
            sees_names=lambda client: policy.sees_contact_details(acting, client),
            location=location,
        )

    def run_as(
        self,
        command: Command,
        action: Action,
        use_case: UseCase,
        actor: Actor,
        authorise: Callable[[Any], Actor],
        *,
        sees_names: Callable[[Any], bool],
        location: str | None = None,
    ) -> Answer:
        """Run ``use_case`` once as ``actor``, with ``authorise`` deciding on each record it
        touches: ``If-Match``, ``Idempotency-Key`` and the answer. ``run`` for an
        organisation's token; the person's routes (issue #19) with the person as the actor."""
        expected = expected_version(self.if_match)
        key = self._idempotency_key()
        if key is not None:
            stored = self.services.idempotency.reserve(
                key,
                request_of(
                    self.request.method, self.request.url.path, msgspec.json.encode(command)
                ),
            )
            if stored is not None:
                metrics().commands.labels(action, "replayed", "").inc()
                return self.respond(stored, replayed=True)
        ctx = self.context(command.occurred_at, actor, authorise, sees_names)
        try:
            result = use_case(ctx, expected)
        except BaseException as error:
            # Refused: nothing was recorded, a retry may run again. Database unavailable: the
            # outcome is unknown (the events may have committed), so the key stays reserved.
            if key is not None and not is_unavailable(error):
                self.services.idempotency.release(key)
            metrics().commands.labels(action, "refused", refusing_rule(error)).inc()
            raise
        answer = StoredAnswer(
            status=HTTP_201_CREATED if location else HTTP_200_OK,
            body=msgspec.json.encode(
                CommandAnswer(
                    id=result.id,
                    version=result.version,
                    position=result.position,
                    item_id=result.item_id,
                )
            ),
            etag=etag(result.version),
            location=location.format(result.id) if location else None,
        )
        if key is not None:
            self.services.idempotency.complete(key, answer)
        metrics().commands.labels(action, "recorded", "").inc()
        return self.respond(answer)

    def _idempotency_key(self) -> str | None:
        raw = self.idempotency_key
        if raw is None:
            return None
        if not _KEY.match(raw):
            raise ValidationException(
                "Idempotency-Key must be 1 to 200 visible ASCII characters",
                extra=[{"key": "Idempotency-Key", "message": "1 to 200 visible ASCII characters"}],
            )
        # Keys are scoped by organisation and user: nobody collides with or replays another's
        # answers, not even a user of the same name at another organisation. A person (issue
        # #19) by the keyed hash of their subject: it stands for a national identity, which the
        # table of keys must not hold in the clear (the record seals it, the logs redact it).
        user = self.request.user
        sender = user.user_id
        if PERSON_ROLES & set(user.roles) and self.services.identities is not None:
            sender = f"person:{self.services.identities.keyed(user.user_id)}"
        return f"{user.organisation}\x1f{sender}\x1f{raw}"

    @staticmethod
    def respond(answer: StoredAnswer, replayed: bool = False) -> Answer:
        headers = {"ETag": answer.etag} if answer.etag else {}
        if answer.location:
            headers["Location"] = answer.location
        if replayed:
            headers["Idempotent-Replayed"] = "true"
        # The stored bytes are the answer as Litestar would encode it (a ``CommandAnswer``, the
        # handlers' declared type, which the schema shows): sent as they are, not decoded and
        # encoded again (issue #22).
        response: Response[Any] = Response(
            content=answer.body,
            status_code=answer.status,
            headers=headers,
            media_type=MediaType.JSON,
        )
        return response


#: The runner a handler asks for (the ``runner`` or ``intake`` dependency).
Runner = NamedDependency[CommandRunner]


def refusing_rule(error: BaseException) -> str:
    """The rule a refusal names (a domain rule, ``access-policy``, a concurrency conflict), or
    the class of what went wrong: a bounded set, never a message."""
    rule = getattr(error, "rule", None)
    if isinstance(rule, str):
        return rule
    if isinstance(error, Forbidden):
        return "access-policy"
    return "unavailable" if is_unavailable(error) else type(error).__name__


def command_runners(
    services: ApiServices,
) -> tuple[Callable[..., CommandRunner], Callable[..., CommandRunner]]:
    """The dependencies that give a handler its runner, their parameters the command headers:
    ``runner`` for commands on a recorded trajectory or client (``If-Match`` and
    ``Idempotency-Key``), ``intake`` for those that create one (``Idempotency-Key`` only)."""

    def runner(
        request: Request[Principal, Any, Any],
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> CommandRunner:
        return CommandRunner(request, services, if_match, idempotency_key)

    def intake(
        request: Request[Principal, Any, Any], idempotency_key: IdempotencyKey = None
    ) -> CommandRunner:
        return CommandRunner(request, services, None, idempotency_key)

    return runner, intake
