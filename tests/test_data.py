"""Datasets: the bundled sets, real-format CIFAR and image-folder files written here, errors, augmentation."""
import os
import pickle

import numpy as np
import pytest
import torch

from nas.training.data import (
    DataError,
    DataSource,
    augment,
    load,
    normalize,
    parse_data,
)


def _cifar_batch(path, n, label_key, classes, seed):
    """A batch file in the CIFAR python format: a protocol-2 pickle of a dict with bytes keys, uint8
    'data' of N x 3072 (R, G, B planes of 32x32) and a list of int labels, as the real files are."""
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
    labels = [int(v) for v in rng.integers(0, classes, n)]
    batch = {b"batch_label": b"training batch", label_key.encode(): labels, b"data": data,
             b"filenames": [f"img_{i}.png".encode() for i in range(n)]}
    path.write_bytes(pickle.dumps(batch, protocol=2))
    return data, labels


def test_digits_is_in_memory_upsampled_and_split_by_seed():
    data = load(DataSource("digits"))
    # 1,797 images: 359 (20 %) to test; of the other 1,438, 144 (10 %) to validate and 1,294 to train on
    assert data.train_x.shape == (1294, 1, 32, 32) and data.val_x.shape == (144, 1, 32, 32)
    assert data.test_x.shape == (359, 1, 32, 32)
    assert data.train_x.dtype == torch.uint8 and data.num_classes == 10 and not data.flip
    assert set(data.train_y.tolist()) == set(range(10))
    again = load(DataSource("digits"))
    assert torch.equal(again.test_y, data.test_y)
    assert not torch.equal(load(DataSource("digits", seed=1)).test_y, data.test_y)


def test_mnist_subset_is_the_default():
    data = load()
    assert data.name == "mnist" and data.train_x.shape == (3600, 1, 32, 32) and len(data.test_y) == 1000
    assert len(data.val_y) == 400  # carved from the 4,000 training images


def test_cifar10_python_format(tmp_path):
    root = tmp_path / "cifar-10-batches-py"
    root.mkdir()
    first, labels = _cifar_batch(root / "data_batch_1", 6, "labels", 10, 0)
    _cifar_batch(root / "data_batch_2", 4, "labels", 10, 1)
    test, test_labels = _cifar_batch(root / "test_batch", 5, "labels", 10, 2)
    data = load(DataSource("cifar10", str(tmp_path)))  # the parent directory works too
    # 10 training images: 2 (at least two) to validate, 8 to train on, each part in the files' order
    assert data.train_x.shape == (8, 3, 32, 32) and data.val_x.shape == (2, 3, 32, 32)
    assert data.num_classes == 10 and data.flip
    kept = [i for i in range(6) if any(torch.equal(data.train_x[j], torch.from_numpy(first[i].reshape(3, 32, 32)))
                                       for j in range(8))]
    assert torch.equal(data.train_x[:len(kept)], torch.from_numpy(first[kept].reshape(-1, 3, 32, 32)))
    assert data.train_y[:len(kept)].tolist() == [labels[i] for i in kept] and len(kept) >= 4
    assert data.test_y.tolist() == test_labels
    assert torch.equal(data.test_x, torch.from_numpy(test.reshape(5, 3, 32, 32)))


def test_cifar100_python_format(tmp_path):
    _, labels = _cifar_batch(tmp_path / "train", 8, "fine_labels", 100, 0)
    _cifar_batch(tmp_path / "test", 3, "fine_labels", 100, 1)
    data = load(parse_data(f"cifar100:{tmp_path}"))
    assert data.num_classes == 100 and data.test_x.shape == (3, 3, 32, 32)
    assert sorted(data.train_y.tolist() + data.val_y.tolist()) == sorted(labels) and len(data.val_y) == 2


def test_missing_and_corrupt_cifar_name_the_path(tmp_path):
    with pytest.raises(DataError, match=rf"{tmp_path}.*data_batch_1..5 and test_batch"):
        load(DataSource("cifar10", str(tmp_path)))
    _cifar_batch(tmp_path / "data_batch_1", 4, "labels", 10, 0)
    (tmp_path / "test_batch").write_bytes(b"\x80\x02}q\x01(U\x04data")  # truncated
    with pytest.raises(DataError, match=r"test_batch: not a CIFAR python batch"):
        load(DataSource("cifar10", str(tmp_path)))
    (tmp_path / "test_batch").write_bytes(pickle.dumps({b"data": np.zeros((2, 10), np.uint8), b"labels": [0, 1]}, 2))
    with pytest.raises(DataError, match=r"not uint8 N x 3072"):
        load(DataSource("cifar10", str(tmp_path)))


class _Boom:
    """A pickle that would run code if loaded with plain pickle.load."""

    def __reduce__(self):
        return (open, ("/tmp/nas-test-should-not-exist", "w"))


def test_cifar_unpickler_refuses_other_globals(tmp_path):
    _cifar_batch(tmp_path / "train", 4, "fine_labels", 100, 0)
    (tmp_path / "test").write_bytes(pickle.dumps({b"data": _Boom()}, protocol=2))
    with pytest.raises(DataError, match=r"io.open is not allowed|builtins.open is not allowed"):
        load(DataSource("cifar100", str(tmp_path)))
    assert not os.path.exists("/tmp/nas-test-should-not-exist")


def _write_folder(root, classes=3, per_class=4, size=(20, 12)):
    from PIL import Image

    rng = np.random.default_rng(0)
    for c in range(classes):
        (root / f"class_{c}").mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / f"class_{c}" / f"{i}.{'png' if i % 2 else 'jpg'}")


def test_image_folder(tmp_path):
    _write_folder(tmp_path)
    data = load(DataSource("folder", str(tmp_path), resolution=16, holdout=0.25))
    assert data.num_classes == 3 and data.channels == 3 and data.resolution == 16
    assert len(data.train_y) == 7 and len(data.val_y) == 2 and len(data.test_y) == 3
    assert sorted(data.train_y.tolist() + data.val_y.tolist() + data.test_y.tolist()) == [0] * 4 + [1] * 4 + [2] * 4


def test_image_folder_errors(tmp_path):
    with pytest.raises(DataError, match=rf"{tmp_path}: expected an image folder"):
        load(DataSource("folder", str(tmp_path)))
    _write_folder(tmp_path, classes=2, per_class=1)
    (tmp_path / "class_1" / "bad.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match=r"bad.png: not a readable image"):
        load(DataSource("folder", str(tmp_path)))


def test_parse_data_and_synthetic():
    source = parse_data("synthetic:2,12,5,40")
    data = load(source)
    assert data.train_x.shape == (36, 2, 12, 12) and data.val_x.shape == (4, 2, 12, 12)
    assert data.test_x.shape == (10, 2, 12, 12) and data.num_classes == 5
    assert parse_data(None).kind == "mnist" and parse_data("digits", 16).resolution == 16
    with pytest.raises(DataError, match="unknown dataset 'imagenet'"):
        parse_data("imagenet")
    with pytest.raises(DataError, match="needs a directory"):
        parse_data("cifar10")
    with pytest.raises(DataError, match="synthetic:CHANNELS,RESOLUTION,CLASSES,SIZE"):
        parse_data("synthetic:3,32")


@pytest.mark.parametrize("text,message", [
    ("synthetic:0,32,10,64", r"synthetic data channels must be in \[1, 64\], got 0"),
    ("synthetic:3,32,1,64", r"synthetic data classes must be in \[2, 100,000\], got 1"),  # nothing to learn
    ("synthetic:3,32,10,7", r"synthetic data size must be in \[8, 1,000,000\], got 7"),  # 7 // 4 = 1 test image
    ("synthetic:3,32,10,-4", r"synthetic data size must be in \[8, 1,000,000\], got -4"),
    # 500,000 * 1.25 * 3 * 512 * 512 bytes = 457.8 GiB
    ("synthetic:3,512,10,500000", r"500,000 images of 3x512x512 takes 457.8 GiB in memory; at most 4 GiB"),
])
def test_synthetic_shapes_out_of_range_are_refused(text, message):
    # each of these was a traceback from torch (or a 0-channel network "trained" in no time) before
    with pytest.raises(DataError, match=message):
        parse_data(text)


def test_too_few_images_to_train_and_test_on(tmp_path):
    # 2 images, holdout 0.2: round(0.4) = 0, at least 1 held out, so 1 to train on: BatchNorm cannot train on a
    # batch of one image, and one test image always gets "the same output" as itself (the dead-network check)
    _write_folder(tmp_path, classes=2, per_class=1)
    with pytest.raises(DataError, match=rf"{tmp_path.name}: 0 training, 1 validation and 1 test images; each split "
                                        "needs at least 2"):
        load(DataSource("folder", str(tmp_path)))
    data = load(parse_data("synthetic:3,8,10,8"))  # the smallest synthetic set: 6 to train, 2 to validate and test
    assert (len(data.train_y), len(data.val_y), len(data.test_y)) == (6, 2, 2)


def test_augment_is_a_seeded_crop_and_flip_of_each_image():
    x = torch.randint(0, 256, (16, 2, 7, 7), dtype=torch.uint8)
    assert torch.equal(augment(x, 0, False, torch.Generator().manual_seed(0)), x)
    out = augment(x, 2, True, torch.Generator().manual_seed(0))
    assert out.shape == x.shape and out.dtype == torch.uint8
    assert torch.equal(out, augment(x, 2, True, torch.Generator().manual_seed(0)))
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    for i in range(len(x)):  # each output is one 7x7 window of the padded image, maybe mirrored
        windows = [padded[i, :, dy:dy + 7, dx:dx + 7] for dy in range(5) for dx in range(5)]
        assert any(torch.equal(out[i], w) or torch.equal(out[i], w.flip(2)) for w in windows)


def test_normalize_uses_train_statistics():
    data = load(parse_data("synthetic:3,8,4,256"))
    z = normalize(data.train_x, data)
    assert z.dtype == torch.float32
    assert torch.allclose(z.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-4)
    assert torch.allclose(z.std(dim=(0, 2, 3)), torch.ones(3), atol=1e-3)
