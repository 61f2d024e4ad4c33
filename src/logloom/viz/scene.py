"""What the view shows: the scene shared by the Rerun view and the HTML report.

Owns ``VizScene`` and ``VizComponent`` (the components, where they stand, their
machines' states and metrics, and the colour of each state), built from the
parsed configs as plain, frozen data, and ``parse_color`` for the colours of
viz_resources.yaml. Promises: never imports rerun, so the report and the CLI use
the scene without the viz extra; ``color_of`` gives every state a colour: its
configured one, else ``default_color``, and when none is configured the
machines' states get one each from a palette without red (red marks anomalies).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

RGB = tuple[int, int, int]
# for states without a configured colour when viz_resources sets no default_color:
# a categorical palette without red, which marks anomalies
PALETTE: tuple[RGB, ...] = (
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (148, 103, 189), (140, 86, 75),
    (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207),
)  # fmt: skip


def parse_color(value: object) -> RGB:
    """``"#rrggbb"`` or ``[r, g, b]`` (0-255) as an RGB tuple; ValueError otherwise."""
    if isinstance(value, str):
        text = value.strip()
        if len(text) == 7 and text[0] == "#":
            try:
                return (int(text[1:3], 16), int(text[3:5], 16), int(text[5:7], 16))
            except ValueError:
                pass
    elif (
        isinstance(value, Sequence)
        and len(value) == 3
        and all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 255 for c in value)
    ):
        return (int(value[0]), int(value[1]), int(value[2]))
    raise ValueError(f"colour must be '#rrggbb' or [r, g, b] with 0-255 values, got {value!r}")


@dataclass(frozen=True)
class VizComponent:
    """One component as drawn: where, how big, its machine's states and metrics."""

    id: str
    type: str
    initial_state: str
    states: tuple[str, ...] = ()
    metrics: tuple[str, ...] = ()
    position: tuple[float, float, float] = (0.0, 0.0, 0.0)
    size: tuple[float, float, float] = (1.0, 1.0, 1.0)
    label: str = ""


@dataclass(frozen=True)
class VizScene:
    """What the view shows, from the configs; plain data, no rerun needed."""

    components: tuple[VizComponent, ...]
    state_colors: Mapping[str, RGB] = field(default_factory=dict)
    default_color: RGB = (158, 158, 158)
    line: str = "logloom"

    def color_of(self, state: str) -> RGB:
        return self.state_colors.get(state, self.default_color)

    def with_initial_states(self, states: Mapping[str, str]) -> VizScene:
        """The scene with components starting in ``states`` (e.g. a resumed checkpoint's)."""
        comps = tuple(replace(c, initial_state=states[c.id]) if c.id in states else c for c in self.components)
        return replace(self, components=comps)

    @classmethod
    def from_config(
        cls,
        machine_graph: Mapping[str, Any],
        process_logic: Mapping[str, Any],
        viz_resources: Mapping[str, Any] | None = None,
    ) -> VizScene:
        """Build from the parsed YAML dicts (viz_resources optional).

        Components without a position are laid out in a row behind the others.
        """
        viz = viz_resources or {}
        placed: Mapping[str, Any] = viz.get("components") or {}
        machines: Mapping[str, Any] = process_logic.get("machines") or {}
        comps: list[VizComponent] = []
        unplaced = 0
        for raw in machine_graph.get("components") or []:
            machine = machines.get(raw["type"]) or {}
            states: Mapping[str, Any] = machine.get("states") or {}
            metrics = tuple(m["name"] for st in states.values() for m in ((st or {}).get("metrics") or []))
            where = placed.get(raw["id"])
            if where is not None:
                pos = tuple(float(v) for v in where.get("position", (0, 0, 0)))
                size = tuple(float(v) for v in where.get("size", (1, 1, 1)))
                label = str(where.get("label") or raw["id"])
            else:
                pos, size, label = (2.5 * unplaced, -3.0, 0.0), (1.0, 1.0, 1.0), raw["id"]
                unplaced += 1
            comps.append(
                VizComponent(
                    id=raw["id"],
                    type=raw["type"],
                    initial_state=str(machine.get("initial", "")),
                    states=tuple(states),
                    metrics=tuple(dict.fromkeys(metrics)),
                    position=pos,  # type: ignore[arg-type]
                    size=size,  # type: ignore[arg-type]
                    label=label,
                )
            )
        colors = {name: parse_color((spec or {}).get("color")) for name, spec in (viz.get("states") or {}).items()}
        if "default_color" in viz:
            default = parse_color(viz["default_color"])
        else:  # no colour chosen: tell the states apart rather than paint them all grey
            default = (158, 158, 158)
            unnamed = [st for c in comps for st in c.states if st not in colors]
            for i, state in enumerate(dict.fromkeys(unnamed)):
                colors[state] = PALETTE[i % len(PALETTE)]
        return cls(tuple(comps), colors, default, str(machine_graph.get("line") or "logloom"))

    @classmethod
    def from_config_dir(cls, config_dir: Path) -> VizScene:
        """Read the YAML files of a config directory (viz_resources.yaml optional)."""
        from logloom.config.yaml_io import load_yaml

        def load(name: str) -> Any:
            path = config_dir / name
            if not path.exists():
                return None
            return load_yaml(path.read_text(encoding="utf-8"))

        return cls.from_config(
            load("machine_graph.yaml") or {},
            load("process_logic.yaml") or {},
            load("viz_resources.yaml"),
        )
