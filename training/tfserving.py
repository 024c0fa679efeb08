"""TF Serving's model config for the SavedModels the pipeline exports: one entry per Keras demo, from the registry.

`monitoring/compose.yaml` mounts `build/` read-only at `/build` and this file as TF Serving's
`--model_config_file`; TF Serving serves the highest version it finds under each `base_path`.
"""

from __future__ import annotations

from pathlib import Path

from training.demos import demos
from training.paths import DemoPaths

HEADER = """# TF Serving model config (protobuf text format, ModelServerConfig), written by `spacesuite
# tfserving-config` (the DVC stage `tfserving`) from the demos in training/demos/: every Keras demo's SavedModel,
# as `dvc repro` exports it to build/<model>/export/serving/<model>/<version>/. scikit-learn demos have none.
"""


def models_config(root: str = "/build") -> str:
    """The config text: one `config` block per Keras demo, its base path under `root` (where build/ is mounted)."""
    blocks = []
    for demo in demos():
        if demo.framework != "keras":
            continue
        serving = DemoPaths(demo.name).serving(1).parent.relative_to("build").as_posix()
        blocks.append(
            f"  config {{\n    name: '{demo.name}'\n    base_path: '{root}/{serving}'\n"
            "    model_platform: 'tensorflow'\n  }\n"
        )
    return HEADER + "model_config_list {\n" + "".join(blocks) + "}\n"


def main(path: Path) -> None:
    """Write the config to `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(models_config(), encoding="utf-8")
    print(f"tfserving: {path}")
