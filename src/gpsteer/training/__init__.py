"""Layer 2: hyperparameter training, inline or asynchronously on Dask, data-aware.

:class:`TrainingManager` is what a model's owner (the agent) holds: ``submit(gp)``
returns at once, ``poll(gp)`` takes finished results in without waiting and keeps them
only if they improve the likelihood on the data the model holds *now*, and
``train_now(gp)`` trains synchronously. Jobs run on a :class:`Trainer`:
:class:`InlineTrainer` (in process) or :class:`DaskTrainer` (an existing client, a
scheduler address, or an embedded ``LocalCluster`` on 127.0.0.1).
"""

from gpsteer.training.dask_trainer import DaskTrainer
from gpsteer.training.jobs import JobLostError, JobResult, JobSpec, NoWorkersError
from gpsteer.training.manager import TrainingManager, TrainingOutcome, TrainingStatus
from gpsteer.training.trainers import InlineTrainer, Trainer, make_trainer

__all__ = [
    "DaskTrainer",
    "InlineTrainer",
    "JobLostError",
    "JobResult",
    "JobSpec",
    "NoWorkersError",
    "Trainer",
    "TrainingManager",
    "TrainingOutcome",
    "TrainingStatus",
    "make_trainer",
]
