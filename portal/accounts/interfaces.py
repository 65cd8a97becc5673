"""Contracts of the accounts domain and the errors it raises."""

from __future__ import annotations

from zope.interface import Attribute, Interface

from portal.errors import InputError


class AccountError(InputError):
    """A user-fixable problem with account data, tied to the form field it concerns."""


class IAccountService(Interface):
    lock_minutes = Attribute("how long an account stays locked after too many failures")

    def authenticate(login, password):
        """Return the active user for these credentials or raise AccountError.

        Counts failures and locks the account after ``qzt.login.max_failures``.
        """

    def register_enterprise(data):
        """Create an enterprise and its first (administering) user from form data."""

    def add_colleague(enterprise, data):
        """Add another user to an existing enterprise account."""

    def create_user(data):
        """Create a government user (administration)."""

    def update_profile(user, data):
        """The user's own edit of display name, e-mail and phone."""

    def change_password(user, old, new):
        """Check ``old``, store ``new``; ends the user's other sessions."""

    def set_active(user, active):
        """Enable or disable an account; disabling ends every session at once."""

    def min_password_length(user_or_roles):
        """12 for government staff, 8 for enterprise users (settings)."""

    def update_user(user, data, actor):
        """Apply an administrator's edit; refuses to let ``actor`` drop their own admin
        role or disable their own account."""

    def reset_password(user, new):
        """An administrator sets a new password; ends every session of ``user``."""

    def unlock(user):
        """Clear a lock left by too many failed logins."""
