"""Planned execution of an IR graph with the numpy kernels.

``Session(graph)`` resolves each node's kernel and attributes, assigns every value a slot
and computes where each intermediate is last used, once. ``run`` then executes the plan:
a tight loop over steps that frees each intermediate after its last use (peak memory
tracks the live set), optionally keeping chosen intermediates (``capture``) in that same
single run. Subgraphs (If/Loop/Scan bodies, model-local functions) get their own planned
sessions, created once and reused.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

import tensorbridge.runtime.kernels  # noqa: F401  (registers every kernel)
from tensorbridge.ir.errors import KernelError, TensorbridgeError, UnsupportedOpError
from tensorbridge.ir.graph import Graph
from tensorbridge.ir.node import Attr, AttrKind, Node, Role, Value
from tensorbridge.ir.types import TensorType
from tensorbridge.runtime.dedupe import Dedupe
from tensorbridge.runtime.fusion import find_fusions
from tensorbridge.runtime.profile import Profile
from tensorbridge.runtime.registry import KERNELS, KernelContext, KernelSpec

_NONE = -1
# ops whose folded output can be far bigger than their inputs without being a weight
_BROADCASTERS = frozenset({"Expand", "Tile"})
_RANDOM = frozenset({
    "RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Bernoulli",
    "Multinomial", "Dropout",
})


def _deterministic(node: Node) -> bool:
    """Same inputs, same outputs: the step may be folded at plan time or merged with an
    equal one. (Calls of model-local functions are never merged anyway: each node gets
    its own closure, so no two steps share a kernel.)"""
    return node.op_type not in _RANDOM and not node.subgraphs()


@dataclass
class _Step:
    node: Node
    fn: Callable[..., Any]
    ins: tuple[int, ...]
    outs: tuple[int, ...]
    attrs: dict[str, Any]
    free: tuple[int, ...] = ()
    fused: bool = False


class Session:
    """A graph planned for repeated execution by the numpy runtime."""

    def __init__(self, graph: Graph, *, seed: int = 0, fold_constants: bool = True,
                 fuse: bool = True, check_finite: bool = False, profile: bool = False,
                 _bindings: Mapping[str, Attr] | None = None, _root: Graph | None = None) -> None:
        """Plan ``graph``. ``fold_constants`` evaluates ops whose inputs are all constants
        once, here, instead of on every run (random ops are never folded). ``fuse`` lets
        recognised op chains run as one kernel (their inner values are then not capturable:
        use ``fuse=False`` to capture everything) and repeated computations and equal small
        constants run or live once (see ``runtime.dedupe``; the duplicates' names read the
        shared value). ``check_finite`` raises at the first op producing NaN/inf from
        finite inputs. ``profile`` times every step of every run (see :meth:`profile`)."""
        self.graph = graph
        self._fuse = fuse
        self._check_finite = check_finite
        self._fold = fold_constants
        self._root = _root or graph
        self._bindings = dict(_bindings or {})
        self._rng = np.random.default_rng(seed)
        self._seed = seed
        self._slot: dict[str, int] = {}
        self._consts: list[tuple[int, Value]] = []
        self._subsessions: dict[int, Session] = {}
        self._frames: list[list[Any]] = []
        self._outer_stack: list[Mapping[str, Any]] = []
        for v in graph.values():
            self._slot[v.name] = len(self._slot)
        self.n_slots = len(self._slot)
        self._inputs = [self._slot[v.name] for v in graph.inputs]
        self._validate = _root is None  # subgraph inputs come from kernels, not users
        self._required = [v for v in graph.inputs if v.role is Role.INPUT]
        self._outputs = [self._slot[v.name] for v in graph.outputs]
        self._outer = [(self._slot[v.name], v.name) for v in graph.outer_refs()]
        for v in graph.initializers():
            self._consts.append((self._slot[v.name], v))
        self._const_cache: list[tuple[int, Any]] | None = None
        self.steps = self._plan()
        self._profile = Profile([(st.node.name, _label(st)) for st in self.steps]) if profile else None
        self._fast_plan = [(st.fn, st.ins, st.outs if st.outs != (_NONE,) else (), st.attrs, st.free, i)
                           for i, st in enumerate(self.steps)]

    # ---------------------------------------------------------------- planning
    def _plan(self) -> list[_Step]:
        g = self.graph
        steps: list[_Step] = []
        errors: list[TensorbridgeError] = []
        folded: dict[int, Any] = dict(self._constants()) if self._fold else {}
        prefolded = self._prefold(folded) if self._fold else set()
        known = {n: folded[s] for n, s in self._slot.items() if s in folded} if self._fuse else {}
        fused = {f.nodes[-1]: f for f in find_fusions(g, known, prefolded)} if self._fuse else {}
        absorbed = {n for f in fused.values() for n in f.nodes[:-1]}
        dedup = self._dedupe() if self._fuse else None
        for node in g.nodes():
            if node in absorbed:
                continue
            if node in prefolded:
                if dedup is not None:
                    for v in g.node_outputs(node):
                        if v is not None:
                            dedup.constant(self._slot[v.name], folded.get(self._slot[v.name]))
                continue
            if node in fused:
                f = fused[node]
                step = _Step(node, f.fn, tuple(self._slot[v.name] for v in f.inputs),
                             (self._slot[f.output.name],), dict(f.attrs), fused=True)
            else:
                try:
                    step = self._plan_node(node)
                except TensorbridgeError as e:
                    errors.append(e)
                    continue
            if dedup is not None:
                step.ins = dedup.remap(step.ins)
                if _deterministic(node) and dedup.repeated(step.fn, step.ins, step.outs, step.attrs):
                    continue
            if self._fold and self._fold_step(step, folded):
                if dedup is not None:
                    for s in step.outs:
                        dedup.constant(s, folded.get(s))
                continue
            steps.append(step)
        if errors:
            if len(errors) == 1:
                raise errors[0]
            from tensorbridge.ir.errors import ConversionError
            raise ConversionError(f"runtime: planning graph {g.name!r}", errors)
        if dedup is not None and dedup.alias:
            # a duplicate's name reads its canonical slot: capture, stream, subgraphs' outer
            # reads and last-use all see the one value
            self._slot = {n: dedup.alias.get(s, s) for n, s in self._slot.items()}
        if self._fold:
            self._keep_used_constants(steps, folded)
        self._assign_frees(steps)
        return steps

    def _prefold(self, known: dict[int, Any]) -> set[Node]:
        """Fold, before fusion is planned, every op whose inputs are all constants (weights
        built in the graph, e.g. ConstantOfShape, shape arithmetic), so that fusions see
        them as constants. Ops that fail to plan are left to the main pass (which reports)."""
        done: set[Node] = set()
        g = self.graph
        for node in g.nodes():
            if not _deterministic(node) or (node.domain, node.op_type) in self._root.functions:
                continue
            if any(v is not None and self._slot[v.name] not in known for v in g.node_inputs(node)):
                continue
            try:
                step = self._plan_node(node)
            except TensorbridgeError:
                continue
            if self._fold_step(step, known):
                done.add(node)
        return done

    def _dedupe(self) -> Dedupe:
        """CSE state seeded with the in-memory initializers (lazy ones are external
        weights: never small, never loaded here). Graph inputs and outputs keep their slots."""
        dedup = Dedupe(set(self._inputs) | set(self._outputs))
        for s, v in self._consts:
            dedup.constant(s, v.const)
        return dedup

    def _fold_step(self, st: _Step, known: dict[int, Any]) -> bool:
        """Run a step whose inputs are all constants now, once, instead of on every run."""
        if not _deterministic(st.node) or any(i >= 0 and i not in known for i in st.ins):
            return False
        args = [known[i] if i >= 0 else None for i in st.ins]
        try:
            res = st.fn(*args, **st.attrs)
        except Exception:
            return False  # let the error surface, with context, when the graph runs
        outs = [res] if len(st.outs) == 1 else list(res)
        limit = max((a.nbytes for a in args if isinstance(a, np.ndarray)), default=0) + (1 << 20)
        if st.node.op_type in _BROADCASTERS and any(isinstance(o, np.ndarray) and o.nbytes > limit for o in outs):
            return False  # a big Expand/Tile of a constant: cheaper to recompute than to keep
        for s, o in zip(st.outs, outs):
            if s >= 0:
                known[s] = _norm(o[0] if type(o) is tuple else o)
        return True

    def _keep_used_constants(self, steps: list[_Step], known: dict[int, Any]) -> None:
        used = {i for st in steps for i in st.ins} | set(self._outputs)
        for st in steps:
            for sub in st.node.subgraphs():
                used |= {self._slot[n] for n in sub.outer_names() if n in self._slot}
        self._const_cache = [(s, v) for s, v in known.items() if s in used]

    def _assign_frees(self, steps: list[_Step]) -> None:
        keep = set(self._outputs)
        last: dict[int, int] = {}
        for i, st in enumerate(steps):
            for s in st.ins:
                last[s] = i
            for sub in st.node.subgraphs():  # values a subgraph reads from this scope
                for name in sub.outer_names():
                    if name in self._slot:
                        last[self._slot[name]] = i
            for s in st.outs:
                last.setdefault(s, i)  # an unused output dies right after its producer
        const_slots = {s for s, _ in self._constants()}
        frees: dict[int, list[int]] = {}
        for s, i in last.items():
            if s not in keep and s not in const_slots and s >= 0:
                frees.setdefault(i, []).append(s)
        for i, st in enumerate(steps):
            st.free = tuple(frees.get(i, ()))

    def _plan_node(self, node: Node) -> _Step:
        g = self.graph
        ins = tuple(self._slot[v.name] if v is not None else _NONE for v in g.node_inputs(node))
        outs = tuple(self._slot[v.name] if v is not None else _NONE for v in g.node_outputs(node))
        attrs = self._attr_values(node)
        func = self._root.functions.get((node.domain, node.op_type))
        if func is not None:
            return _Step(node, self._function_call(node, func), ins, outs, {})
        spec = KERNELS.lookup(node.op_type, node.domain, g.opset(node.domain), where=node.name)
        unknown = set(attrs) - spec.attr_names
        if unknown:
            raise UnsupportedOpError(
                "runtime", node.op_type, node=node.name, domain=node.domain,
                hint=f"the kernel does not implement attribute(s) {sorted(unknown)}")
        if spec.wants_ctx:
            attrs["ctx"] = self._context(node, spec)
        return _Step(node, spec.fn, ins, outs, attrs)

    def _attr_values(self, node: Node) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, a in node.attrs.items():
            if a.ref:
                bound = self._bindings.get(a.ref)
                if bound is None:
                    continue  # unbound reference: the attribute takes its default
                a = bound
            v = a.value
            out[k] = list(v) if isinstance(v, tuple) and a.kind != AttrKind.GRAPHS else v
        return out

    def _context(self, node: Node, spec: KernelSpec) -> KernelContext:
        g = self.graph
        return KernelContext(
            node_name=node.name, n_outputs=node.n_outputs, opset=g.opset(node.domain),
            run_subgraph=self._run_subgraph, rng=self._rng,
            output_names=tuple(v.name if v is not None else "" for v in g.node_outputs(node)),
            input_types=tuple(v.type if v is not None else None for v in g.node_inputs(node)),
            output_types=tuple(v.type if v is not None else None for v in g.node_outputs(node)),
        )

    def _function_call(self, node: Node, func: Any) -> Callable[..., Any]:
        bindings = dict(func.attribute_defaults)
        bindings.update(node.attrs)
        sub = Session(func.body, seed=self._seed, _bindings=bindings, _root=self._root)

        def call(*args: Any) -> tuple[Any, ...]:
            return tuple(sub.run(list(args), outer={}))

        return call

    def _sub(self, graph: Graph) -> Session:
        s = self._subsessions.get(id(graph))
        if s is None:
            s = Session(graph, seed=self._seed, _bindings=self._bindings, _root=self._root)
            self._subsessions[id(graph)] = s
        return s

    def _run_subgraph(self, graph: Graph, inputs: Sequence[Any]) -> list[Any]:
        env = self._frames[-1]
        outer = _OuterScope(env, self._slot, self._outer_stack[-1] if self._outer_stack else {})
        return self._sub(graph).run(list(inputs), outer=outer)

    # ---------------------------------------------------------------- running
    def run(self, inputs: Sequence[Any] | Mapping[str, Any], *, outer: Mapping[str, Any] | None = None,
            capture: bool | Collection[str] = False) -> list[Any]:
        """Execute the graph. ``inputs`` are positional (graph input order) or by name.

        With ``capture``, ``self.captured`` afterwards maps value names to arrays (all
        intermediates if True, else the named ones), recorded during this same run."""
        env = self._new_env(inputs, outer)
        self._frames.append(env)
        self._outer_stack.append(outer or {})
        try:
            if capture or self._check_finite:
                self._execute_checked(env, capture)
            elif self._profile is not None:
                self._execute_profiled(env, self._profile)
            else:
                self._execute_fast(env)
        finally:
            self._frames.pop()
            self._outer_stack.pop()
        return [env[s] for s in self._outputs]

    def _new_env(self, inputs: Sequence[Any] | Mapping[str, Any], outer: Mapping[str, Any] | None) -> list[Any]:
        """Slots filled with inputs, constants and outer-scope values (+ the sentinel slot
        that an omitted input, slot -1, reads)."""
        env: list[Any] = [None] * (self.n_slots + 1)
        self._bind_inputs(env, inputs)
        for slot, val in self._constants():
            if env[slot] is None:
                env[slot] = val
        if self._outer:
            scope = outer or {}
            for slot, name in self._outer:
                env[slot] = scope[name]
        return env

    def _execute_fast(self, env: list[Any]) -> None:
        """The hot loop: no capture, no checks (``_walk`` inlined: no generator per step)."""
        ndarray = np.ndarray
        for fn, ins, outs, attrs, free, i in self._fast_plan:
            try:
                res = fn(*[env[k] for k in ins], **attrs)
            except Exception as e:
                self._raise(e, self.steps[i], env)
            if len(outs) == 1:
                if type(res) is tuple:
                    res = res[0]
                env[outs[0]] = res if type(res) is ndarray else _norm(res)
            else:
                for k, r in zip(outs, res):
                    if k >= 0:
                        env[k] = _norm(r)
            for k in free:
                env[k] = None

    def _execute_profiled(self, env: list[Any], prof: Profile) -> None:
        clock = time.perf_counter
        seconds = prof.seconds
        t0 = clock()
        for i, _ in enumerate(self._walk(env)):
            t1 = clock()
            seconds[i] += t1 - t0
            t0 = t1
        prof.runs += 1

    def profile(self) -> Profile:
        """Step and op-type times of the runs so far (the session must be planned with
        ``profile=True``)."""
        if self._profile is None:
            raise TensorbridgeError("Session.profile(): this session does not profile; plan it with "
                                    "Session(graph, profile=True) and run it first")
        return self._profile

    def _walk(self, env: list[Any]) -> Iterator[tuple[int, ...]]:
        """Execute step by step, yielding each step's output slots once they are stored and
        before the step's dead values are freed."""
        for fn, ins, outs, attrs, free, i in self._fast_plan:
            try:
                res = fn(*[env[k] for k in ins], **attrs)
            except Exception as e:
                self._raise(e, self.steps[i], env)
            res = (res[0] if type(res) is tuple else res,) if len(outs) == 1 else res
            for k, r in zip(outs, res):
                if k >= 0:
                    env[k] = _norm(r)
            yield outs
            for k in free:
                env[k] = None

    def _execute_checked(self, env: list[Any], capture: bool | Collection[str]) -> None:
        names = self._names_by_slot(() if not capture else self._slot if capture is True else capture)
        self.captured: dict[str, Any] = {}
        for i, outs in enumerate(self._walk(env)):
            if self._check_finite:
                self._first_nonfinite(self.steps[i], env)
            for k in outs:
                for name in names.get(k, ()):
                    self.captured[name] = env[k]

    def _names_by_slot(self, wanted: Collection[str]) -> dict[int, list[str]]:
        """The wanted value names grouped by the slot that holds them (after CSE several
        names can share one)."""
        names: dict[int, list[str]] = {}
        for n in wanted:
            if n in self._slot:
                names.setdefault(self._slot[n], []).append(n)
        return names

    def stream(self, inputs: Sequence[Any] | Mapping[str, Any], watch: Collection[str]) -> Iterator[tuple[str, Any]]:
        """Run the graph, yielding ``(name, value)`` for each watched value the moment it is
        computed. Nothing else is kept: memory stays at the plan's live set plus whatever
        the caller holds on to."""
        env = self._new_env(inputs, None)
        names = self._names_by_slot(watch)
        for slot, known in names.items():
            if env[slot] is not None:  # inputs and constants are known up front
                for name in known:
                    yield name, env[slot]
        self._frames.append(env)
        self._outer_stack.append({})
        try:
            for outs in self._walk(env):
                for k in outs:
                    for name in names.get(k, ()):
                        yield name, env[k]
        finally:
            self._frames.pop()
            self._outer_stack.pop()

    def _raise(self, e: Exception, st: _Step, env: list[Any]) -> None:
        if isinstance(e, TensorbridgeError):
            raise e
        raise KernelError(st.node.name, st.node.op_type, _describe(e, st, env),
                          provenance=str(st.node.provenance)) from e

    def _first_nonfinite(self, st: _Step, env: list[Any]) -> None:
        """Raise at the first op that turns finite inputs into NaN/inf outputs."""
        def bad(x: Any) -> bool:
            return isinstance(x, np.ndarray) and x.dtype.kind in "fc" and not np.isfinite(x).all()

        if any(bad(env[i]) for i in st.ins if i >= 0):
            return
        for s in st.outs:
            if s >= 0 and bad(env[s]):
                raise KernelError(st.node.name, st.node.op_type,
                                  f"produced NaN/inf from finite inputs ({_describe(None, st, env)})",
                                  provenance=str(st.node.provenance))

    def _constants(self) -> list[tuple[int, Any]]:
        if self._const_cache is None:
            self._const_cache = [(s, v.const_array()) for s, v in self._consts]
        return self._const_cache

    def _bind_inputs(self, env: list[Any], inputs: Sequence[Any] | Mapping[str, Any]) -> None:
        """Positional ``inputs`` bind to the graph's required inputs (those without a default),
        in order; by name, any input, a defaulted one (an IR < 4 initializer listed as an
        input) replacing its initializer for this run."""
        g = self.graph
        required = self._required
        if isinstance(inputs, Mapping):
            unknown = set(inputs) - {v.name for v in g.inputs}
            if unknown:
                raise InputError(f"run: unknown input name(s) {sorted(unknown)}; graph {g.name!r} "
                                 f"takes {_describe_inputs(g)}")
            _check_overridable(self, [v for v in g.inputs if v.name in inputs and v.role.is_initializer])
            pairs = [(self._slot[k], v) for k, v in inputs.items()]
            missing = [v.name for v in required if v.name not in inputs]
        else:
            if len(inputs) > len(required):
                raise InputError(f"run: got {len(inputs)} inputs, graph {g.name!r} takes {len(required)} "
                                 f"positionally: {_describe_inputs(g)}")
            pairs = [(self._slot[v.name], x) for v, x in zip(required, inputs)]
            missing = [v.name for v in required[len(inputs):]]
        if missing:
            raise InputError(f"run: missing input(s) {missing} for graph {g.name!r}; it takes "
                             f"{_describe_inputs(g)}")
        for slot, val in pairs:
            if not isinstance(val, list | np.ndarray) and val is not None:
                val = np.asarray(val)
            env[slot] = val
        if self._validate:
            for v in g.inputs:
                check_input(v, env[self._slot[v.name]], g.name)


def _describe_inputs(g: Graph) -> str:
    """The required inputs by name, and how many defaulted ones may be given by name."""
    required = [v.name for v in g.inputs if not v.role.is_initializer]
    n_default = len(g.inputs) - len(required)
    more = (f" (and {n_default} input(s) with a default value, e.g. {g.defaulted_inputs[0].name!r}, "
            "that may be given by name)") if n_default else ""
    return f"{required}{more}"


def _check_overridable(session: Session, defaulted: list[Value]) -> None:
    """A defaulted input fed by name must reach every op that reads it: refuse one whose
    initializer the plan folded or fused into a constant (the fed value would be ignored)."""
    if not defaulted:
        return
    g = session.graph
    live = {id(st.node): st.ins for st in session.steps}
    for v in defaulted:
        slot = session._slot[v.name]
        if any(slot not in live.get(id(node), ()) for node, _ in g.consumers(v)):
            raise InputError(f"run: input {v.name!r} of graph {g.name!r} has a default value that "
                             "this session computed with at plan time, so a value fed for it would "
                             "be ignored; plan with Session(graph, fold_constants=False, fuse=False) "
                             "to feed it")


def check_input(v: Value, x: Any, graph_name: str) -> None:
    """Compare a fed value with the graph input's declared type; raise naming the input."""
    t = v.type
    if not isinstance(t, TensorType) or x is None or not isinstance(x, np.ndarray):
        return
    want = t.dtype.np_dtype
    problem = ""
    if x.dtype != want and not (want.kind == "O" and x.dtype.kind in "OUS"):
        problem = f"dtype {x.dtype}, expected {want}"
    elif t.shape is not None and x.ndim != len(t.shape):
        problem = f"rank {x.ndim} (shape {list(x.shape)}), expected rank {len(t.shape)} {list(t.shape)}"
    elif t.shape is not None:
        for i, (d, n) in enumerate(zip(t.shape, x.shape)):
            if isinstance(d, int) and d != n:
                problem = f"shape {list(x.shape)}, expected {list(t.shape)} (dim {i})"
                break
    if problem:
        raise InputError(f"run: input {v.name!r} of graph {graph_name!r} has {problem}; "
                         "convert or reshape the input")


class InputError(TensorbridgeError):
    """A value fed to run() does not match the graph input's declared type."""


class _OuterScope(Mapping[str, Any]):
    """Name lookup into an enclosing session's live values, then its own outer scope."""

    def __init__(self, env: list[Any], slots: Mapping[str, int], parent: Mapping[str, Any]) -> None:
        self._env, self._slots, self._parent = env, slots, parent

    def __getitem__(self, name: str) -> Any:
        s = self._slots.get(name)
        if s is not None:
            return self._env[s]
        return self._parent[name]

    def __iter__(self) -> Any:
        return iter(self._slots)

    def __len__(self) -> int:
        return len(self._slots)


def _label(st: _Step) -> str:
    """A step's op type for profiles: the node's, or the fused kernel's name."""
    if st.fused:
        return f"Fused:{getattr(st.fn, '__name__', 'chain')}"
    return st.node.op_type


def _norm(x: Any) -> Any:
    if type(x) is np.ndarray or x is None or type(x) is list:
        return x
    if isinstance(x, np.ndarray | list):
        return x
    return np.asarray(x)


def _describe(e: Exception | None, st: _Step, env: list[Any]) -> str:
    shapes = []
    for i in st.ins:
        v = env[i] if i >= 0 else None
        shapes.append("None" if v is None else f"{v.dtype}{list(v.shape)}" if isinstance(v, np.ndarray)
                      else type(v).__name__)
    ins = f"inputs: {', '.join(shapes)}"
    return ins if e is None else f"{type(e).__name__}: {e} ({ins})"


def run(graph: Graph, *inputs: Any) -> list[Any]:
    """One-shot convenience: plan ``graph`` and run it on positional ``inputs``."""
    return Session(graph).run(list(inputs))


__all__ = ["Session", "TensorType", "run"]
