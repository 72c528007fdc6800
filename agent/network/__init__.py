"""agent/network."""
