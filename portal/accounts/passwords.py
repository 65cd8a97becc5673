"""Password hashing with argon2id, behind an interface so tests can use cheap parameters."""

from __future__ import annotations

from argon2 import PasswordHasher as Argon2Hasher
from argon2.exceptions import InvalidHashError, VerificationError
from zope.interface import Interface, implementer


class IPasswordHasher(Interface):
    def hash(password: str) -> str:
        """A self-describing hash of ``password``."""

    def verify(hashed: str, password: str) -> bool:
        """Whether ``password`` matches; never raises on a bad hash."""

    def needs_rehash(hashed: str) -> bool:
        """Whether the hash was made with weaker parameters than the current ones."""


@implementer(IPasswordHasher)
class Argon2PasswordHasher:
    def __init__(self, time_cost: int = 3, memory_cost: int = 65536, parallelism: int = 2) -> None:
        self._hasher = Argon2Hasher(
            time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism
        )

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, hashed: str, password: str) -> bool:
        try:
            return self._hasher.verify(hashed, password)
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, hashed: str) -> bool:
        try:
            return self._hasher.check_needs_rehash(hashed)
        except InvalidHashError:
            return True
