"""The few Perfetto trace messages the exporter writes, with Perfetto's published field numbers.

Field numbers are those of Perfetto's protos (github.com/google/perfetto, protos/perfetto/trace/):
- trace.proto: Trace.packet = 1
- trace_packet.proto: TracePacket timestamp = 8, trusted_packet_sequence_id = 10, track_event = 11,
  interned_data = 12, sequence_flags = 13 (SEQ_INCREMENTAL_STATE_CLEARED = 1, SEQ_NEEDS_INCREMENTAL_STATE
  = 2), track_descriptor = 60
- track_event/track_event.proto: TrackEvent debug_annotations = 4, type = 9 (TYPE_SLICE_BEGIN = 1,
  TYPE_SLICE_END = 2, TYPE_INSTANT = 3, TYPE_COUNTER = 4), name_iid = 10, track_uuid = 11,
  categories = 22, name = 23, counter_value = 30, double_counter_value = 44, flow_ids = 47 (repeated
  fixed64), terminating_flow_ids = 48 (repeated fixed64); EventName iid = 1, name = 2
- track_event/track_descriptor.proto: TrackDescriptor uuid = 1, name = 2, process = 3, thread = 4,
  parent_uuid = 5, counter = 8
- track_event/process_descriptor.proto: ProcessDescriptor pid = 1, process_name = 6
- track_event/thread_descriptor.proto: ThreadDescriptor pid = 1, tid = 2, thread_name = 5
- track_event/counter_descriptor.proto: CounterDescriptor categories = 2, unit = 3 (UNIT_COUNT = 2,
  UNIT_SIZE_BYTES = 3)
- track_event/debug_annotation.proto: DebugAnnotation name_iid = 1, bool_value = 2, uint_value = 3,
  int_value = 4, double_value = 5, string_value = 6, name = 10; DebugAnnotationName iid = 1, name = 2
- interned_data/interned_data.proto: InternedData event_names = 2, debug_annotation_names = 3

Perfetto's files are proto2 and its repeated numeric fields are not packed; the exporter writes them
unpacked. These classes (proto3, built by protoschema) read both forms, which is what the tests use them
for. Enums are declared as int32 here: the same varint on the wire. tests/test_export.py checks every field
here against the classes Perfetto generates from its protos (the `perfetto` package's perfetto_trace_pb2) and
reads each export with them too.
"""
from __future__ import annotations

from tensorboard_plugin_neuron.protoschema import Field, Message, Schema, build_classes

SLICE_BEGIN, SLICE_END, INSTANT, COUNTER = 1, 2, 3, 4
SEQ_INCREMENTAL_STATE_CLEARED, SEQ_NEEDS_INCREMENTAL_STATE = 1, 2
UNIT_COUNT, UNIT_SIZE_BYTES = 2, 3

PERFETTO_SCHEMA = Schema(
    package="perfetto.protos",
    file_name="perfetto_trace_subset.proto",
    doc="Subset of Perfetto's trace format (protos/perfetto/trace/) written by the .pftrace exporter.",
    messages=(
        Message("EventName", (Field("iid", 1, "uint64"), Field("name", 2, "string"))),
        Message("DebugAnnotationName", (Field("iid", 1, "uint64"), Field("name", 2, "string"))),
        Message("InternedData", (
            Field("event_names", 2, "EventName", repeated=True),
            Field("debug_annotation_names", 3, "DebugAnnotationName", repeated=True),
        )),
        Message("DebugAnnotation", (
            Field("name_iid", 1, "uint64"),
            Field("bool_value", 2, "bool"),
            Field("uint_value", 3, "uint64"),
            Field("int_value", 4, "int64"),
            Field("double_value", 5, "double"),
            Field("string_value", 6, "string"),
            Field("name", 10, "string"),
        )),
        Message("TrackEvent", (
            Field("debug_annotations", 4, "DebugAnnotation", repeated=True),
            Field("type", 9, "int32"),
            Field("name_iid", 10, "uint64"),
            Field("track_uuid", 11, "uint64"),
            Field("categories", 22, "string", repeated=True),
            Field("name", 23, "string"),
            Field("counter_value", 30, "int64"),
            Field("double_counter_value", 44, "double"),
            Field("flow_ids", 47, "fixed64", repeated=True),
            Field("terminating_flow_ids", 48, "fixed64", repeated=True),
        )),
        Message("ProcessDescriptor", (Field("pid", 1, "int32"), Field("process_name", 6, "string"))),
        Message("ThreadDescriptor", (Field("pid", 1, "int32"), Field("tid", 2, "int64"), Field("thread_name", 5, "string"))),
        Message("CounterDescriptor", (Field("categories", 2, "string", repeated=True), Field("unit", 3, "int32"))),
        Message("TrackDescriptor", (
            Field("uuid", 1, "uint64"),
            Field("name", 2, "string"),
            Field("process", 3, "ProcessDescriptor"),
            Field("thread", 4, "ThreadDescriptor"),
            Field("parent_uuid", 5, "uint64"),
            Field("counter", 8, "CounterDescriptor"),
        )),
        Message("TracePacket", (
            Field("timestamp", 8, "uint64"),
            Field("trusted_packet_sequence_id", 10, "uint32"),
            Field("track_event", 11, "TrackEvent"),
            Field("interned_data", 12, "InternedData"),
            Field("sequence_flags", 13, "uint32"),
            Field("track_descriptor", 60, "TrackDescriptor"),
        )),
        Message("Trace", (Field("packet", 1, "TracePacket", repeated=True),)),
    ),
)

CLASSES = build_classes(PERFETTO_SCHEMA)
PerfettoTrace = CLASSES["Trace"]
TracePacket = CLASSES["TracePacket"]
TrackDescriptor = CLASSES["TrackDescriptor"]
InternedData = CLASSES["InternedData"]
