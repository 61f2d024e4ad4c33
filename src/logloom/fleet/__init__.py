"""Many sources at once: ``logloom fleet record|monitor FLEET.yaml`` on Dask distributed.

``spec`` reads and checks the fleet file; ``logs`` expands a source's glob into its
files in time order and remembers which are done; ``task`` is what a worker runs
for one source (``main.record`` or ``main.monitor`` with the source's own data
directory, lock and checkpoint); ``cluster`` is the only module importing Dask;
``runner`` submits the tasks, shows progress and writes the fleet summary;
``peers`` learns one baseline per machine type and compares machines to their peers.
The fleet sits above ``main``, which it calls per source.
"""
