"""jepaworld: JEPA world models from pixels — learn, plan toward goal images, detect surprise."""

from jepaworld.version import __version__


def load(path, device: str = "auto"):  # noqa: ANN001, ANN201 - thin lazy wrapper, see jepaworld.api.load
    """Load a trained world model for inference (see ``jepaworld.api.load``)."""
    from jepaworld.api import load as _load

    return _load(path, device=device)


def load_ensemble(paths, device: str = "auto", penalty: float | None = None):  # noqa: ANN001, ANN201 - lazy
    """Load several trainings of one env and preset as one model to plan with (see ``jepaworld.api.load_ensemble``)."""
    from jepaworld.api import load_ensemble as _load_ensemble

    return _load_ensemble(paths, device=device, penalty=penalty)


def __getattr__(name: str):  # noqa: ANN202 - lazy exports: importing jepaworld stays light
    if name == "Agent":  # the two-loop agent (see jepaworld.agent.Agent)
        from jepaworld.agent import Agent

        return Agent
    raise AttributeError(f"module 'jepaworld' has no attribute {name!r}")


__all__ = ["Agent", "__version__", "load", "load_ensemble"]
