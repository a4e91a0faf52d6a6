"""Workspace operations over every layer: gc, verify and repair, backup and restore, doctor."""
