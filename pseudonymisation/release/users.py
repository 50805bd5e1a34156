"""The users register and the organisations file: who may ask for a list, and who may receive one.

Both are YAML files inside the signed governance bundle (``bundle.py``), so neither can be edited by
whoever runs a release without the signature failing.

* ``users.yaml``: each requester by id, with name, national RBAC role code and title, the
  organisations (practice or PCN ODS codes) they work for, and the dates they are active. A release
  names a user id (``phm release --user``), never free text: the audit log records the id.
* ``organisations.yaml``: each organisation that may receive lists, with its HPKE public key (X25519,
  base64), as a practice would have a mailbox. A list is sealed to that key (``sealing.py``).
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import date
from pathlib import Path
from typing import Annotated

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
from pydantic import AfterValidator, StrictStr, ValidationInfo, field_validator

from core.errors import Refused

from ._schema import IsoDate, OdsCode, RbacRole, Strict, Text, distinct, load_yaml_model, pattern, unique_keys

__all__ = [
    "Organisation",
    "Organisations",
    "UnknownUserError",
    "User",
    "UsersRegister",
    "load_organisations",
    "load_users",
]

_USER_ID = re.compile(r"^[a-z0-9]+(?:[-_.][a-z0-9]+)*$")
UserId = Annotated[StrictStr, pattern(_USER_ID, "a user id like 'gp-a81001-1'")]


class UnknownUserError(Refused, LookupError):
    """No user with this id in the users register."""


def _x25519(text: str) -> str:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("hpke_public_key must be base64") from None
    if len(raw) != 32:
        raise ValueError("hpke_public_key must be a 32-byte X25519 public key (base64)")
    return text


class User(Strict):
    """One person who may request lists. Active from ``active_from`` until the start of ``active_until``."""

    id: UserId
    name: Text
    rbac_role_code: RbacRole
    rbac_role_title: Text
    organisations: Annotated[tuple[OdsCode, ...], distinct("organisation")]
    active_from: IsoDate
    active_until: IsoDate | None = None

    @field_validator("active_until")
    @classmethod
    def _after_start(cls, until: date | None, info: ValidationInfo) -> date | None:
        start = info.data.get("active_from")
        if until is not None and start is not None and until <= start:
            raise ValueError(f"active_until ({until}) must be after active_from ({start})")
        return until

    def is_active(self, on: date) -> bool:
        return self.active_from <= on and (self.active_until is None or on < self.active_until)

    def works_for(self, practice: str, pcn: str | None) -> bool:
        """Does this user belong to the practice, or to the PCN the practice is a member of?"""
        return practice in self.organisations or (pcn is not None and pcn in self.organisations)


class UsersRegister(Strict):
    users: tuple[User, ...]

    @field_validator("users")
    @classmethod
    def _unique(cls, users: tuple[User, ...]) -> tuple[User, ...]:
        unique_keys(users, "id", "user id")
        return users

    def user(self, user_id: str) -> User:
        for user in self.users:
            if user.id == user_id:
                return user
        raise UnknownUserError("no such user in the users register")


class Organisation(Strict):
    """A receiving organisation and the public key its lists are sealed to."""

    ods: OdsCode
    name: Text
    hpke_public_key: Annotated[StrictStr, AfterValidator(_x25519)]

    def public_key(self) -> X25519PublicKey:
        return X25519PublicKey.from_public_bytes(base64.b64decode(self.hpke_public_key))


class Organisations(Strict):
    organisations: tuple[Organisation, ...]

    @field_validator("organisations")
    @classmethod
    def _unique(cls, organisations: tuple[Organisation, ...]) -> tuple[Organisation, ...]:
        unique_keys(organisations, "ods", "organisation")
        return organisations

    def get(self, ods: str) -> Organisation | None:
        return next((o for o in self.organisations if o.ods == ods), None)


def load_users(path: Path | str, *, text: str | None = None) -> UsersRegister:
    """Read and validate ``users.yaml`` (``RegisterError`` file:line: reason if malformed)."""
    return load_yaml_model(path, UsersRegister, text=text)


def load_organisations(path: Path | str, *, text: str | None = None) -> Organisations:
    """Read and validate ``organisations.yaml`` (``RegisterError`` file:line: reason if malformed)."""
    return load_yaml_model(path, Organisations, text=text)
