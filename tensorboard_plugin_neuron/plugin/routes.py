"""HTTP routes of the Neuron plugin (served under /data/plugin/neuron/): each handler parses the request,
asks the profile store (`plugin.store`) for the profile, calls one analysis function and answers JSON;
errors are JSON with a 4xx status and never affect other runs or profiles."""
from __future__ import annotations

import itertools
import json
import logging
import os
from typing import Any, Callable, Iterator

from tensorboard.backend import http_util
from werkzeug import wrappers

from tensorboard_plugin_neuron.analysis.compare import compare
from tensorboard_plugin_neuron.analysis.datapath import datapath
from tensorboard_plugin_neuron.analysis.graph_view import graph_view
from tensorboard_plugin_neuron.analysis.index import ProfileIndex
from tensorboard_plugin_neuron.analysis.memory import memory
from tensorboard_plugin_neuron.analysis.numerics import numerics_answer
from tensorboard_plugin_neuron.analysis.ops import OP_COLUMNS, op_table, sort_rows, table_csv
from tensorboard_plugin_neuron.analysis.overview import overview
from tensorboard_plugin_neuron.analysis.reports import ops_csv_bytes, summary_bytes
from tensorboard_plugin_neuron.analysis.sql import (EXAMPLES, MAX_ROWS as MAX_QUERY_ROWS, MAX_SQL_CHARS, profile_tables,
                                                    query_csv, run_query, table_schema)
from tensorboard_plugin_neuron.analysis.timeline import (MAX_WIDTH, event_details, group_of_node, node_occurrences,
                                                          overview_timeline, timeline)
from tensorboard_plugin_neuron.errors import MAX_ERROR_CHARS, UserError, one_line
from tensorboard_plugin_neuron.interop.chrome_export import chrome_chunks
from tensorboard_plugin_neuron.interop.perfetto_export import perfetto_chunks
from tensorboard_plugin_neuron.interop.streams import gzip_chunks
from tensorboard_plugin_neuron.plugin.contract import (ErrorAnswer, Ops, Progress, ProfileEntry, QueryAnswer, QueryExample,
                                                       QuerySchema, QueryTable, Runs)
from tensorboard_plugin_neuron.plugin.params import (INT64_MAX, MAX_NAME_CHARS, NS_LIMIT, RequestError, choice, integer,
                                                     number, optional_text, text)
from tensorboard_plugin_neuron.plugin.static_files import ENTRY, serve_static, static_name
from tensorboard_plugin_neuron.plugin.store import EncodedJson, ProfileNotFound, ProfileStore
from tensorboard_plugin_neuron.trace.logdir import ProfileFile
from tensorboard_plugin_neuron.vocabulary.jsonable import json_default, sanitize

_log = logging.getLogger(__name__)
Handler = Callable[[wrappers.Request], wrappers.Response]
EXPORT_FORMATS = ("chrome", "chrome_gz", "perfetto", "csv", "summary")
MAX_ROWS = 10**9          # a row limit beyond any table: larger limits are typing errors
MAX_FILTER_CHARS = 200    # the op filter is a substring of a name, type or scope
MIN_POINTS, MAX_POINTS = 2, 100_000   # memory series samples (the analysis refuses others)
QUERY_SECONDS = 10.0      # a SQL query runs at most this long on a serving thread


def respond_json(request: wrappers.Request, payload: Any, status: int = 200) -> wrappers.Response:
    body = json.dumps(payload, separators=(",", ":"), allow_nan=False, default=json_default)
    return http_util.Respond(request, body, "application/json", code=status)




class Routes:
    """The route table over one profile store."""

    def __init__(self, store: ProfileStore) -> None:
        self.store = store
        self.logdir = store.logdir

    def apps(self) -> dict[str, Handler]:
        views = {"overview": self.overview, "graph": self.graph, "ops": self.ops, "timeline": self.timeline,
                 "event": self.event, "datapath": self.datapath, "memory": self.memory, "compare": self.compare,
                 "export": self.export, "occurrences": self.occurrences, "progress": self.progress,
                 "query": self.query, "query_schema": self.query_schema, "numerics": self.numerics}
        apps = {"/runs": self._wrap(self.runs), "/index.js": self.static_entry, "/static/*": self.static,
                "/static": self.static}   # TensorBoard strips a trailing '/': 'static/' arrives here
        apps.update({f"/{name}": self._wrap(handler) for name, handler in views.items()})
        return apps

    def _wrap(self, handler: Callable[[wrappers.Request], Any]) -> Handler:
        @wrappers.Request.application
        def app(request: wrappers.Request) -> wrappers.Response:
            try:
                result = handler(request)
            except RequestError as exc:
                return self._error(request, exc.status, str(exc))
            except ProfileNotFound as exc:
                return self._error(request, 404, str(exc))
            except UserError as exc:  # a broken profile: its own error, the rest keeps working
                return self._error(request, 422, str(exc))
            except FileNotFoundError:  # the profile was removed between finding it and reading it
                return self._error(request, 404, "no such run or profile (it was removed)")
            except OSError as exc:     # unreadable (permissions, I/O error): that profile only
                return self._error(request, 422, f"cannot read the profile: {exc.strerror or type(exc).__name__}")
            except Exception as exc:  # a bug: logged with its traceback, answered as JSON like every error
                _log.exception("neuron plugin: %s failed", request.path)
                return self._error(request, 500, f"internal error: {type(exc).__name__}")
            finally:
                self.store.settle()   # what the analysis memoized in the index counts in the budget
            if isinstance(result, wrappers.Response):
                return result
            if isinstance(result, EncodedJson):
                # Respond sends it as it is when the client accepts gzip, and inflates it on the way otherwise
                return http_util.Respond(request, result.gzipped, "application/json", content_encoding="gzip")
            return respond_json(request, sanitize(result))
        return app

    def _error(self, request: wrappers.Request, status: int, message: str) -> wrappers.Response:
        """`{"error": message}` as one line of at most MAX_ERROR_CHARS, naming files relative to the logdir (a
        client learns nothing of the server's directories)."""
        for root in {os.path.realpath(self.logdir), os.path.abspath(self.logdir)}:
            message = message.replace(root + os.sep, "")
        return respond_json(request, ErrorAnswer(error=one_line(message, MAX_ERROR_CHARS)), status)

    # --- profile lookup ---

    def _profile_file(self, request: wrappers.Request, prefix: str = "") -> ProfileFile:
        return self.store.find(text(request.args, prefix + "run"),
                               optional_text(request.args, prefix + "profile", MAX_NAME_CHARS))

    def _index(self, request: wrappers.Request, prefix: str = "") -> ProfileIndex:
        return self.store.index(self._profile_file(request, prefix))

    # --- routes ---

    def runs(self, request: wrappers.Request) -> Runs:
        runs: dict[str, list[ProfileEntry]] = {}
        for p in self.store.profiles():
            runs.setdefault(p.run, []).append(ProfileEntry(profile=p.profile, bytes=p.size, mtime_ns=p.mtime_ns))
        return {"runs": [{"run": run, "profiles": profiles} for run, profiles in runs.items()]}

    def progress(self, request: wrappers.Request) -> Progress:
        """How far the profile's load has got, starting it (in the background) if it is not loaded yet: the
        page asks this alongside a view's own request and shows a progress bar while the state is loading."""
        file = self._profile_file(request)
        status = self.store.status(file)
        return Progress(state=status.state, fraction=round(status.fraction, 3), stage=status.stage, bytes=file.size)

    def overview(self, request: wrappers.Request) -> Any:
        return self.store.encoded(self._profile_file(request), "overview", overview)

    def graph(self, request: wrappers.Request) -> Any:
        return self.store.encoded(self._profile_file(request), "graph", graph_view)

    def ops(self, request: wrappers.Request) -> Any:
        key = text(request.args, "sort", "time_ns", max_chars=64)
        order = choice(request.args, "order", ("asc", "desc"), "desc")
        limit = integer(request.args, "limit", 1, MAX_ROWS, 100_000)
        query = text(request.args, "q", "", max_chars=MAX_FILTER_CHARS)
        fmt = choice(request.args, "format", ("json", "csv"), "json")
        file = self._profile_file(request)
        try:
            rows = sort_rows(self.store.answer(file, "ops", op_table), key, order == "desc", limit, query)
        except ValueError as exc:
            raise RequestError(400, str(exc)) from None
        if fmt == "csv":
            meta = self.store.index(file).trace.metadata
            name = f"{meta.model}-{meta.session}-ops.csv"
            return _download(request, table_csv(rows).encode("utf-8"), "text/csv", name)
        return Ops(columns=list(OP_COLUMNS), rows=rows)

    def timeline(self, request: wrappers.Request) -> Any:
        width = integer(request.args, "width", 1, MAX_WIDTH, 1000)
        if not any(optional_text(request.args, name) for name in ("start_ns", "end_ns", "node")):
            # the whole profile: while a profile is not loaded, its stored overview answers at once, and the
            # load goes on in the background for the requests that need the events
            file = self._profile_file(request)
            header = self.store.stored_overview(file) if self.store.status(file).state == "loading" else None
            if header is not None:
                return overview_timeline(header, width)
        index = self._index(request)
        start = number(request.args, "start_ns", -NS_LIMIT, NS_LIMIT, float(index.span_start_ns))
        end = number(request.args, "end_ns", -NS_LIMIT, NS_LIMIT, float(max(index.span_end_ns, index.span_start_ns + 1)))
        if end <= start:
            raise RequestError(400, "end_ns must be greater than start_ns")
        return timeline(index, start, end, width, self._marked_group(request, index))

    def _marked_group(self, request: wrappers.Request, index: ProfileIndex) -> int | None:
        """`node=N` on the timeline marks the events of node N's fusion group."""
        if optional_text(request.args, "node") is None:
            return None
        try:
            return group_of_node(index, integer(request.args, "node", 0, INT64_MAX))
        except IndexError as exc:
            raise RequestError(404, str(exc)) from None

    def occurrences(self, request: wrappers.Request) -> Any:
        node = integer(request.args, "node", 0, INT64_MAX)
        limit = integer(request.args, "limit", 1, MAX_ROWS, 100)
        index = self._index(request)
        try:
            return node_occurrences(index, node, limit)
        except IndexError as exc:
            raise RequestError(404, str(exc)) from None

    def event(self, request: wrappers.Request) -> Any:
        row = integer(request.args, "event", 0, INT64_MAX)
        index = self._index(request)
        try:
            return event_details(index, row)
        except IndexError as exc:
            raise RequestError(404, str(exc)) from None

    def datapath(self, request: wrappers.Request) -> Any:
        return self.store.encoded(self._profile_file(request), "datapath", datapath)

    def memory(self, request: wrappers.Request) -> Any:
        points = integer(request.args, "points", MIN_POINTS, MAX_POINTS, 2000)
        return memory(self._index(request), points)

    def compare(self, request: wrappers.Request) -> Any:
        return compare(self._index(request), self._index(request, prefix="other_"))

    def numerics(self, request: wrappers.Request) -> Any:
        return self.store.encoded(self._profile_file(request), "numerics", numerics_answer)

    def export(self, request: wrappers.Request) -> Any:
        fmt = choice(request.args, "format", EXPORT_FORMATS)
        index = self._index(request)
        meta = index.trace.metadata
        name = f"{meta.model}-{meta.session}"
        if fmt == "csv":
            return _download(request, ops_csv_bytes(index)[0], "text/csv", f"{name}-ops.csv")
        if fmt == "summary":
            return _download(request, summary_bytes(index), "application/json", f"{name}-summary.json")
        if fmt == "perfetto":
            return _stream(perfetto_chunks(index.trace), "application/octet-stream", f"{name}.pftrace")
        chunks = chrome_chunks(index.trace)
        if fmt == "chrome_gz":
            return _stream(gzip_chunks(chunks), "application/gzip", f"{name}.json.gz")
        return _stream(chunks, "application/json", f"{name}.json")

    def query(self, request: wrappers.Request) -> Any:
        """SQL over the profile's tables (analysis.sql): at most `limit` rows, stopped after QUERY_SECONDS."""
        sql = text(request.args, "sql", max_chars=MAX_SQL_CHARS)
        limit = integer(request.args, "limit", 1, MAX_QUERY_ROWS, 1000)
        fmt = choice(request.args, "format", ("json", "csv"), "json")
        index = self._index(request)
        try:
            result = run_query(profile_tables(index), sql, limit, QUERY_SECONDS)
        except UserError as exc:   # the query's fault, not the profile's
            raise RequestError(400, str(exc)) from None
        if fmt == "csv":
            return _download(request, query_csv(result).encode("utf-8"), "text/csv", f"{index.trace.metadata.model}-query.csv")
        return QueryAnswer(columns=result.columns, types=result.types, rows=[list(r) for r in result.rows],
                           truncated=result.truncated, seconds=round(result.seconds, 4))

    def query_schema(self, request: wrappers.Request) -> Any:
        tables = [QueryTable(name=t["name"], kind=t["kind"], columns=t["columns"], types=t["types"])
                  for t in table_schema(profile_tables(self._index(request)))]
        return QuerySchema(tables=tables, examples=[QueryExample(title=k, sql=v) for k, v in EXAMPLES.items()])

    @wrappers.Request.application
    def static_entry(self, request: wrappers.Request) -> wrappers.Response:
        return serve_static(request, ENTRY)

    @wrappers.Request.application
    def static(self, request: wrappers.Request) -> wrappers.Response:
        try:
            return serve_static(request, static_name(request.path))
        except RequestError as exc:
            return respond_json(request, {"error": str(exc)}, exc.status)


def _stream(chunks: Iterator[bytes], content_type: str, filename: str) -> wrappers.Response:
    """A streamed download: the body is produced chunk by chunk while it is sent. The first chunk is made
    here, so a profile that cannot be exported still answers with an error status."""
    first = next(chunks, b"")
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in filename)
    headers = {"Content-Disposition": f'attachment; filename="{safe}"', "X-Content-Type-Options": "nosniff"}
    return wrappers.Response(itertools.chain([first], chunks), mimetype=content_type, headers=headers,
                             direct_passthrough=True)


def _download(request: wrappers.Request, body: bytes, content_type: str, filename: str) -> wrappers.Response:
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in filename)
    return http_util.Respond(request, body, content_type,
                             headers=[("Content-Disposition", f'attachment; filename="{safe}"')])
