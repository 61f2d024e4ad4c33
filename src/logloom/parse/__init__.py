"""Stage 1, lines to events: reading sources (``source``: files, rotation, identity),
matching lines against the patterns (``log_parser``) and the parse worker process."""
