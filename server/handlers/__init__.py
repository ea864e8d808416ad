"""Screens and flows, one module per part of the application; they talk to the context only."""
