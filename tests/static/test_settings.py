"""Which functions a module runs only under tests of settings (syntax.run_under_settings)."""

from __future__ import annotations

import ast
import textwrap

from xentguard.static.syntax import _functions_run_under_settings


def run_under_settings(code: str) -> set[str]:
    tree = ast.parse(textwrap.dedent(code))
    ids = _functions_run_under_settings(tree)
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef) and id(node) in ids}


def test_calls_in_a_branch_or_after_a_leaving_branch_are_under_the_test() -> None:
    found = run_under_settings(
        """
        def a(): ...
        def b(): ...
        def c(): ...
        def d(): ...
        def e(): ...
        def never(): ...

        def main():
            if args.arch == "log":
                return a()
            b()
            x = c() if not args.cnn else d()
            if args.arch == "log":
                e()
        """
    )
    assert found == {"a", "b", "c", "d", "e"}


def test_an_unguarded_call_or_a_reference_anywhere_keeps_a_function_out() -> None:
    found = run_under_settings(
        """
        def a(): ...
        def b(): ...
        def c(): ...

        if args.arch == "log":
            a()
            b()
            c()
        a()
        handlers = [b]
        if epoch > 3:  # not a test of a setting
            c()
        """
    )
    assert found == set()


def test_a_scripts_main_block_is_its_run_not_a_setting() -> None:
    found = run_under_settings(
        """
        def a(): ...
        def b(): ...

        if __name__ == "__main__":
            a()
            if args.arch == "log":
                b()
        """
    )
    assert found == {"b"}
