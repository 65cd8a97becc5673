"""Contracts of the accounts domain and the errors it raises."""

from __future__ import annotations

from zope.interface import Attribute, Interface

from portal.errors import InputError


class AccountError(InputError):
    """A user-fixable problem with account data, tied to the form field it concerns."""


class IAccountService(Interface):
    lock_minutes = Attribute("how long an account stays locked after too many failures")

    def authenticate(login, password):  # type: ignore[no-untyped-def]
        """Return the active user for these credentials or raise AccountError.

        Counts failures and locks the account after ``qzt.login.max_failures``.
        """

    def register_enterprise(data):  # type: ignore[no-untyped-def]
        """Create an enterprise and its first (administering) user from form data."""

    def add_colleague(enterprise, data):  # type: ignore[no-untyped-def]
        """Add another user to an existing enterprise account."""

    def create_user(data):  # type: ignore[no-untyped-def]
        """Create a government user (administration)."""

    def change_password(user, old, new):  # type: ignore[no-untyped-def]
        """Check ``old``, store ``new``; ends the user's other sessions."""

    def set_active(user, active):  # type: ignore[no-untyped-def]
        """Enable or disable an account; disabling ends every session at once."""

    def min_password_length(user_or_roles):  # type: ignore[no-untyped-def]
        """12 for government staff, 8 for enterprise users (settings)."""
