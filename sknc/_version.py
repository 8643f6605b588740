"""The single source of sknc's version."""

__version__ = "0.1.0.dev0"
