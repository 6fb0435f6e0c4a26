"""The trace vocabulary: the words every producer and reader of a trace shares (queues and their kinds,
memories, purposes, dtypes, the table columns, the group record, the graph-message codec, JSON sanitizing).

Below everything that writes or reads a trace: it imports only `graph.ir` (a trace holds the model graph),
`protoschema`, numpy and the standard library, so the compiler, the trace format, the statistics, the
analyses and the importers can all import it without importing each other.
"""
