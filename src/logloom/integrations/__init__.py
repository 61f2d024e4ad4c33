"""Observers that feed a run to a plant's live systems: Prometheus and MQTT.

Each watches a run the way the viewer does (``records.Observer``); the pipeline's
stages never import them. Their libraries are optional extras, imported only in the
module that uses them (``prometheus.py``: prometheus-client, ``mqtt.py``: paho-mqtt);
``live_metrics.py``, ``mqtt_buffer.py`` (the publisher's buffer and CPU budget) and
``mqtt_messages.py`` (topics and JSON) need nothing extra; ``options.py`` holds
their command-line options and builds the observers the options ask for.
"""
