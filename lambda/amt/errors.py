"""Errors meant for people: each names the file and the field path."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    """One problem at one place in a spec; `path` is dotted (`ranges.eta.min`), or '' for the file."""

    path: str
    message: str

    def format(self, source: str) -> str:
        where = f"{source}: {self.path}" if self.path else source
        return f"{where}: {self.message}"


class SpecError(Exception):
    """A spec that cannot be used, with every problem found in it."""

    def __init__(self, source: str, errors: list[FieldError]) -> None:
        self.source = source
        self.errors = errors
        super().__init__("\n".join(self.lines()))

    def lines(self) -> list[str]:
        """One line per problem: `FILE: field.path: message`."""
        return [e.format(self.source) for e in self.errors]
