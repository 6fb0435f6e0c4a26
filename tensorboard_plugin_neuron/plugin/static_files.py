"""The frontend's files (`index.js` and anything under `static/`), served only by names that are already
plain: segments of letters, digits, '.', '_' and '-', none empty, none starting with '.'. A NUL, a backslash,
'..', '//', an absolute path or a percent sign (a percent-encoded name arrives decoded once; what is left
encoded a second time) is a 400; a plain name that is not a file of the bundle is a 404."""
from __future__ import annotations

import json
import mimetypes
import os
import re

from tensorboard.backend import http_util
from werkzeug import wrappers

from tensorboard_plugin_neuron.plugin.params import MAX_NAME_CHARS, MAX_TEXT_CHARS, RequestError

STATIC_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "static")
ENTRY = "index.js"
_SEGMENT = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]*$")


def static_name(request_path: str) -> str:
    """The file a `/static/...` request names (relative, '/'-separated), or RequestError(400)."""
    tail = request_path.split("/static/", 1)[1] if "/static/" in request_path else ""
    if not tail or len(tail) > MAX_TEXT_CHARS:
        raise RequestError(400, "a static file name must be given, at most 4096 characters")
    segments = tail.split("/")
    if any(len(s) > MAX_NAME_CHARS or not _SEGMENT.match(s) for s in segments):
        raise RequestError(400, "a static file name is plain segments of letters, digits, '.', '_' and '-'")
    return "/".join(segments)


def serve_static(request: wrappers.Request, name: str) -> wrappers.Response:
    """The bundle file `name` (already checked by `static_name`, or the entry module), or a 404."""
    root = os.path.realpath(STATIC_DIR)
    path = os.path.realpath(os.path.join(root, *name.split("/")))
    if os.path.commonpath([root, path]) != root or not os.path.isfile(path):
        message = "the frontend is not built (pip install . builds it)" if name == ENTRY else "no such file"
        return json_error(request, 404, message)
    content_type = "text/javascript" if path.endswith(".js") else (
        mimetypes.guess_type(path)[0] or "application/octet-stream")
    with open(path, "rb") as handle:
        return http_util.Respond(request, handle.read(), content_type)


def json_error(request: wrappers.Request, status: int, message: str) -> wrappers.Response:
    return http_util.Respond(request, json.dumps({"error": message}), "application/json", code=status)
