"""Schema migrations and demo data."""
