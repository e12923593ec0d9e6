"""``rodedraad``: the command line. Sub-commands: ``serve``, ``token``, ``migrate``,
``projections``, ``scheduler``, ``keys``, ``statistics``, ``simulate``, ``audit``."""

import argparse
import math
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from uuid import UUID

from application.errors import OperatorError
from application.kek import KekError
from application.unavailable import is_unreachable
from rodedraad.settings import Settings, SettingsError
from scheduler.jobs import DEFAULT_WAIT_SECONDS, JobNotStarted
from scheduler.policy import PolicyError

if TYPE_CHECKING:
    from application.access_log import AccessLog
    from application.care_record import CareRecord
    from application.migrations import MigrationStatus, Stores
    from application.seals import Seals
    from projections.worker import Progress


def _stacks_on_request() -> None:
    """A long-running process prints every thread's stack to its stderr on ``kill -USR1 PID``:
    a look inside one that seems stuck, without a debugger. Code locations only (files, lines,
    functions), never a value: no personal data. Not where SIGUSR1 is ignored or has a Python
    handler already (the statement counter a ``sitecustomize`` on ``benchmarks.command_ab
    --extra-path`` installs; ``None``: one set outside Python), nor where stderr has no file
    behind it (run in-process under a test's capture)."""
    import contextlib
    import faulthandler
    import signal

    if not hasattr(signal, "SIGUSR1"):  # not on Windows
        return
    if signal.getsignal(signal.SIGUSR1) != signal.SIG_DFL:
        return
    with contextlib.suppress(OSError, ValueError, RuntimeError):
        faulthandler.register(signal.SIGUSR1, all_threads=True)


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from rodedraad.logs import configure_logging
    from rodedraad.wiring import (
        Container,
        check_can_listen,
        settle_heap,
        start_metrics_listener,
    )

    configure_logging(settings.log_level, settings.log_format)
    _stacks_on_request()
    host = args.host or settings.http.host
    port = args.port or settings.http.port
    check_can_listen(
        host, port, "--host/--port" if args.host or args.port else "RODEDRAAD_HOST/RODEDRAAD_PORT"
    )
    container = Container.build(settings)
    stop_metrics = start_metrics_listener(settings)
    print(
        f"Rode Draad on http://{host}:{port} (API docs: /schema) — "
        f"{'PostgreSQL' if settings.database.is_postgres else settings.database.url}",
        file=sys.stderr,
    )
    app = container.http_app()
    settle_heap()
    try:
        uvicorn.run(
            app,
            host=host,
            port=port,
            log_config=None,
            access_log=False,
            server_header=False,
        )
    finally:
        if stop_metrics is not None:
            stop_metrics()
    return 0


#: The shortest and the longest validity ``token`` issues (a token expired when issued, or
#: past the dates Python can write, is no token).
_SECOND_IN_HOURS = 1 / 3600
_CENTURY_IN_HOURS = 24 * 365 * 100


def _token(settings: Settings, args: argparse.Namespace) -> int:
    from api.auth import LocalTokens

    if settings.auth.uses_issuer:
        return _fail(
            "this deployment verifies tokens from an external issuer "
            f"({settings.auth.issuer}); get a token there",
        )
    from api.access import Role
    from api.auth import PERSON_ROLES

    known = {role.value for role in Role} | PERSON_ROLES
    if unknown := sorted(set(args.role) - known):
        # (A token of a role no route knows was issued, and refused by every route after.)
        return _fail(
            f"no role {', '.join(unknown)}: the roles are {', '.join(sorted(known))}",
        )
    if not (math.isfinite(args.hours) and _SECOND_IN_HOURS <= args.hours <= _CENTURY_IN_HOURS):
        return _fail(
            f"--hours {args.hours:g} is no validity a token can have: give a number of hours "
            f"from {_SECOND_IN_HOURS:.6f} (one second) to {_CENTURY_IN_HOURS:,} (a century)"
        )
    person = PERSON_ROLES & set(args.role)
    if person:
        # Issue #19: the person's token names the subject and that one role, nothing more.
        if len(args.role) != 1 or args.org is not None or args.region is not None:
            return _fail(
                f"a token for the {', '.join(sorted(person))} role carries that one role and "
                "no --org or --region: the identity link decides whose record it is"
            )
    elif args.org is None or args.region is None:
        return _fail("an organisation's token needs --org and --region")
    secret_file = settings.auth.secret_file
    created = not secret_file.exists()
    tokens = LocalTokens.from_file(secret_file)
    print(
        tokens.issue(
            user=args.user,
            organisation=args.org,
            roles=args.role,
            region=args.region,
            valid_for=timedelta(hours=args.hours),
        )
    )
    if created:
        # A probe's finding: run from another directory, the command made a new secret and
        # its tokens were refused (401) by the running server, without a word.
        print(
            f"note: there was no token secret at {secret_file} yet, so a new one was made; a "
            "server that uses another data directory (RODEDRAAD_DATA_DIR) or secret file "
            "(RODEDRAAD_JWT_SECRET_FILE) refuses this token (401): run this command with the "
            "server's settings",
            file=sys.stderr,
        )
    return 0


def _projections_run(settings: Settings, args: argparse.Namespace) -> int:
    """Production: the projection workers as their own process (stops on SIGTERM / Ctrl-C)."""
    import signal
    import threading

    from rodedraad.logs import configure_logging
    from rodedraad.wiring import (
        build_care_record,
        build_projection_worker,
        start_metrics_listener,
        wakeup_for,
    )

    configure_logging(settings.log_level, settings.log_format)
    _stacks_on_request()
    care_record = build_care_record(settings)
    worker = build_projection_worker(settings, care_record, progress=_print_progress)
    stop_metrics = start_metrics_listener(settings)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    wakeup = wakeup_for(settings, care_record)
    try:
        worker.run(stop, wakeup)
    finally:
        if stop_metrics is not None:
            stop_metrics()
        worker.database.close()
        care_record.close()
    return 0


def _print_progress(progress: "Progress") -> None:
    print(progress.line(), file=sys.stderr, flush=True)


def _projections_rebuild(settings: Settings, args: argparse.Namespace) -> int:
    """Build a fresh copy beside the live one, catch up, switch atomically; reads go on."""
    from rodedraad.logs import configure_logging
    from rodedraad.wiring import build_care_record, build_projection_worker

    configure_logging(settings.log_level, settings.log_format)
    care_record = build_care_record(settings)
    worker = build_projection_worker(settings, care_record)
    try:
        names = [p.name for p in worker.projections] if args.name == "all" else [args.name]
        try:
            position = worker.rebuild_many(names, _print_progress)
        except KeyError as e:
            return _fail(e.args[0])
        print(f"{', '.join(names)}: rebuilt up to log position {position}", file=sys.stderr)
    finally:
        worker.database.close()
        care_record.close()
    return 0


def _scheduler_run(settings: Settings, args: argparse.Namespace) -> int:
    """Production: the scheduler as its own process (several may run: one run at a time)."""
    import signal
    import threading

    from rodedraad.logs import configure_logging
    from rodedraad.wiring import (
        build_access_log,
        build_deadlines,
        build_finding_batches,
        build_idempotency_store,
        build_kek_rotation,
        build_leader_lock,
        build_releases,
        is_simulation,
        seal_job,
        start_metrics_listener,
        theme_batch_job,
    )
    from scheduler.runner import BackgroundDeadlines

    configure_logging(settings.log_level, settings.log_format)
    _stacks_on_request()
    if is_simulation(settings):
        return _fail(
            "this store is a simulation copy: its scheduler runs only at the moment "
            "you choose (`rodedraad scheduler run-once --now …`), never by itself at the real "
            "date",
        )
    deadlines = build_deadlines(settings, catch_up=False)
    idempotency = build_idempotency_store(settings)
    releases = build_releases(settings, deadlines.scheduler.policy)
    batches = build_finding_batches(settings)
    read_log = build_access_log(settings)
    background = BackgroundDeadlines(
        deadlines.scheduler,
        build_leader_lock(settings),
        settings.scheduler_interval_seconds,
        kek_rotation=build_kek_rotation(settings, deadlines.care_record.keys),
        prune_idempotency_keys=idempotency.prune,
        release_statistics=releases.run_due,
        release_theme_batches=theme_batch_job(batches, deadlines.care_record),
        take_seal=seal_job(settings, deadlines.care_record, read_log),
    )
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    stop_metrics = start_metrics_listener(settings)
    background.start()
    try:
        stop.wait()
    finally:
        if stop_metrics is not None:
            stop_metrics()
        background.shutdown()
        releases.store.close()
        releases.read_models.close()
        batches.close()
        read_log.close()
        idempotency.close()
        deadlines.close()
    return 0


def _scheduler_run_once(settings: Settings, args: argparse.Namespace) -> int:
    """Evaluate every rule at one moment, record what fired (unless --dry-run), print it.
    Beside a running service: waits (``--wait``) for a scheduler run in progress. A moment in
    the future is recorded only in a simulation copy, never in a live record."""
    from datetime import UTC, datetime

    import msgspec

    from domain.common import CLOCK_SKEW
    from rodedraad.logs import configure_logging
    from rodedraad.wiring import build_deadlines, build_leader_lock, is_simulation
    from scheduler.jobs import run_beside_service

    configure_logging(settings.log_level, settings.log_format)
    now = datetime.now(UTC)
    if args.now:
        try:
            now = datetime.fromisoformat(args.now.replace("Z", "+00:00"))
        except ValueError:
            return _fail(f"--now {args.now!r} is not an ISO 8601 moment")
        if now.tzinfo is None:
            return _fail("--now needs a time zone, e.g. 2027-06-01T09:00:00Z")
    future = now > datetime.now(UTC) + CLOCK_SKEW
    if future and not args.dry_run and not is_simulation(settings):
        return _fail(
            "--now lies in the future, and this store is a live record: it takes no "
            "fact dated in the future. Use --dry-run to see what would fire, or make a copy "
            "for simulation (`rodedraad simulate copy DIR`) and run it there (README, "
            "'Simulating deadlines')",
        )
    deadlines = build_deadlines(settings, catch_up=True)
    scheduler = deadlines.scheduler
    try:
        if args.dry_run:  # reads only: no need to wait for anyone
            report = scheduler.run_once(now, dry_run=True)
        else:
            report = run_beside_service(
                build_leader_lock(settings),
                lambda: scheduler.run_once(now),
                wait=args.wait,
                say=_say,
            )
        print(msgspec.json.format(msgspec.json.encode(report)).decode())
    except JobNotStarted as e:
        return _fail(e.message, e.exit_code)
    finally:
        deadlines.close()
    return 0


def _statistics_release(settings: Settings, args: argparse.Namespace) -> int:
    """Release one period's statistics now (a revision if it was released before), beside a
    running service: the read models are brought up to the log first; the release store keeps
    this command and the service's scheduler from saving a period twice."""
    from projections.statistics.model import InvalidPeriod, Period
    from projections.statistics.releases import NothingChanged, ReleaseRefused
    from rodedraad.logs import configure_logging
    from rodedraad.wiring import build_deadlines, build_releases

    configure_logging(settings.log_level, settings.log_format)
    try:
        period = Period.parse(args.period)
    except InvalidPeriod as e:
        return _fail(str(e))
    deadlines = build_deadlines(settings, catch_up=True)
    releases = build_releases(settings, deadlines.scheduler.policy, deadlines.worker.database)
    try:
        releases.check_on_grid(period)
        releases.check_publishable(period, releases.clock().date())
        _say("bringing the read models up to the event log")
        deadlines.worker.catch_up()
        _say(f"computing {period} and auditing it against every release of {period.year}")
        saved = releases.release(period)
    except NothingChanged as e:
        _say(str(e))
        return 0
    except ReleaseRefused as e:
        return _fail(str(e), 1)
    finally:
        releases.store.close()
        deadlines.close()
    shares = ", ".join(f"{t.name} {t.published_share:.0%}" for t in saved.tables)
    revision = f", revising release {saved.revises}" if saved.revises else ""
    print(
        f"release {saved.number}: {saved.period} at log position {saved.log_position}"
        f"{revision}; k={saved.k}; published: {shares}"
    )
    if saved.audit.held_back:
        # (Why, per region, is in the log line "statistics region held back".)
        print(
            f"held back at release {saved.revises}'s figures: "
            f"{', '.join(saved.audit.held_back)} (if revised, a withheld number there would be "
            "narrowed by what earlier releases published, or a number published there would "
            "differ from theirs by fewer than k; their late facts are left out)"
        )
    return 0


def _release_theme_batches(settings: Settings, args: argparse.Namespace) -> int:
    """Release every region's theme batch that is due now (issue #14 point 2), beside a
    running service: holds the scheduler's lock, so it takes its turn with the service's runs.
    Prints per region how many themes entered its network, never which trajectories."""
    from datetime import UTC, datetime

    from rodedraad.logs import configure_logging
    from rodedraad.wiring import (
        build_care_record,
        build_finding_batches,
        build_leader_lock,
        theme_batch_job,
    )
    from scheduler.jobs import run_beside_service

    configure_logging(settings.log_level, settings.log_format)
    care_record = build_care_record(settings)
    batches = build_finding_batches(settings)
    job = theme_batch_job(batches, care_record)
    try:
        done = run_beside_service(
            build_leader_lock(settings), lambda: job(datetime.now(UTC)), wait=args.wait, say=_say
        )
    except JobNotStarted as e:
        return _fail(e.message, e.exit_code)
    finally:
        batches.close()
        care_record.close()
    if not done:
        _say("no shared findings wait for a batch")
    for batch in done:
        if batch.released:
            print(f"{batch.region}: {batch.themes} theme(s) entered the learning network")
        else:
            print(f"{batch.region}: waiting ({batch.reason})")
    return 0


def _say(line: str) -> None:
    print(f"rodedraad: {line}", file=sys.stderr, flush=True)


def _keys_status(settings: Settings, args: argparse.Namespace) -> int:
    """The KEK's versions, the subject keys under each, what is due; 1 if something needs an
    operator (a missing or destroyed version, an overdue rotation)."""
    from datetime import UTC, datetime

    from application.keys import describe_unusable
    from rodedraad.wiring import build_kek_rotation, build_key_store, kek_inside_data_dir

    try:
        store = build_key_store(settings)
    except KekError as e:
        return _fail(e.message, 1)
    try:
        rotation = build_kek_rotation(settings, store)
        now = datetime.now(UTC)
        print("\n".join(rotation.describe(now)))
        if warning := kek_inside_data_dir(settings):
            print(f"warning: {warning}")
        keyring, in_use = store.keyring.reload(), store.versions_in_use()
        unusable = describe_unusable(store.keyring.path, keyring, in_use)
        return 1 if unusable or rotation.health_reason(now) else 0
    finally:
        store.close()


def _keys_rotate(settings: Settings, args: argparse.Namespace) -> int:
    """A new KEK version now, every key re-wrapped under it; versions past the window destroyed.
    Beside a running service: it takes its turn with the scheduler's runs (``--wait``), and
    with every other writer of the keyring on the keyring's own lock."""
    from datetime import UTC, datetime

    from rodedraad.logs import configure_logging
    from rodedraad.wiring import build_kek_rotation, build_key_store, build_leader_lock
    from scheduler.jobs import run_beside_service

    configure_logging(settings.log_level, settings.log_format)
    store = build_key_store(settings)
    try:
        rotation = build_kek_rotation(settings, store)
        report = run_beside_service(
            build_leader_lock(settings),
            lambda: rotation.run(datetime.now(UTC), force=True),
            wait=args.wait,
            say=_say,
        )
    except JobNotStarted as e:
        return _fail(e.message, e.exit_code)
    finally:
        store.close()
    print(
        f"KEK version {report.rotated_to} is current: {report.rewrapped:,} subject key(s) "
        f"re-wrapped; retired: {_versions(report.retired)}; destroyed: "
        f"{_versions(report.destroyed)}. Back up {settings.kek.file} now, apart from the data.",
        file=sys.stderr,
    )
    return 0


def _keys_public(settings: Settings, args: argparse.Namespace) -> int:
    """The deployment's public signing key (PEM) on stdout, for the deployments that verify what
    it exports; its id on stderr. ``--create`` makes the key if there is none (the way to make
    it on PostgreSQL, where no process makes one on first need)."""
    from rodedraad.wiring import signing_key_file

    file = signing_key_file(settings)
    existed = file.exists()
    key = file.create() if args.create else file.load()
    print(key.public_key_pem(), end="")
    made = "made now; back it up apart from the data" if not existed else "kept"
    _say(f"signing key {key.key_id} in {file.path} ({made})")
    return 0


def _statistics_merge(settings: Settings, args: argparse.Namespace) -> int:
    """Verify each exported release against the trusted keys, merge them into a macro release
    under the largest k of its inputs (``projections.statistics.merge``), sign it with this
    deployment's key and write it. Any release that does not verify stops the merge."""
    from datetime import UTC, datetime

    from application.signing import PublicKey
    from projections.statistics.document import (
        ReleaseNotVerified,
        decode_signed,
        encode_signed,
        sign_release,
        verify_release,
    )
    from projections.statistics.merge import merge_with_audit
    from rodedraad.wiring import signing_key_file

    trusted = [PublicKey.from_pem(_read(path), source=f"--trust {path}") for path in args.trust]
    documents = []
    for path in args.releases:
        signed = decode_signed(_read(path), source=str(path))
        try:
            documents.append(verify_release(signed, trusted))
        except ReleaseNotVerified as e:
            return _fail(f"{path}: {e.message}")
    key = signing_key_file(settings).load()
    merged, audit = merge_with_audit(
        documents,
        deployment=settings.signing.deployment,
        number=args.number,
        computed_at=datetime.now(UTC),
    )
    data = encode_signed(sign_release(merged, key))
    _write(data, args.output)
    _say(
        f"macro release {merged.number} of {merged.period} from {', '.join(merged.merged_from)}: "
        f"{len(merged.regions)} region(s) at k={merged.k}, {len(audit)} count(s) withheld "
        f"again and audited; signed with key {key.key_id}"
    )
    return 0


def _statistics_export(settings: Settings, args: argparse.Namespace) -> int:
    """Write a release as a signed exchange document (``projections.statistics.document``):
    what it publishes and what withheld the rest, never a withheld value, never a unit."""
    from projections.statistics.document import encode_signed, export_document, sign_release
    from rodedraad.wiring import build_release_store, signing_key_file

    store = build_release_store(settings)
    try:
        release = store.release(args.number)
        if release is None:
            return _fail(f"there is no statistics release numbered {args.number}", 1)
        document = export_document(
            release, {t.name: store.cells(release.number, t.name) for t in release.tables}
        )
    finally:
        store.close()
    key = signing_key_file(settings).load()
    data = encode_signed(sign_release(document, key))
    _write(data, args.output)
    _say(f"release {release.number} of {release.period} signed with key {key.key_id}")
    return 0


def _write(data: bytes, output: Path | None) -> None:
    """A signed document to ``output`` (private: 0600), or to standard output."""
    from application.files import write_private_file

    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        write_private_file(output, data)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise OperatorError(f"cannot read {path}: {e.strerror}") from None


def _migrate(settings: Settings, args: argparse.Namespace) -> int:
    """Run the stores' pending migrations, printing each (``--status``: list them; exit 1 if
    one is pending or unknown to this code)."""
    from application.files import private_directory
    from application.migrations import migrate, migration_status
    from rodedraad.wiring import stores_of

    stores = stores_of(settings)
    if args.status:
        status = migration_status(stores)
        print("\n".join(_describe(status, stores)))
        return 0 if status.up_to_date else 1
    private_directory(settings.data_dir)
    applied = migrate(stores, say=lambda line: print(line, flush=True))
    print(
        f"{len(applied)} migration(s) applied; the stores are up to date"
        if applied
        else "nothing to migrate: the stores are up to date"
    )
    return 0


def _describe(status: "MigrationStatus", stores: "Stores") -> list[str]:
    """``migrate --status``: each store's migrations, applied (when, by which version) and
    pending (what they do), then any the code does not know."""
    from application.migrations import STORES

    lines = []
    for store in STORES:
        lines.append(f"{store} ({stores.where(store)}):")
        lines += [
            f"  applied  {a.name:<28} {a.applied_at:%Y-%m-%d %H:%M} UTC by rodedraad {a.applied_by}"
            for a in status.applied
            if a.store == store
        ]
        lines += [f"  pending  {m.name:<28} {m.why}" for m in status.pending if m.store == store]
    if status.unknown:
        lines.append(
            "unknown to this code (the store is newer than this code: install the version that "
            "ran them, or a newer one):"
        )
        lines += [f"  {a.describe()}" for a in status.unknown]
    return lines


def _audit_check_order(settings: Settings, args: argparse.Namespace) -> int:
    """Issue #15: report the recorded facts that break the ordering rules (a fact may not
    predate what it depends on); the record is never changed. Exit 1 if any is found."""
    from application.audit_record import AuditRecord
    from rodedraad.wiring import build_care_record

    care_record = build_care_record(settings)
    try:
        found = AuditRecord(care_record).ordering_report()
    finally:
        care_record.close()
    for trajectory_id, v in found:
        when = v.occurred_at.isoformat()
        print(f"{trajectory_id} v{v.version} {v.event}: {v.rule}: {v.message} (occurred_at {when})")
    print(
        f"{len(found)} recorded fact(s) break an ordering rule; they are kept as recorded, and "
        "an answer about a moment between them and what they depend on may read oddly"
        if found
        else "every recorded fact follows the ordering rules"
    )
    return 1 if found else 0


def _audit_verify(settings: Settings, args: argparse.Namespace) -> int:
    """Issue #16: recompute the hash chain over the stored events (the whole log, or one
    trajectory's events) and name the first position that does not match; then the seals
    (``_verify_seals``). Exit 1 on a mismatch; the record is never changed."""
    from application.event_chain import EventChain
    from application.seals import Seals
    from rodedraad.wiring import build_access_log, build_care_record

    if missing := _missing_store(settings):
        return _fail(missing)
    if args.public_key is not None:  # a key that cannot be read is said before the long work
        from application.signing import PublicKey

        PublicKey.from_pem(_read(args.public_key), source=str(args.public_key))
    care_record = build_care_record(settings)
    access_log = build_access_log(settings)
    try:
        chain = EventChain(care_record.recorder)
        if args.trajectory is not None:
            result = chain.verify_aggregate(args.trajectory)
            what = f"trajectory {args.trajectory}"
            if not result.checked and result.mismatch is None:
                return _fail(f"the log holds no events of trajectory {args.trajectory}")
        read_log_matches = _verify_read_log(
            settings, access_log, Seals(care_record.recorder, access_log)
        )
        if args.trajectory is None:
            result = chain.verify(say=_say)
            what = "the log"
        if result.mismatch is None:
            sealed = _verify_seals(settings, care_record, args)
            snapshots = _verify_snapshots(care_record, args.trajectory)
    finally:
        access_log.close()
        care_record.close()
    if result.genesis_up_to:
        print(
            f"positions up to {result.genesis_up_to:,} were chained by the migration, after "
            "the fact: a change made before it cannot be told from the record"
        )
    if result.mismatch is not None:
        print(
            f"MISMATCH {result.mismatch.where()}: {result.mismatch.reason} "
            f"({result.checked:,} position(s) before it match)"
        )
        return 1
    print(f"{what}: all {result.checked:,} event(s) match the chain")
    for line in [*sealed.lines, *snapshots.lines]:
        print(line)
    return 0 if sealed.holds and snapshots.holds and read_log_matches else 1


@dataclass(frozen=True)
class _Checked:
    holds: bool
    lines: list[str]


def _verify_seals(
    settings: Settings, care_record: "CareRecord", args: argparse.Namespace
) -> _Checked:
    """The seals (``application.seals``): each one's signature against the auditor's
    ``--public-key`` if given (it wins), else the deployment's own; its Merkle root against the
    chain entries of its range; the ranges contiguous. With ``--trajectory``, its events'
    inclusion proofs in the seals that cover them. And the unsealed tail."""
    from application.seals import Seals
    from application.signing import PublicKey
    from rodedraad.wiring import signing_key_file

    public: PublicKey | None = None
    source = "no public key: signatures NOT checked (give one with --public-key FILE)"
    if args.public_key is not None:
        public = PublicKey.from_pem(_read(args.public_key), source=str(args.public_key))
        source = f"signatures checked against {args.public_key} (key {public.key_id})"
    elif (file := signing_key_file(settings)).exists():
        public = file.load().public
        source = f"signatures checked against this deployment's key {public.key_id}"
    seals = Seals(care_record.recorder)
    if args.trajectory is None:
        report = seals.verify(public)
        count, mismatch, tail = report.seals, report.mismatch, report.tail
        lines = [f"seals: {count:,}; {source}"]
        if mismatch is None and count:
            lines.append(
                f"all {count:,} seal(s) hold, over {report.sealed_positions:,} position(s)"
            )
    else:  # only the seals that cover the trajectory's events
        from application.event_chain import EventChain

        all_seals = seals.all()
        positions = EventChain(care_record.recorder).aggregate_positions(args.trajectory)
        proved = seals.prove_aggregate(positions, public)
        count, mismatch = len(all_seals), proved.mismatch
        tail = seals.tail(all_seals[-1] if all_seals else None)
        lines = [f"seals: {count:,}; {source}"]
        if mismatch is None:
            lines.append(
                f"trajectory {args.trajectory}: {len(proved.proofs):,} event(s) proved included "
                f"in the seals that cover them, {proved.unsealed:,} not sealed yet"
            )
    if mismatch is not None:
        lines.append(
            f"SEAL MISMATCH at seal {mismatch.seal} (position {mismatch.position}): "
            f"{mismatch.reason}"
        )
        return _Checked(holds=False, lines=lines)
    if tail.entries:
        since = f", committed since {tail.since:%Y-%m-%d %H:%M:%S} UTC" if tail.since else ""
        last = (
            f"the last seal was taken {tail.last_sealed_at:%Y-%m-%d %H:%M:%S} UTC"
            if tail.last_sealed_at
            else "nothing is sealed yet"
        )
        lines.append(
            f"unsealed tail: {tail.entries:,} position(s) from position {tail.first_position}"
            f"{since} ({last}): events removed from there on with their commits' rows could "
            "not be told from the record; `rodedraad audit seal` seals them"
        )
    else:
        lines.append("unsealed tail: none, every chained position is sealed")
    return _Checked(holds=True, lines=lines)


def _verify_snapshots(care_record: "CareRecord", trajectory: UUID | None) -> _Checked:
    """Each stored snapshot (or the trajectory's) against the events it summarises
    (``application.snapshot_check``)."""
    from application.snapshot_check import SnapshotCheck

    report = SnapshotCheck(care_record).verify(trajectory)
    if report.mismatch is not None:
        m = report.mismatch
        return _Checked(
            holds=False,
            lines=[
                f"SNAPSHOT MISMATCH: the snapshot of {m.originator_id} at v{m.version}: "
                f"{m.reason} ({report.checked:,} snapshot(s) before it match)"
            ],
        )
    return _Checked(
        holds=True,
        lines=[f"snapshots: all {report.checked:,} match the events they summarise"],
    )


def _audit_seal(settings: Settings, args: argparse.Namespace) -> int:
    """Issue #16: seal every chained position after the last seal now, and print what to
    anchor outside the system (the signed line and its signature); nothing new: no seal."""
    from application.seals import Seals
    from application.signing import encode_signature
    from rodedraad.wiring import build_access_log, build_care_record, signing_key_file

    key = signing_key_file(settings).load()
    care_record = build_care_record(settings)
    read_log = build_access_log(settings)
    try:
        seals = Seals(care_record.recorder, read_log).take(key, datetime.now(UTC))
    finally:
        read_log.close()
        care_record.close()
    if not seals:
        print("nothing to seal: every chained position is sealed already, and the read log's head")
        return 0
    for seal in seals:
        print(seal.payload().decode())
        print(f"signature {encode_signature(seal.signature)} key {seal.key_id}")
    _say(
        f"{len(seals)} seal(s), {seals[0].number} to {seals[-1].number}: "
        f"{sum(s.entries for s in seals):,} position(s), {seals[0].after_position + 1} to "
        f"{seals[-1].last_position}, and the read log's head (its entry "
        f"{seals[-1].read_log.position if seals[-1].read_log else 0}); anchor the lines above "
        "outside the system (README, 'Tamper evidence'): the last seal's two lines suffice, "
        "since its chain entries and the read log's head hash in everything before them"
    )
    return 0


def _audit_verify_export(settings: Settings, args: argparse.Namespace) -> int:
    """Issue #16: check an audit export offline — no database, and the signing key's public
    half from ``--public-key`` only, never from the file checked (``application.audit_export``).
    Names the first thing that does not hold; exit 1 then, 0 when everything holds."""
    from application.audit_export import open_export, verify_export
    from application.sealed_files import SealedFileError, private_key_from_pem
    from application.signing import PublicKey

    public = PublicKey.from_pem(_read(args.public_key), source=str(args.public_key))
    identity = (
        None
        if args.identity is None
        else private_key_from_pem(_read(args.identity), source=str(args.identity))
    )
    try:
        signed = open_export(_read(args.file), identity)
    except SealedFileError as e:
        print(f"FAILS: {e.message}")
        return 1
    check = verify_export(signed, public)
    for line in check.lines:
        print(line)
    if check.failure is not None:
        print(f"FAILS: {check.failure}")
        return 1
    print(f"{args.file}: the export holds")
    return 0


def _verify_read_log(settings: Settings, access_log: "AccessLog", seals: "Seals") -> bool:
    """The personal-data read log against its own chain (``application.read_log_chain``) and
    against the heads the seals signed (``Seals.verify_read_log``; their signatures are
    ``_verify_seals``'s), reported on its own lines; whether it matches."""
    result = access_log.verify()
    if result.genesis_up_to:
        print(
            f"read log: entries up to position {result.genesis_up_to:,} were chained by the "
            "migration, after the fact"
        )
    if result.pruned_up_to:
        print(f"read log: entries up to position {result.pruned_up_to:,} removed by retention")
    if result.mismatch is not None:
        print(
            f"read log: MISMATCH at entry {result.mismatch.position}: {result.mismatch.reason} "
            f"({result.checked:,} entr(y/ies) before it match)"
        )
        return False
    print(f"read log: all {result.checked:,} entr(y/ies) match the chain")
    retention = timedelta(days=round(365.25 * settings.retention_log_years))
    sealed = seals.verify_read_log(retention, datetime.now(UTC))
    if sealed.mismatch is not None:
        m = sealed.mismatch
        print(f"read log: SEAL MISMATCH at seal {m.seal} (read-log entry {m.position}): {m.reason}")
        return False
    print(
        f"read log: the heads signed by {sealed.heads:,} seal(s) hold, up to entry "
        f"{sealed.sealed_up_to:,}"
        if sealed.heads
        else "read log: no seal has signed its head yet"
    )
    if sealed.tail_entries:
        since = (
            f", written since {sealed.tail_since:%Y-%m-%d %H:%M:%S} UTC"
            if sealed.tail_since
            else ""
        )
        print(
            f"read log: unsealed tail: {sealed.tail_entries:,} entr(y/ies) from entry "
            f"{sealed.tail_first_position}{since}: entries removed from there on could not be "
            "told from the record; `rodedraad audit seal` seals them"
        )
    else:
        print("read log: unsealed tail: none, every entry is sealed")
    return True


def _retention_purge_log(settings: Settings, args: argparse.Namespace) -> int:
    """Seed 004: the read log is kept ``retention_log_years``; older entries are removed as one
    range and the boundary kept, so ``audit verify`` still passes (``read_log_chain.prune``)."""
    from rodedraad.wiring import build_access_log, migrate_at_start

    migrate_at_start(settings)
    now = datetime.now(UTC)
    cutoff = now - timedelta(days=round(365.25 * settings.retention_log_years))
    access_log = build_access_log(settings)
    try:
        removed = access_log.purge_before(cutoff, now)
    finally:
        access_log.close()
    print(
        f"read log: {removed:,} entr(y/ies) from before {cutoff:%Y-%m-%d} removed; the boundary "
        "is kept for audit verify"
    )
    return 0


def _simulate_copy(settings: Settings, args: argparse.Namespace) -> int:
    """A copy of the store for simulation, in a new directory (``application.simulation``)."""
    from application.simulation import copy_for_simulation
    from rodedraad.logs import configure_logging
    from rodedraad.wiring import build_care_record, stores_of

    configure_logging(settings.log_level, settings.log_format)
    directory = Path(args.directory)
    if directory.exists() and any(directory.iterdir()):
        return _fail(
            f"{directory} is not empty; a simulation copy goes into a new, empty directory",
        )
    copy = settings.simulation_copy(directory)
    source = build_care_record(settings)
    try:
        target = build_care_record(copy)
        try:
            report = copy_for_simulation(source, target, stores_of(copy), say=_say)
        finally:
            target.close()
    finally:
        source.close()
    print(
        f"A copy for simulation in {directory}: {report.events:,} events (the log up to "
        f"position {report.copied_up_to:,}) and {report.keys:,} subject keys, wrapped under "
        "the copy's own KEK. It holds personal data: delete it when you are done; erasures in "
        "the live record do not reach it. To work on it, set\n"
        f"  export RODEDRAAD_DATA_DIR={directory} RODEDRAAD_DATABASE_URL={copy.database.url} "
        f"RODEDRAAD_KEK_FILE={copy.kek.file} RODEDRAAD_SIGNING_KEY_FILE={copy.signing.key_file}\n"
        "then run the scheduler at any moment (`rodedraad scheduler run-once --now "
        "2030-01-01T09:00:00Z`), or serve it (`rodedraad serve --port 8001`, tokens from "
        "`rodedraad token`): its scheduler runs only when you ask."
    )
    return 0


def _backup(settings: Settings, args: argparse.Namespace) -> int:
    """Issue #21: every store of record, of one moment, while the service runs; encrypted to the
    operator's key (``--to``) unless ``--unencrypted`` is asked for (``application.backup``)."""
    from application.backup import backup_postgres, backup_sqlite
    from application.backup_crypto import load_public_key
    from application.migrations import code_version
    from rodedraad.wiring import migrate_at_start, stores_of

    if args.to is None and not args.unencrypted:
        return _fail(
            "a backup holds the record of vulnerable people: give the operator's public key "
            "(--to KEYFILE, made by `rodedraad backup-key`), or --unencrypted if the backup "
            "goes straight into encrypted storage of your own"
        )
    if missing := _missing_store(settings):
        return _fail(missing)
    recipient = load_public_key(args.to) if args.to is not None else None
    migrate_at_start(settings)
    directory = Path(args.directory)
    try:
        with _sigterm_unwinds():
            if settings.database.is_postgres:
                manifest = backup_postgres(
                    settings.database.url, directory, recipient, code_version(), _say
                )
            else:
                files = dict(stores_of(settings).files)
                manifest = backup_sqlite(
                    files, directory, recipient, code_version(), _say, working=settings.data_dir
                )
    except (SystemExit, KeyboardInterrupt) as stopped:
        removed = (
            "no clear dump was written (pg_dump is encrypted as it goes)"
            if settings.database.is_postgres
            else "the clear working copy in the data directory was removed"
        )
        _fail(
            f"the backup was stopped before it finished: {directory} holds no finished backup "
            f"(without manifest.json, it is none), and {removed}"
        )
        if isinstance(stopped, KeyboardInterrupt):
            raise SystemExit(130) from None
        raise
    encrypted = (
        f"encrypted to key {manifest.encrypted_to}" if manifest.encrypted_to else "NOT encrypted"
    )
    print(
        f"backup in {directory}: log position {manifest.log_position:,}, "
        f"{len(manifest.files)} file(s), {sum(f.size for f in manifest.files):,} bytes, "
        f"{encrypted}; it needs KEK version(s) {_versions(manifest.kek_versions)} "
        f"(kept apart, in {settings.kek.file}: back that up and escrow it on its own)"
    )
    return 0


@contextmanager
def _sigterm_unwinds() -> Iterator[None]:
    """SIGTERM (a service manager's stop, ``kill``) ends the process as SIGINT does, by an
    exception (``SystemExit``, status 143) in the main thread, so that what is open is closed
    and what was made is removed (a backup's plain working copy) before it ends; by default
    it would end at once, leaving them. Elsewhere than in the main thread, as it was."""
    import signal

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    try:
        previous = signal.signal(signal.SIGTERM, stop)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _backup_key(settings: Settings, args: argparse.Namespace) -> int:
    """A key pair for backups: the private key stays offline with the operator; the public key
    (``KEYFILE.pub``) is what ``rodedraad backup --to`` encrypts to."""
    from application.backup_crypto import key_id, load_public_key, new_operator_key

    public = new_operator_key(args.keyfile)
    print(
        f"backup key {key_id(load_public_key(public))}: private key in {args.keyfile} (keep it "
        f"offline, apart from the backups and the KEK), public key in {public} (give it to "
        "`rodedraad backup --to`)"
    )
    return 0


def _backup_check(settings: Settings, args: argparse.Namespace) -> int:
    """A backup checked as a restore would check it, writing nothing: its files against the
    manifest, every chunk opened with ``--identity``, the KEK versions it needs in the KEK
    file. Exit 2, saying why, if a restore of it would be refused."""
    from application.backup import check_kek, check_opens, read_manifest
    from application.backup_crypto import load_private_key
    from application.kek import KeyringFile

    directory = Path(args.directory)
    manifest = read_manifest(directory)
    identity = load_private_key(args.identity) if args.identity is not None else None
    check_kek(manifest, KeyringFile(settings.kek.file))
    if manifest.encrypted_to is not None and identity is None:
        opened = "not opened (give --identity to open every chunk too)"
    else:
        opened = f"every file opened ({check_opens(directory, manifest, identity):,} bytes)"
    print(
        f"backup of {manifest.created_at:%Y-%m-%d %H:%M} UTC ({manifest.kind}, log position "
        f"{manifest.log_position:,}): sizes and checksums match, {opened}, KEK version(s) "
        f"{_versions(manifest.kek_versions)} present in {settings.kek.file}"
    )
    return 0


def _restore(settings: Settings, args: argparse.Namespace) -> int:
    """Issue #21: a backup into an empty data directory (or database), then, before anything
    can answer a request: every erasure of the ledger file the backup lacks re-applied, the
    read models rebuilt, the audit chain verified. Refusals change nothing."""
    from application.backup import (
        check_kek,
        read_manifest,
        restore_postgres,
        restore_sqlite,
    )
    from application.backup_crypto import load_private_key
    from application.erasure_ledger import ErasureLedgerFile
    from application.kek import KeyringFile
    from rodedraad.wiring import stores_of

    directory = Path(args.directory)
    manifest = read_manifest(directory)
    identity = load_private_key(args.identity) if args.identity is not None else None
    check_kek(manifest, KeyringFile(settings.kek.file))
    # (Read whole before anything is written: a directory, an unreadable or a damaged file is
    # refused now, not after the backup went in. None there reads as no erasures.)
    ErasureLedgerFile(settings.erasure_ledger_file).entries()
    if not settings.erasure_ledger_file.is_file() and not args.no_erasures_yet:
        return _fail(
            f"the erasure ledger {settings.erasure_ledger_file} does not exist: restore it from "
            "the copy you keep beside the backups (RODEDRAAD_ERASURE_LEDGER_FILE) first; it is "
            "what keeps a client erased after this backup was taken from coming back. If this "
            "deployment has never erased anyone, say so: add --no-erasures-yet. Nothing was "
            "restored"
        )
    if settings.database.is_postgres:
        restore_postgres(directory, manifest, identity, settings.database.url, _say)
    else:
        kept = {
            settings.kek.file,
            settings.erasure_ledger_file,
            settings.signing.key_file,
            settings.auth.secret_file,
            settings.person.pepper_file or settings.data_dir / "identity-pepper",
        }
        files = dict(stores_of(settings).files)
        restore_sqlite(directory, manifest, identity, files, settings.data_dir, kept, _say)
    print(
        f"restored the backup of {manifest.created_at:%Y-%m-%d %H:%M} UTC: the log up to "
        f"position {manifest.log_position:,}"
    )
    try:
        return _after_restore(settings)
    except OperatorError as e:  # (the erasure ledger: the files are back all the same)
        return _fail(
            f"the backup is restored, but the rest could not be done: {e.message}. Then, "
            "before serving: `rodedraad erasures reapply`, `rodedraad projections rebuild all`, "
            "`rodedraad audit verify` (running `restore` again would be refused)"
        )
    except Exception as e:
        if not is_unreachable(e):
            raise
        # (Not "run the command again": the database now holds the backup, so a second
        # restore is refused.)
        return _fail(
            f"the backup is restored, but the database was lost before the rest ({_first(e)}). "
            "Before serving, with the database back: `rodedraad erasures reapply`, "
            "`rodedraad projections rebuild all`, then `rodedraad audit verify`"
        )


def _after_restore(settings: Settings) -> int:
    """Erasures re-applied, read models rebuilt, then everything ``audit verify`` checks (the
    event chain, the seals, the snapshots, the read log); its exit code."""
    from rodedraad.wiring import build_care_record, build_projection_worker

    care_record = build_care_record(settings)
    try:
        erased = _reapply_all(care_record)
        print(f"erasure ledger: {len(erased)} client(s) erased again that the backup still held")
        worker = build_projection_worker(settings, care_record)
        try:
            names = [p.name for p in worker.projections]
            position = worker.rebuild_many(names, _print_progress)
        finally:
            worker.database.close()
        print(f"read models: all {len(names)} rebuilt up to log position {position:,}")
    finally:
        care_record.close()
    print("audit verify:")
    return _audit_verify(settings, argparse.Namespace(trajectory=None, public_key=None))


def _reapply_all(care_record: "CareRecord") -> "list[UUID]":
    """Every erasure of the ledger file, looked at in the log itself (not only the key
    store's own ledger): a copy torn by other tooling is caught too."""
    from application.erasure_ledger import reapply
    from rodedraad.wiring import check_erasure_ledger_kept

    if care_record.erasure_ledger is None:
        return []
    check_erasure_ledger_kept(care_record)
    entries = care_record.erasure_ledger.entries()
    return reapply(care_record, entries, say=_say).erased


def _erasures_reapply(settings: Settings, args: argparse.Namespace) -> int:
    """After a point-in-time recovery (or any restore not made by ``rodedraad restore``):
    every erasure of the ledger file the store lacks, done again, before serving."""
    from rodedraad.wiring import build_care_record

    care_record = build_care_record(settings)
    try:
        erased = _reapply_all(care_record)
    finally:
        care_record.close()
    print(
        f"erasure ledger {settings.erasure_ledger_file}: {len(erased)} client(s) erased again; "
        "rebuild the read models now (`rodedraad projections rebuild all`)"
    )
    return 0


def _versions(versions: list[int]) -> str:
    return ", ".join(map(str, versions)) or "none"


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="rodedraad", description="Rode Draad: the common thread of care trajectories."
    )
    commands = root.add_subparsers(dest="command", required=True)

    serve = commands.add_parser(
        "serve", help="run the HTTP API (embedded: everything in one process)"
    )
    serve.add_argument("--host", help="address to listen on (default RODEDRAAD_HOST)")
    serve.add_argument("--port", type=int, help="port to listen on (default RODEDRAAD_PORT)")
    serve.set_defaults(run=_serve)

    token = commands.add_parser("token", help="print a bearer token for local use (embedded mode)")
    token.add_argument("--user", required=True, help="user id (the token's sub)")
    token.add_argument(
        "--org", help="the user's organisation (not for the client and representative roles)"
    )
    token.add_argument(
        "--role", action="append", required=True, help="a role; repeat for more than one"
    )
    token.add_argument(
        "--region", help="the user's region (not for the client and representative roles)"
    )
    token.add_argument("--hours", type=float, default=12.0, help="validity in hours (default 12)")
    token.set_defaults(run=_token)

    migrate = commands.add_parser(
        "migrate", help="run the stores' pending migrations (processes also do at start)"
    )
    migrate.add_argument(
        "--status",
        action="store_true",
        help="list applied and pending migrations; exit 1 if one is pending or unknown",
    )
    migrate.set_defaults(run=_migrate)

    projections = _group(commands, "projections", "the read models")
    run = projections.add_parser("run", help="follow the event log (production: its own process)")
    run.set_defaults(run=_projections_run)
    rebuild = projections.add_parser(
        "rebuild", help="rebuild a read model beside the live one and switch over atomically"
    )
    rebuild.add_argument(
        "name",
        help="plan_state, timeline, deadlines, organisations, learning_networks, statistics, "
        "or all",
    )
    rebuild.set_defaults(run=_projections_rebuild)

    scheduler = _group(commands, "scheduler", "deadlines")
    scheduler.add_parser(
        "run", help="record what falls due, every RODEDRAAD_SCHEDULER_INTERVAL_SECONDS"
    ).set_defaults(run=_scheduler_run)
    once = scheduler.add_parser("run-once", help="evaluate every rule at one moment and exit")
    once.add_argument("--now", help="the moment, e.g. 2027-06-01T09:00:00Z (default: now)")
    once.add_argument("--dry-run", action="store_true", help="show what would fire; record nothing")
    _wait_argument(once)
    once.set_defaults(run=_scheduler_run_once)

    keys = _group(commands, "keys", "the key-encryption key (KEK) and the signing key")
    keys.add_parser(
        "status", help="KEK versions, keys under each, what is due; exit 1 if action is needed"
    ).set_defaults(run=_keys_status)
    rotate = keys.add_parser(
        "rotate",
        help="a new KEK version now; re-wrap every key under it (beside a running service)",
    )
    _wait_argument(rotate)
    rotate.set_defaults(run=_keys_rotate)
    public = keys.add_parser(
        "public", help="print the public key that verifies what this deployment exports"
    )
    public.add_argument(
        "--create",
        action="store_true",
        help="make the signing key if there is none (PostgreSQL deployments make it so, once)",
    )
    public.set_defaults(run=_keys_public)

    statistics = _group(commands, "statistics", "statistics releases for learning networks")
    merge = statistics.add_parser(
        "merge",
        help="merge signed releases of several deployments into a signed macro release",
    )
    merge.add_argument(
        "--trust",
        action="append",
        required=True,
        type=Path,
        metavar="KEYFILE",
        help="a deployment's public key (its `rodedraad keys public`); repeat for each",
    )
    merge.add_argument(
        "--number",
        type=_release_number,
        default=1,
        help="the macro release's number, 1 to 2147483647 as the API reads them (default 1)",
    )
    merge.add_argument(
        "--output", type=Path, metavar="FILE", help="write it here (default: standard output)"
    )
    merge.add_argument(
        "releases", nargs="+", type=Path, metavar="RELEASE_FILE", help="signed release files"
    )
    merge.set_defaults(run=_statistics_merge)
    export = statistics.add_parser(
        "export", help="a release, signed with this deployment's key, for a macro release"
    )
    export.add_argument("number", type=int, help="the release's number")
    export.add_argument(
        "--output", type=Path, metavar="FILE", help="write it here (default: standard output)"
    )
    export.set_defaults(run=_statistics_export)
    release = statistics.add_parser(
        "release",
        help="release a closed period now (again: a revision if late facts changed it)",
    )
    release.add_argument(
        "--period",
        required=True,
        help="a year (2025) or, where RODEDRAAD_STATISTICS_GRID=quarters, a quarter (2026Q3)",
    )
    release.set_defaults(run=_statistics_release)

    networks = _group(commands, "learning-networks", "learning networks (issue #14)")
    batches = networks.add_parser(
        "release-batches",
        help="let every region's due batch of shared findings enter its learning network",
    )
    _wait_argument(batches)
    batches.set_defaults(run=_release_theme_batches)

    retention = _group(commands, "retention", "what passed its retention period (seed 004)")
    retention.add_parser(
        "purge-log",
        help="remove the personal-data reads older than RODEDRAAD_RETENTION_LOG_YEARS, as one "
        "range from the start of the read log's chain, keeping its boundary",
    ).set_defaults(run=_retention_purge_log)

    simulate = _group(
        commands, "simulate", "simulating deadlines on a copy, never in the live record"
    )
    copy = simulate.add_parser(
        "copy", help="copy the store into a new embedded store marked as a simulation"
    )
    copy.add_argument("directory", help="a new, empty directory for the copy")
    copy.set_defaults(run=_simulate_copy)

    backup = commands.add_parser(
        "backup", help="every store of record, of one moment, while serving (issue #21)"
    )
    backup.add_argument("directory", help="a new, empty directory for the backup")
    # (Both at once was taken, and encrypted: an operator asking for both is refused.)
    sealing = backup.add_mutually_exclusive_group()
    sealing.add_argument(
        "--to", type=Path, metavar="KEYFILE", help="the operator's public key to encrypt to"
    )
    sealing.add_argument(
        "--unencrypted", action="store_true", help="write it unencrypted (only on purpose)"
    )
    backup.set_defaults(run=_backup)
    backup_key = commands.add_parser(
        "backup-key", help="make a key pair for backups (KEYFILE private, KEYFILE.pub public)"
    )
    backup_key.add_argument("keyfile", type=Path, help="where the private key goes (0600)")
    backup_key.set_defaults(run=_backup_key)
    check = commands.add_parser(
        "backup-check",
        help="check a backup as a restore would (sizes, checksums, every chunk, the KEK "
        "versions it needs), writing nothing",
    )
    _backup_to_read(check, identity="the private key, to open every chunk")
    check.set_defaults(run=_backup_check)
    restore = commands.add_parser(
        "restore",
        help="restore a backup into an empty data directory or database, re-apply the erasure "
        "ledger, rebuild the read models and verify the audit chain",
    )
    _backup_to_read(restore, identity="the private key the backup is for")
    restore.add_argument(
        "--no-erasures-yet",
        action="store_true",
        help="restore without an erasure ledger file: this deployment has never erased anyone "
        "(refused after the files are back if the backup shows an erasure)",
    )
    restore.set_defaults(run=_restore)
    erasures = _group(commands, "erasures", "the erasure ledger kept apart from the backups")
    erasures.add_parser(
        "reapply",
        help="erase again every client of the ledger file the store holds unerased (after a "
        "point-in-time recovery)",
    ).set_defaults(run=_erasures_reapply)

    audit = _group(commands, "audit", "the record as auditors read it")
    audit.add_parser(
        "check-order",
        help="report recorded facts that predate what they depend on; exit 1 if any",
    ).set_defaults(run=_audit_check_order)
    verify = audit.add_parser(
        "verify",
        help="recompute the hash chain over the stored events; name the first position that "
        "does not match, exit 1 if one does not",
    )
    verify.add_argument(
        "--trajectory", type=UUID, default=None, help="check only this trajectory's events"
    )
    verify.add_argument(
        "--public-key",
        type=Path,
        default=None,
        help="check the seals' signatures against this public key (PEM), not the deployment's",
    )
    verify.set_defaults(run=_audit_verify)
    verify_export = audit.add_parser(
        "verify-export",
        help="check an audit export offline against the deployment's public key; name the "
        "first thing that does not hold, exit 1 if one does not",
    )
    verify_export.add_argument("file", type=Path, help="the export, as downloaded")
    verify_export.add_argument(
        "--public-key",
        type=Path,
        required=True,
        help="the deployment's public key (PEM, from `rodedraad keys public`, obtained apart "
        "from the export)",
    )
    verify_export.add_argument(
        "--identity",
        type=Path,
        default=None,
        help="your X25519 private key (PEM) the export was encrypted to",
    )
    verify_export.set_defaults(run=_audit_verify_export)
    audit.add_parser(
        "seal",
        help="seal the event chain now (a signed Merkle root); print what to anchor outside",
    ).set_defaults(run=_audit_seal)
    return root


def _group(
    commands: "argparse._SubParsersAction[argparse.ArgumentParser]", name: str, help: str
) -> "argparse._SubParsersAction[argparse.ArgumentParser]":
    """A command with commands of its own (``rodedraad keys rotate``)."""
    return commands.add_parser(name, help=help).add_subparsers(
        dest=f"{name}_command", required=True
    )


def _backup_to_read(command: argparse.ArgumentParser, *, identity: str) -> None:
    """A backup's directory, and the private key it is encrypted to."""
    command.add_argument("directory", help="the backup's directory")
    command.add_argument("--identity", type=Path, metavar="KEYFILE", help=identity)


def _missing_store(settings: Settings) -> str | None:
    """Why a command that reads the record cannot run on an embedded store that is not there
    (a mistyped RODEDRAAD_DATA_DIR would otherwise make an empty store and report on it)."""
    if settings.database.is_postgres or settings.database.sqlite_path.exists():
        return None
    return (
        f"there is no event store at {settings.database.sqlite_path}: check RODEDRAAD_DATA_DIR "
        "(or RODEDRAAD_DATABASE_URL); nothing was read"
    )


def _fail(message: str, code: int = 2) -> int:
    """Say why on stderr, and exit with ``code``."""
    print(f"rodedraad: {message}", file=sys.stderr)
    return code


def _wait_argument(command: argparse.ArgumentParser) -> None:
    """A one-off job beside a running service waits this long for a scheduler run."""
    command.add_argument(
        "--wait",
        type=_seconds,
        default=DEFAULT_WAIT_SECONDS,
        metavar="SECONDS",
        help=f"how long to wait for a scheduler run in progress (default {DEFAULT_WAIT_SECONDS:g})",
    )


def _release_number(text: str) -> int:
    """A release's number as the API takes it (``api.schemas.ReleaseNumber``): a macro release
    numbered 0 or 10^20 could be made and signed but never read."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= value <= 2_147_483_647:
        raise argparse.ArgumentTypeError("give a number from 1 to 2147483647")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 <= value <= 3600:
        raise argparse.ArgumentTypeError("give between 0 and 3600 seconds")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        settings = Settings.from_env()
        result: int = args.run(settings, args)
    except (SettingsError, PolicyError) as e:
        return _fail(str(e))
    except OperatorError as e:  # a KEK, migration or simulation refusal: it says what to do
        return _fail(e.message)
    except Exception as e:
        local = _local_store_error(e)
        if local is not None:
            return _fail(local)
        if not is_unreachable(e):
            raise
        # (A connect that timed out or was refused, a connection lost, a pool that had none:
        # said in a line, not a traceback. Only its first line: no query, no parameters.)
        return _fail(
            f"PostgreSQL cannot be reached or was lost ({_first(e)}); check "
            "RODEDRAAD_DATABASE_URL and that the server is up, then run the command again"
        )
    return result


def _local_store_error(error: BaseException) -> str | None:
    """What to say of an embedded store (or a file beside it) that cannot be used: not
    readable or writable by this user, a file where a directory should be, locked by another
    process, or damaged. In a line naming the error's kind, not a traceback (found by an
    outside walk of the commands); None for anything else."""
    import sqlite3

    seen: BaseException | None = error
    visited: set[int] = set()
    while seen is not None and id(seen) not in visited:
        visited.add(id(seen))
        if isinstance(seen, PermissionError | FileExistsError | NotADirectoryError):
            return f"{_first(seen)}. Check the path it names and who owns it"
        if isinstance(seen, sqlite3.DatabaseError):
            kind = getattr(seen, "sqlite_errorname", "") or ""
            if kind.startswith("SQLITE_BUSY"):
                return (
                    f"the embedded store is in use by another process ({_first(seen)}); run the "
                    "command again once it has finished"
                )
            if kind.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
                return (
                    f"an embedded store file is damaged ({_first(seen)}). Find which with "
                    "`sqlite3 FILE 'PRAGMA quick_check'` over the data directory's files: a read "
                    "model's file is rebuilt (`rodedraad projections rebuild all`), a store of "
                    "record's is restored from a backup into an empty data directory"
                )
            return None
        seen = seen.__cause__ or (None if seen.__suppress_context__ else seen.__context__)
    return None


def _first(error: BaseException) -> str:
    """The error's kind and the first line of what it says."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__


if __name__ == "__main__":
    sys.exit(main())
