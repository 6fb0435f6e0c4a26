"""Error types for problems caused by user input; the CLI prints them as one line, without a traceback."""
from __future__ import annotations


class UserError(Exception):
    """A problem with what the user gave us (a file, a model, an option), explained in one line."""


class ModelError(UserError):
    """A model file or graph that cannot be read, resolved or executed."""


class ArtifactError(UserError):
    """A compiled artifact that is missing, corrupt, truncated or of an unsupported version."""


class TraceError(UserError):
    """A trace file that is missing, corrupt, truncated, empty or of an unsupported version."""


class InternalError(UserError):
    """A bug of ours met while handling user input (e.g. an import that failed other than by its checks),
    reported as one line that says it is a bug and where it happened; the traceback is kept as the
    exception's cause. A UserError so that the CLI prints one line, never a problem with the input."""


MAX_ERROR_CHARS = 300   # of a reason quoted in a one-line error


def one_line(text: str, limit: int = MAX_ERROR_CHARS) -> str:
    """`text` on one line (control characters as spaces, runs of spaces as one), cut to `limit` characters:
    reasons quoted from untrusted files (names, parser messages) must not break the one-line contract."""
    flat = " ".join("".join(c if c.isprintable() else " " for c in text[:4 * limit]).split())
    return flat if len(flat) <= limit else flat[:limit - 3] + "..."
