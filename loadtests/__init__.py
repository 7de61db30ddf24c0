"""Load and benchmark scripts: figures, not tests."""
