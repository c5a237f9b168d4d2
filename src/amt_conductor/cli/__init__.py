"""The `amt` command-line interface."""
