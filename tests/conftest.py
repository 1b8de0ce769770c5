"""Test-wide settings: one torch thread (the tests build many small networks; on 2 cores a second
thread only adds contention), and Optuna quiet."""
import optuna
import torch

torch.set_num_threads(1)
optuna.logging.set_verbosity(optuna.logging.WARNING)
