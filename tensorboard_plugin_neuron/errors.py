"""Error types for problems caused by user input; the CLI prints them as one line, without a traceback."""
from __future__ import annotations

import re


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


_SURROGATES = re.compile("[\ud800-\udfff]")
_ESCAPES = {0x2028: "\\u2028", 0x2029: "\\u2029"}


def one_line(text: str, limit: int = MAX_ERROR_CHARS, escape: bool = False) -> str:
    """`text` on one line, cut to `limit` characters: reasons quoted from untrusted files (names, parser
    messages) must not break the one-line contract. Control characters become spaces and runs of spaces one
    (`escape=False`), or are shown escaped, e.g. '\\n', keeping the text otherwise as it is (`escape=True`, for
    messages that quote a file's bytes). Lone surrogates become U+FFFD either way."""
    text = _SURROGATES.sub("\ufffd", text[:4 * limit])
    if escape:
        flat = "".join(c if c.isprintable() or c == " " else _ESCAPES.get(ord(c)) or c.encode("unicode_escape").decode("ascii")
                       for c in text)
    else:
        flat = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return flat if len(flat) <= limit else flat[:limit - 3] + "..."
