"""argon2id hashing behind IPasswordHasher."""

from __future__ import annotations

import pytest
from zope.interface.verify import verifyClass, verifyObject

from portal.accounts.passwords import Argon2PasswordHasher, IPasswordHasher


@pytest.fixture(scope="module")
def hasher() -> Argon2PasswordHasher:
    return Argon2PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)


def test_conforms_to_its_interface(hasher):
    assert verifyClass(IPasswordHasher, Argon2PasswordHasher)
    assert verifyObject(IPasswordHasher, hasher)


def test_hash_is_salted_argon2id_and_verifies(hasher):
    first, second = hasher.hash("Correct-Horse-42"), hasher.hash("Correct-Horse-42")
    assert first.startswith("$argon2id$")
    assert first != second  # a random salt per hash
    assert hasher.verify(first, "Correct-Horse-42")
    assert not hasher.verify(first, "correct-horse-42")


@pytest.mark.parametrize("stored", ["", "plain-text", "$argon2id$v=19$broken", "$2b$12$bcrypt"])
def test_a_damaged_hash_never_raises_it_just_fails(hasher, stored):
    assert hasher.verify(stored, "anything") is False


def test_production_defaults_are_owasp_strength():
    stored = Argon2PasswordHasher().hash("x")
    assert "m=65536,t=3,p=2" in stored


def test_needs_rehash_when_parameters_change(hasher):
    stored = hasher.hash("Correct-Horse-42")
    assert not hasher.needs_rehash(stored)
    stronger = Argon2PasswordHasher(time_cost=2, memory_cost=64, parallelism=1)
    assert stronger.needs_rehash(stored)
    assert stronger.needs_rehash("not a hash at all")
