"""Composition root: settings, wiring and the command line. Builds everything; holds no rules."""
