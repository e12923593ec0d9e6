"""Use cases: load aggregates, run one command, save. The write side is synchronous."""
