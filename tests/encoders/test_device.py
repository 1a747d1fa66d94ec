"""check_device: a device string is checked once, at the edge, against this machine."""

from __future__ import annotations

import pytest
import torch
from driftrec.encoders.device import check_device


def test_cpu_forms_are_accepted() -> None:
    assert check_device("cpu") == "cpu"
    assert check_device("cpu:0") == "cpu:0"
    assert check_device(torch.device("cpu")) == "cpu"


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a CPU-only machine")
@pytest.mark.parametrize("device", ["cuda", "cuda:0"])
def test_cuda_without_cuda_says_so(device: str) -> None:
    with pytest.raises(ValueError, match=rf"device '{device}' asks for CUDA, but CUDA is not "
                                         r"available on this machine .*expected 'cpu' here"):
        check_device(device)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_index_beyond_the_devices_is_rejected() -> None:
    count = torch.cuda.device_count()
    assert check_device("cuda:0") == "cuda:0"
    with pytest.raises(ValueError, match=rf"has {count} CUDA device\(s\); expected an index"):
        check_device(f"cuda:{count}")


@pytest.mark.parametrize(
    ("device", "error", "match"),
    [
        ("gpu", ValueError, (r"device 'gpu' is not a torch device; expected 'cpu', 'cuda', "
                            r"'cuda:<index>' or 'mps'")),
        ("", ValueError, r"device '' is not a torch device"),
        ("meta", ValueError, r"device 'meta' \(meta\) is not supported"),
        (None, TypeError, r"device must be a str such as 'cpu'.*got None \(NoneType\)"),
        (1, TypeError, r"got 1 \(int\)"),
    ],
)
def test_bad_devices_are_clear_errors(device: object, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        check_device(device)
