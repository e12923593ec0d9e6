"""``/v1/clients``: registration, representatives, consent and erasure (commands only; the
client's record is read in ``api.reads``)."""

from litestar import Controller, post
from litestar.params import JSONBody

from api.commands import Answer, Runner, command_route
from api.common import Id
from api.schemas import RefInPath
from application.commands import (
    AppointRepresentative,
    EraseClient,
    ExcludeRepresentative,
    ExcludeRepresentativeAt,
    GrantConsent,
    RegisterClient,
    RevokeConsent,
    RevokeConsentAt,
)


class ClientController(Controller):
    path = "/v1/clients"
    tags = ["clients"]

    @post("/", sync_to_thread=True, summary="Register a client under a pseudonymous id")
    def register(self, data: JSONBody[RegisterClient], intake: Runner) -> Answer:
        return intake.register(data)

    @command_route("/{client_id:uuid}/representatives")
    def appoint_representative(
        self,
        client_id: Id,
        data: JSONBody[AppointRepresentative],
        runner: Runner,
    ) -> Answer:
        """Appoint the person who may sign for the client (004)."""
        return runner.on_client(client_id, data)

    @command_route("/{client_id:uuid}/representatives/{representative_ref:str}/exclusion")
    def exclude_representative(
        self,
        client_id: Id,
        representative_ref: RefInPath,
        data: JSONBody[ExcludeRepresentative],
        runner: Runner,
    ) -> Answer:
        """The client opts out: this representative can neither sign nor see the plan (004)."""
        command = ExcludeRepresentativeAt.at(data, representative_ref=representative_ref)
        return runner.on_client(client_id, command)

    @command_route("/{client_id:uuid}/consents")
    def grant_consent(
        self,
        client_id: Id,
        data: JSONBody[GrantConsent],
        runner: Runner,
    ) -> Answer:
        """Record the client's consent: to whom, what, why and until when (004)."""
        return runner.on_client(client_id, data)

    @command_route("/{client_id:uuid}/consents/{consent_id:str}/revocation")
    def revoke_consent(
        self,
        client_id: Id,
        consent_id: RefInPath,
        data: JSONBody[RevokeConsent],
        runner: Runner,
    ) -> Answer:
        """Revoke a consent; it takes effect at once."""
        return runner.on_client(client_id, RevokeConsentAt.at(data, consent_id=consent_id))

    @command_route("/{client_id:uuid}/erasure")
    def erase(
        self,
        client_id: Id,
        data: JSONBody[EraseClient],
        runner: Runner,
    ) -> Answer:
        """Destroy the client's keys: their personal data becomes unreadable everywhere, while
        the record keeps who agreed what and when."""
        return runner.erase(client_id, data)
