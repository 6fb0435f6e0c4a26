"""Schema of the compiled artifact (our NEFF): a protobuf file, `neff.proto` in this package.

The file starts with two fixed-width fields, `file_size` and `crc32` (of every byte after them), so a
truncated or damaged file is detected before anything else is trusted.
"""
from __future__ import annotations

from tensorboard_plugin_neuron.columns import COLUMN_MESSAGES
from tensorboard_plugin_neuron.fileio import FRAME_FIELDS
from tensorboard_plugin_neuron.protoschema import Field, Message, Schema, build_classes
from tensorboard_plugin_neuron.vocabulary.graph_codec import GRAPH_MESSAGES
from tensorboard_plugin_neuron.vocabulary.groups import GROUP_MESSAGE
from tensorboard_plugin_neuron.vocabulary.queues import QUEUE_MESSAGE

FORMAT_VERSION = 1

ARTIFACT_SCHEMA = Schema(
    package="neuron.neff",
    file_name="neff.proto",
    doc="Compiled model artifact written by `neuron-profile compile` and loaded by the simulated runtime.",
    messages=COLUMN_MESSAGES + GRAPH_MESSAGES + (
        Message("CompileOptionsDef", (
            Field("target", 1, "string"),
            Field("autocast", 2, "string"),
            Field("cores", 3, "uint32"),
            Field("autocast_exclude", 4, "string", repeated=True, doc="op types or node names kept in fp32"),
        )),
        GROUP_MESSAGE,
        QUEUE_MESSAGE,
        Message("ProgramDef", (
            Field("queues", 1, "QueueDef", repeated=True),
            Field("strings", 2, "string", repeated=True, doc="interned opcode names"),
            Field("tensor_names", 3, "string", repeated=True),
            Field("tasks", 4, "Table", doc="one row per instruction or DMA descriptor (see vocabulary.tables.TASK_COLUMNS)"),
            Field("dep_offsets", 5, "Table", doc="column 'offsets': CSR row pointers, tasks + 1 rows"),
            Field("dep_ids", 6, "Table", doc="column 'ids': the tasks each task waits for"),
            Field("preload_tasks", 7, "uint64", doc="the first N tasks run once at load time (resident weights)"),
        )),
        Message("Artifact", (
            *FRAME_FIELDS,
            Field("format_version", 3, "uint32"),
            Field("producer", 4, "string"),
            Field("options", 5, "CompileOptionsDef"),
            Field("source", 6, "GraphDef", doc="the user's graph, as imported"),
            Field("executable", 7, "GraphDef", doc="the graph the runtime computes"),
            Field("constants", 8, "ConstantDef", repeated=True, doc="the executable graph's weights"),
            Field("placements", 9, "Table", doc="per source node: device, dtype (0 fp32, 1 bf16), group, core"),
            Field("placement_reasons", 10, "string", repeated=True, doc="per source node: why it runs on the CPU"),
            Field("groups", 11, "FusionGroupDef", repeated=True),
            Field("compute_dtypes", 12, "string", repeated=True, doc="per executable node: 'bf16' or 'fp32'"),
            Field("program", 13, "ProgramDef"),
            Field("buffer_tensors", 14, "string", repeated=True),
            Field("buffers", 15, "Table", doc="memory plan rows: tensor index, memory, core, offset, size, steps, kind"),
            Field("stats_json", 16, "string", doc="compile report figures"),
        ), doc="A compiled model."),
    ),
)

CLASSES = build_classes(ARTIFACT_SCHEMA)
ArtifactMessage = CLASSES["Artifact"]
