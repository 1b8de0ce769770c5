"""A tiny elastic space and a tiny job, so that supernet training runs in about a second on one core."""
from pathlib import Path

from nas.training.data import DataSource
from nas.training.supernet import SupernetJob
from nas.training.train import TrainConfig
from search_spaces.spaces.elastic import ElasticSpace

# mobilenet_v3_small's stem and first stage, four elastic stages (24, 40, 48, 96) of depth 1-2
TINY = ElasticSpace.grow("mobilenet_v3_small", name="tiny_elastic", depths=(1, 2), kernels=(3, 5), expands=(3, 4),
                         resolutions=(128, 224))
DATA = DataSource("synthetic", resolution=16, channels=1, num_classes=4, size=64)
DATA_ARG = "synthetic:1,16,4,64"


def tiny_job(run_dir: Path, epochs: int = 2, **settings) -> SupernetJob:
    """64 images of 16 px, 4 steps of 16 an epoch (a sub-network at 128 px trains at 16 * 128 / 224 = 9 px)."""
    train = TrainConfig(epochs=epochs, batch_size=16, check_every=1, threads=1)
    return SupernetJob(**{"space": "tiny_elastic", "run_dir": str(run_dir), "train": train, "calibration_images": 32,
                          "data": DATA} | settings)
