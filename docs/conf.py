"""
Sphinx configuration for the proxykit documentation.

Plain reStructuredText and Sphinx's built-in features only: no extensions and
no autodoc while the package's API is still settling.
"""

import configparser
import pathlib

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
extensions: list[str] = []

language = "en"
highlight_language = "none"
pygments_style = "sphinx"

html_theme = "alabaster"
html_title = "proxykit"
