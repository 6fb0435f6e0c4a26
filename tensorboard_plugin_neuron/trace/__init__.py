"""The trace format: schema (`trace.proto`), the in-memory model, writer, reader and the stored overview.

Converters to and from other formats live in `interop/`; statistics computed when a trace is written in
`tracestats/`."""
