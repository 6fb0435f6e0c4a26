"""Protobuf message classes built at import time from a small Python schema, plus its `.proto` text.

The artifact and trace formats are real protobuf (any protobuf tool can read them with the `.proto`
files shipped in the package), but the classes are made from descriptors at run time instead of
`protoc`-generated code, so the package works with every protobuf runtime TensorBoard accepts.
A test checks that each shipped `.proto` file equals `render_proto()` of its schema.
"""
from __future__ import annotations

import dataclasses
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool

try:  # protobuf >= 4.21
    from google.protobuf.message_factory import GetMessageClass as _get_message_class
except ImportError:  # pragma: no cover - older protobuf runtimes
    from google.protobuf import message_factory as _message_factory

    def _get_message_class(descriptor: Any) -> Any:
        return _message_factory.MessageFactory().GetPrototype(descriptor)


_SCALARS = {
    "double": descriptor_pb2.FieldDescriptorProto.TYPE_DOUBLE,
    "float": descriptor_pb2.FieldDescriptorProto.TYPE_FLOAT,
    "int64": descriptor_pb2.FieldDescriptorProto.TYPE_INT64,
    "uint64": descriptor_pb2.FieldDescriptorProto.TYPE_UINT64,
    "int32": descriptor_pb2.FieldDescriptorProto.TYPE_INT32,
    "uint32": descriptor_pb2.FieldDescriptorProto.TYPE_UINT32,
    "sint64": descriptor_pb2.FieldDescriptorProto.TYPE_SINT64,
    "bool": descriptor_pb2.FieldDescriptorProto.TYPE_BOOL,
    "fixed32": descriptor_pb2.FieldDescriptorProto.TYPE_FIXED32,
    "fixed64": descriptor_pb2.FieldDescriptorProto.TYPE_FIXED64,
    "string": descriptor_pb2.FieldDescriptorProto.TYPE_STRING,
    "bytes": descriptor_pb2.FieldDescriptorProto.TYPE_BYTES,
}


@dataclasses.dataclass(frozen=True)
class Field:
    """One field: `kind` is a scalar type name or the name of another message in the same schema."""

    name: str
    number: int
    kind: str
    repeated: bool = False
    doc: str = ""


@dataclasses.dataclass(frozen=True)
class Message:
    name: str
    fields: tuple[Field, ...]
    doc: str = ""


@dataclasses.dataclass(frozen=True)
class Schema:
    package: str
    file_name: str
    messages: tuple[Message, ...]
    doc: str = ""


def build_classes(schema: Schema) -> dict[str, type]:
    """Message classes for every message of the schema, in a private descriptor pool."""
    file_proto = descriptor_pb2.FileDescriptorProto(name=schema.file_name, package=schema.package, syntax="proto3")
    names = {m.name for m in schema.messages}
    for message in schema.messages:
        proto = file_proto.message_type.add(name=message.name)
        for field in message.fields:
            entry = proto.field.add(name=field.name, number=field.number, json_name=_json_name(field.name))
            entry.label = (
                descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED
                if field.repeated
                else descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL
            )
            if field.kind in _SCALARS:
                entry.type = _SCALARS[field.kind]
            elif field.kind in names:
                entry.type = descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE
                entry.type_name = f".{schema.package}.{field.kind}"
            else:
                raise ValueError(f"{message.name}.{field.name}: unknown type {field.kind}")
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file_proto)
    return {m.name: _get_message_class(pool.FindMessageTypeByName(f"{schema.package}.{m.name}")) for m in schema.messages}


def _json_name(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def render_proto(schema: Schema) -> str:
    """The schema as `.proto` source (what ships in the package for other languages and tools)."""
    lines = ["// Generated from the Python schema in tensorboard_plugin_neuron; do not edit by hand."]
    lines += [f"// {line}" if line else "//" for line in schema.doc.splitlines()]
    lines += ['syntax = "proto3";', "", f"package {schema.package};", ""]
    for message in schema.messages:
        lines += [f"// {line}" for line in message.doc.splitlines()]
        lines.append(f"message {message.name} {{")
        for field in message.fields:
            label = "repeated " if field.repeated else ""
            comment = f"  // {field.doc}" if field.doc else ""
            lines.append(f"  {label}{field.kind} {field.name} = {field.number};{comment}")
        lines += ["}", ""]
    return "\n".join(lines)
