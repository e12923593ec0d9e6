"""The command A/B meters PostgreSQL by the backends of its own database (issue #22): a backend
is known by its process title, which names the database and the client's port."""

import pytest
from benchmarks.command_ab import backend_of


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        (
            "postgres: 15/main: postgres rd_cmdpath3_ab 127.0.0.1(49474) idle",
            ("rd_cmdpath3_ab", 49474),
        ),
        ("postgres: postgres rd_x 127.0.0.1(5) SELECT", ("rd_x", 5)),
        ("postgres: 15/main: checkpointer", None),
        ("postgres: 15/main: logical replication launcher", None),
        ("postgres: 15/main: postgres rd_x [local] idle", None),
        ("/usr/bin/python -m rodedraad.cli serve", None),
    ],
    ids=[
        "a cluster's backend",
        "without the cluster",
        "checkpointer",
        "launcher",
        "unix socket",
        "not postgres",
    ],
)
def test_a_backend_is_known_by_its_title(title: str, expected: tuple[str, int] | None) -> None:
    assert backend_of(title) == expected
