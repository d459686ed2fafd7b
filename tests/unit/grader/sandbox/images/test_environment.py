"""Which Dockerfile an environment image is built from (the builds themselves: tests/docker/grader/sandbox)."""

from __future__ import annotations

import pytest

from grader.sandbox.images import environment


@pytest.mark.parametrize("requirements", [["setuptools==65.6.0"], ["six==1.16.0", "pip==24.0"],
                                          ["Setup_Tools==1"], ["  wheel==0.42.0"]])
def test_a_pin_of_a_base_venv_package_empties_the_venv_before_the_final_copy(requirements: list[str]) -> None:
    name = requirements[-1].strip().split("==")[0]
    text = environment.env_dockerfile(requirements).decode()
    expect_fresh = name.lower().replace("_", "-") in {"setuptools", "pip", "wheel"}
    assert ("RUN rm -rf /opt/venv\nCOPY --from=0 /opt/venv /opt/venv" in text) == expect_fresh


def test_other_requirements_keep_the_plain_final_copy() -> None:
    text = environment.env_dockerfile(["six==1.16.0", "setuptools-scm==8.0", "pipx==1.0"]).decode()
    steps = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert "RUN rm -rf /opt/venv" not in steps
    assert "COPY --from=0 /opt/venv /opt/venv" in steps
    assert not any("chmod" in step for step in steps)
