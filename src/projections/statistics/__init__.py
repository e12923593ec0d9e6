"""Statistics for learning networks: read models, disclosure control and releases (issue #12)."""
