"""
Sphinx configuration for the proxykit documentation.

Sphinx's built-in features, and two extensions of the project's own:
C{docs/_ext/proxykit_reference.py}, by which the configuration keys, the
command-line options and the public API (through autodoc) are generated
from the code when the documentation is built; and
C{docs/_ext/proxykit_bench.py}, by which the performance page's tables are
drawn from the benchmark's published results (C{docs/_static/bench/}).
"""

import configparser
import pathlib
import sys

# The reference is generated from this checkout's code, not from a proxykit
# installed elsewhere.
sys.path[:0] = [
    str(pathlib.Path(__file__).resolve().parent.parent),
    str(pathlib.Path(__file__).resolve().parent / "_ext"),
]

_setup = configparser.ConfigParser(interpolation=None)
_setup.read(pathlib.Path(__file__).resolve().parent.parent / "setup.cfg")

project = "proxykit"
author = "the proxykit developers"
copyright = "the proxykit developers"
release = _setup.get("metadata", "version", fallback="unknown")
version = ".".join(release.split(".")[:2])

root_doc = "index"
source_suffix = {".rst": "restructuredtext"}
exclude_patterns = ["_build"]
extensions = ["sphinx.ext.autodoc", "proxykit_reference", "proxykit_bench"]

autodoc_default_options = {"show-inheritance": True}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
# The annotations name types from modules that are not documented (private
# ones, Twisted's): they stay text instead of unresolved references.
autodoc_typehints_format = "short"

language = "en"
highlight_language = "none"
pygments_style = "sphinx"

html_theme = "alabaster"
html_title = "proxykit"
