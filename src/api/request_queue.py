"""``GET /v1/requests``: the persons' GDPR requests awaiting a decision (issue #19 point 5).

The deciders' queue: the data protection officer sees every open request of the deployment, a
coordinator those of the clients their organisation manages (``AccessPolicy.manages``), oldest
due date first, with whether the month passed. Read from the clients' records themselves
(found by the topic of ``Client.RequestFiled``), each listing logged as a personal-data read
of that client. Decided with ``POST /v1/clients/{id}/requests/{request_id}/decision``.
"""

from datetime import date, datetime
from uuid import UUID

import msgspec
from litestar import Controller, get

from api.access import Role
from api.common import Caller, Services, read_entry
from domain.person_requests import RequestKind


class OpenRequest(msgspec.Struct, frozen=True):
    client_id: UUID
    request_id: str
    kind: RequestKind
    field_name: str | None
    details: str
    filed_at: datetime
    answer_due_on: date
    reminded: bool
    deadline_passed: bool


DECIDERS = frozenset({Role.COORDINATOR, Role.DATA_PROTECTION_OFFICER})


class RequestQueueController(Controller):
    path = "/v1/requests"
    tags = ["requests"]

    @get("/", sync_to_thread=True, summary="Open GDPR requests of persons, to decide")
    def open_requests(self, request: Caller, services: Services) -> list[OpenRequest]:
        policy = services.policy
        acting = policy.require_role(request.user, "list open requests", DECIDERS)
        officer = Role.DATA_PROTECTION_OFFICER in acting.roles
        found: list[OpenRequest] = []
        for client_id in services.care_record.clients_with_requests():
            client = services.care_record.client(client_id)
            if not officer and not policy.manages(acting, client):
                continue
            open_ones = [(i, r) for i, r in client.requests.items() if r.open]
            if not open_ones:
                continue
            services.access_log.record(read_entry(request, acting, client_id, None))
            found.extend(
                OpenRequest(
                    client_id=client_id,
                    request_id=request_id,
                    kind=r.kind,
                    field_name=r.field_name,
                    details=r.details,
                    filed_at=r.filed_at,
                    answer_due_on=r.answer_due_on,
                    reminded=r.reminded,
                    deadline_passed=r.deadline_passed,
                )
                for request_id, r in open_ones
            )
        return sorted(found, key=lambda r: (r.answer_due_on, r.filed_at))
