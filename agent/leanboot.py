"""Imported first by agent/__main__.py, for its side effect: prometheus_client is
registered without running its package __init__ (agent/leanstart.py), before
agent.metrics imports the registry and metric classes from their submodules."""

from agent import leanstart

leanstart.lean_prometheus_client()
