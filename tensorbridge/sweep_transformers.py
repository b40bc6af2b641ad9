"""The transformers family of ``tensorbridge sweep``: every model type in
``transformers.CONFIG_MAPPING``, built from a small config with random weights.

The builder is a ladder of rules, not a per-model table:

- **the config is rebuilt by its own constructor** (``AutoConfig.for_model(type, **small)``,
  sub-configs passed as dicts), so that attributes a config derives from others in its
  ``__init__`` (a latent-attention ``qk_head_dim``, a hybrid's ``attention_hidden_size``, a
  layer-type list) follow the small sizes instead of keeping the defaults';
- per-layer lists (``layer_types`` and the like) are cut to the small depth, keeping one
  layer of each kind;
- three shrink levels are tried in turn: small widths and a small input geometry; small
  widths at the model's own input geometry (image, patch, mel-bin sizes); the default
  widths with only the depth cut (when that stays under :data:`MAX_PARAMETERS`);
- the model class is ``AutoModel``'s, else the class of the config's own module whose
  ``config_class`` is this config (vision / text / decoder sub-models, generation-only
  models);
- the inputs are the model's ``main_input_name`` plus every required ``forward``
  argument, plus the arguments a first call's error names (``You have to specify
  pixel_values``), each made by a rule on its name (:data:`INPUT_RULES`); token ids and
  float data are graph inputs, structural tensors (masks, grids, boxes) constants.

A model type that still does not build reports every level's error (a missing optional
package is reported at once: that is not a size problem).
"""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tensorbridge.ir.errors import TensorbridgeError

SEQ_LEN = 12
VOCAB = 128
MAX_PARAMETERS = 60_000_000  # the "default widths, 2 layers" level's bound (float32: 240 MB)

DEPTH = {"num_hidden_layers": 2, "encoder_layers": 2, "decoder_layers": 2, "num_layers": 2,
         "num_decoder_layers": 2, "num_encoder_layers": 2}
WIDTH = {
    "hidden_size": 32, "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 64,
    "head_dim": 8, "embedding_size": 16, "d_model": 32, "encoder_attention_heads": 4,
    "decoder_attention_heads": 4, "encoder_ffn_dim": 64, "decoder_ffn_dim": 64, "d_ff": 64,
    "d_kv": 8, "num_heads": 4, "max_position_embeddings": 64,
}
GEOMETRY = {"image_size": 32, "patch_size": 8, "num_mel_bins": 8, "max_source_positions": 16,
            "max_target_positions": 16}
ALWAYS = {"vocab_size": VOCAB, "use_cache": False}
TOKEN_IDS = ("pad_token_id", "bos_token_id", "eos_token_id", "decoder_start_token_id",
             "sep_token_id", "cls_token_id", "mask_token_id", "unk_token_id")


@dataclass(frozen=True)
class Level:
    name: str
    sizes: dict[str, Any]
    widths: bool  # also the ``*head_dim`` / ``*lora_rank`` / ``depths`` rules


LEVELS = (
    Level("small", {**DEPTH, **WIDTH, **GEOMETRY, **ALWAYS}, widths=True),
    Level("small widths, default input size", {**DEPTH, **WIDTH, **ALWAYS}, widths=True),
    Level("default widths, 2 layers", {**DEPTH, **ALWAYS}, widths=False),
)


# --------------------------------------------------------------------------------------------
# the config: small values, rebuilt by the config's constructor
# --------------------------------------------------------------------------------------------

def _plain_attributes(cfg: Any) -> dict[str, Any]:
    """The config's stored attributes (``vars``: a per-layer config's global accessors may
    raise), also under their common names (``attribute_map``: GPT-2's ``n_embd`` is
    ``hidden_size``)."""
    attrs = {k: v for k, v in vars(cfg).items() if not k.startswith("_")}
    for common, stored in (getattr(cfg, "attribute_map", None) or {}).items():
        if stored in attrs and common not in attrs:
            attrs[common] = attrs[stored]
    return attrs


def _stored_names(cfg: Any, overrides: dict[str, Any]) -> dict[str, Any]:
    """``overrides`` keyed by the names the config stores (its constructor's arguments)."""
    mapping = getattr(cfg, "attribute_map", None) or {}
    return {mapping.get(k, k): v for k, v in overrides.items()}


def _kinds(values: list[Any]) -> list[Any]:
    """One entry of each kind, in the order they first appear."""
    seen: dict[str, Any] = {}
    for v in values:
        seen.setdefault(repr(v), v)
    return list(seen.values())


def _kinds_cover(values: list[Any], n: int) -> list[Any]:
    """``n`` entries of a per-layer list cycling through its kinds (``['sliding'] * 5 +
    ['full']`` -> ``['sliding', 'full', 'sliding', 'full']``)."""
    kinds = _kinds(values)
    return (kinds * n)[:n]


def _small_depth(attrs: dict[str, Any], layers: int) -> int:
    """Two layers of each kind a per-layer list names (a hybrid whose second layer of a kind
    ties weights into the first still has both), at least 2."""
    kinds = max((len(_kinds(v)) for v in attrs.values() if isinstance(v, list) and len(v) == layers), default=1)
    return min(layers, max(2, 2 * kinds)) if kinds > 1 else 2


def small_overrides(cfg: Any, level: Level, depth: int = 0) -> dict[str, Any]:
    """The constructor arguments that make ``cfg`` small at ``level`` (sub-configs as dicts
    of their own overrides)."""
    from transformers import PretrainedConfig

    attrs = _plain_attributes(cfg)
    out: dict[str, Any] = {}
    for key, value in level.sizes.items():
        if key in attrs and type(attrs[key]) is type(value):  # ints stay ints, flags flags; None stays
            out[key] = value
    if level.widths:
        for key, value in attrs.items():
            if isinstance(value, int) and not isinstance(value, bool) and value > 0 and key not in out:
                if key.endswith("head_dim"):  # latent attention's q/kv ranks and rope parts
                    out[key] = 8
                elif key.endswith("lora_rank"):
                    out[key] = 16
                elif key.endswith("rotary_dim"):  # GPT-J's rotary part of a head
                    out[key] = 4
    if isinstance(attrs.get("depths"), list | tuple) and attrs["depths"]:
        out["depths"] = [1] * len(attrs["depths"])
    heads, kv = attrs.get("num_attention_heads"), attrs.get("num_key_value_heads")
    if "num_key_value_heads" in out and heads == kv and "num_attention_heads" in out:
        out["num_key_value_heads"] = out["num_attention_heads"]  # no grouped-query attention by default: none small
    nope, rope = attrs.get("qk_nope_head_dim"), attrs.get("qk_rope_head_dim")
    if isinstance(nope, int) and isinstance(rope, int) and "qk_nope_head_dim" in out:
        for key in ("head_dim", "qk_head_dim"):  # latent attention: the query width is nope + rope
            if attrs.get(key) == nope + rope:
                out[key] = out["qk_nope_head_dim"] + out["qk_rope_head_dim"]
    layers = attrs.get("num_hidden_layers")
    if isinstance(layers, int) and layers > 2 and "num_hidden_layers" in out:
        out["num_hidden_layers"] = _small_depth(attrs, layers)
        for key, value in attrs.items():  # per-layer lists: one entry per layer
            if isinstance(value, list) and len(value) == layers and key != "depths":
                out[key] = _kinds_cover(value, out["num_hidden_layers"])
    for key in TOKEN_IDS:
        token = attrs.get(key)
        if isinstance(token, int) and token >= VOCAB:
            out[key] = VOCAB - 1 - TOKEN_IDS.index(key)
    if depth < 2:
        for key, value in attrs.items():
            if isinstance(value, PretrainedConfig):
                sub = small_overrides(value, level, depth + 1)
                out[key] = {**value.to_dict(), **sub}
    return _stored_names(cfg, out)


def small_config(model_type: str, level: Level) -> Any:
    from transformers import AutoConfig

    default = AutoConfig.for_model(model_type)
    overrides = small_overrides(default, level)
    try:
        return AutoConfig.for_model(model_type, **overrides)
    except Exception:  # noqa: BLE001 - a constructor that rejects a derived value: set it after
        cfg = AutoConfig.for_model(model_type)
        _set_after(cfg, overrides)
        return cfg


def _set_after(cfg: Any, overrides: dict[str, Any]) -> None:
    for key, value in overrides.items():
        current = vars(cfg).get(key)
        if isinstance(value, dict) and current is not None and hasattr(current, "to_dict"):
            _set_after(current, {k: v for k, v in value.items() if current.to_dict().get(k) != v})
        else:
            try:
                setattr(cfg, key, value)
            except AttributeError:  # a read-only property
                pass


# --------------------------------------------------------------------------------------------
# the model class
# --------------------------------------------------------------------------------------------

_CLASS_ORDER = ("Model", "ForConditionalGeneration", "ForCausalLM", "ForSeq2SeqLM", "")


def model_class(cfg: Any) -> Any:
    """``AutoModel``'s class for ``cfg``, else the class of the config's own module whose
    ``config_class`` is ``type(cfg)`` (a base ``...Model`` first)."""
    from transformers import MODEL_MAPPING, PreTrainedModel

    try:
        return MODEL_MAPPING[type(cfg)]
    except KeyError:
        pass
    package = type(cfg).__module__.rpartition(".")[0]
    module = importlib.import_module(package)
    found = []
    for name in dir(module):
        if not name[:1].isupper() or name.endswith("PreTrainedModel"):
            continue
        try:
            obj = getattr(module, name)
        except Exception:  # noqa: BLE001 - a lazily imported name whose import fails
            continue
        if isinstance(obj, type) and issubclass(obj, PreTrainedModel) and getattr(obj, "config_class", None) is type(cfg):
            found.append(obj)
    if not found:
        raise TensorbridgeError(f"no model class of {package} takes a {type(cfg).__name__} "
                                "(AutoModel has none either)")

    def rank(c: Any) -> tuple[int, str]:
        return next(i for i, s in enumerate(_CLASS_ORDER) if c.__name__.endswith(s)), c.__name__

    return min(found, key=rank)


# --------------------------------------------------------------------------------------------
# the inputs: a rule per argument name
# --------------------------------------------------------------------------------------------

@dataclass
class Inputs:
    """What a model is called with: graph inputs (in order) and constants, by argument name."""

    graph: dict[str, Any] = field(default_factory=dict)
    constants: dict[str, Any] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)  # argument -> the graph input it repeats

    def names(self) -> set[str]:
        return set(self.graph) | set(self.constants) | set(self.aliases)


def _find(cfg: Any, key: str, default: Any) -> Any:
    """``cfg.key``, else the first sub-config's (vision / audio parts hold the geometry)."""
    from transformers import PretrainedConfig

    attrs = _plain_attributes(cfg)
    if isinstance(attrs.get(key), int | float | list | tuple) and not isinstance(attrs.get(key), bool):
        return attrs[key]
    for value in attrs.values():
        if isinstance(value, PretrainedConfig):
            found = _find(value, key, None)
            if found is not None:
                return found
    return default


def _gen(seed: int = 0) -> Any:
    import torch  # noqa: TID251 - the sweep builds framework models on purpose

    return torch.Generator().manual_seed(seed)


def _token_ids(cfg: Any, model: Any, got: Inputs) -> None:
    import torch  # noqa: TID251

    got.graph["input_ids"] = torch.randint(3, VOCAB - 8, (1, SEQ_LEN), generator=_gen())


def _as_int(v: Any, default: int) -> int:
    if isinstance(v, list | tuple):
        v = v[0] if v else default
    return int(v) if isinstance(v, int | float) and v else default


def _pixel_values(cfg: Any, model: Any, got: Inputs) -> None:
    import torch  # noqa: TID251

    channels = _as_int(_find(cfg, "num_channels", None) or _find(cfg, "in_channels", None), 3)
    size = _as_int(_find(cfg, "image_size", None), 32)
    params = _forward_parameters(model)
    if "grid_thw" in params or "image_grid_thw" in params:  # a patch sequence and its grid
        patch = _as_int(_find(cfg, "patch_size", None), 14)
        temporal = _as_int(_find(cfg, "temporal_patch_size", None), 1)
        merge = _as_int(_find(cfg, "spatial_merge_size", None), 1)
        side = 2 * merge
        got.graph["pixel_values"] = torch.randn(side * side, channels * temporal * patch * patch, generator=_gen())
        grid = torch.tensor([[1, side, side]], dtype=torch.int64)
        got.constants["grid_thw" if "grid_thw" in params else "image_grid_thw"] = grid
        return
    frames = _find(cfg, "num_frames", None)
    if isinstance(frames, int) and frames > 0:  # video: (batch, frames, channels, height, width)
        got.graph["pixel_values"] = torch.randn(1, frames, channels, size, size, generator=_gen())
        return
    got.graph["pixel_values"] = torch.randn(1, channels, size, size, generator=_gen())


def _pixel_values_videos(cfg: Any, model: Any, got: Inputs) -> None:
    """A short clip: (batch, frames, channels, height, width)."""
    import torch  # noqa: TID251

    channels = _as_int(_find(cfg, "num_channels", None), 3)
    size = _as_int(_find(cfg, "image_size", None), 32)
    frames = _as_int(_find(cfg, "num_frames", None), 4)
    got.graph["pixel_values_videos"] = torch.randn(1, frames, channels, size, size, generator=_gen())


def _input_values(cfg: Any, model: Any, got: Inputs) -> None:
    import torch  # noqa: TID251

    got.graph["input_values"] = torch.randn(1, 4000, generator=_gen())


def _input_features(cfg: Any, model: Any, got: Inputs) -> None:
    import torch  # noqa: TID251

    frames = 2 * _as_int(_find(cfg, "max_source_positions", None), 16)
    mels = _as_int(_find(cfg, "num_mel_bins", None) or _find(cfg, "feature_size", None), 8)
    got.graph["input_features"] = torch.randn(1, mels, frames, generator=_gen())


def _visual_feats(cfg: Any, model: Any, got: Inputs) -> None:
    import torch  # noqa: TID251

    got.graph["visual_feats"] = torch.rand(1, 4, _as_int(_find(cfg, "visual_feat_dim", None), 32), generator=_gen())


def _visual_pos(cfg: Any, model: Any, got: Inputs) -> None:
    import torch  # noqa: TID251

    got.graph["visual_pos"] = torch.rand(1, 4, _as_int(_find(cfg, "visual_pos_dim", None), 4), generator=_gen(1))


def _decoder_input_ids(cfg: Any, model: Any, got: Inputs) -> None:
    """The token ids themselves when they are an input, else a few start tokens."""
    import torch  # noqa: TID251

    if "input_ids" in got.graph:
        got.aliases["decoder_input_ids"] = "input_ids"
        return
    start = _plain_attributes(cfg).get("decoder_start_token_id")
    got.constants["decoder_input_ids"] = torch.full((1, 4), start if isinstance(start, int) else 1, dtype=torch.int64)


def _sequence_length(got: Inputs) -> int:
    ids = got.graph.get("input_ids")
    return int(ids.shape[-1]) if ids is not None else SEQ_LEN


def _attention_mask(cfg: Any, model: Any, got: Inputs) -> None:
    import torch  # noqa: TID251

    got.constants["attention_mask"] = torch.ones(1, _sequence_length(got), dtype=torch.int64)


def _token_type_ids(cfg: Any, model: Any, got: Inputs) -> None:
    import torch  # noqa: TID251

    got.constants["token_type_ids"] = torch.zeros(1, _sequence_length(got), dtype=torch.int64)


def _bbox(cfg: Any, model: Any, got: Inputs) -> None:
    """One box per token, each inside the 0..1000 page (x0 <= x1, y0 <= y1)."""
    import torch  # noqa: TID251

    n = _sequence_length(got)
    x0 = torch.arange(n, dtype=torch.int64) * 10
    got.constants["bbox"] = torch.stack([x0, x0, x0 + 8, x0 + 8], dim=-1)[None]


def _inputs_embeds(cfg: Any, model: Any, got: Inputs) -> None:
    """Token embeddings instead of ids: (batch, SEQ_LEN, hidden_size)."""
    import torch  # noqa: TID251

    hidden = _as_int(_find(cfg, "hidden_size", None) or _find(cfg, "d_model", None), 32)
    got.graph["inputs_embeds"] = torch.randn(1, SEQ_LEN, hidden, generator=_gen(2))


INPUT_RULES: dict[str, Callable[[Any, Any, Inputs], None]] = {
    "input_ids": _token_ids, "pixel_values": _pixel_values, "pixel_values_videos": _pixel_values_videos, "input_values": _input_values,
    "input_features": _input_features, "visual_feats": _visual_feats, "visual_pos": _visual_pos,
    "decoder_input_ids": _decoder_input_ids, "attention_mask": _attention_mask,
    "token_type_ids": _token_type_ids, "bbox": _bbox, "inputs_embeds": _inputs_embeds,
}


def _forward_parameters(model: Any) -> dict[str, inspect.Parameter]:
    try:
        return dict(inspect.signature(model.forward).parameters)
    except (TypeError, ValueError):
        return {}


def _required(model: Any) -> list[str]:
    return [n for n, p in _forward_parameters(model).items()
            if p.default is inspect.Parameter.empty
            and p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)]


def _add(name: str, cfg: Any, model: Any, got: Inputs) -> None:
    if name in got.names():
        return
    rule = INPUT_RULES.get(name)
    if rule is None:
        raise TensorbridgeError(f"{type(model).__name__}.forward needs {name!r} and the sweep has no rule "
                                f"for it (tensorbridge.sweep_transformers.INPUT_RULES: {', '.join(INPUT_RULES)})")
    rule(cfg, model, got)


def first_inputs(model: Any, cfg: Any) -> Inputs:
    """The main input, the required ``forward`` arguments, and, for an encoder-decoder,
    decoder token ids."""
    got = Inputs()
    main = getattr(model, "main_input_name", "input_ids") or "input_ids"
    for name in dict.fromkeys([main, *_required(model)]):
        _add(name, cfg, model, got)
    if getattr(cfg, "is_encoder_decoder", False) and "decoder_input_ids" in _forward_parameters(model):
        _add("decoder_input_ids", cfg, model, got)
    return got


def named_missing(e: BaseException, model: Any, got: Inputs) -> str | None:
    """The ``forward`` argument an error says is missing (``You have to specify
    pixel_values``, ``missing 1 required positional argument: 'input_ids'``, ```visual_feats`
    cannot be `None```), when the sweep has a rule for it and has not given it."""
    words = re.findall(r"[A-Za-z_][A-Za-z0-9_]*", str(e))
    params = _forward_parameters(model)
    for w in words:
        if w in params and w in INPUT_RULES and w not in got.names():
            return w
    return None


def wrap(hf: Any, got: Inputs) -> Any:
    """The model as one ``forward(*graph_inputs)`` returning its first tensor."""
    import torch  # noqa: TID251

    class FirstOutput(torch.nn.Module):
        """A transformers model called with its graph inputs positionally (and its constant
        arguments held as buffers), its first tensor out."""

        def __init__(self) -> None:
            super().__init__()
            self.model = hf
            self.input_names = list(got.graph)
            self.aliases = dict(got.aliases)
            self.constant_names = list(got.constants)
            for i, t in enumerate(got.constants.values()):
                self.register_buffer(f"constant_{i}", t, persistent=False)

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            kw = dict(zip(self.input_names, inputs))
            kw.update({name: getattr(self, f"constant_{i}") for i, name in enumerate(self.constant_names)})
            kw.update({arg: kw[source] for arg, source in self.aliases.items()})
            out = self.model(**kw)
            return out.to_tuple()[0] if hasattr(out, "to_tuple") else out[0]

    return FirstOutput()


# --------------------------------------------------------------------------------------------
# the ladder
# --------------------------------------------------------------------------------------------

def _parameter_count(cls: Any, cfg: Any) -> int:
    import torch  # noqa: TID251

    with torch.device("meta"):
        m = cls._from_config(cfg)
    return sum(p.numel() for p in m.parameters())


def build_at(model_type: str, level: Level) -> tuple[Any, Inputs]:
    """The wrapped model at ``level`` and its inputs, after one eager call that runs."""
    import torch  # noqa: TID251

    cfg = small_config(model_type, level)
    cls = model_class(cfg)
    n = _parameter_count(cls, cfg)  # on the meta device: nothing allocated
    if n > MAX_PARAMETERS:
        raise TensorbridgeError(f"{n / 1e6:.0f}M parameters at this size (bound {MAX_PARAMETERS / 1e6:.0f}M): "
                                "the config keeps its widths under names the sweep does not shrink")
    torch.manual_seed(0)
    hf = cls._from_config(cfg).eval()
    got = first_inputs(hf, cfg)
    for _ in range(4):
        wrapped = wrap(hf, got)
        try:
            with torch.no_grad():
                wrapped(*got.graph.values())
            return wrapped, got
        except Exception as e:  # noqa: BLE001 - the error may name an input to add
            missing = named_missing(e, hf, got)
            if missing is None:
                raise
            _add(missing, cfg, hf, got)
    raise TensorbridgeError(f"still missing inputs after {', '.join(got.names())}")


def _needs_package(e: BaseException) -> bool:
    return isinstance(e, ImportError) or "requires the" in str(e) and "library" in str(e)


def build(model_type: str) -> tuple[Any, tuple[Any, ...], str]:
    """The first level that builds: (wrapped model, graph inputs, note)."""
    problems = []
    for level in LEVELS:
        try:
            wrapped, got = build_at(model_type, level)
        except Exception as e:  # noqa: BLE001 - the next level may build
            message = str(e).strip().splitlines()[0][:160] if str(e).strip() else ""
            if _needs_package(e):
                raise TensorbridgeError(f"needs an optional package: {type(e).__name__}: {message}") from e
            problems.append(f"[{level.name}] {type(e).__name__}: {message}")
            continue
        shapes = ", ".join(f"{n} {tuple(t.shape)}" for n, t in got.graph.items())
        note = shapes if level is LEVELS[0] else f"{shapes} ({level.name})"
        return wrapped, tuple(got.graph.values()), note
    raise TensorbridgeError("does not build at any size: " + "; ".join(problems))
