"""What ``main`` wires around one pass: where a monitor run starts and how it is fed and stopped.

``resume``: the newest state (checkpoint or crash snapshot), checked against the
configs, and the source found again by identity, rotated predecessors first.
``feed``: the parsed blocks of one file (from the parse worker or parsed here under
the matching bound) and the stop signals that interrupt waiting for them.
"""
