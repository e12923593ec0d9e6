"""``/v1/clients``: registration, and one route per command on a registered client:
representatives, consent and erasure (the client's record is read in ``api.reads``)."""

from litestar import Controller, post
from litestar.params import JSONBody

from api.commands import Answer, CommandRoute, CommandRunner, Runner, command_handlers
from application import commands


class ClientController(Controller):
    path = "/v1/clients"
    tags = ["clients"]

    @post("/", sync_to_thread=True, summary="Register a client under a pseudonymous id")
    def register(self, data: JSONBody[commands.RegisterClient], intake: Runner) -> Answer:
        return intake.register(data)


_CLIENT = "/v1/clients/{client_id:uuid}"

#: Every command on a registered client: ``POST /v1/clients/{client_id}/…``.
COMMANDS = (
    CommandRoute(
        "appoint_representative",
        "/representatives",
        commands.AppointRepresentative,
        "Appoint the person who may sign for the client (004).",
    ),
    CommandRoute(
        "exclude_representative",
        "/representatives/{representative_ref:str}/exclusion",
        commands.ExcludeRepresentative,
        "The client opts out: this representative can neither sign nor see the plan (004).",
        at=commands.ExcludeRepresentativeAt,
    ),
    CommandRoute(
        "grant_consent",
        "/consents",
        commands.GrantConsent,
        "Record the client's consent: to whom, what, why and until when (004).",
    ),
    CommandRoute(
        "revoke_consent",
        "/consents/{consent_id:str}/revocation",
        commands.RevokeConsent,
        "Revoke a consent; it takes effect at once.",
        at=commands.RevokeConsentAt,
    ),
)

#: Erasure destroys keys rather than changing the record: a use case of its own.
ERASURE = CommandRoute(
    "erase",
    "/erasure",
    commands.EraseClient,
    "Destroy the client's keys: their personal data becomes unreadable everywhere, while\n"
    "the record keeps who agreed what and when.",
)

client_command_handlers = [
    *command_handlers(_CLIENT, CommandRunner.on_client, COMMANDS, tags=["clients"]),
    *command_handlers(_CLIENT, CommandRunner.erase, [ERASURE], tags=["clients"]),
]
