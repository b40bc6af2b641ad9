"""Kernels: ``ai.onnx.ml`` tree ensembles: TreeEnsemble-5 and the older
TreeEnsembleRegressor / TreeEnsembleClassifier (one kernel each for 1 and 3, whose
``*_as_tensor`` attributes carry double-precision values).

All of them are translated into one flat :class:`_Forest` (leaves are nodes too) and run by
one vectorised walker: each step moves every (sample, tree) pair that has not reached a
leaf one level down, so Python loops once per tree level, never per sample or node.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from tensorbridge.runtime.kernels.ml import (
    ML,
    POST_TRANSFORMS,
    apply_post_transform,
    apply_post_transform_f32,
)
from tensorbridge.runtime.registry import kernel

LEAF = 7
_MODES = {"BRANCH_LEQ": 0, "BRANCH_LT": 1, "BRANCH_GTE": 2, "BRANCH_GT": 3, "BRANCH_EQ": 4,
          "BRANCH_NEQ": 5, "BRANCH_MEMBER": 6, "LEAF": LEAF}
_AGGREGATES = ("AVERAGE", "SUM", "MIN", "MAX")  # TreeEnsemble-5 codes 0..3


@dataclass(frozen=True)
class _Forest:
    feature: np.ndarray  # int64 [nodes]
    threshold: np.ndarray  # float64 [nodes]
    mode: np.ndarray  # uint8 [nodes], LEAF for leaves
    true_child: np.ndarray  # int64 [nodes]
    false_child: np.ndarray  # int64 [nodes]
    missing_true: np.ndarray  # bool [nodes]
    member_row: np.ndarray  # int64 [nodes]: row of member_sets for BRANCH_MEMBER nodes
    member_sets: np.ndarray  # float64 [member nodes, width], NaN padded
    roots: np.ndarray  # int64 [trees]
    weights: np.ndarray  # float64 [nodes, targets]: what each leaf adds to each target
    has_weight: np.ndarray  # bool [nodes, targets]


def _member_sets(mode: np.ndarray, values: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Split the NaN-delimited membership_values into one padded row per BRANCH_MEMBER node."""
    is_member = mode == _MODES["BRANCH_MEMBER"]
    row = np.where(is_member, np.cumsum(is_member) - 1, -1)
    sets: list[list[float]] = [[]]
    for v in (values.reshape(-1).tolist() if values is not None else []):
        if v != v:  # NaN closes a set
            sets.append([])
        else:
            sets[-1].append(v)
    sets = sets[:-1] if sets and not sets[-1] else sets
    if len(sets) < int(is_member.sum()):
        raise ValueError(f"membership_values has {len(sets)} sets for "
                         f"{int(is_member.sum())} BRANCH_MEMBER nodes")
    width = max((len(s) for s in sets), default=0)
    table = np.full((len(sets), max(width, 1)), np.nan)
    for i, s in enumerate(sets):
        table[i, :len(s)] = s
    return row, table


def _decide(f: _Forest, nd: np.ndarray, v: np.ndarray) -> np.ndarray:
    th, m = f.threshold[nd], f.mode[nd]
    go = np.select([m == 0, m == 1, m == 2, m == 3, m == 4, m == 5],
                   [v <= th, v < th, v >= th, v > th, v == th, v != th], False)
    member = m == _MODES["BRANCH_MEMBER"]
    if member.any():
        sets = f.member_sets[f.member_row[nd[member]]]
        go[member] = (v[member, None] == sets).any(axis=1)
    # A missing (NaN) feature follows the true branch where the node says so.
    return go | (np.isnan(v) & f.missing_true[nd])


def _walk(f: _Forest, X: np.ndarray) -> np.ndarray:
    """Leaf node reached by every (sample, tree): int64 [N, trees]."""
    x = X.astype(np.float64, copy=False).reshape(X.shape[0] if X.ndim > 1 else 1, -1)
    node = np.repeat(f.roots[None, :], x.shape[0], axis=0)
    for _ in range(len(f.mode) + 1):
        r, t = np.nonzero(f.mode[node] != LEAF)
        if r.size == 0:
            return node
        nd = node[r, t]
        go = _decide(f, nd, x[r, f.feature[nd]])
        node[r, t] = np.where(go, f.true_child[nd], f.false_child[nd])
    raise ValueError("tree ensemble: a tree contains a cycle")


def _aggregate(f: _Forest, leaves: np.ndarray, how: str) -> np.ndarray:
    n, n_trees = leaves.shape
    if how in ("SUM", "AVERAGE"):
        out = np.zeros((n, f.weights.shape[1]))
        for j in range(n_trees):  # one fancy-index per tree keeps memory at [N, targets]
            out += f.weights[leaves[:, j]]
        return out / n_trees if how == "AVERAGE" and n_trees else out
    if how not in ("MIN", "MAX"):
        raise ValueError(f"unknown aggregate_function {how!r} (AVERAGE, SUM, MIN or MAX)")
    pick, fill = (np.minimum, np.inf) if how == "MIN" else (np.maximum, -np.inf)
    out = np.full((n, f.weights.shape[1]), fill)
    for j in range(n_trees):
        leaf = leaves[:, j]
        out = pick(out, np.where(f.has_weight[leaf], f.weights[leaf], fill))
    return np.where(out == fill, 0.0, out)  # a target no leaf touched scores 0


def _leaf_table(n_nodes: int, n_targets: int, rows: np.ndarray, targets: np.ndarray,
                weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if targets.size and (targets.min() < 0 or targets.max() >= n_targets):
        raise ValueError(f"leaf target ids must be in [0, {n_targets})")
    table = np.zeros((n_nodes, n_targets))
    np.add.at(table, (rows, targets), weights)
    has = np.zeros((n_nodes, n_targets), dtype=bool)
    has[rows, targets] = True
    return table, has


def _forest_v5(a: dict[str, Any]) -> _Forest:
    feature = np.asarray(a["nodes_featureids"], dtype=np.int64)
    m, n_leaves = feature.size, len(a["leaf_targetids"])
    mode = np.concatenate([np.asarray(a["nodes_modes"], dtype=np.uint8).reshape(-1),
                           np.full(n_leaves, LEAF, dtype=np.uint8)])
    # Leaves are numbered after the interior nodes: leaf i becomes node m + i.
    t_leaf = np.asarray(a["nodes_trueleafs"], dtype=bool)
    f_leaf = np.asarray(a["nodes_falseleafs"], dtype=bool)
    t_ids = np.asarray(a["nodes_truenodeids"], dtype=np.int64)
    f_ids = np.asarray(a["nodes_falsenodeids"], dtype=np.int64)
    pad = np.zeros(n_leaves, dtype=np.int64)
    tracks = a.get("nodes_missing_value_tracks_true") or [0] * m
    row, sets = _member_sets(mode, a.get("membership_values"))
    weights, has = _leaf_table(m + n_leaves, a["n_targets"], m + np.arange(n_leaves),
                               np.asarray(a["leaf_targetids"], dtype=np.int64),
                               np.asarray(a["leaf_weights"], dtype=np.float64).reshape(-1))
    return _Forest(
        feature=np.concatenate([feature, pad]),
        threshold=np.concatenate([np.asarray(a["nodes_splits"], np.float64).reshape(-1),
                                  np.zeros(n_leaves)]),
        mode=mode,
        true_child=np.concatenate([np.where(t_leaf, t_ids + m, t_ids), pad]),
        false_child=np.concatenate([np.where(f_leaf, f_ids + m, f_ids), pad]),
        missing_true=np.concatenate([np.asarray(tracks, dtype=bool), np.zeros(n_leaves, bool)]),
        member_row=row, member_sets=sets,
        roots=np.asarray(a["tree_roots"], dtype=np.int64), weights=weights, has_weight=has)


@kernel("TreeEnsemble", since=5, domain=ML)
def tree_ensemble(X: np.ndarray, *, aggregate_function: int = 1,
                  leaf_targetids: list[int], leaf_weights: np.ndarray,
                  membership_values: np.ndarray | None = None, n_targets: int,
                  nodes_falseleafs: list[int], nodes_falsenodeids: list[int],
                  nodes_featureids: list[int], nodes_hitrates: np.ndarray | None = None,
                  nodes_missing_value_tracks_true: list[int] | None = None,
                  nodes_modes: np.ndarray, nodes_splits: np.ndarray,
                  nodes_trueleafs: list[int], nodes_truenodeids: list[int],
                  post_transform: int = 0, tree_roots: list[int]) -> np.ndarray:
    """TreeEnsemble-5(X [N, F]) -> Y [N, n_targets] in X's type."""
    forest = _forest_v5(locals())
    scores = _aggregate(forest, _walk(forest, X), _AGGREGATES[aggregate_function])
    if not 0 <= post_transform < len(POST_TRANSFORMS):
        raise ValueError(f"TreeEnsemble: post_transform code {post_transform} not in 0..4")
    # Codes follow the spec (1 SOFTMAX, 2 LOGISTIC); onnxruntime 1.32 swaps these two.
    return apply_post_transform(scores, POST_TRANSFORMS[post_transform]).astype(X.dtype)


def _pick_values(plain: list[float] | None, as_tensor: np.ndarray | None) -> np.ndarray:
    if as_tensor is not None:
        return np.asarray(as_tensor, dtype=np.float64).reshape(-1)
    return np.asarray(plain or [], dtype=np.float64)


def _forest_v3(a: dict[str, Any], n_targets: int, prefix: str) -> _Forest:
    """Nodes addressed by (tree id, node id); ``prefix`` is ``target`` or ``class``."""
    tree = np.asarray(a["nodes_treeids"], dtype=np.int64)
    ids = np.asarray(a["nodes_nodeids"], dtype=np.int64)
    span = int(ids.max(initial=0)) + 1
    keys = tree * span + ids
    order = np.argsort(keys, kind="stable")

    def locate(t: Any, n: Any) -> np.ndarray:
        k = np.asarray(t, dtype=np.int64) * span + np.asarray(n, dtype=np.int64)
        pos = order[np.searchsorted(keys[order], k).clip(0, max(keys.size - 1, 0))]
        if keys.size and np.any(keys[pos] != k):
            raise ValueError("tree ensemble: a child or target names a missing node")
        return pos

    mode = np.array([_MODES[m] for m in a["nodes_modes"]], dtype=np.uint8)
    interior = mode != LEAF
    true_child = np.zeros(keys.size, dtype=np.int64)
    false_child = np.zeros(keys.size, dtype=np.int64)
    true_child[interior] = locate(tree[interior], np.asarray(a["nodes_truenodeids"])[interior])
    false_child[interior] = locate(tree[interior], np.asarray(a["nodes_falsenodeids"])[interior])
    is_child = np.zeros(keys.size, dtype=bool)
    is_child[true_child[interior]] = is_child[false_child[interior]] = True
    _, first = np.unique(np.where(is_child, -1, tree), return_index=True)
    roots = first[~is_child[first]]  # per tree id, its node that nobody points to
    rows = locate(a[f"{prefix}_treeids"], a[f"{prefix}_nodeids"])
    weights, has = _leaf_table(
        keys.size, n_targets, rows, np.asarray(a[f"{prefix}_ids"], dtype=np.int64),
        _pick_values(a[f"{prefix}_weights"], a.get(f"{prefix}_weights_as_tensor")))
    row, sets = _member_sets(mode, None)
    return _Forest(
        feature=np.asarray(a["nodes_featureids"], dtype=np.int64),
        threshold=_pick_values(a["nodes_values"], a.get("nodes_values_as_tensor")),
        mode=mode, true_child=true_child, false_child=false_child,
        missing_true=np.asarray(a.get("nodes_missing_value_tracks_true") or [0] * keys.size,
                                dtype=bool),
        member_row=row, member_sets=sets, roots=roots, weights=weights, has_weight=has)


def _regress(X: np.ndarray, a: dict[str, Any]) -> np.ndarray:
    forest = _forest_v3(a, a["n_targets"], "target")
    scores = _aggregate(forest, _walk(forest, X), a["aggregate_function"])
    base = _pick_values(a["base_values"], a.get("base_values_as_tensor"))
    if base.size:
        scores = scores + base
    return apply_post_transform_f32(scores, a["post_transform"])


@kernel("TreeEnsembleRegressor", since=1, domain=ML)
def tree_ensemble_regressor(
        X: np.ndarray, *, aggregate_function: str = "SUM", base_values: list[float] | None = None,
        base_values_as_tensor: np.ndarray | None = None, n_targets: int = 1,
        nodes_falsenodeids: list[int], nodes_featureids: list[int],
        nodes_hitrates: list[float] | None = None,
        nodes_hitrates_as_tensor: np.ndarray | None = None,
        nodes_missing_value_tracks_true: list[int] | None = None, nodes_modes: list[str],
        nodes_nodeids: list[int], nodes_treeids: list[int], nodes_truenodeids: list[int],
        nodes_values: list[float] | None = None, nodes_values_as_tensor: np.ndarray | None = None,
        post_transform: str = "NONE", target_ids: list[int], target_nodeids: list[int],
        target_treeids: list[int], target_weights: list[float] | None = None,
        target_weights_as_tensor: np.ndarray | None = None) -> np.ndarray:
    """TreeEnsembleRegressor-1/3(X) -> Y float32 [N, n_targets]; the *_as_tensor attributes
    (3) hold doubles and, absent, leave the float lists of 1."""
    return _regress(X, locals())


def _binary_one_score(s: np.ndarray, all_positive: bool, transform: str,
                      labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two labels, one scored class: s scores the second label, Z = [1 - t, t] for
    probability-like t (all weights >= 0, or after LOGISTIC/PROBIT), else [-s, s]. The
    softmax transforms have nothing to normalise over one score and leave it alone."""
    label = labels[(s > (0.5 if all_positive else 0.0)).astype(np.intp)]
    if transform in ("LOGISTIC", "PROBIT"):
        t = apply_post_transform_f32(s, transform)
        return label, np.stack([1 - t, t], axis=1)
    z = np.stack([1 - s, s] if all_positive else [-s, s], axis=1)
    return label, z.astype(np.float32)


def _binary_two_scores(p: np.ndarray, has1: np.ndarray, base: np.ndarray, all_positive: bool,
                       transform: str, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two labels, both scored. The label follows the second class's score. With two base
    values onnxruntime (which exporters target) scores class 1 as base[1] + p0 and class 0
    as its negation wherever class 1 got a score; that is reproduced here."""
    z = p.copy()
    if base.size == 2:
        mirrored = base[1] + p[:, 0]
        z[:, 1] = np.where(has1, mirrored, p[:, 1] + base[1])
        z[:, 0] = np.where(has1, -mirrored, p[:, 0] + base[0])
    elif base.size == 1:
        z[:, 0] += base[0]
    label = labels[(z[:, 1] > (0.5 if all_positive else 0.0)).astype(np.intp)]
    return label, apply_post_transform_f32(z, transform)


def _classify(X: np.ndarray, a: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    if a["classlabels_strings"]:
        labels = np.array(a["classlabels_strings"], dtype=object)
    else:
        labels = np.asarray(a["classlabels_int64s"] or [], dtype=np.int64)
    class_ids = np.asarray(a["class_ids"], dtype=np.int64)
    n_classes = max(labels.size, int(class_ids.max(initial=-1)) + 1)
    forest = _forest_v3(a, n_classes, "class")
    leaves = _walk(forest, X)
    scores = _aggregate(forest, leaves, "SUM")
    scored = forest.has_weight[leaves].any(axis=1)  # [N, classes]: some tree voted
    base = _pick_values(a["base_values"], a.get("base_values_as_tensor"))
    weights = _pick_values(a["class_weights"], a.get("class_weights_as_tensor"))
    all_positive = bool((weights >= 0).all())
    if labels.size == 2:
        if np.unique(class_ids).size == 1:
            c = int(class_ids[0])
            s = scores[:, c] + (base[min(c, base.size - 1)] if base.size else 0.0)
            return _binary_one_score(s, all_positive, a["post_transform"], labels)
        return _binary_two_scores(scores, scored[:, 1], base, all_positive,
                                  a["post_transform"], labels)
    if base.size:
        scores = scores + base
    else:
        # Without base values, a class no tree voted for cannot win (onnxruntime's rule).
        scores = np.where(scored, scores, -np.inf)
    best = np.argmax(scores, axis=1)
    scores = np.where(np.isneginf(scores), 0.0, scores)
    return labels[best], apply_post_transform_f32(scores, a["post_transform"])


@kernel("TreeEnsembleClassifier", since=1, domain=ML)
def tree_ensemble_classifier(
        X: np.ndarray, *, base_values: list[float] | None = None,
        base_values_as_tensor: np.ndarray | None = None, class_ids: list[int],
        class_nodeids: list[int], class_treeids: list[int],
        class_weights: list[float] | None = None,
        class_weights_as_tensor: np.ndarray | None = None,
        classlabels_int64s: list[int] | None = None,
        classlabels_strings: list[str] | None = None, nodes_falsenodeids: list[int],
        nodes_featureids: list[int], nodes_hitrates: list[float] | None = None,
        nodes_hitrates_as_tensor: np.ndarray | None = None,
        nodes_missing_value_tracks_true: list[int] | None = None, nodes_modes: list[str],
        nodes_nodeids: list[int], nodes_treeids: list[int], nodes_truenodeids: list[int],
        nodes_values: list[float] | None = None, nodes_values_as_tensor: np.ndarray | None = None,
        post_transform: str = "NONE") -> tuple[np.ndarray, np.ndarray]:
    """TreeEnsembleClassifier-1/3(X) -> (Y labels, Z scores float32); the *_as_tensor
    attributes (3) hold doubles and, absent, leave the float lists of 1."""
    return _classify(X, locals())
