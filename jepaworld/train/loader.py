"""The training loader: the window batches of a run, assembled ahead of the step that needs them.

Batch ``k`` (the batch of training step ``k``) is drawn from ``(train.seed, rank, k)`` alone, so:

- the window stream is the same whatever ``train.loader_workers`` is (0: assembled in the training
  process when asked for; N: by N ``DataLoader`` worker processes, at most ``N * train.prefetch``
  batches ahead, handed over in step order);
- a resumed run continues it exactly: the loader starts again at the step after the checkpoint.

Pixels stay ``uint8 (B, T, H, W, 3)`` until the model's device, where the encoder scales them.
They are written into a ring of ``N * train.prefetch + 2`` batch buffers, in shared memory when
there are workers, reused in turn: fresh memory costs more than decoding (each page of a new buffer
faults in, ~75 us per 224-px frame on these machines against ~6 us to write a warm one), and a
worker's batch reaches the training process without a copy. So a batch's pixels stay valid while
the next batch is taken, not longer: the loop trains on a batch and drops it; clone what you keep.
On CUDA batches are pinned (``DataLoader``'s pinning thread copies them into page-locked memory), so
that the loop's ``.to(device, non_blocking=True)`` copies them while the GPU is busy.
"""

from __future__ import annotations

import multiprocessing as mp
import signal
from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from jepaworld.data import WindowSampler
from jepaworld.errors import JepaworldError

Batch = tuple[torch.Tensor, torch.Tensor]  # pixels uint8 (B, T, H, W, 3), actions float32 (B, T, fs*A)


def batch_generator(seed: int, rank: int, step: int) -> np.random.Generator:
    """The generator that draws the windows of training step ``step`` on ``rank``."""
    return np.random.default_rng([seed, rank, step])


class WindowBatches(Dataset):
    """``WindowBatches(sampler, batch_size, seed, rank, slots, shared)[step]`` -> the windows of that step.

    The pixels of step ``k`` are written into ring buffer ``k % slots`` (in shared memory if ``shared``).
    """

    def __init__(
        self, sampler: WindowSampler, batch_size: int, seed: int, rank: int = 0, slots: int = 2, shared: bool = False
    ):
        self.sampler, self.batch_size, self.seed, self.rank = sampler, batch_size, seed, rank
        self.ring = torch.zeros((slots, batch_size, sampler.T, *sampler.frame_shape), dtype=torch.uint8)
        if shared:  # before the workers start (fork inherits it, spawn receives it by handle)
            self.ring.share_memory_()

    def __getitem__(self, step: int) -> Batch:
        index = self.sampler.draw(self.batch_size, batch_generator(self.seed, self.rank, step))
        frames, acts = self.sampler.window_rows(index)
        return self.sampler.windows(frames, acts, pixels_out=self.ring[step % len(self.ring)])


def _worker_init(_: int) -> None:
    # Ctrl-C reaches the whole process group: the training process answers it (it finishes its step
    # and checkpoints), then shuts the workers down. SIGTERM keeps its default: it is how
    # multiprocessing stops workers left running at exit.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


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
    up to ``prefetch`` batches ready; ``pin_memory`` (CUDA) pins them for asynchronous copies. A
    batch's pixels are overwritten once the batch after the next is taken (see the module docstring).
    """
    if workers < 0:
        raise JepaworldError(f"train.loader_workers must be >= 0 (0 = no worker processes), got {workers}")
    if prefetch < 1:
        raise JepaworldError(f"train.prefetch must be >= 1 batch per worker, got {prefetch}")
    # Task k is handed to a worker when batch k - workers * prefetch is taken: with two slots more,
    # the batch taken and the one before it are never written over.
    slots = workers * prefetch + 2 if workers else 2
    loader = DataLoader(
        WindowBatches(sampler, batch_size, seed, rank, slots=slots, shared=workers > 0),
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
    return _plain_errors(iter(loader))


def _plain_errors(batches: Iterator[Batch]) -> Iterator[Batch]:
    """``batches``, where a :class:`JepaworldError` raised in a worker (re-raised here by ``DataLoader``
    with the worker's traceback in its message) says only what it said in the worker."""
    try:
        yield from batches
    except JepaworldError as e:
        first, *rest = str(e).splitlines()
        if not first.startswith("Caught ") or not rest:
            raise
        raise type(e)(rest[-1].split(": ", 1)[-1]) from None


def _fork() -> str | None:
    return "fork" if "fork" in mp.get_all_start_methods() else None
