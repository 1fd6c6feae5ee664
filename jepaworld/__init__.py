"""jepaworld: JEPA world models from pixels — learn, plan toward goal images, detect surprise."""

__version__ = "0.1.0"


def load(path, device: str = "auto"):  # noqa: ANN001, ANN201 - thin lazy wrapper, see jepaworld.api.load
    """Load a trained world model for inference (see ``jepaworld.api.load``)."""
    from jepaworld.api import load as _load

    return _load(path, device=device)


__all__ = ["__version__", "load"]
