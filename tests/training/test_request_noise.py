"""`python -m training.train --request-noise`: the request the model reads is blurred, every label is not."""

import numpy as np
import pytest

from training import synthetic, train


def test_request_noise_blurs_the_request_the_model_reads_and_no_label() -> None:
    as_is = synthetic.training_set(7, decisions=40)
    blurred = synthetic.training_set(7, decisions=40, requests=0.3)
    real = np.array([float(plan.arrival_request[0]) for plan in as_is.plans])
    assert np.array_equal(as_is.data.request[:, 0], real), "off by default: the request is read as it is"
    read = blurred.data.request[:, 0]
    assert np.mean(read != real) > 0.9
    assert 0.15 < float(np.std(np.log(read / real))) < 0.45, "a lognormal factor of sigma 0.3"
    assert np.all(read <= np.where(np.isfinite(blurred.data.limit), blurred.data.limit, np.inf)), "capped at the limit"
    for label in ("slowdown", "relative_p99", "harm", "p99_ms", "candidates"):
        assert np.array_equal(getattr(as_is.data, label), getattr(blurred.data, label), equal_nan=True), label
    pod = blurred.decision(0)
    assert pod is not None and pod.pod.requests["cpu"] == round(read[0] * 1000), "the pod the model reads has it"


def test_a_request_noise_outside_0_to_1_is_refused(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_:
        train.main(["--request-noise", "-0.1"])
    assert exit_.value.code == 2
    assert "-0.1: give a sigma from 0 to 1" in capsys.readouterr().err
