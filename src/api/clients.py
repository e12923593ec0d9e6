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
        "revoke_identity_link",
        "/identity-links/{link_id:str}/revocation",
        commands.RevokeIdentityLink,
        "Revoke an identity link: the person's token no longer reaches this record.",
        at=commands.RevokeIdentityLinkAt,
    ),
    CommandRoute(
        "record_birth_year",
        "/birth-year",
        commands.RecordBirthYear,
        "The client's year of birth, where known: the minors' rules need it.",
    ),
    CommandRoute(
        "assess_capacity",
        "/capacity-assessments",
        commands.AssessCapacity,
        "A professional's judgement whether the minor can exercise their rights alone.",
    ),
    CommandRoute(
        "revoke_consent",
        "/consents/{consent_id:str}/revocation",
        commands.RevokeConsent,
        "Revoke a consent; it takes effect at once.",
        at=commands.RevokeConsentAt,
    ),
    CommandRoute(
        "decide_request",
        "/requests/{request_id:str}/decision",
        commands.DecideRequest,
        "Decide a person's GDPR request, with the legal ground they read (a coordinator of\n"
        "the organisation that manages the client, or the data protection officer).",
        at=commands.DecideRequestAt,
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

#: Issue #19: the identity provider's subject is keyed before the record sees it.
IDENTITY_LINK = CommandRoute(
    "link_identity",
    "/identity-links",
    commands.LinkIdentity,
    "Link an identity provider's subject to the client or to an appointed representative,\n"
    "after checking their identity in person (a coordinator of an organisation that\n"
    "manages the client).",
)

client_command_handlers = [
    *command_handlers(_CLIENT, CommandRunner.on_client, COMMANDS, tags=["clients"]),
    *command_handlers(_CLIENT, CommandRunner.link_identity, [IDENTITY_LINK], tags=["clients"]),
    *command_handlers(_CLIENT, CommandRunner.erase, [ERASURE], tags=["clients"]),
]
