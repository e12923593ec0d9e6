"""``rodedraad migrate`` says what each migration does: no two say the same (an outside walk
found three migrations sharing one function each saying the first one's words, and one saying
only "PostgreSQL")."""

from collections import Counter

from application.migrations import MIGRATIONS


def test_every_migration_says_what_it_does_and_no_two_say_the_same() -> None:
    said = Counter(m.why for m in MIGRATIONS)
    assert [why for why, times in said.items() if times > 1] == []
    assert all(len(m.why.split()) >= 3 for m in MIGRATIONS), [m.why for m in MIGRATIONS]
