"""The command line of macro releases: ``keys public`` and ``statistics merge``."""

from pathlib import Path

import pytest

from application.signing import PublicKey, SigningKey
from projections.statistics.document import (
    ReleaseDocument,
    decode_signed,
    encode_signed,
    sign_release,
    verify_release,
)
from rodedraad.cli import main
from tests.unit.statistics_documents import referrals, release


@pytest.fixture
def embedded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RODEDRAAD_DATA_DIR", str(tmp_path / "forum"))
    monkeypatch.setenv("RODEDRAAD_DEPLOYMENT_NAME", "flanders-forum")
    return tmp_path


def _exported(directory: Path, name: str, document: ReleaseDocument) -> tuple[Path, Path]:
    """A deployment's exported release file and its public key file."""
    key = SigningKey.generate()
    release_file, key_file = directory / f"{name}.json", directory / f"{name}.pem"
    release_file.write_bytes(encode_signed(sign_release(document, key)))
    key_file.write_text(key.public_key_pem())
    return release_file, key_file


def test_keys_public_prints_the_key_that_verifies_the_deployments_signatures(
    embedded: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["keys", "public"]) == 0
    printed = PublicKey.from_pem(capsys.readouterr().out)
    key_file = embedded / "forum" / "signing-key.pem"
    assert SigningKey.from_pem(key_file.read_bytes()).key_id == printed.key_id


def test_a_postgresql_deployment_makes_its_signing_key_only_when_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RODEDRAAD_DATABASE_URL", "postgresql://postgres@127.0.0.1/none")
    monkeypatch.setenv("RODEDRAAD_SIGNING_KEY_FILE", str(tmp_path / "signing-key.pem"))
    assert main(["keys", "public"]) == 2
    assert "--create" in capsys.readouterr().err
    assert main(["keys", "public", "--create"]) == 0


def test_merge_writes_a_macro_release_signed_by_this_deployment(
    embedded: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    west, west_key = _exported(
        embedded, "west", release("west", {"west-1": referrals("west-1", total=40, youth=15)})
    )
    east, east_key = _exported(
        embedded,
        "east",
        release("east", {"east-1": referrals("east-1", total=30, youth=20)}, number=3, k=15),
    )
    output = embedded / "macro.json"
    arguments = ["--trust", str(west_key), "--trust", str(east_key), "--number", "2"]
    exit_code = main(
        ["statistics", "merge", *arguments, "--output", str(output), str(west), str(east)]
    )
    assert exit_code == 0
    assert main(["keys", "public"]) == 0
    ours = PublicKey.from_pem(capsys.readouterr().out)
    macro = verify_release(decode_signed(output.read_bytes()), [ours])
    assert (macro.deployment, macro.number, macro.k) == ("flanders-forum", 2, 15)
    assert macro.merged_from == ["east#3", "west#1"]


def test_merge_refuses_a_release_signed_by_a_key_it_was_not_told_to_trust(
    embedded: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    west, west_key = _exported(
        embedded, "west", release("west", {"west-1": referrals("west-1", total=40)})
    )
    east, east_key = _exported(
        embedded, "east", release("east", {"east-1": referrals("east-1", total=30)})
    )
    stranger, _ = _exported(
        embedded, "stranger", release("south", {"south-1": referrals("south-1", total=50)})
    )
    output = embedded / "macro.json"
    exit_code = main(
        [
            "statistics",
            "merge",
            *("--trust", str(west_key), "--trust", str(east_key)),
            *("--output", str(output)),
            *(str(west), str(east), str(stranger)),
        ]
    )
    assert exit_code != 0
    assert str(stranger) in capsys.readouterr().err
    assert not output.exists()


@pytest.mark.parametrize("number", ["0", "-5", "99999999999999999999", "one"])
def test_a_macro_release_is_numbered_as_the_api_reads_releases(
    embedded: Path, number: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Found by an outside probe: numbers 0, -5 and 10^20 were signed, though no route reads
    them (1 to 2147483647)."""
    west, west_key = _exported(
        embedded, "west", release("west", {"west-1": referrals("west-1", total=40)})
    )
    output = embedded / "macro.json"
    with pytest.raises(SystemExit) as refused:
        main(
            [
                "statistics",
                "merge",
                *("--trust", str(west_key), "--number", number, "--output", str(output)),
                str(west),
            ]
        )
    assert refused.value.code == 2
    assert "--number" in capsys.readouterr().err
    assert not output.exists()
