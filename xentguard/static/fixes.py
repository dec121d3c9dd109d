"""Certain rewrites, as text edits on the original source (applied by :mod:`xentguard.fixer`).

A fix is offered only when the activation is applied right where the wrong kind is
used (inline in the loss or log call), or in an assignment whose variable is read
exactly once, by that call. Everything else is reported and left alone.
"""

from __future__ import annotations

import ast

from xentguard.static.findings import Fix, TextEdit
from xentguard.static.kinds import Ref, Tensor
from xentguard.static.scopes import Scope
from xentguard.static.source import SourceFile

_RENAME_TO_LOG = {"XG103", "XG110"}
_UNWRAP = {"XG101", "XG102", "XG106"}


def for_loss_input(code: str, input_node: ast.expr, value: Tensor, file: SourceFile, scope: Scope) -> Fix | None:
    if code not in _RENAME_TO_LOG and code not in _UNWRAP:
        return None
    producer = _inline_producer(input_node, value, file)
    where = "in the loss call"
    if producer is None and isinstance(input_node, ast.Name):
        producer = _single_use_assignment(input_node.id, value, file, scope)
        where = f"where {input_node.id} is assigned"
    if producer is None:
        return None
    if code in _RENAME_TO_LOG:
        rename = _rename_to_log_softmax(producer, file, scope)
        if rename is None:
            return None
        edits, imports = rename
        return Fix(f"use log_softmax instead of softmax {where}", edits, imports)
    tensor = _activation_argument(producer, value)
    if tensor is None:
        return None
    return Fix(f"pass the logits: drop the activation {where}", (_replace(producer, file.text(tensor), file),))


def log_of_softmax(log_call: ast.Call, inline_arg: ast.expr, value: Tensor, file: SourceFile) -> Fix | None:
    """``torch.log(F.softmax(x, d))`` / ``F.softmax(x, d).log()`` -> ``F.log_softmax(x, d)``."""
    producer = _inline_producer(inline_arg, value, file)
    if producer is None or not isinstance(producer.func, ast.Attribute):
        return None
    rename = _rename_attribute(producer, file)
    if rename is None:
        return None
    start_line, start_col = file.start(log_call)
    end_line, end_col = file.end(log_call)
    p_start = file.start(producer)
    p_end = file.end(producer)
    edits = (
        TextEdit(start_line, start_col, *p_start, ""),
        rename,
        TextEdit(*p_end, end_line, end_col, ""),
    )
    return Fix("use log_softmax instead of log(softmax(...))", tuple(e for e in edits if _nonempty(e)))


def log_of_sigmoid(log_call: ast.Call, inline_arg: ast.expr, value: Tensor, file: SourceFile,
                   scope: Scope) -> Fix | None:
    """``torch.log(torch.sigmoid(x))`` / ``x.sigmoid().log()`` -> ``F.logsigmoid(x)``, and
    ``torch.log(1 - torch.sigmoid(x))`` -> ``F.logsigmoid(-x)``."""
    negate = False
    argument = inline_arg
    if isinstance(argument, ast.BinOp) and isinstance(argument.op, ast.Sub) and value.origin.via is not None:
        negate, argument = True, argument.right
        value = Tensor(value.kind, value.origin.via, value.whole)
    producer = _inline_producer(argument, value, file)
    if producer is None:
        return None
    tensor = _activation_argument(producer, value)
    if tensor is None:
        return None
    functional = next((name for name, binding in scope_bindings(scope)
                       if binding == Ref("torch.nn.functional")), None)
    imports: tuple[tuple[str, str], ...] = ()
    if functional is not None:
        call = f"{functional}.logsigmoid"
    else:
        existing = scope.lookup("logsigmoid")
        if existing is not None and existing.value != Ref("torch.nn.functional.logsigmoid"):
            return None
        call, imports = "logsigmoid", (() if existing is not None else (("torch.nn.functional", "logsigmoid"),))
    text = file.text(tensor)
    if negate:
        text = f"-{text}" if isinstance(tensor, (ast.Name, ast.Attribute, ast.Call, ast.Subscript)) else f"-({text})"
    return Fix("use logsigmoid instead of log(sigmoid(...))", (_replace(log_call, f"{call}({text})", file),), imports)


def scope_bindings(scope: Scope) -> list[tuple[str, object]]:
    """Every name visible in ``scope`` with its value, innermost first."""
    seen: dict[str, object] = {}
    current: Scope | None = scope
    while current is not None:
        for name, binding in current.bindings.items():
            seen.setdefault(name, binding.value)
        current = current.parent
    return list(seen.items())


def _nonempty(edit: TextEdit) -> bool:
    return (edit.line, edit.col) != (edit.end_line, edit.end_col) or bool(edit.text)


def _inline_producer(node: ast.expr, value: Tensor, file: SourceFile) -> ast.Call | None:
    """``node`` itself is the softmax/log_softmax/sigmoid call that produced ``value``."""
    origin = value.origin
    if origin.via is not None or not isinstance(node, ast.Call):
        return None
    if (origin.path, origin.line, origin.col) != (file.path, *file.start(node.func)):
        return None
    return node


def _single_use_assignment(name: str, value: Tensor, file: SourceFile, scope: Scope) -> ast.Call | None:
    binding = scope.lookup(name)
    if binding is None or not isinstance(binding.source, ast.Call) or not isinstance(binding.assign, ast.Assign):
        return None
    if len(binding.assign.targets) != 1 or not isinstance(binding.assign.targets[0], ast.Name):
        return None
    if file.name_loads[name] != 1 or file.name_stores[name] != 1:
        return None
    return _inline_producer(binding.source, value, file)


def _activation_argument(producer: ast.Call, value: Tensor) -> ast.expr | None:
    """The tensor the activation was applied to: the receiver of ``x.softmax(1)``,
    or the first argument of ``F.softmax(x, 1)``."""
    if value.origin.what.startswith("Tensor.") and isinstance(producer.func, ast.Attribute):
        return producer.func.value
    if producer.args and not isinstance(producer.args[0], ast.Starred):
        return producer.args[0]
    for keyword in producer.keywords:
        if keyword.arg == "input":
            return keyword.value
    return None


def _rename_to_log_softmax(
    producer: ast.Call, file: SourceFile, scope: Scope
) -> tuple[tuple[TextEdit, ...], tuple[tuple[str, str], ...]] | None:
    func = producer.func
    if isinstance(func, ast.Attribute):
        edit = _rename_attribute(producer, file)
        return ((edit,), ()) if edit is not None else None
    if isinstance(func, ast.Name):
        ref = scope.value(func.id)
        if not isinstance(ref, Ref) or not ref.qualname.endswith(".softmax"):
            return None
        module = ref.qualname.rsplit(".", 1)[0]
        existing = scope.lookup("log_softmax")
        if existing is not None and existing.value != Ref(f"{module}.log_softmax"):
            return None
        imports = () if existing is not None else ((module, "log_softmax"),)
        return ((_replace(func, "log_softmax", file),), imports)
    return None


def _rename_attribute(producer: ast.Call, file: SourceFile) -> TextEdit | None:
    func = producer.func
    if not isinstance(func, ast.Attribute) or func.attr != "softmax":
        return None
    end_line, end_col = file.end(func)
    return TextEdit(end_line, end_col - len("softmax"), end_line, end_col, "log_softmax")


def _replace(node: ast.AST, text: str, file: SourceFile) -> TextEdit:
    return TextEdit(*file.start(node), *file.end(node), text)
