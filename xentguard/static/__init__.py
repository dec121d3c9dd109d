"""The static half: kind-tracking analysis of Python source, without torch."""

from xentguard.static.api import analyze_source
from xentguard.static.findings import Finding, Fix, Step, TextEdit

__all__ = ["Finding", "Fix", "Step", "TextEdit", "analyze_source"]
