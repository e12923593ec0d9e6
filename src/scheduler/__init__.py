"""Deadlines from the care procedures (issue #5)."""
