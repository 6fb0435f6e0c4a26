"""The numerics table's words: what a profile records when numerics checking ran (`run --check-numerics`).

One row per node of the user's graph: the device numerics (bf16 autocast, as compiled) of the node's output
against the fp32 reference on the same inputs. The runtime computes it, the trace format stores it (a
versioned optional table), the analyses read it.

Definitions (a = device output, r = fp32 reference, over every element of every float output of the node):
- max_abs_err = max |a - r|
- max_rel_err = max |a - r| / max |r|; when r is all zeros: 0 if a is too, else 1
- cosine = sum(a r) / sqrt(sum(a^2) sum(r^2)) in float64; 1 when both are all zeros, 0 when only one is
- input_rel_err = the largest max_rel_err of the node's inputs computed by other nodes (0 for graph inputs and
  weights): with max_rel_err it gives how the error grows along the graph (growth = max_rel_err / input_rel_err).
"""
from __future__ import annotations

import dataclasses
import enum

import numpy as np

NUMERICS_VERSION = 1          # of the table's columns and meaning; a reader refuses a newer one
DEFAULT_TOLERANCE = 0.01      # max_rel_err above which a node is "over tolerance" (1%: about 2.5 bf16 ulps)


class NumericsStatus(enum.IntEnum):
    """What a row holds."""

    NOT_COMPARED = 0   # no float output (indices, shapes, masks), or a constant folded away by the compiler
    COMPARED = 1       # its own output compared
    FOLDED = 2         # folded into the node before it (BatchNormalization into its Conv): that node's figures
    NON_FINITE = 3     # the reference or the device output holds NaN or infinity: no figures


NUMERICS_COLUMNS = {"status": "uint8", "max_abs_err": "float64", "max_rel_err": "float64", "cosine": "float64",
                    "input_rel_err": "float64"}
FIGURES = ("max_abs_err", "max_rel_err", "cosine", "input_rel_err")


@dataclasses.dataclass
class NodeNumerics:
    """Per graph node (columns of NUMERICS_COLUMNS, NaN figures where status is not COMPARED or FOLDED) and the
    tolerance the check ran with."""

    tolerance: float
    columns: dict[str, np.ndarray]

    @property
    def measured(self) -> np.ndarray:
        status = self.columns["status"]
        return (status == NumericsStatus.COMPARED) | (status == NumericsStatus.FOLDED)


def empty_numerics(nodes: int, tolerance: float = DEFAULT_TOLERANCE) -> NodeNumerics:
    """A table of `nodes` rows, none compared yet."""
    columns = {name: (np.zeros(nodes, np.uint8) if dtype == "uint8" else np.full(nodes, np.nan))
               for name, dtype in NUMERICS_COLUMNS.items()}
    return NodeNumerics(tolerance, columns)


def check_numerics_table(table: NodeNumerics, nodes: int) -> None:
    """ValueError unless the table has one row per node, known statuses, a finite tolerance in (0, 1e6], and
    finite figures in range where a row is measured (errors >= 0, cosine in [-1, 1])."""
    if not (np.isfinite(table.tolerance) and 0 < table.tolerance <= 1e6):
        raise ValueError("numerics tolerance is not a number in (0, 1e6]")
    if any(len(column) != nodes for column in table.columns.values()):
        raise ValueError("numerics table does not match the graph")
    status = table.columns["status"]
    if len(status) and int(status.max()) > max(NumericsStatus):
        raise ValueError("numerics status out of range")
    measured = table.measured
    for name in FIGURES:
        values = table.columns[name][measured]
        low, high = (-1.0, 1.0) if name == "cosine" else (0.0, np.inf)
        if not np.all(np.isfinite(values)) or np.any(values < low) or np.any(values > high):
            raise ValueError(f"numerics {name} is not a finite number in range")
