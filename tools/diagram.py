#!/usr/bin/env python3
"""Draw the stack: dist/template.json -> docs/stack.dot, docs/stack.svg and docs/stack.png.

One node per resource, grouped by service (Lambda, DynamoDB, ApiGateway, ...); an edge from a
resource to every resource it references through Ref, Fn::GetAtt, Fn::Sub or DependsOn (dashed
when DependsOn is the only link). The picture is drawn from the built template, not from the
troposphere code, so it shows what CloudFormation will actually see.

Same template, same bytes: nodes, edges and clusters are sorted, so docs/stack.dot can be checked
in and compared by the tests (tests/tools/test_diagram.py) without Graphviz. Rendering needs
Graphviz's `dot`; without it only the .dot is written."""

import argparse
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Collection
from pathlib import Path
from typing import Any

from tools import ROOT, intrinsics

DEFAULT_TEMPLATE = ROOT / "dist" / "template.json"
DEFAULT_OUT = ROOT / "docs"
STEM = "stack"
# The sections of a resource that hold no reference worth drawing: Metadata is tool config.
SKIPPED_KEYS = {"Metadata", "DependsOn"}
# Graph attributes: left to right, small type, parallel edges merged so 150 nodes stay legible.
GRAPH_ATTRS = {
    "rankdir": "LR",
    "concentrate": "true",
    "newrank": "true",
    "nodesep": "0.1",
    "ranksep": "0.8",
    "fontname": "Helvetica",
    "fontsize": "12",
    "labelloc": "t",
    "pad": "0.3",
}
NODE_ATTRS = {
    "shape": "box",
    "style": "rounded,filled",
    "fillcolor": "white",
    "fontname": "Helvetica",
    "fontsize": "9",
    "height": "0.3",
    "margin": "0.06,0.03",
}
EDGE_ATTRS = {"color": "#55555599", "arrowsize": "0.5", "penwidth": "0.7"}
CLUSTER_ATTRS = {"style": "rounded,filled", "color": "#999999", "fontsize": "12"}
# A soft fill per service, so the eye finds a service at a glance; others get the default.
SERVICE_FILL = {
    "ApiGateway": "#fdf2e9",
    "CloudWatch": "#fbeef3",
    "DynamoDB": "#eaf2fb",
    "IAM": "#fdecea",
    "KMS": "#f4ecf7",
    "Lambda": "#fef5e7",
    "Logs": "#eafaf1",
    "S3": "#e8f8f5",
    "SNS": "#fbeee6",
    "SQS": "#f9ebea",
}
DEFAULT_FILL = "#f2f3f4"
# Unreferenced resources of one type beyond this many are spread over several columns.
COLUMN_HEIGHT = 12
GRAPHVIZ_HINT = (
    "make diagram: Graphviz's `dot` is not on PATH, so only {dot} was written; install the Debian "
    "package graphviz (apt-get install graphviz) to render the .svg and .png"
)


class RenderError(Exception):
    """Graphviz refused the DOT document: its own message, without a traceback."""


def depends_on(resource: dict[str, Any]) -> set[str]:
    """DependsOn as a set: CloudFormation accepts one name or a list of names."""
    value = resource.get("DependsOn", [])
    return {value} if isinstance(value, str) else {v for v in value if isinstance(v, str)}


def value_references(resource: dict[str, Any], names: Collection[str] | None = None) -> set[str]:
    """The names the resource's values use (Ref, Fn::GetAtt, Fn::Sub), Metadata excluded; with
    names, only those (the template's resources: parameters and conditions are not edges)."""
    found = set(intrinsics.named({k: v for k, v in resource.items() if k not in SKIPPED_KEYS}))
    return found if names is None else found & set(names)


def references(resource: dict[str, Any], names: Collection[str] | None = None) -> set[str]:
    """Everything the resource needs to exist first: value references plus DependsOn."""
    found = value_references(resource) | depends_on(resource)
    return found if names is None else found & set(names)


def service(resource_type: str) -> str:
    """AWS::Lambda::Function -> Lambda: the cluster a resource is drawn in (Custom::X ->
    Custom)."""
    parts = resource_type.split("::")
    return parts[1] if len(parts) > 2 else parts[0]


def short_type(resource_type: str) -> str:
    """AWS::Lambda::Function -> Lambda::Function: the logical ID already says which one."""
    parts = resource_type.split("::")
    return "::".join(parts[1:]) if len(parts) > 2 else resource_type


def edges(template: dict[str, Any]) -> dict[tuple[str, str], bool]:
    """(source, target) -> True when DependsOn is the only link (drawn dashed). One entry per
    pair, self-references dropped, targets limited to the template's resources."""
    resources = template.get("Resources", {})
    names = set(resources)
    result: dict[tuple[str, str], bool] = {}
    for source in sorted(resources):
        body = resources[source]
        by_value = value_references(body, names)
        for target in sorted(references(body, names) - {source}):
            result[(source, target)] = target not in by_value
    return result


def stagger(template: dict[str, Any], pairs: Collection[tuple[str, str]]) -> dict[str, int]:
    """Extra rank length per node: a type with many unreferenced resources (48 alarms) would
    make one column as tall as the whole page, so they are spread over a few columns instead.
    Only edge lengths change: every node and edge is still drawn."""
    resources = template.get("Resources", {})
    referenced = {target for _, target in pairs}
    by_type: dict[str, list[str]] = {}
    for name in sorted(resources):
        if name not in referenced:
            by_type.setdefault(resources[name].get("Type", ""), []).append(name)
    result: dict[str, int] = {}
    for names in by_type.values():
        columns = -(-len(names) // COLUMN_HEIGHT)
        if columns > 1:
            result.update({name: 1 + i % columns for i, name in enumerate(names)})
    return result


def _quote(text: str) -> str:
    """A DOT double-quoted string; newlines become centred line breaks."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _attrs(attrs: dict[str, str]) -> str:
    return ", ".join(f"{k}={_quote(v)}" for k, v in attrs.items())


def to_dot(template: dict[str, Any]) -> str:
    """The template as a DOT document; sorted throughout so the same template gives the same
    bytes (docs/stack.dot is checked in and compared by the tests)."""
    resources = template.get("Resources", {})
    clusters: dict[str, list[str]] = {}
    for name, body in resources.items():
        clusters.setdefault(service(body.get("Type", "")), []).append(name)
    lines = [
        "digraph stack {",
        f"  graph [{_attrs(GRAPH_ATTRS)}];",
        f"  node [{_attrs(NODE_ATTRS)}];",
        f"  edge [{_attrs(EDGE_ATTRS)}];",
    ]
    for svc in sorted(clusters):
        fill = SERVICE_FILL.get(svc, DEFAULT_FILL)
        cluster_id = re.sub(r"\W", "_", svc)
        lines.append(f"  subgraph cluster_{cluster_id} {{")
        lines.append(f"    graph [{_attrs({'label': svc, 'fillcolor': fill, **CLUSTER_ATTRS})}];")
        for name in sorted(clusters[svc]):
            label = f"{name}\n{short_type(resources[name].get('Type', ''))}"
            lines.append(f"    {_quote(name)} [label={_quote(label)}];")
        lines.append("  }")
    pairs = edges(template)
    lengths = stagger(template, pairs)
    for (source, target), dashed in sorted(pairs.items()):
        attrs = {"style": "dashed"} if dashed else {}
        if lengths.get(source, 1) > 1:
            attrs["minlen"] = str(lengths[source])
        suffix = f" [{_attrs(attrs)}]" if attrs else ""
        lines.append(f"  {_quote(source)} -> {_quote(target)}{suffix};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def write_if_changed(path: Path, data: bytes) -> None:
    """Leave an up-to-date file alone, so its mtime (and make) see no change."""
    if not path.exists() or path.read_bytes() != data:
        path.write_bytes(data)


def render(dot_file: Path, out_dir: Path, dot_binary: str) -> list[Path]:
    """The .svg and the .png next to the .dot; returns the files written."""
    written = []
    for fmt in ("svg", "png"):
        target = out_dir / f"{STEM}.{fmt}"
        result = subprocess.run([dot_binary, f"-T{fmt}", str(dot_file)], capture_output=True)
        if result.returncode != 0:
            raise RenderError(f"dot -T{fmt} {dot_file}: {result.stderr.decode().strip()}")
        write_if_changed(target, result.stdout)
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    """Write docs/stack.dot, then render it if Graphviz is installed: 0 without Graphviz too,
    1 only when dot rejects the document."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("template", nargs="?", type=Path, default=DEFAULT_TEMPLATE)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="default: docs/")
    args = parser.parse_args(argv)
    template = json.loads(args.template.read_text())
    args.out.mkdir(parents=True, exist_ok=True)
    dot_file = args.out / f"{STEM}.dot"
    write_if_changed(dot_file, to_dot(template).encode())
    written = [dot_file]
    dot_binary = shutil.which("dot")
    if dot_binary is None:
        print(GRAPHVIZ_HINT.format(dot=dot_file), file=sys.stderr)
    else:
        try:
            written += render(dot_file, args.out, dot_binary)
        except RenderError as error:
            print(f"make diagram: {error}", file=sys.stderr)
            return 1
    resources = template.get("Resources", {})
    services = {service(r.get("Type", "")) for r in resources.values()}
    shown = ", ".join(str(p) for p in written)
    print(f"{shown}: {len(resources)} resources, {len(edges(template))} edges, "
          f"{len(services)} services")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
