"""Command-line parts of the built-in plugins, imported from their ``register_commands``."""
