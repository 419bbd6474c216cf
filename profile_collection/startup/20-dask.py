"""Dask for hyperparameter training: ``dask_client``, on an embedded LocalCluster or a
scheduler address (``[training] backend`` in beamline.toml, or GPSTEER_TRAINING).

Agents made with ``new_agent()`` (40-plans.py) train on it; it is closed at exit.
"""

import atexit

from gpsteer.errors import TrainingError
from gpsteer.training import DaskTrainer

trainer = None
dask_client = None
if beamline_config.training == "dask":  # noqa: F821
    # While IPython runs a startup file it sets __main__.__file__ to it, and Dask's
    # worker processes (started with spawn) would run that file again. Hide it while
    # the workers start; IPython restores it afterwards.
    _file = globals().pop("__file__", None)
    try:
        trainer = DaskTrainer(processes=True)  # LocalCluster on 127.0.0.1
        trainer.start()
    except TrainingError as _error:  # the session starts anyway, and says so in one line
        print(f"gpsteer: no Dask cluster ({_error}); agents train inline")
        trainer = None
    finally:
        if _file is not None:
            globals()["__file__"] = _file
    del _file
elif beamline_config.training != "inline":  # noqa: F821
    try:
        trainer = DaskTrainer(address=beamline_config.training)  # noqa: F821
    except TrainingError as _error:
        print(f"gpsteer: no Dask scheduler ({_error}); agents train inline")
if trainer is not None:
    atexit.register(trainer.close)
    dask_client = trainer.client  # shared: agents submit to it and never close it
