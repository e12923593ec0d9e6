"""The benchmark's null command (issue #22): the floor of the HTTP layer on this machine.

``POST /v1/benchmark/null-command`` goes through what every command goes through before the
record is touched (uvicorn, the request logging and bearer-token middleware, Litestar's routing,
the command headers' dependency, JSON body decoding) and answers as a command answers (a
``CommandAnswer`` with its ``ETag``), without the domain, the store or a worker thread. The
benchmark measures it beside the real commands with the same load client, so "commands/s" has a
floor to be read against. It exists only when ``RODEDRAAD_BENCHMARK_NULL_COMMAND=true``, which
is refused together with a production token issuer: no deployment routes it.
"""

from typing import Any
from uuid import uuid4

import msgspec
from litestar import post
from litestar.params import JSONBody
from litestar.status_codes import HTTP_200_OK

from api.commands import Answer, Runner
from api.common import etag
from api.idempotency import StoredAnswer
from api.schemas import CommandAnswer

NULL_COMMAND_PATH = "/v1/benchmark/null-command"


@post(NULL_COMMAND_PATH, status_code=HTTP_200_OK, include_in_schema=False)
async def null_command(data: JSONBody[dict[str, Any]], runner: Runner) -> Answer:
    """Any command's body, decoded and dropped; answered with a fresh id at version 1."""
    answer = StoredAnswer(
        status=HTTP_200_OK,
        body=msgspec.json.encode(CommandAnswer(id=uuid4(), version=1, position=None)),
        etag=etag(1),
        location=None,
    )
    return runner.respond(answer)
