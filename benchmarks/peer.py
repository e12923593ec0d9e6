"""The peer (issue #22): the ``eventsourcing`` library's own ``Application`` doing what a command
does, load, command, save, on the same PostgreSQL database.

What it is: a small aggregate (``Tally``) with one event (``Noted``, a ~460-byte state like the
median of the workload's events: an actor and a text), in eventsourcing's own application with its
defaults on the benchmark's database (``eventsourcing.postgres``: psycopg, its own tables, no
aggregate cache, no snapshots, its JSON transcoder, no sealing, no access policy, no read models).
It is measured two ways beside our command path:

- *through HTTP*: ``python -m benchmarks.peer --port N`` serves it with uvicorn and a bare Litestar
  app (a handler in a worker thread per command, as ours; no middleware, no authentication); each
  simulated client opens a tally, then notes on it (:data:`NOTES_PER_TALLY`, as a trajectory takes
  about 26 commands), with the same load client as our commands;
- *directly*: the same from threads of the benchmark's process, beside ``CareRecord`` from threads.
"""

import argparse
import os
import sys
import time
from typing import Any
from urllib.parse import unquote, urlsplit
from uuid import UUID

import msgspec
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from benchmarks.http_client import Connection
from benchmarks.loads import CpuMeter, RunResult, Window, gather_measured, run_threads

#: Commands on one tally before a client opens the next (a trajectory takes ≈ 26).
NOTES_PER_TALLY = 25
#: The event's text: with the actor, the stored state is about the workload's median (≈ 460 B).
DETAIL = "x" * 360
ACTOR = {"user_id": "u-yc-ant-1", "organisation": "yc-ant-1", "role": "coordinator"}


class Tally(Aggregate):
    """A record that takes notes: the smallest aggregate with a comparable event."""

    @event("Opened")
    def __init__(self, actor: dict[str, str]) -> None:
        self.opened_by = actor["user_id"]
        self.notes = 0

    @event("Noted")
    def note(self, actor: dict[str, str], detail: str) -> None:
        self.last_by = actor["user_id"]
        self.last = detail
        self.notes += 1


class PeerApplication(Application[UUID]):
    """eventsourcing's application, one method per use case: load, command, save."""

    name = "benchpeer"

    def open(self) -> UUID:
        tally = Tally(ACTOR)
        self.save(tally)
        return tally.id

    def note(self, tally_id: UUID, detail: str) -> int:
        tally: Tally = self.repository.get(tally_id)
        tally.note(ACTOR, detail)
        self.save(tally)
        return tally.version


def peer_env(database_url: str) -> dict[str, str]:
    """eventsourcing's own PostgreSQL module on the benchmark's database, its defaults."""
    parts = urlsplit(database_url)
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": parts.path.lstrip("/"),
        "POSTGRES_HOST": parts.hostname or "127.0.0.1",
        "POSTGRES_PORT": str(parts.port or 5432),
        "POSTGRES_USER": unquote(parts.username or "postgres"),
        "POSTGRES_PASSWORD": unquote(parts.password or ""),
        # As ours: 4 connections and up to 12 more (``DatabaseSettings.eventsourcing_env``).
        "POSTGRES_POOL_SIZE": "4",
        "POSTGRES_MAX_OVERFLOW": "12",
    }


# --- directly, from threads ----------------------------------------------------------------------


def app_commands(
    app: PeerApplication, concurrency: int, warmup: float, window: float, meter: CpuMeter | None
) -> RunResult:
    """Notes from ``concurrency`` threads, each on a tally of its own."""
    w = Window(warmup, window)

    def client_loop() -> None:
        while not w.over():
            tally = app.open()
            for _ in range(NOTES_PER_TALLY):
                if w.over():
                    return
                started = time.perf_counter()
                app.note(tally, DETAIL)
                w.record(started, time.perf_counter())

    run_threads(client_loop, concurrency, w, meter)
    return w.result


# --- through HTTP --------------------------------------------------------------------------------


class Note(msgspec.Struct):
    detail: str


class Answer(msgspec.Struct):
    id: UUID
    version: int


def create_app() -> Any:
    """The peer's HTTP face: a bare Litestar app, handlers in worker threads as ours."""
    from litestar import Litestar, get, post

    app = PeerApplication(env=peer_env(os.environ["BENCH_PEER_DATABASE_URL"]))

    @post("/peer/tallies", sync_to_thread=True, status_code=201)
    def open_tally() -> Answer:
        return Answer(id=app.open(), version=1)

    @post("/peer/tallies/{tally_id:uuid}/notes", sync_to_thread=True, status_code=200)
    def note(tally_id: UUID, data: Note) -> Answer:
        return Answer(id=tally_id, version=app.note(tally_id, data.detail))

    @get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return Litestar(route_handlers=[open_tally, note, health], on_shutdown=[app.close])


async def http_commands(
    base_url: str, concurrency: int, warmup: float, window: float, meter: CpuMeter | None
) -> RunResult:
    """Notes over HTTP from ``concurrency`` keep-alive clients, each on a tally of its own."""
    w = Window(warmup, window)
    body = msgspec.json.encode(Note(DETAIL))
    json_header = b"Content-Type: application/json\r\n"

    async def client_loop(client: Connection) -> None:
        while not w.over():
            status, content = await client.request("POST", "/peer/tallies", json_header, b"{}")
            if status != 201:
                w.error(time.perf_counter(), f"{status} open: {content[:300]!r}")
                return
            path = f"/peer/tallies/{msgspec.json.decode(content, type=Answer).id}/notes"
            for _ in range(NOTES_PER_TALLY):
                if w.over():
                    return
                started = time.perf_counter()
                status, content = await client.request("POST", path, json_header, body)
                ended = time.perf_counter()
                if status != 200:
                    w.error(ended, f"{status} note: {content[:300]!r}")
                    return
                w.record(started, ended)

    clients = [Connection(base_url) for _ in range(concurrency)]
    try:
        await gather_measured(w, meter, [client_loop(client) for client in clients])
    finally:
        for client in clients:
            await client.close()
    return w.result


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmarks.peer --port N`` (``BENCH_PEER_DATABASE_URL`` names the database)."""
    import uvicorn

    parser = argparse.ArgumentParser(prog="python -m benchmarks.peer")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    # As ``rodedraad serve`` runs uvicorn.
    uvicorn.run(
        create_app(),
        host=args.host,
        port=args.port,
        log_config=None,
        access_log=False,
        server_header=False,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
