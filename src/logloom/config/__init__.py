"""Stage 0, the rules: the four YAML files read with line numbers, checked against a
typed schema (``schema``), then checked together (``load``), every problem reported at
once. Imports only ``errors``, ``records`` and ``logtime`` (to compile the timestamp
format the parser will use)."""
