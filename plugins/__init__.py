"""Bundled plugins. Each one is independent and talks to the core through core.api only."""
