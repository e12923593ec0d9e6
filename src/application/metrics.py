"""What an operator watches, in the Prometheus format (issue #20 point 2).

One set of collectors per process, in a registry of its own (not the client library's global
one, so that nothing a library registers by itself is exposed); each process kind fills what it
does (the API its requests and commands, the worker the projections, the scheduler its runs) and
exposes it on its own listener (``RODEDRAAD_METRICS_ADDRESS``, ``rodedraad.wiring``).

Labels are bounded and never personal: route *templates*, statuses, command actions, rule
names, projection names, roles. Never an id, an organisation or a region: a label value is
kept by every scrape, for as long as the monitoring keeps its data, out of reach of an erasure.
"""

from threading import Lock

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

#: Request latency buckets (seconds): commands take milliseconds, exports and audits seconds.
_LATENCY = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "rodedraad_http_requests",
            "HTTP requests answered, by route template and status",
            ["method", "route", "status"],
            registry=r,
        )
        self.request_seconds = Histogram(
            "rodedraad_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template and status",
            ["method", "route", "status"],
            buckets=_LATENCY,
            registry=r,
        )
        self.commands = Counter(
            "rodedraad_commands",
            "Commands by action and outcome (recorded, replayed, refused); a refusal names "
            "the rule that refused it",
            ["action", "outcome", "rule"],
            registry=r,
        )
        self.projection_position = Gauge(
            "rodedraad_projection_position",
            "The log position a projection has processed up to",
            ["projection"],
            registry=r,
        )
        self.projection_lag = Gauge(
            "rodedraad_projection_lag_events",
            "Events recorded that a projection has not processed yet",
            ["projection"],
            registry=r,
        )
        #: Label-free: one standby per API process (``RODEDRAAD_READ_DATABASE_URL``); its value is
        #: asked of both databases at each scrape (``rodedraad.wiring``), NaN when unreachable.
        self.standby_lag = Gauge(
            "rodedraad_standby_lag_events",
            "How many log positions the read replica's read models are behind the primary's "
            "(the largest over the projections); NaN when either cannot be reached",
            registry=r,
        )
        self.scheduler_runs = Counter(
            "rodedraad_scheduler_runs",
            "Scheduler runs: completed, skipped while another run held the lock, or not run "
            "because the database could not be reached for the lock",
            ["outcome"],
            registry=r,
        )
        self.scheduler_facts = Counter(
            "rodedraad_scheduler_facts_recorded",
            "Facts the scheduler recorded: deadline reminders, misses, late meetings; cadence; "
            "persons' requests",
            ["kind"],
            registry=r,
        )
        self.releases = Counter(
            "rodedraad_statistics_releases",
            "Statistics releases saved (first releases and revisions)",
            registry=r,
        )
        self.personal_data_reads = Counter(
            "rodedraad_personal_data_reads",
            "Reads of personal data entered in the read log, by the reader's role",
            ["role"],
            registry=r,
        )
        self.erasures = Counter(
            "rodedraad_erasures", "Clients whose personal data was erased", registry=r
        )
        #: Issue #22: commands run again because the cached record was stale (another process
        #: had moved it on): a steady rate says the processes share records' writes a lot.
        self.stale_cache_retries = Counter(
            "rodedraad_stale_cache_retries",
            "Commands run again on the record as it is after a stale cached copy",
            registry=r,
        )


_lock = Lock()
_metrics: list[Metrics] = []


def metrics() -> Metrics:
    """This process's collectors, made on first use (never at import)."""
    with _lock:
        if not _metrics:
            _metrics.append(Metrics())
        return _metrics[0]
