"""The training loader: the window batches of a run, assembled ahead of the step that needs them.

Batch ``k`` (the batch of training step ``k``) is drawn from ``(train.seed, rank, k)`` alone, so:

- the window stream is the same whatever ``train.loader_workers`` is (0: assembled in the training
  process when asked for; N: by N ``DataLoader`` worker processes, at most ``N * train.prefetch``
  batches ahead, handed over in step order);
- a resumed run continues it exactly: the loader starts again at the step after the checkpoint.

Workers write each batch straight into shared memory (no copy on the way to the training
process); pixels stay ``uint8 (B, T, H, W, 3)`` until the model's device, where the encoder
scales them. On CUDA batches are pinned, so that the loop's ``.to(device, non_blocking=True)``
copies them while the GPU is busy.
"""

from __future__ import annotations

import multiprocessing as mp
import signal
from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, get_worker_info

from jepaworld.data import WindowSampler
from jepaworld.errors import JepaworldError

Batch = tuple[torch.Tensor, torch.Tensor]  # pixels uint8 (B, T, H, W, 3), actions float32 (B, T, fs*A)


def batch_generator(seed: int, rank: int, step: int) -> np.random.Generator:
    """The generator that draws the windows of training step ``step`` on ``rank``."""
    return np.random.default_rng([seed, rank, step])


class WindowBatches(Dataset):
    """``WindowBatches(sampler, batch_size, seed, rank)[step]`` -> the windows of that training step."""

    def __init__(self, sampler: WindowSampler, batch_size: int, seed: int, rank: int = 0):
        self.sampler, self.batch_size, self.seed, self.rank = sampler, batch_size, seed, rank

    def __getitem__(self, step: int) -> Batch:
        index = self.sampler.draw(self.batch_size, batch_generator(self.seed, self.rank, step))
        frames, acts = self.sampler.window_rows(index)
        out = _shared_pixels((*frames.shape, *self.sampler.frame_shape)) if get_worker_info() else None
        return self.sampler.windows(frames, acts, pixels_out=out)


def _shared_pixels(shape: tuple[int, ...]) -> torch.Tensor:
    """An uninitialised ``uint8`` tensor in shared memory: a worker's batch reaches the training
    process without being copied there (``DataLoader`` would otherwise copy it into shared memory)."""
    storage = torch.UntypedStorage._new_shared(int(np.prod(shape)))
    return torch.empty(0, dtype=torch.uint8).set_(storage).view(shape)


def _worker_init(_: int) -> None:
    # Ctrl-C and SIGTERM reach the whole process group: the training process answers them (it
    # finishes its step and checkpoints), then shuts the workers down.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def window_batches(
    sampler: WindowSampler,
    batch_size: int,
    steps: Sequence[int],
    seed: int,
    rank: int = 0,
    workers: int = 0,
    prefetch: int = 2,
    pin_memory: bool = False,
) -> Iterator[Batch]:
    """The batches of training steps ``steps`` (e.g. ``range(start + 1, total + 1)``), in order.

    ``workers`` processes assemble them (0: in this process, when each is asked for), each keeping
    up to ``prefetch`` batches ready; ``pin_memory`` (CUDA) pins them for asynchronous copies.
    """
    if workers < 0:
        raise JepaworldError(f"train.loader_workers must be >= 0 (0 = no worker processes), got {workers}")
    if prefetch < 1:
        raise JepaworldError(f"train.prefetch must be >= 1 batch per worker, got {prefetch}")
    loader = DataLoader(
        WindowBatches(sampler, batch_size, seed, rank),
        batch_size=None,  # an item is already a batch
        sampler=steps,
        num_workers=workers,
        prefetch_factor=prefetch if workers else None,
        pin_memory=pin_memory,
        worker_init_fn=_worker_init if workers else None,
        # fork: workers share the parent's in-RAM frames instead of receiving a pickled copy
        multiprocessing_context=_fork() if workers else None,
        # its own generator: starting the loader must not draw from the global torch RNG, whose state
        # (dropout, SIGReg directions) a checkpoint saves and a resumed run restores
        generator=torch.Generator().manual_seed(seed),
    )
    return iter(loader)


def _fork() -> str | None:
    return "fork" if "fork" in mp.get_all_start_methods() else None
