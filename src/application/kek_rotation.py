"""Rotating the key-encryption key, and destroying the versions nobody may unwrap with any more.

Issue #10: an erased client's wrapped keys may linger in dead rows, the write-ahead log, a
replica or a backup. They stay unreadable only if the KEK version that wrapped them is gone
too. So every ``rotation`` days a new version becomes current and every live subject key is
re-wrapped under it (in batches, one transaction each; a crash halfway leaves keys under either
version, both still in the keyring, and the next run finishes the job); the old version is then
retired, and destroyed once its retirement plus the backup ``window`` has passed and no key
uses it. A copy of the database older than that holds nothing anyone can unwrap, while every
backup still kept (younger than the window) can be restored with the keyring as it is.

All changes to the keyring happen under its file lock, so the scheduler's periodic run and a
one-off ``rodedraad keys rotate`` beside a running service never interleave.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog

from application.kek import KekError, KekVersion, Keyring
from application.keys import REWRAP_BATCH, WrappedKeyStore, describe_unusable

log = structlog.get_logger("rodedraad.kek")

#: How late a rotation or a destruction may be before ``/health`` says so: a scheduler that was
#: down for an hour is no reason to page anyone, one that has not run for a day is.
GRACE = timedelta(days=1)


@dataclass
class RotationReport:
    rotated_to: int | None = None
    rewrapped: int = 0
    retired: list[int] = field(default_factory=list)
    destroyed: list[int] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.rotated_to or self.rewrapped or self.retired or self.destroyed)


@dataclass(frozen=True)
class KekRotation:
    store: WrappedKeyStore
    rotation: timedelta
    window: timedelta
    #: Keys re-wrapped per transaction.
    batch: int = REWRAP_BATCH
    #: The last KEK problem ``health_reason`` logged (a list: the dataclass is frozen).
    _logged_problem: list[str] = field(default_factory=list, repr=False, compare=False)

    @classmethod
    def every(cls, store: WrappedKeyStore, rotation_days: int, window_days: int) -> "KekRotation":
        return cls(store, timedelta(days=rotation_days), timedelta(days=window_days))

    def run(self, now: datetime, *, force: bool = False) -> RotationReport:
        """Rotate if due (or ``force``), finish any rotation left halfway, retire what no key
        uses any more, destroy what is past the window. Idempotent: a second run at the same
        moment changes nothing."""
        report = RotationReport()
        keyring_file = self.store.keyring
        with keyring_file.locked():
            keyring = keyring_file.reload()
            if force or self.rotation_due(keyring, now):
                keyring = keyring_file.write(keyring.with_new_version(now))
                self.store.register(keyring.current)
                report.rotated_to = keyring.current.version
            current = keyring.current
            if keyring.live == (current,):
                return report  # nothing retired or half-rotated: no need to count keys
            in_use = self.store.versions_in_use()
            for kek in keyring.live:
                if kek.version != current.version and (
                    in_use.get(kek.version) or not kek.retired_at
                ):
                    report.rewrapped += self._rewrap_all(kek, current)
                    keyring = keyring_file.write(keyring.retiring(kek.version, now))
                    report.retired.append(kek.version)
            in_use = self.store.versions_in_use()
            for kek in keyring.live:
                if self._destroyable(kek, current, now) and not in_use.get(kek.version):
                    keyring = keyring_file.write(keyring.destroying(kek.version, now))
                    report.destroyed.append(kek.version)
        if report.changed:
            log.info(
                "KEK rotation: back up the KEK file now, apart from the data",
                file=str(keyring_file.path),
                rotated_to=report.rotated_to,
                rewrapped=report.rewrapped,
                retired=report.retired,
                destroyed=report.destroyed,
            )
        return report

    def rotation_due(self, keyring: Keyring, now: datetime) -> bool:
        created = keyring.current.created_at
        return created is None or now - created >= self.rotation

    def _destroyable(self, kek: KekVersion, current: KekVersion, now: datetime) -> bool:
        retired = kek.retired_at
        return (
            kek.version != current.version and retired is not None and now >= retired + self.window
        )

    def _rewrap_all(self, old: KekVersion, new: KekVersion) -> int:
        total = 0
        while count := self.store.rewrap_batch(old, new, self.batch):
            total += count
        return total

    # --- what an operator sees -------------------------------------------------------------------

    def health_reason(self, now: datetime) -> str | None:
        """Why ``/health`` is degraded on the KEK's account, or None. Reads the keyring file
        only (no database), so it is cheap to ask often."""
        try:
            keyring = self.store.keyring.keyring()
            current = keyring.current
        except KekError as e:
            # The details name the file: for the log and `keys status`, not for /health, which
            # answers without a token (issue #10 review).
            if self._logged_problem[-1:] != [e.message]:  # once, not at every /health call
                log.error("the KEK cannot be used", reason=e.message)
                self._logged_problem[:] = [e.message]
            return (
                "the key-encryption key cannot be used; `rodedraad keys status` and the log "
                "say why and what to do"
            )
        created = current.created_at
        if created is not None and now - created > self.rotation + GRACE:
            return (
                f"the key-encryption key (version {current.version}) is {(now - created).days} "
                f"days old; it should be rotated every {self.rotation.days} days. Check that "
                "the scheduler runs, or run `rodedraad keys rotate`"
            )
        overdue = [
            v.version
            for v in keyring.live
            if v.retired_at is not None and now > v.retired_at + self.window + GRACE
        ]
        if overdue:
            return (
                f"retired KEK version(s) {', '.join(map(str, overdue))} should have been "
                f"destroyed {self.window.days} days after retirement, so that older copies of "
                "erased data become unreadable. Check that the scheduler runs, or run "
                "`rodedraad keys rotate`; `rodedraad keys status` says what holds them"
            )
        return None

    def describe(self, now: datetime) -> list[str]:
        """``rodedraad keys status``: every version, the keys under it, what happens next."""
        keyring = self.store.keyring.reload()
        in_use = self.store.versions_in_use()
        current = keyring.current
        lines = [f"KEK file: {self.store.keyring.path}"]
        for kek in keyring.versions:
            keys = f"{in_use.get(kek.version, 0):,} subject key(s)"
            if kek.destroyed:
                lines.append(f"  {kek.describe()}")
            elif kek.version == current.version:
                due = (kek.created_at or now) + self.rotation
                lines.append(f"  {kek.describe()}: current, {keys}; next rotation {due:%Y-%m-%d}")
            elif kek.retired_at is not None:
                gone = kek.retired_at + self.window
                lines.append(f"  {kek.describe()}: {keys}; to be destroyed from {gone:%Y-%m-%d}")
            else:
                lines.append(
                    f"  {kek.describe()}: {keys}; rotation unfinished, re-wrapped next run"
                )
        lines += [
            f"problem: {p}" for p in describe_unusable(self.store.keyring.path, keyring, in_use)
        ]
        if reason := self.health_reason(now):
            lines.append(f"attention: {reason}")
        return lines
