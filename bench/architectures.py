"""The architectures bench/real_models.py sweeps: one builder per model, registered with
``@model(family, what)``, each returning ``(model, example_inputs)`` with seeded random
weights and small inputs, from the library's own code (timm, torchvision, transformers,
keras.applications; none of them in the tests)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from tensorbridge.sweep_families import declare_torchvision_ops, image, redrawn, torch_ready

# --------------------------------------------------------------------------------------------
# the registry: one builder per model, (model, example_inputs) with seeded random weights
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Entry:
    name: str
    family: str  # timm | torchvision | transformers | keras
    build: Callable[[], tuple[Any, tuple[Any, ...]]]
    what: str  # the architectural features it exercises


REGISTRY: dict[str, Entry] = {}
# id(Keras model) -> a function building the same architecture (called under a float64 policy)
WIDE_KERAS: dict[int, Callable[[], Any]] = {}


def model(family: str, what: str) -> Callable[[Callable[[], tuple[Any, tuple[Any, ...]]]], Any]:
    """Register a builder under its function name (a duplicate name raises)."""
    def register(fn: Callable[[], tuple[Any, tuple[Any, ...]]]) -> Callable[[], tuple[Any, tuple[Any, ...]]]:
        if fn.__name__ in REGISTRY:
            raise ValueError(f"duplicate real-model builder {fn.__name__!r}")
        REGISTRY[fn.__name__] = Entry(fn.__name__, family, fn, what)
        return fn
    return register


_image = image  # the helpers live in the product (tensorbridge sweep builds the same way)
_torch_ready = torch_ready
_redrawn = redrawn


def _ids(seq: int, vocab: int, batch: int = 1, seed: int = 0) -> Any:
    import torch

    return torch.randint(0, vocab, (batch, seq), generator=torch.Generator().manual_seed(seed))


def _out_wrapper(hf: Any, key: str) -> Any:
    """A transformers model with a positional signature and one tensor out."""
    import torch

    class HFOutput(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = hf

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return getattr(self.model(x), key)

    return HFOutput().eval()


def _timm(name: str, size: int, **kw: Any) -> tuple[Any, tuple[Any, ...]]:
    import torch

    declare_torchvision_ops()
    import timm

    torch.manual_seed(0)
    kw.setdefault("num_classes", 0)  # pooled features: timm's zero / 1e-3-scaled heads would hide them
    return _torch_ready(timm.create_model(name, pretrained=False, **kw), _image(size, 4, 9)), (_image(size),)


def _tv(name: str, size: int, **kw: Any) -> tuple[Any, tuple[Any, ...]]:
    import torch

    declare_torchvision_ops()
    import torchvision

    torch.manual_seed(0)
    kw.setdefault("num_classes", 10)
    return _torch_ready(getattr(torchvision.models, name)(weights=None, **kw), _image(size, 4, 9)), (_image(size),)


def _hf(cls: str, cfg: str, key: str, inputs: Any, **config: Any) -> tuple[Any, tuple[Any, ...]]:
    import torch

    declare_torchvision_ops()
    import transformers

    torch.manual_seed(0)
    hf = getattr(transformers, cls)(getattr(transformers, cfg)(**config))
    calibrate = _image(inputs.shape[-1], 4, 9) if inputs.dim() == 4 else None
    return _out_wrapper(_torch_ready(hf, calibrate), key), (inputs,)


def _keras(name: str, shape: tuple[int, ...], gain: float = 1.0, **kw: Any) -> tuple[Any, tuple[Any, ...]]:
    """``gain`` scales every kernel (a deep ReLU net without BatchNorm, at Glorot's init,
    halves its signal per layer)."""
    import keras

    keras.utils.set_random_seed(0)
    kw.setdefault("include_top", False)
    if not kw["include_top"]:
        kw.setdefault("pooling", "avg")
    m = getattr(keras.applications, name)(input_shape=shape, weights=None, **kw)
    WIDE_KERAS[id(m)] = lambda: getattr(keras.applications, name)(input_shape=shape, weights=None, **kw)
    for i, w in enumerate(m.weights):  # the same redraw as _torch_ready, then BN calibration
        v = np.asarray(w.numpy())
        if v.dtype.kind == "f" and v.size > 1 and np.all(v == v.flat[0]):
            w.assign(_redrawn(v, i, out_axis=-1))
        elif gain != 1.0 and w.path.endswith("/kernel"):
            w.assign(v * gain)
    norms = [la for la in m.layers if isinstance(la, keras.layers.BatchNormalization)]
    for la in norms:  # moving statistics = one calibration batch's
        la.momentum = 0.0
    m(np.random.default_rng(9).uniform(0, 1, (4, *shape)).astype(np.float32), training=True)
    for la in norms:
        la.momentum = 0.99
    x = np.random.default_rng(0).uniform(0, 1, (1, *shape)).astype(np.float32)
    return m, (x,)


# timm -------------------------------------------------------------------------------------

@model("timm", "grouped 3x3 conv, squeeze-excite, deep stem, avg-pool downsample")
def timm_seresnext26d() -> tuple[Any, tuple[Any, ...]]:
    return _timm("seresnext26d_32x4d", 64)


@model("timm", "depthwise 7x7, channels-last LayerNorm, layer scale, GELU")
def timm_convnext_atto() -> tuple[Any, tuple[Any, ...]]:
    return _timm("convnext_atto", 64)


@model("timm", "hard-swish, squeeze-excite with hard-sigmoid, depthwise conv")
def timm_mobilenetv3_small_050() -> tuple[Any, tuple[Any, ...]]:
    return _timm("mobilenetv3_small_050", 64)


@model("timm", "TF 'SAME' padding (dynamic asymmetric pad), swish, SE")
def timm_tf_efficientnet_b0() -> tuple[Any, tuple[Any, ...]]:
    return _timm("tf_efficientnet_b0", 64)


@model("timm", "RegNet X: grouped conv bottlenecks")
def timm_regnetx_002() -> tuple[Any, tuple[Any, ...]]:
    return _timm("regnetx_002", 64)


@model("timm", "Ghost modules: cheap depthwise ops + channel concat/slice")
def timm_ghostnet_050() -> tuple[Any, tuple[Any, ...]]:
    return _timm("ghostnet_050", 64)


@model("timm", "ViT: patch embed, class token, fused qkv attention, learned pos-embed")
def timm_vit_tiny() -> tuple[Any, tuple[Any, ...]]:
    return _timm("vit_tiny_patch16_224", 64, img_size=64, depth=4)


@model("timm", "DeiT distilled: two tokens, two heads averaged")
def timm_deit_tiny_distilled() -> tuple[Any, tuple[Any, ...]]:
    return _timm("deit_tiny_distilled_patch16_224", 64, img_size=64, depth=4)


@model("timm", "Swin: shifted windows (roll), relative-position bias table, patch merging")
def timm_swin_small_cfg() -> tuple[Any, tuple[Any, ...]]:
    return _timm("swin_tiny_patch4_window7_224", 64, img_size=64, window_size=4, embed_dim=32,
                 depths=(2, 2, 2), num_heads=(2, 4, 8))


@model("timm", "MLP-Mixer: token-mixing MLP (transpose + Linear)")
def timm_mixer_small_cfg() -> tuple[Any, tuple[Any, ...]]:
    import torch
    from timm.models.mlp_mixer import MlpMixer

    torch.manual_seed(0)  # mixer_b16_224 with fewer, narrower blocks (create_model pins num_blocks)
    m = MlpMixer(num_classes=10, img_size=64, patch_size=16, num_blocks=2, embed_dim=64)
    return _torch_ready(m), (_image(64),)


@model("timm", "LeViT: conv stem, attention biases indexed by a constant index, BN on Linear")
def timm_levit_128s() -> tuple[Any, tuple[Any, ...]]:
    return _timm("levit_128s", 64, img_size=64)


@model("timm", "CaiT: LayerScale, talking heads, class-attention layers")
def timm_cait_small_cfg() -> tuple[Any, tuple[Any, ...]]:
    return _timm("cait_xxs24_224", 64, img_size=64, depth=2)


@model("timm", "BEiT: relative-position bias table per block, layer scale, no class-token pos-embed")
def timm_beit_small_cfg() -> tuple[Any, tuple[Any, ...]]:
    return _timm("beit_base_patch16_224", 64, img_size=64, embed_dim=64, depth=2, num_heads=4)


@model("timm", "CoaT-Lite: conv positional encoding, factorized attention")
def timm_coat_lite_tiny() -> tuple[Any, tuple[Any, ...]]:
    return _timm("coat_lite_tiny", 64, img_size=64)


@model("timm", "PVT v2: spatial-reduction attention, overlapping patch embed, DW conv in MLP")
def timm_pvt_v2_b0() -> tuple[Any, tuple[Any, ...]]:
    return _timm("pvt_v2_b0", 64)


@model("timm", "MobileViT: unfold/fold patches around a transformer")
def timm_mobilevit_xxs() -> tuple[Any, tuple[Any, ...]]:
    return _timm("mobilevit_xxs", 64)


@model("timm", "PoolFormer v2: AvgPool token mixer, GroupNorm(1), StarReLU")
def timm_poolformerv2_s12() -> tuple[Any, tuple[Any, ...]]:
    return _timm("poolformerv2_s12", 64)


@model("timm", "FastViT: reparameterisable MobileOne blocks, RepMixer, conv FFN")
def timm_fastvit_t8() -> tuple[Any, tuple[Any, ...]]:
    return _timm("fastvit_t8", 64)


# torchvision -------------------------------------------------------------------------------

@model("torchvision", "hard-swish, SE with hard-sigmoid")
def tv_mobilenet_v3_small() -> tuple[Any, tuple[Any, ...]]:
    return _tv("mobilenet_v3_small", 64)


@model("torchvision", "channel shuffle (view/transpose/view), chunk")
def tv_shufflenet_v2_x0_5() -> tuple[Any, tuple[Any, ...]]:
    return _tv("shufflenet_v2_x0_5", 64)


@model("torchvision", "fire modules (concat), ceil-mode max-pool, conv classifier")
def tv_squeezenet1_0() -> tuple[Any, tuple[Any, ...]]:
    return _tv("squeezenet1_0", 64)


@model("torchvision", "dense concatenations, BN-ReLU-Conv, avg-pool transitions")
def tv_densenet121() -> tuple[Any, tuple[Any, ...]]:
    return _tv("densenet121", 64)


@model("torchvision", "Inception modules, ceil-mode pools, input transform")
def tv_googlenet() -> tuple[Any, tuple[Any, ...]]:
    return _tv("googlenet", 64, aux_logits=False, init_weights=True, transform_input=True)


@model("torchvision", "MnasNet: inverted residuals")
def tv_mnasnet0_5() -> tuple[Any, tuple[Any, ...]]:
    return _tv("mnasnet0_5", 64)


@model("torchvision", "EfficientNet: SiLU, SE, stochastic depth (eval)")
def tv_efficientnet_b0() -> tuple[Any, tuple[Any, ...]]:
    return _tv("efficientnet_b0", 64)


@model("torchvision", "RegNet Y: grouped conv + SE")
def tv_regnet_y_400mf() -> tuple[Any, tuple[Any, ...]]:
    return _tv("regnet_y_400mf", 64)


@model("torchvision", "Swin (torchvision): shifted windows, relative-position bias, small config")
def tv_swin_small_cfg() -> tuple[Any, tuple[Any, ...]]:
    declare_torchvision_ops()
    import torch
    from torchvision.models.swin_transformer import SwinTransformer

    torch.manual_seed(0)
    m = SwinTransformer(patch_size=[4, 4], embed_dim=32, depths=[2, 2], num_heads=[2, 4],
                        window_size=[4, 4], num_classes=10)
    return _torch_ready(m), (_image(32),)


@model("torchvision", "ViT (torchvision): class token, nn.MultiheadAttention, small config")
def tv_vit_small_cfg() -> tuple[Any, tuple[Any, ...]]:
    declare_torchvision_ops()
    import torch
    from torchvision.models.vision_transformer import VisionTransformer

    torch.manual_seed(0)
    m = VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=2, hidden_dim=32,
                          mlp_dim=64, num_classes=10)
    return _torch_ready(m), (_image(32),)


# transformers ------------------------------------------------------------------------------

@model("transformers", "GPT-2 LM head tied to the token embedding, causal mask")
def hf_gpt2_lm_head() -> tuple[Any, tuple[Any, ...]]:
    return _hf("GPT2LMHeadModel", "GPT2Config", "logits", _ids(12, 100), vocab_size=100, n_embd=32,
               n_layer=2, n_head=4, n_positions=64, use_cache=False, bos_token_id=0, eos_token_id=0)


@model("transformers", "BERT MLM head: decoder tied to the word embedding, + its own bias")
def hf_bert_mlm() -> tuple[Any, tuple[Any, ...]]:
    return _hf("BertForMaskedLM", "BertConfig", "logits", _ids(12, 100), vocab_size=100, hidden_size=32,
               num_hidden_layers=2, num_attention_heads=4, intermediate_size=64, max_position_embeddings=64)


@model("transformers", "T5 encoder: shared embedding (tied), bucketed relative-position bias, RMSNorm")
def hf_t5_encoder() -> tuple[Any, tuple[Any, ...]]:
    return _hf("T5EncoderModel", "T5Config", "last_hidden_state", _ids(12, 100), vocab_size=100, d_model=32,
               d_kv=8, d_ff=64, num_layers=2, num_heads=4, relative_attention_num_buckets=8)


@model("transformers", "RoBERTa: position ids from the padding mask (cumsum)")
def hf_roberta() -> tuple[Any, tuple[Any, ...]]:
    return _hf("RobertaModel", "RobertaConfig", "last_hidden_state", _ids(12, 100, seed=3) + 2,
               vocab_size=103, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
               intermediate_size=64, max_position_embeddings=66)


@model("transformers", "ALBERT: one layer's weights shared by every layer, factorized embedding")
def hf_albert() -> tuple[Any, tuple[Any, ...]]:
    return _hf("AlbertModel", "AlbertConfig", "last_hidden_state", _ids(12, 100), vocab_size=100,
               embedding_size=16, hidden_size=32, num_hidden_layers=3, num_attention_heads=4,
               intermediate_size=64, max_position_embeddings=64)


@model("transformers", "DeBERTa v2: disentangled attention, log-bucketed relative positions")
def hf_deberta_v2() -> tuple[Any, tuple[Any, ...]]:
    return _hf("DebertaV2Model", "DebertaV2Config", "last_hidden_state", _ids(12, 100), vocab_size=100,
               hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
               max_position_embeddings=64, position_buckets=8, max_relative_positions=16)


@model("transformers", "Whisper encoder: conv front-end, frozen sinusoidal positions (requires_grad=False)")
def hf_whisper_encoder() -> tuple[Any, tuple[Any, ...]]:
    import torch

    declare_torchvision_ops()
    import transformers
    from transformers.models.whisper.modeling_whisper import WhisperEncoder

    torch.manual_seed(0)
    config = transformers.WhisperConfig(vocab_size=100, d_model=32, encoder_layers=2, decoder_layers=1,
                                        encoder_attention_heads=4, decoder_attention_heads=4,
                                        encoder_ffn_dim=64, decoder_ffn_dim=64, num_mel_bins=8,
                                        max_source_positions=16, max_target_positions=16, pad_token_id=0,
                                        bos_token_id=1, eos_token_id=2, decoder_start_token_id=1)
    feats = 10 * torch.randn(1, 8, 32, generator=torch.Generator().manual_seed(0))  # HF inits convs at std 0.02
    return _out_wrapper(_torch_ready(WhisperEncoder(config)), "last_hidden_state"), (feats,)


@model("transformers", "Swin (transformers): windows, relative-position bias, patch merging")
def hf_swin() -> tuple[Any, tuple[Any, ...]]:
    return _hf("SwinModel", "SwinConfig", "last_hidden_state", _image(32), image_size=32, patch_size=4,
               embed_dim=16, depths=[2, 2], num_heads=[2, 4], window_size=4)


@model("transformers", "OPT causal LM: head tied to the embedding, learned positions offset by 2")
def hf_opt_lm() -> tuple[Any, tuple[Any, ...]]:
    return _hf("OPTForCausalLM", "OPTConfig", "logits", _ids(12, 100, seed=5) + 2, vocab_size=102,
               hidden_size=32, num_hidden_layers=2, ffn_dim=64, num_attention_heads=4,
               max_position_embeddings=64, word_embed_proj_dim=32, use_cache=False, pad_token_id=1,
               bos_token_id=0, eos_token_id=2)


@model("transformers", "SegFormer: overlapping patch merging, efficient self-attention, Mix-FFN")
def hf_segformer() -> tuple[Any, tuple[Any, ...]]:
    return _hf("SegformerModel", "SegformerConfig", "last_hidden_state", _image(64), num_encoder_blocks=2,
               depths=[1, 1], sr_ratios=[4, 2], hidden_sizes=[16, 32], num_attention_heads=[1, 2],
               decoder_hidden_size=32)


# keras.applications ------------------------------------------------------------------------

@model("keras", "pre-activation residual bottlenecks, ZeroPadding2D + strided max pool")
def keras_resnet50v2() -> tuple[Any, tuple[Any, ...]]:
    return _keras("ResNet50V2", (64, 64, 3))


@model("keras", "MobileNet v1: depthwise separable, ReLU6, width 0.25")
def keras_mobilenet() -> tuple[Any, tuple[Any, ...]]:
    return _keras("MobileNet", (64, 64, 3), alpha=0.25)


@model("keras", "MobileNetV3Large minimalistic off: hard-swish, SE, Rescaling")
def keras_mobilenetv3_large() -> tuple[Any, tuple[Any, ...]]:
    return _keras("MobileNetV3Large", (64, 64, 3), alpha=0.75)


@model("keras", "Xception: separable convs, strided residual 1x1 convs (min input 71)")
def keras_xception() -> tuple[Any, tuple[Any, ...]]:
    return _keras("Xception", (71, 71, 3))


@model("keras", "InceptionV3: factorized 1x7/7x1 convs, valid padding, concat branches (min input 75)")
def keras_inception_v3() -> tuple[Any, tuple[Any, ...]]:
    return _keras("InceptionV3", (75, 75, 3))


@model("keras", "NASNetMobile: Cropping2D, separable convs, many-branch cells")
def keras_nasnet_mobile() -> tuple[Any, tuple[Any, ...]]:
    return _keras("NASNetMobile", (64, 64, 3))


@model("keras", "EfficientNetV2B0: fused MBConv, SE, Rescaling")
def keras_efficientnet_v2b0() -> tuple[Any, tuple[Any, ...]]:
    return _keras("EfficientNetV2B0", (64, 64, 3))


@model("keras", "VGG16 with its classifier (Flatten + Dense + softmax)")
def keras_vgg16() -> tuple[Any, tuple[Any, ...]]:
    return _keras("VGG16", (32, 32, 3), gain=2 ** 0.5, include_top=True, classes=10, classifier_activation=None)
