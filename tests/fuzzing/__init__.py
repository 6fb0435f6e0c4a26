"""Fuzz harnesses (structure-aware mutants of the files and requests the package accepts)."""
