#!/usr/bin/env python3
"""Regenerates the options table in docs/configuration.md from src/config/keys.rs.

Run after adding or changing an option; a test fails if the doc misses one."""
import pathlib
import re

root = pathlib.Path(__file__).resolve().parent.parent
src = (root / "src/config/keys.rs").read_text()
rows = re.findall(
    r'ConfigKey \{\s*name: "([^"]+)",\s*default: (Some\("([^"]*)"\)|None),\s*doc: "([^"]+)",?\s*\}',
    src,
)
lines = []
for name, default, value, doc in rows:
    shown = f"`{value}`" if default != "None" else "(unset)"
    doc = doc.replace("|", "\\|")
    lines.append(f"| `{name}` | `VEZA_{name.upper()}` | {shown} | {doc} |")
doc_path = root / "docs/configuration.md"
text = doc_path.read_text()
text = re.sub(
    r"(\| key \| environment \| default \| meaning \|\n\|---\|---\|---\|---\|\n)(?:\|.*\n)*",
    lambda m: m.group(1) + "\n".join(lines) + "\n",
    text,
)
doc_path.write_text(text)
print(f"{len(lines)} options written to docs/configuration.md")
