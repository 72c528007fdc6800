"""agent/runtime."""
