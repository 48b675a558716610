"""Wire formats: the hardened XML entry point every parse in airex goes through.

This package never imports :mod:`airex.messages` (which imports it).
"""

from airex.formats._hardened import ElementPaths, ParseLimits, local_path, parse_xml

__all__ = ["ElementPaths", "ParseLimits", "local_path", "parse_xml"]
