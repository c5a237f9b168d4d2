"""Thin Lambda entry points: parse the event, call `amt`, return."""
