"""The pod workers: desired pods (from the watch) against what runs on the node."""
