"""The package's layering: every import (module level or inside a function) points down the layers.

Data flows graph -> compiler -> runtime -> trace -> analysis -> plugin. In imports the trace format sits
below its producers and its readers alike: it has its own vocabulary (`vocabulary/`), which the compiler
writes in and the runtime records in, so neither the format nor anything reading it needs the compiler.
`STANDS_ON` says what each part may import directly; what those parts may import, it may import too.
The test reads the source with `ast` and imports nothing, so it also runs against an older checkout.
"""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = "tensorboard_plugin_neuron"
ROOT = Path(__file__).resolve().parent.parent / PACKAGE

# Part -> the parts it stands on (may import directly). Leaves first, the user-facing top last.
STANDS_ON: dict[str, tuple[str, ...]] = {
    "errors": (),
    "protoschema": (),
    "intervals": (),
    "boundedjson": (),                                        # JSON from files, with a depth limit
    "fileio": ("protoschema", "errors"),
    "columns": ("protoschema", "errors"),
    "hardware": ("errors",),
    "graph": ("errors",),                                     # IR, importers, zoo, reference interpreter
    "vocabulary": ("graph", "protoschema", "boundedjson"),  # the trace's words, shared by writers and readers
    "compiler": ("vocabulary", "hardware", "columns", "fileio"),
    "trace": ("vocabulary", "columns", "fileio"),             # the format: schema, model, reader, writer
    "tracestats": ("trace", "intervals"),                     # statistics computed when a trace is written
    "interop": ("trace", "intervals"),                        # converters beside the format (Chrome, Perfetto)
    "runtime": ("compiler", "tracestats", "intervals"),      # simulates compiled programs, records traces
    "analysis": ("tracestats", "hardware", "intervals"),     # one pure function per view
    "plugin": ("analysis", "interop"),                        # HTTP routes
    "api": ("plugin", "analysis", "interop"),                 # the Python API
    "cli": ("api", "runtime", "interop"),
    "__init__": ("api",),                                     # the package: the API's names, loaded on first use
}
EVERYWHERE = {"version"}   # `from tensorboard_plugin_neuron import __version__`: a constant, no code


def allowed(part: str) -> set[str]:
    """`part`, and everything it stands on, directly or through other parts."""
    seen, todo = {part}, list(STANDS_ON[part])
    while todo:
        below = todo.pop()
        if below not in seen:
            seen.add(below)
            todo.extend(STANDS_ON.get(below, ()))
    return seen | EVERYWHERE


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def part_of(module: str) -> str:
    """The layer part of a module: its subpackage or top-level module ('__init__' for the package itself)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def is_module(name: str) -> bool:
    path = ROOT.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imported_modules(path: Path) -> list[tuple[int, str]]:
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    return imports_of(path.read_text(encoding="utf-8"), package, str(path))


def imports_of(source: str, package: str, filename: str = "<source>") -> list[tuple[int, str]]:
    """(line, module) for every import of a package module in `source` (of a module in `package`), at any
    depth (function-local too). `from a import b` counts as importing a.b when b is a module; `__version__`
    from the package as the part 'version'."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:   # relative: from the file's package, up level - 1
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([node.module] if node.module else []))
            for alias in node.names:
                if base == PACKAGE and alias.name == "__version__":
                    found.append((node.lineno, f"{PACKAGE}.version"))
                elif is_module(f"{base}.{alias.name}"):
                    found.append((node.lineno, f"{base}.{alias.name}"))
                else:
                    found.append((node.lineno, base))
    unique = sorted(set(found))
    return [(line, name) for line, name in unique if name == PACKAGE or name.startswith(PACKAGE + ".")]


def sources() -> list[Path]:
    return sorted(p for p in ROOT.rglob("*.py") if "node_modules" not in p.parts)


def backward_imports() -> list[str]:
    problems = []
    for path in sources():
        here = part_of(module_name(path))
        if here not in STANDS_ON:
            problems.append(f"{path.relative_to(ROOT)}: part '{here}' has no place in STANDS_ON")
            continue
        ok = allowed(here)
        for line, name in imported_modules(path):
            there = part_of(name)
            if there not in ok:
                problems.append(f"{path.relative_to(ROOT)}:{line} ({here}) imports {name.removeprefix(PACKAGE + '.')}"
                                f" ({there}), which is not below it")
    return problems


def private_imports() -> list[str]:
    """Imports of another part's private module (`_name.py`): a part's private modules are its own business."""
    problems = []
    for path in sources():
        here = part_of(module_name(path))
        for line, name in imported_modules(path):
            if part_of(name) != here and any(p.startswith("_") and p != "__init__" for p in name.split(".")[1:]):
                problems.append(f"{path.relative_to(ROOT)}:{line} imports {name}, private to {part_of(name)}/")
    return problems


def test_no_module_imports_backwards_along_the_layers() -> None:
    problems = backward_imports()
    assert not problems, f"{len(problems)} imports against the layering:\n" + "\n".join(problems)


def test_no_module_imports_another_parts_private_module() -> None:
    problems = private_imports()
    assert not problems, "\n".join(problems)


def test_every_part_of_the_package_has_a_place_in_the_layers() -> None:
    parts = {part_of(module_name(p)) for p in sources()}
    assert parts <= set(STANDS_ON), f"place these in STANDS_ON: {sorted(parts - set(STANDS_ON))}"
    assert not [p for p in STANDS_ON if p not in parts], "STANDS_ON names parts that no longer exist"


def test_the_layering_check_sees_function_local_relative_and_from_imports() -> None:
    source = ("from tensorboard_plugin_neuron import __version__\n"
              "from tensorboard_plugin_neuron.graph import ir\n"
              "from ..errors import UserError\n"
              "def later():\n"
              "    import tensorboard_plugin_neuron.plugin.routes\n")
    found = [name.removeprefix(PACKAGE + ".") for _, name in imports_of(source, f"{PACKAGE}.trace")]
    assert found == ["version", "graph.ir", "errors", "plugin.routes"]
