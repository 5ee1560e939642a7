"""Hashed, revocable token authentication for Strawberry GraphQL and Django REST framework."""

__version__ = "0.1.0"
