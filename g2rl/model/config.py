"""Every architecture and method choice of the model in one dataclass (as nanoGPT's ``GPTConfig``).

``ModelConfig`` travels whole: the workflow config's ``model`` section (plus the heatmap choices of
``preprocess``) -> ``g2rl train`` options -> ``TrainSettings.model`` -> ``G2RLModel`` -> the
inference checkpoint's meta (``meta["model"]``, a plain dict). Optimisation settings, lambda,
sigma and the initialisation (``pretrained``) stay in :class:`g2rl.training.settings.TrainSettings`.

Method choices (docs/METHOD.md says what each one is and why it exists):
    guidance         stopgrad_aux | literal | literal_fixed_norm
    teach_weight     weight of L_teach, the head on G that stopgrad_aux trains on the labels
    au_points        hr | pairs | a written-out mapping | None (= as the heatmap cache was built)
    heatmap_layout   per_au | per_point | None (= as the heatmap cache was built)
    heatmap_peak     eq1 | intensity | None (= as the heatmap cache was built)
Geometry module (Eq. 3-5) and projection (Eq. 6):
    gcn_channels, gcn_conv_channels, gcn_fc_channels, latent_dim, adjacency (gaussian | knn),
    adjacency_tau, adjacency_k, projection_pool, geometry_input (aligned | similarity)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from g2rl.errors import ConfigError

GUIDANCES = ("stopgrad_aux", "literal", "literal_fixed_norm")
ADJACENCIES = ("gaussian", "knn")
GEOMETRY_INPUTS = ("aligned", "similarity")
_TUPLES = ("deconv_channels", "gcn_channels", "gcn_fc_channels")
# the numeric `g2rl train` model options and the config keys whose ranges they take (g2rl.config_ranges)
MODEL_OPTION_RANGES = {name: f"model.{name}" for name in (
    "deconv_channels", "teach_weight", "gcn_channels", "gcn_conv_channels", "gcn_fc_channels", "latent_dim",
    "adjacency_tau", "adjacency_k", "projection_pool")}


def from_known_fields(cls, values: dict[str, Any], what: str):
    """``cls(**values)`` for a dataclass, with an unknown key an error naming it (``what``: e.g. "model setting")."""
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"unknown {what}(s) {unknown}; known: {sorted(known)}")
    return cls(**values)


@dataclass
class ModelConfig:
    """Architecture and method choices of one model (defaults: the widths of Simple Baselines, Xiao et al. 2018,
    the paper's backbone; guidance: our stopgrad_aux, which the paper configs name as their own Table 1 row)."""

    # the heatmap network (the Baseline; all that is kept at test time)
    backbone: str = "resnet50"
    deconv_channels: tuple[int, ...] = (256, 256, 256)
    # guidance (Eq. 6/8) and its variants
    guidance: str = "stopgrad_aux"
    teach_weight: float = 1.0  # L_teach weight (stopgrad_aux only)
    # heatmaps: None = as the heatmap cache says (g2rl train fills it in and checks a given value)
    au_points: str | dict | None = None
    heatmap_layout: str | None = None
    heatmap_peak: str | None = None
    # geometry module
    gcn_channels: tuple[int, ...] = (64, 128, 256)
    gcn_conv_channels: int = 32
    gcn_fc_channels: tuple[int, ...] = (512, 256)
    latent_dim: int = 256
    adjacency: str = "gaussian"
    adjacency_tau: float = 0.25  # Gaussian kernel width, inter-ocular distances
    adjacency_k: int = 7  # kNN neighbours (self included), recomputed from each layer's input features
    geometry_input: str = "aligned"  # aligned = post-alignment landmarks; similarity = frame landmarks
    # projection W
    projection_pool: int = 4  # M is average-pooled to pool x pool before W

    def __post_init__(self) -> None:
        for name in _TUPLES:  # tuples, also when read from YAML/JSON lists
            setattr(self, name, tuple(int(v) for v in getattr(self, name)))
        self.validate()

    @property
    def fixed_norm(self) -> bool:
        """G is put on the sphere of radius sqrt(latent_dim)."""
        return self.guidance in ("stopgrad_aux", "literal_fixed_norm")

    def validate(self) -> None:
        from g2rl.model.backbone import DECONV_COUNTS, RESNET_CHANNELS
        from g2rl.preprocess.au_points import resolve_au_mapping
        from g2rl.preprocess.heatmap_layout import LAYOUTS
        from g2rl.preprocess.heatmaps import PEAKS

        def bad(key: str, why: str) -> ConfigError:
            return ConfigError(f"model setting {key}={getattr(self, key)!r}: {why}")

        choices = {"backbone": tuple(RESNET_CHANNELS), "guidance": GUIDANCES, "adjacency": ADJACENCIES,
                   "geometry_input": GEOMETRY_INPUTS}
        for key, allowed in choices.items():
            if getattr(self, key) not in allowed:
                raise bad(key, f"must be one of {list(allowed)}")
        for key, allowed in (("heatmap_layout", LAYOUTS), ("heatmap_peak", PEAKS)):
            if getattr(self, key) is not None and getattr(self, key) not in allowed:
                raise bad(key, f"must be one of {list(allowed)} (or null = as the heatmap cache was built)")
        if self.au_points is not None:
            try:
                resolve_au_mapping(self.au_points)
            except ConfigError as exc:
                raise bad("au_points", str(exc)) from None
        if len(self.deconv_channels) not in DECONV_COUNTS or min(self.deconv_channels) < 1:
            raise bad("deconv_channels", "must be three positive widths (two: the trunk ends at layer3, stride 16)")
        if len(self.gcn_channels) != 3 or min(self.gcn_channels) < 1:
            raise bad("gcn_channels", "must be three positive widths (the paper's three GCN layers)")
        if len(self.gcn_fc_channels) != 2 or min(self.gcn_fc_channels) < 1:
            raise bad("gcn_fc_channels", "must be two positive widths (the third FC layer is latent_dim)")
        for key in ("gcn_conv_channels", "latent_dim", "projection_pool"):
            if getattr(self, key) < 1:
                raise bad(key, "must be >= 1")
        if not self.adjacency_tau > 0:  # written so that NaN fails too
            raise bad("adjacency_tau", "must be > 0")
        if not 1 <= self.adjacency_k <= 68:
            raise bad("adjacency_k", "must be in 1..68 (it counts the node itself)")
        if not self.teach_weight >= 0:  # written so that NaN fails too
            raise bad("teach_weight", "must be >= 0")

    def check_feature_map(self, side: int, source: str) -> None:
        """``projection_pool`` at most ``side``, the side of the feature map M it pools (the heatmap side,
        crop size / 4): a larger pool only repeats M's cells and sizes W beyond memory (pool 1000 asked for
        32 GB). ``source``: the crops file that fixes the crop size, for the message."""
        if self.projection_pool > side:
            raise ConfigError(f"{source}: model setting projection_pool={self.projection_pool} is larger than the "
                              f"feature map M it pools ({side} x {side} for this cache's crops); at most {side} "
                              "(--projection-pool, model.projection_pool)")

    def check_guided(self) -> None:
        """Checks that apply to G2RL (lambda > 0) only."""
        if self.guidance == "stopgrad_aux" and self.teach_weight == 0:
            raise ConfigError(
                "model setting teach_weight=0: stopgrad_aux needs teach_weight > 0, without L_teach "
                "nothing gives G content (docs/METHOD.md); guidance literal is the paper's Eq. 6 without it"
            )

    def with_heatmap_choices(self, heat_attrs: dict, aus: list[str], source: str) -> "ModelConfig":
        """This config with au_points / heatmap_layout / heatmap_peak taken from a heatmaps cache's
        attributes (g2rl.preprocess.cache); a value set here that the cache contradicts is an error
        naming the file. au_points becomes the mapping's name when it is a named one."""
        from g2rl.preprocess.au_points import NAMED_MAPPINGS, resolve_au_mapping

        cached = {au: [list(p) for p in heat_attrs["au_point_mapping"][au]] for au in aus}
        for key, attr in (("heatmap_layout", "layout"), ("heatmap_peak", "peak")):
            if getattr(self, key) is not None and getattr(self, key) != heat_attrs[attr]:
                raise ConfigError(f"{source}: built with {attr} {heat_attrs[attr]!r}, but the model asks for "
                                  f"{key}={getattr(self, key)!r}; use the matching heatmaps cache")
        if self.au_points is not None:
            wanted = resolve_au_mapping(self.au_points)
            if {au: [list(p) for p in wanted.get(au, [])] for au in aus} != cached:
                raise ConfigError(f"{source}: built with other AU points than au_points={self.au_points!r} "
                                  f"asks for; use the matching heatmaps cache")
        names = [n for n, m in NAMED_MAPPINGS.items() if {au: m.get(au) for au in aus} == cached]
        points = self.au_points if self.au_points is not None else (names[0] if names else cached)
        return self.replace(au_points=points, heatmap_layout=heat_attrs["layout"], heatmap_peak=heat_attrs["peak"])

    def to_dict(self) -> dict[str, Any]:
        """Plain types only (lists for tuples): what the checkpoint meta stores."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "ModelConfig":
        """Build from a mapping; an unknown key is an error (a typo must not be ignored)."""
        return from_known_fields(cls, values, "model setting")

    def replace(self, **changes: Any) -> "ModelConfig":
        return dataclasses.replace(self, **changes)

    def cli_flags(self) -> list[str]:
        """The `g2rl train` arguments that reproduce this config, as argv words (the workflow's train rule quotes
        each one; ``["--backbone", "resnet50", ...]``)."""
        import json

        flags = []
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            opt = "--" + f.name.replace("_", "-")
            if isinstance(value, tuple):
                text = ",".join(map(str, value))
            elif isinstance(value, dict):
                text = json.dumps(value, sort_keys=True)
            else:
                text = str(value)
            flags += [opt, text]
        return flags


def add_model_arguments(parser) -> None:
    """One `g2rl train` option per :class:`ModelConfig` field (defaults: the dataclass's)."""
    from g2rl.model.backbone import RESNET_CHANNELS

    d = ModelConfig()
    from g2rl.cli_lists import WordList

    # int lists follow the command line's list convention (g2rl.cli_lists): 256 256 256 or 256,256,256
    ints = dict(action=WordList, item_type=int, collect=tuple, metavar="N")
    g = parser.add_argument_group("model (g2rl.model.config.ModelConfig; docs/METHOD.md)")
    g.add_argument("--backbone", choices=sorted(RESNET_CHANNELS), default=d.backbone, help="ResNet trunk")
    g.add_argument("--deconv-channels", **ints, default=d.deconv_channels,
                   help="widths of the deconvolution layers: three (the paper's), or two to end the ResNet trunk at layer3")
    g.add_argument("--guidance", choices=GUIDANCES, default=d.guidance,
                   help="stopgrad_aux: stop-gradient G + L_teach + fixed-norm G; literal: Eq. 6/8 as written; "
                        "literal_fixed_norm: literal with G on the fixed-norm sphere")
    g.add_argument("--teach-weight", type=float, default=d.teach_weight,
                   help="weight of L_teach, the intensity head that gives G content (stopgrad_aux only)")
    g.add_argument("--au-points", default=None, metavar="NAME|JSON",
                   help="AU locations: hr | pairs | a JSON mapping; None = as the heatmaps cache was built")
    g.add_argument("--heatmap-layout", choices=("per_au", "per_point"), default=None,
                   help="one map per AU or per AU point; None = as the heatmaps cache was built")
    g.add_argument("--heatmap-peak", choices=("eq1", "intensity"), default=None,
                   help="peak I / (2 pi sigma^2) or I; None = as the heatmaps cache was built")
    g.add_argument("--gcn-channels", **ints, default=d.gcn_channels, help="widths of the three GCN layers")
    g.add_argument("--gcn-conv-channels", type=int, default=d.gcn_conv_channels,
                   help="per-node width of the 1x1 convolution over the concatenated GCN outputs")
    g.add_argument("--gcn-fc-channels", **ints, default=d.gcn_fc_channels,
                   help="widths of the first two FC layers (the third maps to --latent-dim)")
    g.add_argument("--latent-dim", type=int, default=d.latent_dim, help="size of the geometry vector G")
    g.add_argument("--adjacency", choices=ADJACENCIES, default=d.adjacency,
                   help="GCN graph: gaussian kernel of landmark distances, or knn recomputed from each layer's features")
    g.add_argument("--adjacency-tau", type=float, default=d.adjacency_tau, help="gaussian width, inter-ocular distances")
    g.add_argument("--adjacency-k", type=int, default=d.adjacency_k, help="knn neighbours per node, itself included")
    g.add_argument("--geometry-input", choices=GEOMETRY_INPUTS, default=d.geometry_input,
                   help="aligned: post-alignment landmarks; similarity: frame landmarks, translation/rotation/scale removed")
    g.add_argument("--projection-pool", type=int, default=d.projection_pool,
                   help="M is average-pooled to pool x pool cells before the projection W; at most M's side, the "
                        "heatmap side (crop size / 4)")


def model_config_from_args(args) -> ModelConfig:
    """The :class:`ModelConfig` of parsed `g2rl train` options."""
    import json

    points = args.au_points
    if points is not None and points.lstrip().startswith("{"):
        try:
            points = json.loads(points)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"--au-points: not valid JSON ({exc})") from None
    names = [f.name for f in dataclasses.fields(ModelConfig)]
    return ModelConfig(**{**{n: getattr(args, n) for n in names if n != "au_points"}, "au_points": points})
