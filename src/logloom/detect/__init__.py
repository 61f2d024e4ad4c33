"""Stage 3, rows to anomalies: baselines (``baseline``, ``statistics``), the scoring
rules (``scoring``, ``drift``, ``stuck``) and the hooks that feed them from a run
(``monitoring``)."""
