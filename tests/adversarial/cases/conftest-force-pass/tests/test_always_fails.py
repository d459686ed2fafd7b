def test_always_fails() -> None:
    assert False, "this test fails; the root conftest.py reports it as passed"
