"""Shared prompt_toolkit pieces: the per-connection terminal and its screens."""
