"""What the assignment asks for decides which practices count.

The check runs are real (checks.practices with detect-secrets and hadolint) on the fixtures in
tests/fixtures/practices/, and the challenges are real bundles loaded from
tests/fixtures/practices-*-challenge/. Secrets: tests/unit/grader/test_secret_scoring.py. The new names are read
from their modules in the tests, so that against a grader without them each test fails on its own.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from grader import models, rules
from grader.challenge import ChallengeError, load_challenge
from grader.models import RuleOverride, ScoringConfig
from grader.rules import DEFAULT_RULES, effective_rules
from grader.scoring import score_check_runs
from tests.unit.checks.test_common import REPO_ROOT

from .test_secret_scoring import SUBMISSIONS, deducted, real_run, result

FIXTURES = REPO_ROOT / "tests" / "fixtures"


# --- the practices an assignment asks for ------------------------------------------------------------------------


def test_every_practice_has_rules_and_every_practice_rule_a_known_practice() -> None:
    assert {getattr(rule, "practice", None) for rule in DEFAULT_RULES} - {None} == set(models.PRACTICES)
    assert rules.practice_points("dockerfile") == 20 and rules.practice_points("migrations") == 20


def test_practices_the_assignment_does_not_ask_for_cost_nothing(tmp_path: Path) -> None:
    challenge = load_challenge(str(FIXTURES / "practices-unasked-challenge"))
    assert challenge.practices.asked == ["pinned_dependencies", "readme"]
    run = real_run("practices", SUBMISSIONS / "bare-notes", tmp_path)
    assert {"no-migrations", "no-dockerfile", "no-ci", "no-env-example", "no-logging-configured"} <= {
        f.rule for f in run.findings}
    results = score_check_runs([run], effective_rules(challenge.scoring, challenge.practices))
    lost = deducted(results)
    assert not {"practices.has_migrations", "practices.has_dockerfile", "practices.has_ci_config",
                "practices.has_env_example", "practices.logging_configured"} & set(lost), lost
    # nothing asked is measured in databases, testing or observability: no points possible there either
    for result_id in ("practices/databases", "practices/testing", "practices/observability"):
        assert (result(results, result_id).max_score, result(results, result_id).status) == (0, "skipped")
    infrastructure = result(results, "practices/infrastructure")
    assert "has_dockerfile" not in infrastructure.metrics and "has_env_example" not in infrastructure.metrics
    assert infrastructure.max_score == 10 + 5 + 20 + 10  # pinned, committed .env, secrets, README
    assert infrastructure.score == infrastructure.max_score
    # the missing practices are still reported, as information that says it costs nothing
    reported = {f.rule: f for item in results for f in item.findings}
    for rule in ("no-migrations", "no-dockerfile", "no-ci", "no-env-example", "no-logging-configured"):
        assert reported[rule].severity == "info", rule
        assert "not asked for by this assignment" in reported[rule].message


def test_practices_the_assignment_asks_for_are_charged_at_their_points(tmp_path: Path) -> None:
    challenge = load_challenge(str(FIXTURES / "practices-asked-challenge"))
    run = real_run("practices", SUBMISSIONS / "bare-notes", tmp_path)
    results = score_check_runs([run], effective_rules(challenge.scoring, challenge.practices))
    lost = deducted(results)
    assert lost["practices.has_migrations"] == 30  # `points = { migrations = 30 }`
    assert (lost["practices.has_dockerfile"], lost["practices.has_ci_config"]) == (15, 15)
    assert (lost["practices.has_env_example"], lost["practices.logging_configured"]) == (10, 25)
    assert result(results, "practices/databases").max_score == 30
    evidence = {e.rule for item in results for d in item.deductions for e in d.evidence}
    assert {"no-migrations", "no-dockerfile", "no-ci", "no-env-example", "no-logging-configured"} <= evidence
    assert all(f.severity != "info" for item in results for f in item.findings if f.rule == "no-migrations")


def test_an_asked_practices_points_are_shared_by_its_rules() -> None:
    rules = {rule.id: rule for rule in effective_rules(
        ScoringConfig(), models.Practices(asked=["dockerfile"], points={"dockerfile": 40}))}
    assert (rules["practices.has_dockerfile"].points, rules["practices.dockerfile_issues"].points) == (30, 10)
    assert rules["practices.has_dockerfile"].charged and not rules["practices.has_migrations"].charged
    assert rules["practices.secrets_found"].charged and rules["lint.infrastructure_findings"].charged


def test_a_practice_rules_points_are_set_in_practices_not_in_scoring_rules() -> None:
    config = ScoringConfig(rules={"practices.has_migrations": RuleOverride(points=5)})
    with pytest.raises(ValueError, match=r"set them in \[practices\] points"):
        effective_rules(config, models.Practices(asked=["migrations"]))
    thresholds = ScoringConfig(rules={"practices.pinned_share": RuleOverride(good=80)})
    rule = next(r for r in effective_rules(thresholds, models.Practices(asked=["pinned_dependencies"]))
                if r.id == "practices.pinned_share")
    assert (rule.good, rule.points, rule.charged) == (80, 10, True)


@pytest.mark.parametrize(("toml", "expected"), [
    ('[practices]\nasked = ["docker"]\n', "field 'practices.asked': Value error, unknown practices ['docker']"),
    ('[practices]\nasked = ["ci", "ci"]\n', "listed twice"),
    ('[practices]\nasked = ["ci"]\npoints = { migrations = 5 }\n', "['migrations'], which `asked` does not list"),
    ('[practices]\nasked = ["ci"]\npoints = { ci = -1 }\n', "field 'practices.points'"),
    ('[practices]\nasks = ["ci"]\n', "field 'practices.asks'"),
    ('[scoring.rules."practices.has_ci_config"]\npoints = 3\n', "set them in [practices] points"),
])
def test_a_malformed_practices_table_names_the_file_and_field(tmp_path: Path, toml: str, expected: str) -> None:
    bundle = tmp_path / "b"
    (bundle / "hidden").mkdir(parents=True)
    (bundle / "hidden" / "test_x.py").write_text("def test_x():\n    pass\n")
    (bundle / "README.md").write_text("# task\n")
    (bundle / "challenge.toml").write_text('id = "b"\ntitle = "B"\n' + toml)
    with pytest.raises(ChallengeError) as info:
        load_challenge(str(bundle))
    assert str(bundle / "challenge.toml") in str(info.value)
    assert expected in str(info.value)


def test_a_challenge_without_a_practices_table_asks_for_none() -> None:
    challenge = load_challenge(str(FIXTURES / "probe-challenge"))
    assert challenge.practices.asked == []
    assert not any(rule.charged for rule in effective_rules(challenge.scoring, challenge.practices)
                   if rule.practice)
