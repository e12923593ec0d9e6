"""The command line: a local token that the embedded service accepts."""

from pathlib import Path

import pytest

from api.auth import LocalTokens
from rodedraad.cli import main


def test_token_prints_a_bearer_token_the_embedded_service_accepts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RODEDRAAD_DATA_DIR", str(tmp_path))
    exit_code = main(
        [
            "token",
            "--user",
            "an",
            "--org",
            "kompas",
            "--role",
            "coordinator",
            "--role",
            "auditor",
            "--region",
            "west-flanders",
        ]
    )
    assert exit_code == 0
    token = capsys.readouterr().out.strip()
    principal = LocalTokens.from_file(tmp_path / "jwt-secret").verifier().verify(token)
    assert principal.roles == ("coordinator", "auditor")


def test_token_says_when_it_made_a_new_secret_and_not_when_it_used_the_servers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Run with another data directory than the server's, the command made a secret of its
    own and the server refused its tokens (401) without a word (a probe's finding)."""
    monkeypatch.setenv("RODEDRAAD_DATA_DIR", str(tmp_path))
    asked = ["token", "--user", "an", "--org", "kompas", "--role", "coordinator"]
    asked += ["--region", "west-flanders"]

    assert main(asked) == 0
    first = capsys.readouterr()
    assert main(asked) == 0
    second = capsys.readouterr()

    assert "new one was made" in first.err
    assert "RODEDRAAD_DATA_DIR" in first.err
    assert first.out.strip()
    assert second.err == ""
    assert second.out.strip()


def test_token_refuses_when_an_external_issuer_signs_tokens(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RODEDRAAD_JWT_ISSUER", "https://login.example.org/")
    monkeypatch.setenv("RODEDRAAD_JWT_JWKS_URL", "https://login.example.org/jwks")
    exit_code = main(["token", "--user", "an", "--org", "k", "--role", "c", "--region", "w"])
    assert exit_code == 2
    assert "external issuer" in capsys.readouterr().err


def test_a_bad_setting_stops_the_command_with_its_name(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RODEDRAAD_PORT", "eighty")
    assert main(["serve"]) == 2
    assert "RODEDRAAD_PORT" in capsys.readouterr().err


def test_a_persons_token_names_the_subject_and_one_role_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue #19: ``--org`` and ``--region`` are not asked for the client's role."""
    monkeypatch.setenv("RODEDRAAD_DATA_DIR", str(tmp_path))
    assert main(["token", "--role", "client", "--user", "idp|sam"]) == 0
    token = capsys.readouterr().out.strip()
    principal = LocalTokens.from_file(tmp_path / "jwt-secret").verifier().verify(token)
    assert (principal.user_id, principal.roles, principal.organisation) == (
        "idp|sam",
        ("client",),
        "",
    )


@pytest.mark.parametrize(
    "extra",
    [["--org", "kompas"], ["--region", "west-flanders"], ["--role", "coordinator"]],
    ids=["org", "region", "mixed-roles"],
)
def test_a_persons_token_with_an_organisations_claims_is_not_made(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
) -> None:
    monkeypatch.setenv("RODEDRAAD_DATA_DIR", str(tmp_path))
    assert main(["token", "--role", "client", "--user", "idp|sam", *extra]) == 2
    assert "no --org or --region" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "said"),
    [
        (["--role", "coordinater"], "no role coordinater: the roles are admin, auditor, client"),
        *(
            (["--role", "coordinator", "--hours", hours], f"--hours {said} is no validity")
            for hours, said in (
                ("0", "0"),
                ("-1", "-1"),
                ("1e-9", "1e-09"),
                ("nan", "nan"),
                ("inf", "inf"),
                ("1e9", "1e+09"),
            )
        ),
    ],
    ids=["unknown-role", "no-hours", "negative", "expired-when-issued", "nan", "inf", "too-far"],
)
def test_a_token_no_route_would_take_is_not_made(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    said: str,
) -> None:
    """Found by the outside walk of the commands: a token of an unknown role, or one expired
    already, was printed, and every request with it refused."""
    monkeypatch.setenv("RODEDRAAD_DATA_DIR", str(tmp_path))
    args = ["token", "--user", "an", "--org", "kompas", "--region", "west-flanders", *extra]
    assert main(args) == 2
    captured = capsys.readouterr()
    assert said in captured.err
    assert captured.out == ""
