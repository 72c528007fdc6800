"""The `corral` command line: a kubectl for corral."""
