"""What a split rebuild's share reads (issue #22): the topics its projections take in, their
shared events always, and every topic when one of them does not say; the caches it leans on
stay bounded."""

from dataclasses import dataclass
from typing import Any
from uuid import uuid4

from eventsourcing.utils import get_topic

from application import keys, uuid_text
from domain.client import Client
from domain.trajectory import Trajectory
from projections.worker import _topics_read


@dataclass
class _Projection:
    consumes: tuple[type[Any], ...] | None
    shared_events: tuple[type[Any], ...] = ()


def test_a_share_reads_what_its_projections_consume_with_subclasses_and_shared_events() -> None:
    topics = _topics_read([_Projection((Trajectory.Event,), shared_events=(Client.Erased,))])
    assert get_topic(Trajectory.Referred) in topics, "a subclass of a consumed event"
    assert get_topic(Client.Erased) in topics, "a shared event not listed in consumes"
    assert get_topic(Client.Registered) not in topics


def test_a_projection_that_does_not_say_makes_the_share_read_everything() -> None:
    assert _topics_read([_Projection((Trajectory.Event,)), _Projection(None)]) == []


def test_the_id_memo_starts_afresh_at_its_cap(monkeypatch: Any) -> None:
    monkeypatch.setattr(uuid_text, "MEMO_ENTRIES", 3)
    monkeypatch.setattr(uuid_text, "_texts", {})
    ids = [uuid4() for _ in range(7)]
    assert [uuid_text.uuid_text(i) for i in ids] == [str(i) for i in ids]
    assert len(uuid_text._texts) <= 3


def test_expired_keys_are_swept_out_of_the_cache(monkeypatch: Any) -> None:
    now = [1000.0]
    monkeypatch.setattr(keys.time, "monotonic", lambda: now[0])
    cache = keys._Cached()
    old, fresh = uuid4(), uuid4()
    cache._remember_all({old: bytes(32)})
    now[0] += keys.CACHE_SECONDS + 1
    cache._remember_all({fresh: bytes(32)})
    assert old not in cache._cache, "an expired key (and its cipher) is dropped"
    assert cache.cached_key(fresh) == (True, bytes(32))
