"""What the casino and the provider share on the wire: signatures, JSON handling, validation."""
