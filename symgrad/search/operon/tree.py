"""Operon expression trees as plain node records, and their translation to sympy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import sympy as sp

from ...errors import SymgradError

@dataclass(frozen=True)
class NodeRecord:
    """A plain-Python copy of one Operon node (postfix order), safe to keep after the run."""

    kind: str
    arity: int
    value: float
    variable: int  # column index for variables, -1 otherwise
    size: int  # number of descendants


def tree_to_sympy(nodes: Sequence[NodeRecord], symbols: Sequence[sp.Symbol], *,
                  integer: bool) -> sp.Expr:
    """Rebuild a postfix node list as a sympy expression.

    Operon stores a tree in postfix order; the first operand of a node is the subtree that ends
    right before it. Variables carry a weight (weight * x) and constants a value.

    Args:
        nodes: postfix node records of one tree.
        symbols: sympy symbol per input column.
        integer: write weights and constants as exact integers (integer-coefficient mode).
    """
    def number(value: float) -> sp.Expr:
        if integer or float(value).is_integer():
            return sp.Integer(int(round(value)))
        return sp.Float(float(value), 7)  # Operon computes in single precision

    def build(index: int) -> sp.Expr:
        node = nodes[index]
        if node.kind == "variable":
            return number(node.value) * symbols[node.variable]
        if node.kind == "constant":
            return number(node.value)
        args = []
        child = index - 1
        for _ in range(node.arity):
            args.append(build(child))
            child -= nodes[child].size + 1
        return _apply(node.kind, args)

    return build(len(nodes) - 1)


def _apply(kind: str, args: list[sp.Expr]) -> sp.Expr:
    if kind == "add":
        return sp.Add(*args)
    if kind == "mul":
        return sp.Mul(*args)
    if kind == "sub":
        return args[0] - sp.Add(*args[1:]) if len(args) > 1 else -args[0]
    if kind == "div":
        return args[0] / sp.Mul(*args[1:]) if len(args) > 1 else 1 / args[0]
    a = args[0]
    unary = {"sin": sp.sin, "cos": sp.cos, "tan": sp.tan, "tanh": sp.tanh, "exp": sp.exp,
             "log": sp.log, "sqrt": sp.sqrt, "abs": sp.Abs, "square": lambda v: v**2}
    if kind in unary:
        return unary[kind](a)
    if kind == "aq":  # analytic quotient
        return a / sp.sqrt(1 + args[1] ** 2)
    if kind == "pow":
        return a ** args[1]
    raise SymgradError(f"the Operon node {kind!r} has no sympy translation; use the operators of symgrad.search.operon.backend.OPERATORS")


_KIND_NAMES = {"+": "add", "-": "sub", "*": "mul", "/": "div"}


def node_records(tree: Any, variable_of_hash: Mapping[int, int]) -> tuple[NodeRecord, ...]:
    """Copy an Operon tree into plain records (postfix order); ``variable_of_hash`` maps each
    Operon variable hash to its input column."""
    return tuple(NodeRecord(kind=node_kind(node), arity=int(node.Arity), value=float(node.Value),
                             variable=variable_of_hash[node.HashValue] if node.IsVariable else -1,
                             size=int(node.Length))
                 for node in tree.Nodes)


def node_kind(node: Any) -> str:
    """Operator name of an Operon node as in ``OPERATORS`` ("add", "sin", ...), or "variable"
    or "constant"."""
    if node.IsVariable:
        return "variable"
    if node.IsConstant:
        return "constant"
    return _KIND_NAMES.get(node.Name, node.Name)
