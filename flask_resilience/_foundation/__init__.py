"""Leaf layer shared by every capability: settings, database, Redis, clocks.

Imports only the standard library, flask, sqlalchemy and redis, so every capability may use it.
"""
