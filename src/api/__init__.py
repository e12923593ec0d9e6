"""HTTP: translates requests to application calls and read-model queries, nothing more."""
