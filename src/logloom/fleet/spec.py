"""The fleet file: which sources, their configs, logs and data directories.

```yaml
data: fleet-data              # each source writes into <data>/<name>/
parquet_part_rows: 1000000    # optional: rows per Parquet part
checkpoint_every: 1.0         # optional: seconds between checkpoints of each source
sources:
  - name: line1
    config: plants/line1/config
    logs: plants/line1/logs/*.log   # a path or a glob (or a list of them)
    record_logs: plants/line1/good/*.log   # optional: what `fleet record` learns from
    type: dispense_line       # optional: the peer group of `fleet record --pooled`
```

Paths are relative to the fleet file. It is checked like the configs: every problem
at once, each with file, key path, line and a hint; a bad fleet file is exit 2
before anything runs. Whether a source's config and logs are usable is found out
when it runs: a broken source fails alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from logloom.config.schema import Name
from logloom.config.validation import validate
from logloom.config.yaml_io import ConfigFile, read_yaml
from logloom.errors import ConfigError

PathText = Annotated[str, StringConstraints(min_length=1)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceModel(_Model):
    name: Name
    config: PathText
    logs: PathText | list[PathText]
    record_logs: PathText | list[PathText] | None = None
    type: Name | None = None


class FleetModel(_Model):
    data: PathText
    parquet_part_rows: int = Field(1_000_000, ge=1)
    checkpoint_every: float = Field(1.0, ge=0.01, le=60)
    sources: list[SourceModel] = Field(min_length=1)


@dataclass(frozen=True)
class Source:
    """One source with its paths made absolute (workers may run elsewhere)."""

    name: str
    config: Path
    logs: tuple[str, ...]  # absolute paths or glob patterns
    record_logs: tuple[str, ...]
    type: str  # peer group: the `type` given, else the config directory

    def data_dir(self, fleet_data: Path) -> Path:
        return fleet_data / self.name


@dataclass(frozen=True)
class Fleet:
    path: Path
    data: Path
    parquet_part_rows: int
    checkpoint_every: float
    sources: tuple[Source, ...]


def _absolute(base: Path, text: str) -> str:
    path = Path(text).expanduser()
    return str(path if path.is_absolute() else base / path)


def _patterns(base: Path, value: str | list[str]) -> tuple[str, ...]:
    return tuple(_absolute(base, v) for v in ([value] if isinstance(value, str) else value))


def load_fleet(path: Path) -> Fleet:
    """Read and check ``path``; ConfigError with every problem (exit 2)."""
    f = ConfigFile(str(path))
    model = validate(FleetModel, read_yaml(path, f), f)
    if model is not None:
        seen: dict[str, int] = {}
        for i, src in enumerate(model.sources):
            if src.name in seen:
                f.add(("sources", i, "name"), f"the name {src.name!r} is taken by sources[{seen[src.name]}]",
                      "each source writes into <data>/<name>/: names must differ")
            seen.setdefault(src.name, i)
            if src.name == "parquet":
                f.add(("sources", i, "name"), "'parquet' is the fleet's Parquet dataset directory",
                      "choose another name")
    if model is None or f.problems:
        raise ConfigError(f.problems)
    base = path.resolve().parent
    sources = tuple(
        Source(
            name=s.name,
            config=Path(_absolute(base, s.config)),
            logs=_patterns(base, s.logs),
            record_logs=_patterns(base, s.record_logs if s.record_logs is not None else s.logs),
            type=s.type or str(Path(_absolute(base, s.config)).resolve()),
        )
        for s in model.sources
    )
    return Fleet(path, Path(_absolute(base, model.data)), model.parquet_part_rows, model.checkpoint_every, sources)
