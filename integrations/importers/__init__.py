"""Importers: other tools' prompts brought into the portal through its own services."""
