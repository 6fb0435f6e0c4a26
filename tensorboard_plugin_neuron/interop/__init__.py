"""Converters between our trace format and other profilers' formats: the Chrome trace-event importer
(PyTorch profiler / kineto files) and the Chrome JSON and Perfetto exporters, with their shared track layout
and streaming helpers. Every converter reads or writes `trace.model.Trace`; none imports the compiler."""
