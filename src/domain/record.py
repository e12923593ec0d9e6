"""What the application asks of any aggregate, whichever it is (issue #11: ready for a third).

The care record loads, checks and saves trajectories and clients today, and will hold learning
networks next. It asks each aggregate type, not a list of special cases: which refusal names
one that is missing, whether its events hold personal data sealed under a client's key, and
whether it still takes new facts.
"""

from datetime import datetime
from typing import Any, ClassVar

from eventsourcing.domain import Aggregate

from domain.common import Actor
from domain.errors import ClientErased, NotFound

#: Where an event decoded with its sealed fields shut keeps what opens them
#: (``application.codec.Unopened``).
UNOPENED = "_unopened"


class Record(Aggregate):
    """The base of the record's aggregates."""

    class Event(Aggregate.Event):
        """Every event carries the actor, the world time and the correlation ids (DESIGN §3)."""

        actor: Actor
        occurred_at: datetime
        correlation_id: str
        causation_id: str | None
        #: Fields holding personal data or free text: sealed with the client's key when stored
        #: (``field`` or ``field[].sub`` for a field of each item); unreadable after erasure.
        personal_fields: ClassVar[tuple[str, ...]] = ()
        #: Of those, the ones that name or reach a person (name, contact details, the identity
        #: provider's subject): an audit export leaves them out unless the auditor's task needs
        #: them (issue #16, data minimisation).
        contact_fields: ClassVar[tuple[str, ...]] = ()

        def __getattr__(self, name: str) -> Any:
            """A personal field not opened yet: opened now, on its first read.

            The projections decode the log with the sealed fields left shut
            (``application.codec``: an event then holds ``_unopened``, which knows the fields
            it withholds and opens them); most events' personal fields are read by no
            projection, and opening is the largest cost of a rebuild (issue #22). Whatever
            reads one gets it opened, as if decoded at once: placeholders if the subject's key
            is gone. Only called for a name the event does not hold."""
            unopened = self.__dict__.get(UNOPENED)
            if unopened is None or name not in unopened.withheld:
                raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
            opened = unopened.opened()  # raises, changing nothing, if they do not open
            self.__dict__.update(opened)
            del self.__dict__[UNOPENED]
            return opened[name]

        def apply(self, aggregate: Any) -> None:
            self.apply_to(aggregate)

        def apply_to(self, aggregate: Any) -> None:
            """Change the aggregate's state; never refuse (the command already checked)."""

    #: The refusal when a command names one the record does not hold (404).
    not_found: ClassVar[type[NotFound]] = NotFound
    #: Whether its events hold personal data, sealed under the key of the client it belongs to;
    #: such an aggregate takes no new facts once that key is destroyed (the client erased).
    holds_personal_data: ClassVar[bool] = False

    def check_writable(self, *, has_key: bool) -> None:
        """Refuse new facts that could not be sealed: the client's keys are gone."""
        if self.holds_personal_data and not has_key:
            raise ClientErased(
                f"the client's personal data was erased; this {type(self).__name__.lower()} "
                "is closed to new facts"
            )
