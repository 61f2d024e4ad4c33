"""Stage 4, the files logloom writes: CSV sinks and the state store (atomic writes,
checkpoints, the data directory's lock). Takes plain data; imports only ``errors``
and ``records``."""
