"""What a person reads after a run: the console summary (``summary``) and the
self-contained HTML report (``report``, with its data in ``data``)."""
