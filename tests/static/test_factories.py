"""Factories (static/factories.py): which module-level functions hand a parameter, as it is,
to a flag parameter of a class another module defines."""

from __future__ import annotations

import ast
import textwrap

from xentguard.static.factories import factories
from xentguard.static.flags import FlagParameters, declared_flags

_CLASS = textwrap.dedent(
    """
    class Net:
        def __init__(self, width, with_top=False, *, squash=True):
            self.width = width
            self.with_top = with_top
            self.squash = squash

        def forward(self, x):
            if self.with_top:
                x = x.softmax(1)
            return x if self.squash else x
    """)


def _flags() -> dict[str, FlagParameters]:
    cls = ast.parse(_CLASS).body[0]
    assert isinstance(cls, ast.ClassDef)
    flagged = declared_flags(cls)
    assert flagged is not None
    return {"Net": flagged}


def test_declared_flags_are_the_stored_and_tested_ones_in_order() -> None:
    flagged = _flags()["Net"]
    assert flagged.positional == ("width", "with_top")
    assert flagged.flags == {"with_top", "squash"}  # width is stored but never tested


def test_a_class_testing_nothing_it_stores_has_no_flags() -> None:
    cls = ast.parse("class Plain:\n    def __init__(self, a):\n        self.a = a\n\n    def f(self):\n"
                    "        return self.a\n").body[0]
    assert isinstance(cls, ast.ClassDef)
    assert declared_flags(cls) is None


def _factories(source: str) -> set[str]:
    return factories(ast.parse(textwrap.dedent(source)), _flags())


def test_each_way_of_reaching_the_class_counts() -> None:
    assert _factories(
        """
        TABLE = {"net": Net}

        def by_keyword(top):
            return Net(8, with_top=top)

        def by_position(top):
            return Net(8, top)

        def by_table(kind, top):
            return TABLE[kind](8, with_top=top)

        def by_local(kind, top):
            net_class = TABLE.get(kind)
            return net_class(8, squash=top)
        """) == {"by_keyword", "by_position", "by_table", "by_local"}


def test_what_does_not_land_on_a_flag_as_it_is_does_not_count() -> None:
    assert _factories(
        """
        def width_only(width):
            return Net(width)

        def computed(top):
            return Net(8, with_top=not top)

        def spread(**options):
            return Net(8, **options)

        def literal_only():
            return Net(8, with_top=True)

        def other_class(top):
            return Other(8, with_top=top)
        """) == set()
