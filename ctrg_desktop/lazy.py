"""Package attributes imported on first use, so that importing a package that re-exports heavy
(torch) modules costs nothing until one of those names is asked for."""

from __future__ import annotations

from importlib import import_module


def lazy_exports(package: str, exports: dict[str, str]):
    """``(__getattr__, __dir__)`` for ``package`` whose public names live in its submodules
    (``exports``: name -> submodule); each name is imported from its submodule when first used.

    A name that is also a submodule's name (``segmentation.propagate``) must be imported eagerly:
    importing that submodule first would bind the module under the name."""
    clashes = sorted(name for name, module in exports.items() if name == module)
    if clashes:
        raise ValueError(f"{package}: {clashes} name submodules too; import them eagerly")

    def __getattr__(name: str):
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(f"{package}.{module}"), name)
        setattr(import_module(package), name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(import_module(package))) | set(exports))

    return __getattr__, __dir__
