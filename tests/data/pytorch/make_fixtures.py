#!/usr/bin/env python3
"""Writes the PyTorch checkpoint fixtures of svanet's reader tests.

Run with any PyTorch (Debian's python3-torch 1.13 wrote the committed files):

    python3 tests/data/pytorch/make_fixtures.py tests/data/pytorch

The framework and its tests never need Python; this script only documents
and reproduces how the committed files were made. Every tensor's values
follow from its name, so the C++ tests recompute them (see expected_value).
"""
import argparse
import collections
import os
import zlib

import torch


def expected_value(name, shape, dtype):
    """Deterministic content: arange scaled by a name-dependent offset."""
    n = 1
    for s in shape:
        n *= s
    offset = zlib.crc32(name.encode()) % 97
    t = torch.arange(n, dtype=torch.float64).reshape(shape) * 0.5 + offset
    return t.to(dtype)


class Tiny(torch.nn.Module):
    """A module with the usual kinds of state: conv, batch norm, linear."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)
        self.bn = torch.nn.BatchNorm2d(4)
        self.fc = torch.nn.Linear(4, 2)


def tiny_state_dict():
    sd = Tiny().state_dict()
    for k, v in sd.items():
        sd[k] = expected_value(k, tuple(v.shape), v.dtype)
    return sd


def plain_dict():
    return {
        "float": expected_value("float", (2, 3), torch.float32),
        "double": expected_value("double", (4,), torch.float64),
        "half": expected_value("half", (3,), torch.float16),
        "long": expected_value("long", (2, 2), torch.int64),
        "int": expected_value("int", (5,), torch.int32),
        "uint8": expected_value("uint8", (6,), torch.uint8),
        "bool": torch.tensor([True, False, True]),
        "scalar": expected_value("scalar", (), torch.float32),
    }


def views():
    """Tensors that share one storage, at offsets and with strides."""
    base = expected_value("base", (4, 6), torch.float32)
    return collections.OrderedDict(
        [("base", base), ("row", base[2]), ("column", base[:, 3]), ("transposed", base.t())]
    )


def torchvision_layout(depth, width):
    """A torchvision-layout ResNet state dict at a reduced width."""
    bottleneck = depth == 50
    blocks = [2, 2, 2, 2] if depth == 18 else [3, 4, 6, 3]
    expansion = 4 if bottleneck else 1
    sd = collections.OrderedDict()

    def conv(name, out_c, in_c, k):
        sd[name + ".weight"] = expected_value(name + ".weight", (out_c, in_c, k, k), torch.float32)

    def bn(name, c):
        for p in ["weight", "bias", "running_mean", "running_var"]:
            sd[name + "." + p] = expected_value(name + "." + p, (c,), torch.float32)
        sd[name + ".num_batches_tracked"] = torch.tensor(7)

    conv("conv1", width, 3, 7)
    bn("bn1", width)
    in_c = width
    for stage, n in enumerate(blocks):
        planes = width << stage
        out_c = planes * expansion
        for i in range(n):
            p = "layer%d.%d" % (stage + 1, i)
            stride = 2 if (i == 0 and stage > 0) else 1
            if bottleneck:
                conv(p + ".conv1", planes, in_c, 1)
                bn(p + ".bn1", planes)
                conv(p + ".conv2", planes, planes, 3)
                bn(p + ".bn2", planes)
                conv(p + ".conv3", out_c, planes, 1)
                bn(p + ".bn3", out_c)
            else:
                conv(p + ".conv1", planes, in_c, 3)
                bn(p + ".bn1", planes)
                conv(p + ".conv2", planes, planes, 3)
                bn(p + ".bn2", planes)
            if i == 0 and (stride != 1 or in_c != out_c):
                conv(p + ".downsample.0", out_c, in_c, 1)
                bn(p + ".downsample.1", out_c)
            in_c = out_c
    sd["fc.weight"] = expected_value("fc.weight", (10, in_c), torch.float32)
    sd["fc.bias"] = expected_value("fc.bias", (10,), torch.float32)
    return sd


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    out = parser.parse_args().out
    os.makedirs(out, exist_ok=True)

    def save(obj, name, legacy=False):
        torch.save(obj, os.path.join(out, name), _use_new_zipfile_serialization=not legacy)

    save(plain_dict(), "zip_plain.pth")
    save(plain_dict(), "legacy_plain.pth", legacy=True)
    save(tiny_state_dict(), "zip_ordered.pth")
    save(tiny_state_dict(), "legacy_ordered.pth", legacy=True)
    save(views(), "zip_views.pth")
    save(views(), "legacy_views.pth", legacy=True)
    wrapped = {
        "epoch": 12,
        "best_dice": 0.875,
        "name": "tiny",
        "flags": [True, None, (1, 2)],
        "state_dict": tiny_state_dict(),
        "optimizer": {"state": {}, "param_groups": [{"lr": 0.001, "params": [0, 1]}]},
    }
    save(wrapped, "zip_wrapped.pth")
    save(wrapped, "legacy_wrapped.pth", legacy=True)
    save({"model": collections.OrderedDict(("module." + k, v) for k, v in tiny_state_dict().items())},
         "zip_module_prefix.pth")
    # A parameter pickled as such (torch._utils._rebuild_parameter).
    save({"weight": torch.nn.Parameter(expected_value("weight", (2, 2), torch.float32))}, "zip_parameter.pth")
    # An object the reader must not execute: argparse.Namespace.
    save({"args": argparse.Namespace(lr=0.1), "state_dict": tiny_state_dict()}, "zip_namespace.pth")
    with open(os.path.join(out, "zip_ordered.pth"), "rb") as f:
        data = f.read()
    with open(os.path.join(out, "truncated.pth"), "wb") as f:
        f.write(data[: len(data) // 2])
    with open(os.path.join(out, "legacy_ordered.pth"), "rb") as f:
        data = f.read()
    with open(os.path.join(out, "legacy_truncated.pth"), "wb") as f:
        f.write(data[: len(data) - 40])
    with open(os.path.join(out, "not_pytorch.pth"), "wb") as f:
        f.write(b"this is not a checkpoint\n")
    save({"epoch": 1, "notes": "no weights here"}, "no_state_dict.pth")
    # An svanet checkpoint from a future format version.
    save({"format": "svanet.checkpoint", "version": 99, "state_dict": tiny_state_dict()},
         "future_checkpoint.pt")
    save(torchvision_layout(18, 8), "torchvision_resnet18_w8.pth")
    save(torchvision_layout(50, 8), "torchvision_resnet50_w8.pth")


if __name__ == "__main__":
    main()
