"""The tolerant reader: a newer Rails API may add enum values and keys; the client keeps them.

The client validates answers with :data:`READ_TOLERANTLY` as pydantic's validation context.
Under it, an enum field built with :func:`open_enum` keeps a value the contract does not list
(as a member of no declared name: it equals its string, so no ``is ProcurementStatus.X`` test
passes for it), and a :class:`ClosedObject` drops keys it does not declare. Without that
context (the sandbox, requests) both stay strict, and the published schemas list only the
contract's values.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Final, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WithJsonSchema,
    WrapValidator,
    model_validator,
)

__all__ = ["READ_TOLERANTLY", "ClosedObject", "is_unknown", "open_enum", "reported_enum"]

#: The validation context the client reads answers with.
READ_TOLERANTLY: Final[dict[str, bool]] = {"read_tolerantly": True}

E = TypeVar("E", bound=StrEnum)


def _tolerant(info: ValidationInfo) -> bool:
    return info.context is READ_TOLERANTLY


def _unknown_member(enum: type[E], value: str) -> E:
    """A member of ``enum`` that is none of its declared ones: equal to ``value``, its ``.value``
    and ``str()`` are ``value``, and it serialises as ``value``."""
    member = str.__new__(enum, value)
    object.__setattr__(member, "_value_", value)
    object.__setattr__(member, "_name_", value)
    return member


def is_unknown(member: StrEnum) -> bool:
    """Whether an enum value came from a newer API (none of the contract's values)."""
    return member.value not in type(member)._value2member_map_


def open_enum(enum: type[E], *, always: bool = False) -> WrapValidator:
    """Validate as ``enum``; when reading tolerantly (or ``always``), keep a value it does not list."""

    def keep_unknown(value: object, handler: ValidatorFunctionWrapHandler, info: ValidationInfo) -> E:
        try:
            return handler(value)
        except ValidationError:
            if isinstance(value, str) and value and (always or _tolerant(info)):
                return _unknown_member(enum, value[:100])
            raise

    return WrapValidator(keep_unknown)


def reported_enum(enum: type[E]) -> WithJsonSchema:
    """The schema of a value reported onward (a tool's result): the contract's values, and any
    other string, since a value the API added is passed through as it came."""
    known = ", ".join(member.value for member in enum)
    return WithJsonSchema(
        {"type": "string", "description": f"{known}; or a newer value from the API, as it came"}
    )


class ClosedObject(BaseModel):
    """A nested object the contract closes (``additionalProperties: false``): strict for
    requests and in the sandbox, while the client drops keys a newer API added."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    @model_validator(mode="before")
    @classmethod
    def _drop_added_keys(cls, data: Any, info: ValidationInfo) -> Any:
        if isinstance(data, dict) and _tolerant(info):
            return {k: v for k, v in data.items() if k in cls.model_fields}  # pyright: ignore[reportUnknownVariableType]
        return data  # pyright: ignore[reportUnknownVariableType]
