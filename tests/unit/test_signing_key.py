"""The deployment's signing key: a file of its own, 0600, made on first need only when embedded."""

import stat
from pathlib import Path

import pytest

from application.signing import PublicKey, SigningKey, SigningKeyError, SigningKeyFile, verify
from rodedraad.settings import Settings


def test_a_signature_verifies_with_the_deployments_public_key() -> None:
    key = SigningKey.generate()
    assert verify(key.public_key_pem(), b"release 7", key.sign(b"release 7"))


def test_a_signature_does_not_cover_other_bytes() -> None:
    key = SigningKey.generate()
    assert not verify(key.public_key_pem(), b"release 8", key.sign(b"release 7"))


def test_another_deployments_key_does_not_verify_the_signature() -> None:
    ours, theirs = SigningKey.generate(), SigningKey.generate()
    assert not verify(theirs.public_key_pem(), b"release 7", ours.sign(b"release 7"))


def test_the_key_id_is_the_same_from_the_private_and_the_public_half() -> None:
    key = SigningKey.generate()
    assert PublicKey.from_pem(key.public_key_pem()).key_id == key.key_id
    assert len(key.key_id) == 16


def test_the_embedded_deployment_makes_its_key_on_first_need_readable_by_its_owner_only(
    tmp_path: Path,
) -> None:
    file = SigningKeyFile(tmp_path / "keys" / "signing-key.pem", create_on_first_need=True)
    made = file.load()
    assert stat.S_IMODE(file.path.stat().st_mode) == 0o600
    assert file.load().key_id == made.key_id


def test_a_production_deployment_never_makes_a_key_of_its_own_on_first_need(
    tmp_path: Path,
) -> None:
    file = SigningKeyFile(tmp_path / "signing-key.pem", create_on_first_need=False)
    with pytest.raises(SigningKeyError, match="keys public --create"):
        file.load()
    assert not file.exists()


def test_the_key_is_never_shown_by_its_repr() -> None:
    key = SigningKey.generate()
    assert "PRIVATE" not in repr(key)
    assert key.key_id in repr(key)


def test_a_key_file_that_is_not_ed25519_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "signing-key.pem"
    path.write_text("not a key")
    with pytest.raises(SigningKeyError, match=str(path)):
        SigningKeyFile(path, create_on_first_need=True).load()


def test_the_signing_key_defaults_to_a_file_under_the_data_directory() -> None:
    settings = Settings.from_env({"RODEDRAAD_DATA_DIR": "/srv/rd"})
    assert settings.signing.key_file == Path("/srv/rd/signing-key.pem")


def test_a_simulation_copy_never_signs_with_the_deployments_key(tmp_path: Path) -> None:
    copy = Settings.from_env({}).simulation_copy(tmp_path)
    assert copy.signing.key_file == tmp_path / "signing-key.pem"
