"""The pepper of the identity links' keyed hash (issue #19): a private file, made once."""

import stat
from pathlib import Path

from application.identities import IdentityPepper


def test_the_pepper_is_made_on_first_need_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "identity-pepper"
    first = IdentityPepper.from_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert IdentityPepper.from_file(path) == first  # every process reads the same pepper
    assert list(path.parent.iterdir()) == [path]  # no temporary file left behind


def test_a_subject_keys_the_same_under_one_pepper_and_differently_under_another(
    tmp_path: Path,
) -> None:
    one = IdentityPepper.from_file(tmp_path / "one")
    other = IdentityPepper.from_file(tmp_path / "other")
    assert one.keyed("idp|sam") == one.keyed("idp|sam")
    assert one.keyed("idp|sam") != one.keyed("idp|sem")
    assert one.keyed("idp|sam") != other.keyed("idp|sam")
    assert "idp|sam" not in one.keyed("idp|sam")
