"""Schema of an execution trace (`trace.proto` in this package): metadata, the model graph with its
placement and fusion, the static task table, and columnar event tables (packed, compressed columns)."""
from __future__ import annotations

from tensorboard_plugin_neuron.columns import COLUMN_MESSAGES
from tensorboard_plugin_neuron.fileio import FRAME_FIELDS
from tensorboard_plugin_neuron.protoschema import Field, Message, Schema, build_classes
from tensorboard_plugin_neuron.vocabulary.graph_codec import GRAPH_MESSAGES
from tensorboard_plugin_neuron.vocabulary.groups import GROUP_MESSAGE
from tensorboard_plugin_neuron.vocabulary.queues import QUEUE_MESSAGE

FORMAT_VERSION = 1

TRACE_SCHEMA = Schema(
    package="neuron.trace",
    file_name="trace.proto",
    doc="Execution trace written by the simulated runtime under LOGDIR/RUN/plugins/neuron/<session>.trace.pb.",
    messages=COLUMN_MESSAGES + GRAPH_MESSAGES + (GROUP_MESSAGE, QUEUE_MESSAGE) + (
        Message("TraceMetadata", (
            Field("model", 1, "string"),
            Field("target", 2, "string"),
            Field("autocast", 3, "string"),
            Field("batch", 4, "uint32"),
            Field("cores", 5, "uint32"),
            Field("iterations", 6, "uint32"),
            Field("session", 7, "string"),
            Field("created_unix_ns", 8, "int64"),
            Field("producer", 9, "string"),
            Field("source_format", 10, "string", doc="'neuron' for the simulated runtime; 'chrome' for imported traces"),
        )),
        Message("Overview", (
            Field("start_ns", 1, "int64"),
            Field("end_ns", 2, "int64"),
            Field("bins", 3, "uint32", doc="equal bins of [start_ns, end_ns); an event belongs to the bin of its start"),
            Field("binned", 4, "Table", doc="per (queue, bin) holding events: queue, bin, count, busy_ns, first_ns, last_end_ns"),
            Field("long_events", 5, "Table", doc="events at least one bin long: row (in events), queue, start_ns, duration_ns, name"),
        ), doc="The events at full zoom, computed when the trace is written (trace/overview.py)."),
        Message("Numerics", (
            Field("version", 1, "uint32", doc="vocabulary.numerics.NUMERICS_VERSION of the writer; a reader refuses newer"),
            Field("tolerance", 2, "double", doc="max_rel_err above which a node is over tolerance"),
            Field("nodes", 3, "Table", doc="per graph node: status, max_abs_err, max_rel_err, cosine, input_rel_err"),
        ), doc="Device numerics (bf16 autocast) against the fp32 reference per graph node (vocabulary/numerics.py)."),
        Message("Trace", (
            *FRAME_FIELDS,
            Field("format_version", 3, "uint32"),
            Field("metadata", 4, "TraceMetadata"),
            Field("graph", 5, "GraphDef", doc="the user's graph (no weights)"),
            Field("nodes", 6, "Table", doc="per graph node: device, dtype, group, core, flops, bytes"),
            Field("placement_reasons", 7, "string", repeated=True),
            Field("groups", 8, "FusionGroupDef", repeated=True),
            Field("queues", 9, "QueueDef", repeated=True),
            Field("strings", 10, "string", repeated=True, doc="interned names (opcodes)"),
            Field("tensor_names", 11, "string", repeated=True),
            Field("tasks", 12, "Table", doc="static task table (instructions and DMA descriptors) of the program"),
            Field("events", 13, "Table", doc="one row per executed task: task, iteration, start_ns, duration_ns"),
            Field("counter_names", 14, "string", repeated=True),
            Field("counters", 15, "Table", doc="samples: counter, time_ns, value"),
            Field("requests", 16, "Table", doc="per inference: request, start_ns, end_ns"),
            Field("summary_json", 17, "string", doc="summary metrics (vendor names where one exists)"),
            Field("dep_offsets", 18, "Table", doc="column 'offsets': CSR row pointers into dep_ids, tasks + 1 rows"),
            Field("dep_ids", 19, "Table", doc="column 'ids': the tasks each task waits for (its dependencies)"),
            Field("overview", 20, "Overview", doc="a coarse level of detail of the events (absent: none)"),
            Field("numerics", 21, "Numerics", doc="per-node numerical error, when numerics checking ran (absent: none)"),
        ), doc="One profiling session."),
    ),
)

CLASSES = build_classes(TRACE_SCHEMA)
TraceMessage = CLASSES["Trace"]
