"""The API reads releases; it never computes one in a request. HiGHS, SciPy and numpy, which
disclosure control and the packed contributions need, were 36 MiB of the API's resident memory
(issue #22: the API's target is 150 MiB): they are loaded by the first release computed (or
contributions unpacked) in a process, not by starting one."""

import subprocess
import sys

SOLVERS = ("highspy", "scipy", "numpy")


def _loaded_after(statement: str) -> set[str]:
    found = subprocess.run(  # noqa: S603 - this interpreter, a statement of the test's own
        [
            sys.executable,
            "-c",
            f"import sys; {statement}; "
            "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return set(found.stdout.split())


def test_starting_the_api_and_its_wiring_loads_no_solver() -> None:
    loaded = _loaded_after("import api.app, rodedraad.wiring, projections.statistics.releases")

    assert "projections" in loaded  # the statement did import what it names
    assert not loaded & set(SOLVERS)
