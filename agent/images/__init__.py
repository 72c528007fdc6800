"""agent/images."""
