"""Refusals an operator acts on: a process that cannot start or a command that cannot do what
was asked, with a message saying why and what to do (the command line prints it and exits 2).

One light base class, so that the command line catches them all without importing the
machinery behind each (the key store, the migrations, the simulation copies).
"""


class OperatorError(Exception):
    """The message names the file, store or migration at fault and what to do about it."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
