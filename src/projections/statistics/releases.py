"""Making releases: the one path from the read models to what learning networks may read.

A release (issue #12, point 3) is computed for one closed period of the grid, after its lag:

1. in one read transaction of the read models, the statistics working table's units, the
   organisation kinds and the position of the log the statistics projection has reached;
2. the population of the period (``tables.population``): every count cell as a sum over units;
3. every earlier published release of the same year (the period's own earlier versions and
   the year's other quarters, which count many of the same trajectories; a year and its
   quarters only in a store that released both before the grid was one setting), from the
   release store;
4. disclosure control over all of it (``disclosure.protect``), whose linear-programming audit
   must pass, or nothing is published (``ReleaseRefused``);
5. saved whole, under the next number.

Periods are of one grid, quarters or years (``RODEDRAAD_STATISTICS_GRID``), never both
(``check_on_grid``). The scheduler releases each period once, on the first run after its lag
(``Releases.run_due``); ``rodedraad statistics release --period P`` releases one now, and
releases a period again as a **revision** when facts recorded late changed what it would say.
"""

import dataclasses
import hashlib
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import BrokenExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import msgspec
import structlog

from application.metrics import metrics
from application.unavailable import UNAVAILABLE
from domain.common import Sector
from domain.deadlines import DeadlinePolicy
from projections.organisations import organisation_kinds
from projections.statistics import dynamics, tables
from projections.statistics.model import (
    DIFFERENCE_BELOW_K,
    Contributions,
    Grid,
    PackedContributions,
    Period,
    Population,
    Protected,
    PublishedVersion,
    periods_ended_by,
    size_floors,
)
from projections.statistics.store import (
    AuditSummary,
    CellRow,
    ReleaseConflict,
    ReleaseDescription,
    ReleaseStore,
    TableSummary,
    cell_rows,
)
from projections.statistics.units import (
    KnownUnits,
    StatisticsProjection,
    earliest_referral,
    read_units,
    regions_and_sectors,
)
from projections.store import ProjectionDatabase
from projections.tracking import read_tracking

log = structlog.get_logger("rodedraad.statistics")
_ENCODE = msgspec.json.Encoder(order="sorted").encode

#: The rules a release was made under. Bump when what a release computes or withholds changes:
#: a revision made under other rules says so. They are among a release's inputs too
#: (``release_inputs``): bumped, a period is computed again, not said as before.
#: 2: quantiles have a size cell and are released only where it is (``model.quantile_size``).
RULE_SET_VERSION = "rodedraad-statistics/2"
#: 3: rule set 2, and the audit holds the laws every unit keeps (``laws.py``): made where
#: ``RODEDRAAD_STATISTICS_LAWS`` is on. An earlier release of the year made without them is
#: then only narrowed no further (``disclosure._RegionAudit.settle``).
RULE_SET_WITH_LAWS = "rodedraad-statistics/3"


class ReleaseRefused(Exception):
    """A release that may not be made (too early, or it fails the audit); the message says why
    and what to do."""


class EmptyPeriod(ReleaseRefused):
    """No trajectory counts in the period: nothing to release."""


class NothingChanged(Exception):
    """A release of this period would publish what its latest release already says."""

    def __init__(self, latest: ReleaseDescription, why: str | None = None) -> None:
        super().__init__(
            why
            or f"release {latest.number} of {latest.period} already says all there is to say: "
            "no fact recorded since changes a published number"
        )
        self.latest = latest


def policy_fingerprints(policy: DeadlinePolicy, regions: Iterable[str]) -> dict[str, str]:
    """Per region, a fingerprint of the deadline rules in force there (every sector): "in
    time" differs where a region amends the policy, and a release says which rules it used."""
    found = {}
    for region in regions:
        text = "\n".join(
            f"{sector.value}: {rule!r}"
            for sector in Sector
            for rule in sorted(policy.rules_for(region, sector.value), key=lambda r: r.name)
        )
        found[region] = hashlib.sha256(text.encode()).hexdigest()[:16]
    return found


def release_inputs(population_digest: bytes, rules: str, earlier: Iterable[int]) -> str:
    """A digest of what a release is computed from: the population's (``Population.digest``),
    the numbers of the ``earlier`` releases it is audited against, and the ``rules`` it is
    computed under (``Releases._rules``). Computed twice from the same inputs, a release comes
    out the same (disclosure control is a function of these alone: docs/statistics-releases.md,
    *Reproducible*)."""
    numbers = ",".join(str(n) for n in sorted(set(earlier)))
    return hashlib.sha256(
        b"\n".join([population_digest, numbers.encode(), rules.encode()])
    ).hexdigest()


def _released_overlapping(period: Period, released: set[str]) -> list[str]:
    """The released periods (by name) of the other grid overlapping ``period``: its year, or
    its quarters."""
    return sorted(released & {str(p) for p in period.overlapping()})


def _by_region(contributions: Contributions) -> dict[str, PackedContributions]:
    """The units of each region (the region of a unit's first cell), in their order; a unit
    counting in no cell is in none."""
    import numpy as np  # see ``store._INT32``

    packed = PackedContributions.of(contributions)
    counting = np.flatnonzero(np.diff(packed.offsets) > 0)
    names = sorted({key.region for key in packed.cell_keys})
    place = {name: i for i, name in enumerate(names)}
    of_key = np.array([place[key.region] for key in packed.cell_keys], dtype=np.int64)
    region = of_key[packed.cells[packed.offsets[counting]]] if counting.size else counting
    return {
        name: packed.subset(counting[region == i])
        for i, name in enumerate(names)
        if np.any(region == i)
    }


def _summaries(
    population: Population,
    protected: Protected,
    held: Mapping[tuple[str, str], list[CellRow]] | None = None,
    held_rules: Mapping[str, TableSummary] | None = None,
) -> tuple[list[TableSummary], dict[tuple[str, str], list[CellRow]]]:
    """Each table's summary and the cells as stored, per (table, region): ``protected``'s,
    and the regions ``held`` back as the release revised stored them, their withheld cells
    counted under the rules that withheld them there (``held_rules``: that release's
    summaries, by table)."""
    groups = {key: cell.group for key, cell in population.counts.items()}
    rates = {key: (r.numerator, r.denominator) for key, r in population.rates.items()}
    shown = [c for c in protected.cells if not dynamics.hidden(c.key, c.withheld)]
    rows: dict[tuple[str, str], list[CellRow]] = defaultdict(list)
    for place, row in cell_rows(shown, groups, rates):
        rows[place].append(row)
    totals: Counter[str] = Counter()
    published: Counter[str] = Counter()
    rules: dict[str, Counter[str]] = defaultdict(Counter)
    # A withheld dynamics cell is neither stored nor counted: that it exists would say it is
    # not zero (``dynamics.hidden``), so the table reports only what it publishes.
    rules_in: dict[str, dict[str, Counter[str]]] = defaultdict(lambda: defaultdict(Counter))
    for cell in shown:
        totals[cell.key.table] += 1
        if cell.withheld is None:
            published[cell.key.table] += 1
        else:
            rules[cell.key.table][cell.withheld] += 1
            rules_in[cell.key.table][cell.key.region][cell.withheld] += 1
    for (table, region), cells in (held or {}).items():
        rows[(table, region)] = list(cells)
        totals[table] += len(cells)
        published[table] += sum(1 for cell in cells if cell.withheld is None)
        summary = (held_rules or {}).get(table)
        for rule, n in ((summary and summary.withheld_by_rule_in) or {}).get(region, {}).items():
            rules[table][rule] += n
            rules_in[table][region][rule] += n
    summaries = [
        TableSummary(
            name=spec.name,
            cells=totals[spec.name],
            published=published[spec.name],
            withheld_by_rule=dict(sorted(rules[spec.name].items())),
            withheld_by_rule_in={
                region: dict(sorted(found.items()))
                for region, found in sorted(rules_in[spec.name].items())
            },
        )
        for spec in tables.TABLES
    ]
    return summaries, dict(rows)


def _progress(period: Period, step: str) -> Callable[[int, int], None]:
    """A log line each time a part (a region) of a release's audit ends: at 100,000
    trajectories, protecting a year and checking it take minutes each. Counts only."""

    def told(done: int, parts: int) -> None:
        log.info(
            "statistics audit progress", period=str(period), step=step, parts_done=done, parts=parts
        )

    return told


@contextmanager
def _refused_on_failure(period: Period, after: str = "", not_held: str = "") -> Iterator[None]:
    """The audit's failures as the release's refusal: a release it cannot pass
    (``AuditFailed``; ``not_held``: why, for a revision's own cell, no region was held back),
    and a process auditing a region that ended before it was done (killed for its memory, say,
    or crashed): nothing is published on what was not audited, the cause is logged, and the
    next run tries again."""
    from projections.statistics import disclosure  # see ``Releases.compute``

    try:
        yield
    except disclosure.AuditFailed as failed:
        why = not_held if isinstance(failed, disclosure.RevisionNarrowed) else ""
        raise ReleaseRefused(
            f"{period} was not released: {failed}{why}. Nothing was published{after}"
        ) from failed
    except BrokenExecutor as broken:
        log.error(
            "statistics audit process ended",
            period=str(period),
            error=str(broken),
            cause=repr(broken.__cause__) if broken.__cause__ else None,
        )
        raise ReleaseRefused(
            f"{period} was not released: a process auditing one of its regions ended before "
            "it was done (killed for lack of memory, say: a region at 100,000 trajectories "
            "takes about 1.8 GiB; RODEDRAAD_STATISTICS_AUDIT_PROCESSES audits fewer at once). "
            f"Nothing was published{after}; the next run tries again"
        ) from broken


def _narrowed_before(protected: Protected) -> int:
    """How many withheld counts had their interval cut to what earlier law-less releases left."""
    return sum(1 for finding in protected.audit if finding.narrowed_before)


def _narrowest(protected: Protected) -> float | None:
    """How much of its needed interval the most narrowed withheld count keeps open (≥ 1: all)."""
    margins = []
    for finding in protected.audit:
        need = finding.needed_high - finding.needed_low
        if need > 0:
            kept = min(finding.high, finding.needed_high) - max(finding.low, finding.needed_low)
            margins.append(max(0.0, kept) / need)
    return round(min(margins), 4) if margins else None


@dataclass
class Releases:
    """Computes and saves releases; one instance per process."""

    read_models: ProjectionDatabase
    store: ReleaseStore
    policy: DeadlinePolicy
    k: int
    lag_days: int
    deployment: str
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    #: Audit with the laws every unit keeps (rule set 3; ``RODEDRAAD_STATISTICS_LAWS``).
    laws: bool = True
    #: The periods released: quarters or years, never both (``model.Grid``;
    #: ``RODEDRAAD_STATISTICS_GRID``).
    grid: Grid = "years"
    #: How many regions are audited at once (``RODEDRAAD_STATISTICS_AUDIT_PROCESSES``); None:
    #: one per core (``disclosure.protect``).
    audit_processes: int | None = None
    #: The units read and their digests, kept between the releases of one run (the periods
    #: that fall due together, or a benchmark's sequence) until ``forget_units``: a release
    #: reads every unit, and works out again only those that changed since the last one. A
    #: long-lived caller of ``release`` must call ``forget_units`` when its run is over, as
    #: ``run_due`` does, or every unit of the store stays in its memory.
    known_units: KnownUnits = field(default_factory=KnownUnits)
    digests: tables.Digests | None = None

    @staticmethod
    def rule_set(laws: bool) -> str:
        return RULE_SET_WITH_LAWS if laws else RULE_SET_VERSION

    def check_publishable(self, period: Period, today: date) -> None:
        first = period.publishable_on(self.lag_days)
        if today < first:
            raise ReleaseRefused(
                f"{period} can be released from {first.isoformat()} on: {self.lag_days} days "
                "after it ends, so facts recorded late are in (RODEDRAAD_STATISTICS_LAG_DAYS)"
            )

    def check_on_grid(self, period: Period) -> None:
        """Refuse a period of the other grid, and one whose overlapping periods (its year, or
        its quarters) were released before, under another setting: the year less its published
        quarters would give away what a quarter withholds."""
        if not period.on(self.grid):
            raise ReleaseRefused(
                f"{period} is a {period.kind}, and this deployment releases {self.grid} "
                f"(RODEDRAAD_STATISTICS_GRID={self.grid}): a year and its quarters are never both "
                "released, since the year less its published quarters would give away what a "
                "quarter withholds. Nothing was published. The setting is the whole "
                "deployment's (the service's scheduler and this command alike), never one "
                "command's: a quarter released so would keep its year from ever being released"
            )
        overlapping = _released_overlapping(period, {r.period for r in self.store.releases()})
        if overlapping:
            raise ReleaseRefused(
                f"{period} overlaps {', '.join(overlapping)}, released before on the other grid: "
                "a year and its quarters are never both released, since the year less its "
                "published quarters would give away what a quarter withholds. Nothing was "
                "published; this deployment releases its next periods instead"
            )

    def population(self, period: Period) -> tuple[Population, int]:
        """The period's population before disclosure control (every number as counted), and
        the log position it reflects."""
        with self.read_models.transaction() as tx:
            tracked = read_tracking(tx, StatisticsProjection.name)
            position = tracked[0] if tracked else 0
            wanted = StatisticsProjection(self.policy).version
            if tracked is not None and tracked[1] != wanted:
                # The working table is another version's (a rebuild for this one has not
                # switched over yet, or the worker runs another policy or code): its columns
                # and deadlines are not what this release reads.
                raise ReleaseRefused(
                    f"the statistics read model is at version {tracked[1]}, this release needs "
                    f"{wanted}: a worker is rebuilding it, or runs another deadline policy or "
                    "version of Rode Draad. Release once its rebuild has switched over (the "
                    "worker logs it); nothing was published"
                )
            kinds = organisation_kinds(tx)
            # A trajectory referred after the period counts in none of its cells, nor does one
            # settled before it starts: neither is read (the second is most of a large store's
            # ended trajectories). Their regions and sectors still have cells.
            units = list(
                read_units(
                    tx,
                    referred_by=period.end,
                    known=self.known_units,
                    ended_last_from=tables.ended_last_from(self.policy, period),
                )
            )
            regions, sectors = regions_and_sectors(tx, period.end)
        digests = self.digests
        if digests is None or not digests.holds_for(self.policy, kinds):
            digests = self.digests = tables.Digests(self.policy, kinds)
        population = tables.merge_rare(
            tables.population(
                units,
                period,
                policy=self.policy,
                kinds=kinds,
                digests=digests,
                regions=regions,
                sectors=sectors,
            ),
            self.k,
        )
        # As arrays from here on: its sums, the audit's model and the stored form are worked
        # out on them, not on a dict per unit.
        packed = PackedContributions.of(population.contributions)
        return dataclasses.replace(population, contributions=packed), position

    def compute(
        self,
        period: Period,
        counted: tuple[Population, int] | None = None,
        earlier: Sequence[PublishedVersion] | None = None,
        latest: ReleaseDescription | None = None,
    ) -> tuple[Population, Protected, int, list[int], bool]:
        """The period's population, disclosure control over it and every earlier version of an
        period of the same year, the log position it reflects, the earlier releases audited, and
        whether the audit held the laws: where ``laws`` says so, or where an earlier release of
        the year did (once a year's releases hold them, turning the setting off does not let a
        later one publish what they would narrow). ``counted`` and ``earlier``: the population
        and the earlier versions, where the caller read them already; ``latest``: the release
        of the period this one revises, whose regions it may hold back (``release``), none
        without it. The population returned leaves the regions held back out."""
        # Imported here: it loads HiGHS, SciPy and numpy (36 MiB with the packing's numpy),
        # which a process that only reads releases (the API) never needs (issue #22).
        from projections.statistics import disclosure

        population, position = self.population(period) if counted is None else counted
        if earlier is None:
            earlier = self.store.published_versions(period.audited_with())
        laws = self._laws_held(earlier)
        started = time.monotonic()
        hold_back, not_held = self._may_hold_back(period, latest, earlier, laws)
        with _refused_on_failure(period, "; the earlier releases stand", not_held):
            protected = disclosure.protect(
                population,
                self.k,
                earlier,
                laws=laws,
                progress=_progress(period, "protect"),
                processes=self.audit_processes,
                hold_back=hold_back,
            )
        protected_at = time.monotonic()
        # The whole population and every earlier version, held regions too: they are
        # published as the release revised did (``release``), so their cells are no rows of
        # this release, and the earlier versions' cells of theirs are audited again as they
        # were then; a unit tying them to a region revised would be in its programme.
        self._check(period, population, protected, earlier, laws)
        log.info(
            "statistics audited",
            period=str(period),
            rule_set=self.rule_set(laws),
            earlier_versions=len(earlier),
            regions_said_again=len(protected.carried),
            regions_held_back=len(protected.held),
            withheld_counts=len(protected.audit),
            # Cut to what earlier releases made without the laws leave (``settle``).
            narrowed_before=_narrowed_before(protected),
            protect_seconds=round(protected_at - started, 2),
            check_seconds=round(time.monotonic() - protected_at, 2),
        )
        # Relative risks come from published counts only: nothing the audit must see.
        protected = Protected(
            (*protected.cells, *dynamics.relative_risks(protected.cells, self.k)),
            protected.audit,
            carried=protected.carried,
            held=protected.held,
        )
        if not protected.passed:
            raise ReleaseRefused(
                f"{period} was not released: the disclosure audit found a withheld number that "
                "the published ones narrow below its protection interval. Nothing was published"
            )
        # (What the release stores of its own: the held regions' are the revised release's.)
        population = population.outside(protected.held)
        return population, protected, position, [v.number for v in earlier], laws

    def _may_hold_back(
        self,
        period: Period,
        latest: ReleaseDescription | None,
        earlier: Sequence[PublishedVersion],
        laws: bool,
    ) -> tuple[frozenset[str], str]:
        """The regions a revision of ``latest`` may hold at its figures
        (``disclosure.protect``'s ``hold_back``): those it published under this revision's k,
        rule set and deadline policy, with its tables' tallies per region; none without
        ``latest`` (a first release). And, for a refusal's message, why the others may not."""
        if latest is None:
            return frozenset(), ""
        version = max(
            (v for v in earlier if v.period == period), key=lambda v: v.number, default=None
        )
        why = ""
        if version is None or version.withheld is None or version.quartiles is None:
            why = f"release {latest.number} keeps no record of what it withheld"
        elif latest.k != self.k:
            why = f"release {latest.number} was made under k={latest.k}, this one k={self.k}"
        elif latest.rule_set != self.rule_set(laws):
            why = f"release {latest.number} was made under rule set {latest.rule_set}"
        elif any(table.withheld_by_rule_in is None for table in latest.tables):
            # (Its tables' tallies per region: a held region's cells count under their rules.)
            why = f"release {latest.number} was saved before regions could be held back"
        if why:
            return frozenset(), f" (no region could be held back at its figures: {why})"
        now = policy_fingerprints(self.policy, latest.regions)
        same = frozenset(r for r in latest.regions if latest.deadline_policies.get(r) == now[r])
        changed = sorted(set(latest.regions) - same)
        return same, (
            f" (a region could be held back at release {latest.number}'s figures only where "
            "every region its trajectories tie it to was in that release under the same "
            f"deadline policy{'; changed in ' + ', '.join(changed) if changed else ''})"
        )

    def _check(
        self,
        period: Period,
        population: Population,
        protected: Protected,
        earlier: Sequence[PublishedVersion],
        laws: bool,
    ) -> None:
        """Audit what ``protect`` chose to publish once more, on a model built afresh (none of
        the incremental state that chose it), and refuse the release if a withheld count of it
        or of an earlier version can be narrowed below its interval."""
        from projections.statistics import disclosure  # see ``compute``

        counts = [cell for cell in protected.cells if cell.kind == "count"]
        published = {c.key: int(c.value) for c in counts if c.value is not None}
        withheld = [c.key for c in counts if c.value is None]
        primary = set(disclosure.primary_suppression(population, self.k))
        allowed = {
            (c.key, c.quantile, c.value)
            for cell in population.quantiles.values()
            for c in disclosure.released_quantiles(cell, self.k)
        }
        quartiles = [c for c in protected.cells if c.kind == "quantile" and c.value is not None]
        unruly = {c.key for c in quartiles if (c.key, c.quantile, c.value) not in allowed}
        for unwithheld, what in (
            (
                sorted(primary & published.keys()),
                "count(s) published that the primary rules withhold",
            ),
            (sorted(unruly), "quartile(s) published that the quartile rules withhold"),
        ):
            if unwithheld:
                raise ReleaseRefused(
                    f"{period} was not released: the audit before publishing found "
                    f"{len(unwithheld)} {what} (first: {unwithheld[0].text()}). Nothing was "
                    "published; this is a fault of disclosure control, please report it"
                )
        with _refused_on_failure(period):
            findings = disclosure.audit(
                population,
                published,
                withheld,
                self.k,
                earlier,
                exact=False,
                floors=size_floors(quartiles, self.k),
                laws=laws,
                progress=_progress(period, "check"),
                processes=self.audit_processes,
                # (Verified on the check's own model before any is believed.)
                solutions=protected.solutions,
            )
        narrowed = [finding for finding in findings if not finding.protected]
        if narrowed:
            raise ReleaseRefused(
                f"{period} was not released: the audit before publishing found "
                f"{len(narrowed)} withheld number(s) the published ones narrow below their "
                f"protection interval (first: {narrowed[0].key.text()}). Nothing was published; "
                "this is a fault of disclosure control, please report it"
            )

    def release(self, period: Period) -> ReleaseDescription:
        """Compute and save a release of ``period`` (a revision if it was released before);
        ``NothingChanged`` when it would say what its latest release says. Computed again when
        another process (the scheduler, another command) saved a release meanwhile."""
        now = self.clock()
        self.check_on_grid(period)
        self.check_publishable(period, now.astimezone(UTC).date())
        for _ in range(3):
            latest = next(iter(self.store.releases(period)), None)
            if latest is not None and self._unchanged_since(period, latest):
                raise NothingChanged(latest)
            counted = self.population(period)
            earlier = self.store.published_versions(period.audited_with())
            newest = max((v.number for v in earlier if v.period == period), default=None)
            if newest != (latest.number if latest is not None else None):
                continue  # (saved meanwhile by another process: read again)
            if latest is not None and self._counts_as_before(latest, counted[0], earlier):
                raise NothingChanged(latest)
            # A revision's figures (``release_inputs``), known to say nothing new or kept with
            # it; a first release's are not worked out: it holds no region back, so a revision
            # of it unchanged is known by ``_counts_as_before``.
            figures = None
            if latest is not None:
                figures = (counted[0].digest(), self._rules(counted[0], earlier))
                self._said_before(latest, release_inputs(*figures, (v.number for v in earlier)))
            population, protected, position, audited, laws = self.compute(
                period, counted, earlier, latest
            )
            if not any(population.contributions.values()) and not protected.held:
                raise EmptyPeriod(f"{period} holds no trajectory: there is nothing to release")
            contributions = _by_region(population.contributions)
            held: dict[tuple[str, str], list[CellRow]] = {}
            if protected.held:
                if latest is None:  # (``compute`` holds a region back only in a revision)
                    raise AssertionError("a region held back in a first release")
                held, contributions = self._as_revised(
                    period, latest, sorted(protected.held), contributions
                )
            summaries, rows = _summaries(
                population, protected, held, {t.name: t for t in latest.tables} if latest else None
            )
            if latest is not None and self._same_cells(latest, rows, self.rule_set(laws)):
                why = next(iter(protected.held.values()), "")
                if not why.endswith(DIFFERENCE_BELOW_K):  # (``disclosure.differing``'s own)
                    why += ", and no withheld cell may be narrowed past its interval"
                unchanged = NothingChanged(
                    latest,
                    f"release {latest.number} of {period} already says all a revision may: "
                    f"{', '.join(sorted(protected.held))} would be held back at its figures "
                    f"({why}), and no other region's figures changed"
                    if protected.held
                    else None,
                )
                if figures is not None:  # (not computed again from them: ``_said_before``)
                    self._remember(latest, release_inputs(*figures, audited), str(unchanged))
                raise unchanged
            regions = sorted({region for _, region in rows})
            description = ReleaseDescription(
                number=self.store.next_number(),
                period=str(period),
                revises=latest.number if latest is not None else None,
                computed_at=now,
                log_position=position,
                rule_set=self.rule_set(laws),
                k=self.k,
                deployment=self.deployment,
                deadline_policies=policy_fingerprints(self.policy, regions),
                regions=regions,
                tables=summaries,
                audit=AuditSummary(
                    # A withheld dynamics cell is not counted here either (``dynamics.hidden``).
                    withheld_counts_audited=sum(
                        1 for f in protected.audit if f.key.table != dynamics.DYNAMICS
                    ),
                    earlier_versions=audited,
                    narrowest_margin=_narrowest(protected),
                    narrowed_before=_narrowed_before(protected),
                    said_again=list(protected.carried) if latest is not None else None,
                    held_back=sorted(protected.held) if latest is not None else None,
                ),
            )
            try:
                saved = self.store.save(
                    description,
                    rows,
                    contributions,
                    audited_with=[str(p) for p in period.audited_with()],
                    never_beside=[str(p) for p in period.overlapping()],
                    # What a revision computed from the same figures would read: this
                    # release is then one of its earlier versions.
                    inputs=None
                    if figures is None
                    else release_inputs(*figures, [*audited, description.number]),
                )
            except ReleaseConflict:
                # Saved meanwhile by another process: perhaps a release of the other grid.
                self.check_on_grid(period)
                continue
            log.info(
                "statistics released",
                number=saved.number,
                period=saved.period,
                revises=saved.revises,
                log_position=position,
                held_back=sorted(protected.held),
            )
            for region, why in protected.held.items():
                log.warning(
                    "statistics region held back",
                    period=saved.period,
                    number=saved.number,
                    region=region,
                    reason=why,
                )
            metrics().releases.inc()
            return saved
        raise ReleaseRefused("other processes kept saving releases meanwhile; try again")

    def _as_revised(
        self,
        period: Period,
        latest: ReleaseDescription,
        regions: Sequence[str],
        contributions: Mapping[str, PackedContributions],
    ) -> tuple[dict[tuple[str, str], list[CellRow]], dict[str, PackedContributions]]:
        """The cells of the ``regions`` held back as ``latest`` published them, and every
        region's units to store: ``contributions`` (the regions revised) and ``latest``'s for
        those held, so that what a later revision is audited against is what was published.
        Units counting in nothing (every amount zero) tie no region and are left out, so that
        one of them cannot stand for a unit of the other side."""
        held = {
            (table.name, region): cells
            for table in latest.tables
            for region, cells in self.store.cells(latest.number, table.name, regions).items()
        }
        kept = {region: units.counting() for region, units in contributions.items()}
        stored = self.store.contributions(latest.number, regions)
        units_held = {unit for units in stored.values() for unit in units.counting().units}
        if any(not units_held.isdisjoint(units.units) for units in kept.values()):
            # (The audit's parts keep them apart; stored together, one would be lost.)
            raise ReleaseRefused(
                f"{period} was not revised: a trajectory of a region held back counts in a "
                "region revised. Nothing was published; please report it"
            )
        return held, {**kept, **{region: units.counting() for region, units in stored.items()}}

    def _rules(self, population: Population, earlier: Sequence[PublishedVersion]) -> str:
        """What a release of ``population`` is computed under besides its inputs: k, the rule
        set (the laws as ``compute`` decides them) and the deadline policy of each region."""
        regions = sorted({key.region for key in population.counts})
        return _ENCODE(
            [
                self.k,
                self.rule_set(self._laws_held(earlier)),
                policy_fingerprints(self.policy, regions),
            ]
        ).decode()

    def _said_before(self, latest: ReleaseDescription, inputs: str) -> None:
        """``NothingChanged`` where ``latest`` is known to be what the ``inputs``
        (``release_inputs``) give: it was made from them, or a computation from them found
        nothing new to say (``release``). Most of all for a revision holding regions back,
        whose stored units for them are an earlier release's, so that ``_counts_as_before``
        never finds them unchanged: without this, every fact recorded since, anywhere, cost a
        whole computation before it was known to say nothing new."""
        said = self.store.known_inputs(latest.number, inputs)
        if said is None:
            return
        held = latest.audit.held_back
        raise NothingChanged(
            latest,
            said
            or (
                f"release {latest.number} of {latest.period} already says all there is to say: "
                "it was made from the same figures a release would be computed from now"
                + (
                    f" ({', '.join(held)} held back at release {latest.revises}'s figures)"
                    if held
                    else ""
                )
            ),
        )

    def _remember(self, latest: ReleaseDescription, inputs: str, said: str) -> None:
        """Keep that ``inputs`` say nothing new over ``latest``; where that cannot be written,
        the next run computes them again (the command still says what it found)."""
        try:
            self.store.remember_inputs(latest.number, inputs, said)
        except UNAVAILABLE as e:  # (after minutes of computing: say so, and go on)
            log.warning(
                "statistics inputs not remembered", number=latest.number, error=type(e).__name__
            )

    def _unchanged_since(self, period: Period, latest: ReleaseDescription) -> bool:
        """Whether nothing a release of ``latest``'s period reads has moved since it was
        computed: the statistics read model at the same log position, and the same rule set,
        k and deadline policies. Then it would say what ``latest`` says, and is not computed
        again: computed, its audit would also hold ``latest`` itself as an earlier version of
        its cells, and could refuse where every number is the same (found by an outside walk:
        a second ``statistics release`` of a period, with nothing recorded since, refused).
        (A read model rebuilt at the same position by a version of Rode Draad that counts
        otherwise is not told apart here: its next release comes with the next fact. The
        organisation register's kinds come with events too, which move the position.)"""
        with self.read_models.transaction() as tx:
            tracked = read_tracking(tx, StatisticsProjection.name)
        if tracked is None or tracked != (
            latest.log_position,
            StatisticsProjection(self.policy).version,
        ):
            return False
        # (The earlier versions are read only once all else holds.)
        return self._same_rules(
            latest, lambda: self.store.published_versions(period.audited_with())
        )

    def _same_rules(
        self, latest: ReleaseDescription, earlier: Callable[[], Sequence[PublishedVersion]]
    ) -> bool:
        """Whether a release now is made under ``latest``'s rules: its k, deadline policies
        and rule set (the laws as ``compute`` decides them, from the ``earlier`` versions)."""
        if latest.k != self.k or latest.deadline_policies != policy_fingerprints(
            self.policy, latest.regions
        ):
            return False
        return latest.rule_set == self.rule_set(self._laws_held(earlier()))

    def _laws_held(self, earlier: Sequence[PublishedVersion]) -> bool:
        return self.laws or any(version.laws for version in earlier)

    def _counts_as_before(
        self,
        latest: ReleaseDescription,
        population: Population,
        earlier: Sequence[PublishedVersion],
    ) -> bool:
        """Whether ``population`` is what ``latest`` was computed from, as far as a release
        says: every unit counting in the same cells by the same amounts, the tables of the same
        shape and every quartile ``latest`` published rounding to what it said, under the same
        rules. Facts recorded since, outside the period (another year's, a client registered),
        then change no published number, and the period is not computed again: computed, its
        audit holds ``latest`` as an earlier version of every cell, and a model of two
        versions can narrow a cell that the model of one held open (found by an outside walk:
        a revision of an unchanged year refused; README, "Statistics for learning
        networks"). A quartile ``latest`` withheld is not compared (the store keeps no value of
        it), so a late duration that would let one through waits for the next fact that
        changes a count."""
        from projections.statistics.disclosure import (  # (see ``compute``)
            released_quantiles,
            shows_the_cells_of,
        )

        version = max(
            (v for v in earlier if str(v.period) == latest.period),
            key=lambda v: v.number,
            default=None,
        )
        # (``release`` reads again where one was saved since ``latest`` was read.)
        if version is None or not self._same_rules(latest, lambda: earlier):
            return False
        before = PackedContributions.of(version.contributions)
        if not PackedContributions.of(population.contributions).says_the_same_as(before):
            return False
        if version.withheld is None or version.quartiles is None:
            return False
        # The same tables. Its quartiles' cells follow from the units' contributions (their
        # sizes are in them), as the rates from the counts.
        if not shows_the_cells_of(version, population.counts):
            return False
        quartiles = {
            (cell.key, cell.quantile): cell.value
            for key in population.quantiles
            for cell in released_quantiles(population.quantiles[key], self.k)
        }
        return all(quartiles.get(at) == value for at, value in version.quartiles.items())

    def _same_cells(
        self,
        latest: ReleaseDescription,
        rows: Mapping[tuple[str, str], list[CellRow]],
        rule_set: str,
    ) -> bool:
        if latest.rule_set != rule_set or latest.k != self.k:
            return False
        stored = {
            (table.name, region): cells
            for table in latest.tables
            for region, cells in self.store.cells(latest.number, table.name).items()
        }
        return stored == rows

    def due(self, today: date) -> list[Period]:
        """Periods of the grid past their lag that have no release yet (from the year of the
        earliest referral on), but for those overlapping a release of the other grid (made
        under another setting: ``check_on_grid``)."""
        with self.read_models.transaction() as tx:
            since = earliest_referral(tx)
        if since is None:
            return []
        released = {r.period for r in self.store.releases()}
        due = []
        for p in periods_ended_by(today, self.lag_days, since, self.grid):
            if str(p) in released:
                continue
            overlapping = _released_overlapping(p, released)
            if overlapping:
                # Never released, and said on every run: an operator decides what to do.
                log.warning(
                    "statistics period not released: it overlaps releases of the other grid",
                    period=str(p),
                    overlapping=overlapping,
                    grid=self.grid,
                )
                continue
            due.append(p)
        return due

    def run_due(self, now: datetime | None = None) -> list[ReleaseDescription]:
        """The scheduler's job: release every period that became due by ``now``. A refused
        period is logged (an operator looks at it) and the others go on."""
        made = []
        try:
            for period in self.due((now or self.clock()).astimezone(UTC).date()):
                try:
                    made.append(self.release(period))
                except (NothingChanged, EmptyPeriod):
                    continue
                except ReleaseRefused as refused:
                    log.warning(
                        "statistics release refused", period=str(period), reason=str(refused)
                    )
        finally:
            self.forget_units()
        return made

    def forget_units(self) -> None:
        """Let go of the units and digests kept since the last call: the scheduler's process
        lives for months and a new period falls due a few times a year, so between its runs
        they would hold memory (every unit of the store) for nothing."""
        self.known_units = KnownUnits()
        self.digests = None
