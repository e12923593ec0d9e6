"""``/v1/organisations``: the organisation register (issue #12).

Any known role reads it (registry data, no case data); a coordinator registers an organisation
provisionally on the spot, an admin registers confirmed ones and confirms or corrects any
(``api.access``). The list also shows the organisations the record names that nobody
registered, as kind ``unclassified`` and status ``unregistered`` (``projections.organisations``),
so an admin finds them with ``?kind=unclassified`` and registers them.
"""

from typing import Annotated

from litestar import Controller, Response, get, post
from litestar.params import FromQuery, JSONBody, QueryParameter

from api.access import ORGANISATION_READERS
from api.commands import Answer, Runner
from api.common import Caller, Consistency, Queries, Services, etag
from api.schemas import RefFilter, RefInPath
from application.commands import ConfirmOrganisation, CorrectOrganisation, RegisterOrganisation
from domain.organisation import OrganisationKind, OrganisationNotFound
from projections.organisations import (
    OrganisationFilter,
    OrganisationList,
    OrganisationView,
    RegisterStatus,
)

READ = "read the organisation register"


class OrganisationController(Controller):
    path = "/v1/organisations"
    tags = ["organisations"]

    @post("/", sync_to_thread=True, summary="Register an organisation")
    def register(self, data: JSONBody[RegisterOrganisation], intake: Runner) -> Answer:
        """Under the identifier the record uses for it (a token's ``org``, a referrer, a
        party), once: a second registration of an identifier is refused (409). A coordinator's
        registration is ``provisional`` until an admin confirms it; an admin's is confirmed."""
        return intake.register_organisation(data)

    @get("/", summary="The organisation register")
    async def organisations(
        self,
        request: Caller,
        services: Services,
        queries: Queries,
        consistency: Consistency,
        kind: FromQuery[OrganisationKind | None] = None,
        status: FromQuery[RegisterStatus | None] = None,
        region: RefFilter = None,
        after: RefFilter = None,
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 500,
    ) -> OrganisationList:
        """Ordered by identifier; follow ``next_after`` for more. ``kind=unclassified`` lists
        what awaits an admin: registered without a kind, or named in the record and never
        registered (``status=unregistered``)."""
        await consistency.reached("organisations")
        services.policy.require_role(
            request.user, "read the organisation register", ORGANISATION_READERS
        )
        return await queries.organisations.list(
            OrganisationFilter(kind=kind, status=status, region=region, after=after, limit=limit)
        )

    @get("/{identifier:str}", summary="One organisation of the register")
    async def organisation(
        self,
        identifier: RefInPath,
        request: Caller,
        services: Services,
        queries: Queries,
        consistency: Consistency,
    ) -> Response[OrganisationView]:
        """A registered organisation (with its version as ``ETag``), or one the record names
        that nobody registered (``unregistered``, version 0)."""
        await consistency.reached("organisations")
        services.policy.require_role(
            request.user, "read the organisation register", ORGANISATION_READERS
        )
        found = await queries.organisations.one(identifier)
        if found is None:
            raise OrganisationNotFound(
                f"no organisation {identifier!r} in the register or the record; register it "
                "with POST /v1/organisations",
            )
        headers = {"ETag": etag(found.version)} if found.version else {}
        return Response(found, headers=headers)

    @post(
        "/{identifier:str}/confirm",
        sync_to_thread=True,
        status_code=200,
        summary="Confirm a provisional organisation",
    )
    def confirm(
        self, identifier: RefInPath, data: JSONBody[ConfirmOrganisation], runner: Runner
    ) -> Answer:
        """An admin vouches for a provisional registration as it stands."""
        return runner.on_organisation(identifier, data)

    @post(
        "/{identifier:str}/correct",
        sync_to_thread=True,
        status_code=200,
        summary="Correct or classify an organisation",
    )
    def correct(
        self, identifier: RefInPath, data: JSONBody[CorrectOrganisation], runner: Runner
    ) -> Answer:
        """An admin corrects the name, region or public identifiers, or classifies (``kind``);
        a field left out stays as it is. The identifier is never corrected: the record names
        the organisation by it."""
        return runner.on_organisation(identifier, data)
