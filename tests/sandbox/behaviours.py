"""An alias of sources.py, the source table's collector, validator and renderer (every simulator
behaviour with its AWS source or its switch; tests/sandbox/README.md "Sources")."""
from sources import (  # noqa: F401
    assumed_switches, collect, config_classes, readme_table, render, validate, write_readme)
