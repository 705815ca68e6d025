"""The validated config as an explicit graph: source -> pipeline step(s) -> sink.

Nodes declare the fields they consume and produce, with modalities; edges say which fields flow.
`check` verifies that every field a node consumes arrives from upstream with the right modality
and that the graph has no cycle, before any model loads. A single-task config is a one-step graph;
graph.steps describes chains of any length.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from runner.config.graph_steps import given_as_one_task
from runner.core.errors import ConfigError, did_you_mean
from runner.tasks import TASKS
from runner.core.views import StepView


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
    # step name -> {task input: (producer, field)}: what execution reads for each step input
    inputs: dict[str, dict[str, tuple[str, str]]] = field(default_factory=dict)
    # Given as one task (config/graph_steps.given_as_one_task): source fields keyed by task input,
    # predictions holding the output unwrapped.
    one_task: bool = False

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
            raise ConfigError("graph.steps", f"the steps form a cycle: {' -> '.join(stuck)}")
        return ordered

    def steps(self) -> list[Node]:
        return [self.nodes[n] for n in self.order() if self.nodes[n].kind == "step"]


SOURCE = "source"
SINK = "predictions"


def build_graph(
    steps: dict[str, StepView],
    first_mapping: dict[str, str],
    columns: list[str],
    column_modalities: dict[str, str],
    sink_steps: str = "all",
    sink_detail: str = "jsonl",
    source_detail: str = "",
) -> Graph:
    """The graph of validated steps ({name: the views of its single-task config, with its `step` meta}).

    `first_mapping` (task input -> column) feeds the first step when it names no input. A one-step
    run (no graph.steps) keys the source's fields by task input, as it always has; a multi-step run
    keys them by column, since several steps may read the same column."""
    names = list(steps)
    one_task = given_as_one_task(steps)
    step_inputs = {
        name: resolve_inputs(name, step, names, first_mapping, columns, steps) for name, step in steps.items()
    }
    source_produces: dict[str, str | None] = {}
    for name, inputs in step_inputs.items():
        spec = TASKS[steps[name].task.name]
        for wanted, (producer, column) in inputs.items():
            if producer == SOURCE:
                source_produces[column] = spec.inputs[wanted] if one_task else column_modalities.get(column)
    nodes = [Node(SOURCE, "source", produces=source_produces, detail=source_detail)]
    edges = []
    for name, step in steps.items():
        spec = TASKS[step.task.name]
        inputs = step_inputs[name]
        nodes.append(
            Node(
                name,
                "step",
                consumes={k: spec.inputs[k] for k in inputs},
                produces=dict(spec.produces),
                detail=_step_detail(step, spec),
            )
        )
        for producer in dict.fromkeys(p for p, _ in inputs.values()):
            edges.append(Edge(producer, name, {k: f for k, (p, f) in inputs.items() if p == producer}))
    written = names if sink_steps == "all" else names[-1:]
    outputs = {n: steps[n].output for n in written}
    nodes.append(Node(SINK, "sink", consumes={outputs[n]: "json" for n in written}, detail=sink_detail))
    edges += [Edge(n, SINK, {outputs[n]: "*"}) for n in written]
    graph = Graph({n.name: n for n in nodes}, edges, step_inputs, one_task)
    check(graph)
    return graph


def resolve_inputs(
    name: str,
    step: StepView,
    names: list[str],
    first_mapping: dict[str, str],
    columns: list[str],
    steps: dict[str, StepView],
) -> dict[str, tuple[str, str]]:
    """{task input: (producer, field)}: producer is "source" (field = a column, or the task input
    for one-step runs) or a step name (field = one of the fields that step's task produces)."""
    spec = TASKS[step.task.name]
    key = f"graph.steps.{name}.input"
    given = step.meta.input
    position = names.index(name)
    if given is None:
        if len(names) == 1:
            return {wanted: (SOURCE, wanted) for wanted in first_mapping}
        if position == 0:
            return {wanted: (SOURCE, column) for wanted, column in first_mapping.items()}
        previous = names[position - 1]
        produced = TASKS[steps[previous].task.name].produces
        if len(spec.required_inputs) != 1:
            raise ConfigError(
                key,
                f"is required: task {spec.id} takes {', '.join(spec.required_inputs)}",
                f"map each, e.g. {key}={{{spec.required_inputs[0]}: <step>.<field>, ...}}",
            )
        field = next(iter(produced))
        return {spec.primary_input: (previous, field)}
    if isinstance(given, str):
        if len(spec.required_inputs) > 1:
            raise ConfigError(
                key,
                f"task {spec.id} takes several inputs ({', '.join(spec.inputs)}); a single reference is ambiguous",
                f"map each: {key}={{{', '.join(f'{i}: ...' for i in spec.inputs)}}}",
            )
        given = {spec.primary_input: given}
    unknown = [k for k in given if k not in spec.inputs]
    if unknown:
        raise ConfigError(
            f"{key}.{unknown[0]}",
            f"'{unknown[0]}' is not an input of task {spec.id}",
            f"inputs: {', '.join(spec.inputs)}",
        )
    missing = [k for k in spec.required_inputs if k not in given]
    if missing:
        raise ConfigError(
            f"{key}.{missing[0]}",
            f"nothing feeds input '{missing[0]}' of task {spec.id}",
            "name a source column or <step>.<field>",
        )
    return {
        wanted: _parse_ref(ref, f"{key}.{wanted}" if len(given) > 1 else key, name, names, columns, steps)
        for wanted, ref in given.items()
    }


def _parse_ref(
    ref, key: str, this: str, names: list[str], columns: list[str], steps: dict[str, StepView]
) -> tuple[str, str]:
    if not isinstance(ref, str) or not ref:
        raise ConfigError(key, f"expected a source column or <step>.<field>, got {ref!r}")
    head, dot, field = ref.partition(".")
    if dot and head == SOURCE:
        return _source_ref(field, key, columns)
    if dot and head in steps:
        if head == this:
            raise ConfigError(key, f"step '{this}' cannot feed itself", "name an earlier step or a source column")
        produced = TASKS[steps[head].task.name].produces
        if field not in produced:
            raise ConfigError(
                key,
                f"step '{head}' ({steps[head].task.name}) does not produce '{field}'",
                did_you_mean(field, produced) + f"it produces: {', '.join(produced)}",
            )
        return head, field
    if ref in columns or not columns and not dot:
        return SOURCE, ref
    if dot:
        hint = (
            did_you_mean(head, names)
            + f"steps: {', '.join(names)}"
            + (f"; columns: {', '.join(columns)}" if columns else "")
        )
        raise ConfigError(key, f"'{ref}' names no step and no source column", hint)
    return _source_ref(ref, key, columns)


def _source_ref(column: str, key: str, columns: list[str]) -> tuple[str, str]:
    if columns and column not in columns:
        raise ConfigError(
            key,
            f"column '{column}' is not in the data",
            did_you_mean(column, columns) + f"the data has columns: {', '.join(columns)}",
        )
    return SOURCE, column


def source_detail(dataset: dict) -> str:
    """The source node's detail, from the `dataset` node (a source's own keys: path, name)."""
    where = dataset.get("path") or dataset.get("name")
    return f"dataset={dataset['type']}" + (f" {where}" if where else "")


def _step_detail(step: StepView, spec) -> str:
    model = step.model
    model_name = model.id or model.package or (f"tiny/{model.tiny}" if model.tiny else None)
    model_name = model_name or f"default {spec.default_model[0]}"
    return f"{spec.id} ({model_name}, batch_size={step.run.batch_size})"


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
                    raise ConfigError(
                        f"graph.steps.{node.name}.input",
                        f"needs '{offered}' from {edge.source}, which does not produce it",
                    )
                arriving[wanted] = upstream.produces[offered]  # None: a source column of unknown modality
        for name, modality in node.consumes.items():
            if name not in arriving:
                raise ConfigError(f"graph.steps.{node.name}.input", f"input '{name}' ({modality}) is fed by nothing")
            if arriving[name] is not None and arriving[name] != modality:
                raise ConfigError(
                    f"graph.steps.{node.name}.input",
                    f"input '{name}' wants {modality}, gets {arriving[name]}",
                    "feed it a field of that modality (see run graph.show=true)",
                )


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
