"""Stage 2, events to rows: the component containers (``inventory``), the compiled
state machines (``machine``) and the engine's pure step (``engine``). No I/O, no clock,
and never a visualisation, report or integration library."""
