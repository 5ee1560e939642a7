"""Accounts: registration, email confirmation, and what a change to a user does to their tokens."""
