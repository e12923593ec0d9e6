"""Running a command over HTTP: actor from the token, ``If-Match``, ``Idempotency-Key``.

Handlers stay thin: they name the use case and pass the decoded request to ``CommandRunner``,
which builds the command context, checks the preconditions, runs the use case once and shapes
the answer (new version in the body and as ``ETag``).
"""

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import ValidationException
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from api.access import REGISTRATION, AccessPolicy
from api.auth import Principal
from api.idempotency import KEY_MAX_LENGTH, IdempotencyStore, StoredAnswer, request_of
from api.schemas import REF_MAX_LENGTH, REF_PATTERN, Command, CommandAnswer
from application.care_record import CommandResult
from application.unavailable import is_unavailable
from domain.common import Actor, CommandContext

_ETAG = re.compile(r'^(?:W/)?"?(\d{1,12})"?$')
_KEY = re.compile(rf"^[\x21-\x7e]{{1,{KEY_MAX_LENGTH}}}$")
_REF = re.compile(REF_PATTERN)
ON_BEHALF_OF = "X-On-Behalf-Of"

UseCase = Callable[[CommandContext, int | None, dict[str, Any]], CommandResult]


def expected_version(if_match: str | None) -> int | None:
    """``If-Match: "7"`` (or ``W/"7"``) → 7; absent or ``*`` → no expectation."""
    if if_match is None or if_match.strip() == "*":
        return None
    match = _ETAG.match(if_match.strip())
    if match is None:
        raise ValidationException(
            'If-Match must be an ETag this API gave out, such as "7"',
            extra=[{"key": "If-Match", "message": 'If-Match must be an ETag such as "7"'}],
        )
    return int(match.group(1))


def etag(version: int) -> str:
    return f'"{version}"'


def on_behalf_of(request: Request[Principal, Any, Any]) -> str | None:
    """The representative reference a request names in ``X-On-Behalf-Of``, as sent (compared
    exactly with the client's appointed representatives, never trimmed or case-folded), or a
    422 if it cannot be one."""
    raw = request.headers.get(ON_BEHALF_OF.lower())
    if raw is None:
        return None
    if len(raw) > REF_MAX_LENGTH or not _REF.match(raw):
        raise ValidationException(
            f"{ON_BEHALF_OF} must be an appointed representative's reference (letters, digits "
            "and . _ : @ -, at most 100 characters)",
            extra=[{"key": ON_BEHALF_OF, "message": "not a representative reference"}],
        )
    return raw


class CommandRunner:
    """One per request: runs one use case with the request's actor and preconditions."""

    def __init__(
        self,
        request: Request[Principal, Any, Any],
        idempotency: IdempotencyStore,
        policy: AccessPolicy,
    ) -> None:
        self.request = request
        self.idempotency = idempotency
        self.policy = policy

    def context(
        self, occurred_at: datetime, actor: Actor, authorise: Callable[[Any], Actor]
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
        )

    def run(
        self,
        body: Command,
        use_case: UseCase,
        *,
        action: str,
        created: bool = False,
        item_id: str | None = None,
        location: Callable[[CommandResult], str] | None = None,
    ) -> Response[bytes]:
        """Run ``action`` once: role first, then (on the loaded record) the relation."""
        principal = self.request.user
        acting = self.policy.check_command_role(principal, action)
        representative = on_behalf_of(self.request)
        if representative is not None and action == REGISTRATION:
            raise ValidationException(
                f"{ON_BEHALF_OF} names a representative of a registered client; a client being "
                "registered has none yet",
                extra=[{"key": ON_BEHALF_OF, "message": "no representative yet"}],
            )
        expected = expected_version(self.request.headers.get("if-match"))
        key = self._idempotency_key()
        if key is not None:
            stored = self.idempotency.reserve(
                key,
                request_of(self.request.method, self.request.url.path, msgspec.json.encode(body)),
            )
            if stored is not None:
                return self._replay(stored)
        ctx = self.context(
            body.occurred_at,
            acting.actor(representative),
            self.policy.command_guard(principal, action, representative),
        )
        try:
            result = use_case(ctx, expected, body.details())
        except BaseException as error:
            # Refused: nothing was recorded, a retry may run again. Database unavailable: the
            # outcome is unknown (the events may have committed), so the key stays reserved.
            if key is not None and not is_unavailable(error):
                self.idempotency.release(key)
            raise
        status = HTTP_201_CREATED if created else HTTP_200_OK
        answer = StoredAnswer(
            status=status,
            body=msgspec.json.encode(
                CommandAnswer(
                    id=result.id, version=result.version, position=result.position, item_id=item_id
                )
            ),
            etag=etag(result.version),
            location=location(result) if location else None,
        )
        if key is not None:
            self.idempotency.complete(key, answer)
        return self._respond(answer)

    def _idempotency_key(self) -> str | None:
        raw = self.request.headers.get("idempotency-key")
        if raw is None:
            return None
        if not _KEY.match(raw):
            raise ValidationException(
                "Idempotency-Key must be 1 to 200 visible ASCII characters",
                extra=[{"key": "Idempotency-Key", "message": "1 to 200 visible ASCII characters"}],
            )
        # Keys are scoped by organisation and user: nobody collides with or replays another's
        # answers, not even a user of the same name at another organisation.
        user = self.request.user
        return f"{user.organisation}\x1f{user.user_id}\x1f{raw}"

    @staticmethod
    def _respond(answer: StoredAnswer, replayed: bool = False) -> Response[bytes]:
        headers = {"ETag": answer.etag} if answer.etag else {}
        if answer.location:
            headers["Location"] = answer.location
        if replayed:
            headers["Idempotent-Replayed"] = "true"
        return Response(
            content=answer.body,
            status_code=answer.status,
            media_type="application/json",
            headers=headers,
        )

    def _replay(self, stored: StoredAnswer) -> Response[bytes]:
        return self._respond(stored, replayed=True)
