"""Observers that draw a run with the Rerun SDK (an optional extra). ``viz_adapter``
is the only module that imports it; ``scene`` reads viz_resources.yaml."""
