"""Test support shared by the suite and the benchmarks (bench/ imports from here, never the reverse)."""
