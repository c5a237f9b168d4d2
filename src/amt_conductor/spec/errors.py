"""Errors meant for people: each names the file and the field path."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    """One problem at one place in a spec; `path` is dotted (`ranges.eta.min`), or '' for the file."""

    path: str
    message: str

    def format(self, source: str) -> str:
        path = _printable(self.path)
        where = f"{source}: {path}" if path else source
        return f"{where}: {_printable(self.message)}"


def _printable(text: str) -> str:
    # Paths hold the user's keys: a key with a line break must not split an error over two lines.
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class SpecError(Exception):
    """A spec that cannot be used, with every problem found in it."""

    def __init__(self, source: str, errors: list[FieldError]) -> None:
        self.source = source
        self.errors = errors
        super().__init__("\n".join(self.lines()))

    def lines(self) -> list[str]:
        """One line per problem: `FILE: field.path: message`."""
        return [e.format(self.source) for e in self.errors]
