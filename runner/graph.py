"""The validated config as an explicit graph: source -> pipeline step(s) -> sink.

Nodes declare the fields they consume and produce, with modalities; edges say which fields flow.
`check` verifies that every field a node consumes arrives from upstream with the right modality
and that the graph has no cycle, before any model loads. Today a config makes one step; the
structure already holds several, so chains need no rewrite.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from runner.errors import ConfigError
from runner.tasks import TASKS


@dataclass
class Node:
    name: str
    kind: str  # source | step | sink
    consumes: dict[str, str] = field(default_factory=dict)  # field -> modality
    produces: dict[str, str] = field(default_factory=dict)
    detail: str = ""


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    fields: dict[str, str]  # target's field -> source's field


@dataclass
class Graph:
    nodes: dict[str, Node]
    edges: list[Edge]

    def upstream(self, name: str) -> list[Edge]:
        return [e for e in self.edges if e.target == name]

    def order(self) -> list[str]:
        """Node names in topological order; raises ConfigError on a cycle."""
        indegree = {n: 0 for n in self.nodes}
        for edge in self.edges:
            indegree[edge.target] += 1
        ready = [n for n, d in indegree.items() if d == 0]
        ordered = []
        while ready:
            current = ready.pop(0)
            ordered.append(current)
            for edge in self.edges:
                if edge.source == current:
                    indegree[edge.target] -= 1
                    if indegree[edge.target] == 0:
                        ready.append(edge.target)
        if len(ordered) != len(self.nodes):
            stuck = sorted(set(self.nodes) - set(ordered))
            raise ConfigError("graph", f"the steps form a cycle: {' -> '.join(stuck)}")
        return ordered

    def steps(self) -> list[Node]:
        return [self.nodes[n] for n in self.order() if self.nodes[n].kind == "step"]


def build_graph(cfg: dict, mapping: dict[str, str], source_columns: list[str]) -> Graph:
    """One step: the task, fed by the source columns that `mapping` names (task input -> column)."""
    spec = TASKS[cfg["task"]["name"]]
    dataset = cfg["dataset"]
    source = Node(
        "source", "source", produces={column: spec.inputs[name] for name, column in mapping.items()},
        detail=f"dataset={dataset['type']}" + (f" {dataset.get('path') or dataset.get('name')}" if dataset.get("path") or dataset.get("name") else ""),
    )
    model = cfg["model"]
    model_name = model.get("id") or model.get("package") or (f"tiny/{model['tiny']}" if model.get("tiny") else None)
    model_name = model_name or f"default {spec.default_model[0]}"
    step = Node(
        "main", "step", consumes={name: spec.inputs[name] for name in mapping},
        produces=dict(spec.produces), detail=f"{spec.id} ({model_name}, batch_size={cfg['batch_size']})",
    )
    sink = Node("predictions", "sink", consumes={"output": "json"}, detail=f"{cfg['output']['format']}")
    edges = [
        Edge("source", "main", {name: column for name, column in mapping.items()}),
        Edge("main", "predictions", {"output": "*"}),
    ]
    graph = Graph({n.name: n for n in (source, step, sink)}, edges)
    check(graph)
    return graph


def check(graph: Graph) -> None:
    graph.order()
    for node in graph.nodes.values():
        if node.kind != "step":
            continue
        arriving = {}
        for edge in graph.upstream(node.name):
            upstream = graph.nodes[edge.source]
            for wanted, offered in edge.fields.items():
                if offered not in upstream.produces:
                    raise ConfigError(f"graph.{node.name}", f"needs '{offered}' from {edge.source}, which does not produce it")
                arriving[wanted] = upstream.produces[offered]
        for name, modality in node.consumes.items():
            if name not in arriving:
                raise ConfigError(f"graph.{node.name}", f"input '{name}' ({modality}) is fed by nothing")
            if arriving[name] != modality:
                raise ConfigError(f"graph.{node.name}", f"input '{name}' wants {modality}, gets {arriving[name]}")


def render_text(graph: Graph) -> str:
    lines = []
    for name in graph.order():
        node = graph.nodes[name]
        consumes = ", ".join(f"{k}:{v}" for k, v in node.consumes.items()) or "-"
        produces = ", ".join(f"{k}:{v}" for k, v in node.produces.items()) or "-"
        lines.append(f"[{node.kind}] {name}: {node.detail}\n    consumes {consumes}\n    produces {produces}")
        for edge in graph.edges:
            if edge.source == name:
                flows = ", ".join(f"{src}->{dst}" if src != dst else src for dst, src in edge.fields.items())
                lines.append(f"    --({flows})--> {edge.target}")
    return "\n".join(lines)


def render_mermaid(graph: Graph) -> str:
    shapes = {"source": ("[(", ")]"), "step": ("[", "]"), "sink": ("[/", "/]")}
    lines = ["flowchart LR"]
    for node in graph.nodes.values():
        left, right = shapes[node.kind]
        label = f"{node.name}: {node.detail}".replace('"', "'")
        lines.append(f'    {node.name}{left}"{label}"{right}')
    for edge in graph.edges:
        label = ", ".join(edge.fields).replace('"', "'")
        lines.append(f'    {edge.source} -->|"{label}"| {edge.target}')
    return "\n".join(lines)
