"""Accounts: users and roles, merchants, host profiles, follows, login tokens."""
