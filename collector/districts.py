"""The city districts file: names in three languages and the populations that weight SDG 11.6.2."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from dataclasses import dataclass as plain_dataclass
from datetime import date, datetime
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.dataclasses import dataclass

from collector.config import ConfigError

# A name must contain something visible: "" and "  " are both missing names.
Name = Annotated[str, Field(strict=True, pattern=r"\S")]
# Strict per field, not per model: a strict model would demand District instances, not tables.
_FORBID = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True, slots=True, config=ConfigDict(extra="forbid"))
class District:
    """A city district; `name` is spelled as the `district` of the stations in it."""

    name: Name
    name_ru: Name
    name_kk: Name
    # strict: 3.5e5 or `true` is a mistake in the file, not a population
    population: Annotated[int, Field(strict=True, gt=0)]
    area_km2: Annotated[float, Field(strict=True, gt=0, allow_inf_nan=False)]


class _Meta(BaseModel):
    model_config = _FORBID

    source: Name
    as_of: Annotated[date, Field(strict=True)]

    @field_validator("as_of", mode="before")
    @classmethod
    def _date_only(cls, value: object) -> object:
        # TOML has local dates and datetimes; a reference date is a date.
        if isinstance(value, datetime):
            raise ValueError("a date (e.g. 2024-01-01), not a date-time")  # noqa: TRY004 - pydantic reports ValueError, not TypeError
        return value


class _File(BaseModel):
    model_config = _FORBID

    meta: _Meta
    district: list[District] = Field(min_length=1)


@plain_dataclass(frozen=True, slots=True)
class Districts:
    """The districts file: the districts and where their population figures come from."""

    items: tuple[District, ...]
    source: str
    as_of: Annotated[date, Field(strict=True)]

    def __iter__(self) -> Iterator[District]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def get(self, name: str) -> District | None:
        """The district of that name, or None."""
        return next((d for d in self.items if d.name == name), None)


def bundled_districts_path() -> Path:
    """The Almaty districts shipped with the package."""
    return Path(str(resources.files("collector") / "data" / "districts.toml"))


def _label(raw: dict[str, Any], loc: tuple[int | str, ...]) -> str:
    """`district Alatau: population` for an error inside the second [[district]] table."""
    if len(loc) >= 2 and loc[0] == "district" and isinstance(loc[1], int):  # noqa: PLR2004
        entries = raw.get("district")
        entry = entries[loc[1]] if isinstance(entries, list) else None
        name = entry.get("name") if isinstance(entry, dict) else None
        label = name if isinstance(name, str) and name.strip() else f"#{loc[1] + 1}"
        rest = ".".join(str(p) for p in loc[2:])
        return f"district {label}" + (f": {rest}" if rest else "")
    return ".".join(str(p) for p in loc) or "file"


def load_districts(path: Path | None = None) -> Districts:
    """Load and validate a districts file (the bundled one when `path` is None).

    Raises:
        ConfigError: One line naming every problem.
    """
    path = path or bundled_districts_path()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read districts file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"districts file {path} is not valid TOML: {exc}") from None
    problems: list[str] = []
    try:
        parsed = _File.model_validate(raw)
    except ValidationError as exc:
        for err in exc.errors():
            msg = err["msg"].removeprefix("Value error, ")
            problems.append(f"{_label(raw, err['loc'])}: {msg}")
    else:
        names = [d.name for d in parsed.district]
        problems += [
            f"district {name}: duplicate name" for i, name in enumerate(names) if name in names[:i]
        ]
    if problems:
        raise ConfigError(f"districts file {path}: " + "; ".join(problems))
    return Districts(tuple(parsed.district), parsed.meta.source, parsed.meta.as_of)
