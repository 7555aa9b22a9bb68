"""config/README.md's key tables, written from config/schema.yaml, the one definition of
the keys: ``python -m goodnet.config_doc`` (``make docs``) rewrites the part of the README
between its two markers, and tests/test_config.py fails when that part has drifted."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

from goodnet.core import atomic

ROOT = Path(__file__).resolve().parents[1]
BEGIN = "<!-- keys: generated from config/schema.yaml by `make docs`; do not edit -->"
END = "<!-- end of keys -->"


def key_tables(schema: dict) -> str:
    """One markdown table per mapping of the config: its keys' type, default and meaning."""
    sections = []
    for title, node in _mappings(schema, ""):
        rows = [
            f"| `{key}` | {_type(sub)} | {_default(key, node, sub)} | {_meaning(sub)} |"
            for key, sub in node["properties"].items()
        ]
        head = f"### {title}\n\n| key | type | default | meaning |\n|---|---|---|---|"
        sections.append("\n".join([head, *rows]))
    return "\n\n".join(sections) + "\n"


def _mappings(node: dict, path: str):
    """(title, schema) of every mapping with named keys, depth first, top level first."""
    yield (f"`{path}`" if path else "Top level"), node
    for key, sub in node.get("properties", {}).items():
        if "properties" in sub:
            yield from _mappings(sub, f"{path}.{key}" if path else key)
        extra = sub.get("additionalProperties")
        if isinstance(extra, dict) and "properties" in extra:
            name = "<B>" if key in ("badnets", "backdoors") else "<name>"
            prefix = f"{path}.{key}" if path else key
            yield from _mappings(extra, f"{prefix}.{name}")


def _type(sub: dict) -> str:
    if "enum" in sub:
        return " or ".join(f"`{v}`" for v in sub["enum"])
    kind = sub.get("type", "")
    kind = " or ".join(kind) if isinstance(kind, list) else kind
    if kind == "array":
        kind = f"list of {_type(sub.get('items', {}))}"
    bounds = [
        f"{sign} {sub[word] if isinstance(sub[word], int) else format(sub[word], 'g')}"
        for word, sign in (
            ("minimum", ">="),
            ("exclusiveMinimum", ">"),
            ("maximum", "<="),
            ("exclusiveMaximum", "<"),
        )
        if word in sub
    ]
    return ", ".join([kind, *bounds])


def _default(key: str, parent: dict, sub: dict) -> str:
    if "default" in sub and sub["default"] != {}:
        return f"`{json.dumps(sub['default'])}`"
    return "required" if key in parent.get("required", []) else ""


def _meaning(sub: dict) -> str:
    return " ".join(sub.get("description", "").split()).replace("|", "\\|")


def readme_with_tables(readme: str, schema: dict) -> str:
    """``readme`` with the part between the markers replaced by the key tables."""
    start, end = readme.index(BEGIN) + len(BEGIN), readme.index(END)
    return readme[:start] + "\n\n" + key_tables(schema) + "\n" + readme[end:]


def main() -> None:
    schema = yaml.safe_load((ROOT / "config" / "schema.yaml").read_text())
    readme = ROOT / "config" / "README.md"
    atomic.write_text(readme, readme_with_tables(readme.read_text(), schema))
    print(f"wrote the key tables of {readme.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
