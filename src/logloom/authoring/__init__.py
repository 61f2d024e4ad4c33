"""Tools for writing a plant's rules: ``logloom test`` and ``logloom coverage``.

They run the pipeline's own stages (the parser, the engine, the row formatter) on a
few lines or a whole log, and report what the rules made of them instead of writing
outputs: ``trace`` steps the engine and says what each event did, ``rule_tests`` reads
and runs the test files of a config directory (``tests/*.yaml``), ``coverage`` counts
what a log exercises, and ``templates`` groups the lines no pattern matches (with
drain3, imported only there). Nothing here is on monitor's path.
"""
