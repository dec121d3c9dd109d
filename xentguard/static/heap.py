"""Keeping the per-process project out of the garbage collector's way.

A :class:`~xentguard.static.project.Project` keeps the trees and summaries of every
walked module for the whole run: millions of objects on a large repository. Left in the
oldest generation, every full collection, triggered by the host's own churn (flake8
tokenising and parsing the next file), scans all of them again; on the benchmark corpus
that doubled the cost of flake8's own parsing and made up most of the plugin's overhead.
So after each checked file the objects alive are moved to the permanent generation
(``gc.freeze``). Frozen objects are still freed by reference counting when they die;
young cyclic garbage is collected first so that it is not frozen with them, and when a
project drops what it walked the frozen objects go back to the collector.
"""

from __future__ import annotations

import ast
import gc


def freeze_long_lived() -> None:
    """Move every object alive now out of the collector's generations.

    Cyclic garbage of every generation is collected first, not only the youngest: the
    host's (a pyflakes checker run on the same file just before, with its scopes and
    the parent links it adds to the tree) has aged into the older generations by now,
    and frozen it is never freed. Collecting only generation 0 froze a third of the
    objects as garbage on the benchmark corpus under flake8 (221 MB against 162 MB on
    timm alone). The cost stays small: frozen objects are not scanned, so a collection
    sees only what was made since the last freeze. (Collecting before each kept parse
    too saved little more memory for three times the collector's time.)"""
    gc.collect()
    gc.freeze()


def release_frozen() -> None:
    """Hand frozen objects back to the collector (something long-lived was dropped)."""
    if gc.get_freeze_count():
        gc.unfreeze()


def parse_long_lived(source: str, filename: str, *, freeze: bool = True) -> ast.Module:
    """``ast.parse`` with the collector paused: the tree is kept for the run, and building
    it one node at a time otherwise has the collector scan the growing tree again and
    again as its nodes age through the generations (a third of the parsing time of the
    benchmark corpus's modules, measured in the analysis). ``freeze=False``: a tree that
    is dropped after one check (``isolated``) is left to the collector."""
    paused = gc.isenabled()
    gc.disable()
    try:
        tree = ast.parse(source, filename=filename)
        # Straight to the permanent generation: left young, the whole tree is scanned by
        # the next collection after the collector is back on, then again as it ages. A
        # parse makes no cyclic garbage; what was frozen with it is freed by reference
        # counting, and young cycles made just before (fewer than one collection's
        # threshold) wait for release_frozen.
        if freeze:
            gc.freeze()
        return tree
    finally:
        if paused:
            gc.enable()


__all__ = ["freeze_long_lived", "parse_long_lived", "release_frozen"]
