"""Settings: YAML file, `VIGIL_*` environment overrides (nested with `__`), precedence."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from vigil.platform.settings import Settings, WebhookAuth, load_settings


def write_yaml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "vigil.yaml"
    path.write_text(text)
    return path


def test_defaults_without_any_file(tmp_path: Path) -> None:
    settings = load_settings()
    assert settings.port == 8000
    assert settings.host == "127.0.0.1"
    assert settings.database_url.startswith("sqlite:///")
    assert settings.database_url.endswith("vigil.db")
    assert str(tmp_path / "xdg-data") in settings.database_url  # the user's data dir
    assert settings.webhooks == {}


def test_yaml_file_is_read(tmp_path: Path) -> None:
    path = write_yaml(
        tmp_path,
        "port: 9001\n"
        "dedup_window_seconds: 60\n"
        "webhooks:\n"
        "  alertmanager: {mode: bearer, token: from-yaml, tenant: acme}\n"
        "silences:\n"
        "  - id: s1\n"
        "    matchers: [{name: env, value: staging}]\n"
        "    ends_at: 2030-01-01T00:00:00Z\n",
    )
    settings = load_settings(path)
    assert settings.port == 9001
    assert settings.dedup_window_seconds == 60
    auth = settings.auth_for("alertmanager")
    assert auth.mode == "bearer"
    assert auth.token is not None
    assert auth.token.get_secret_value() == "from-yaml"
    assert auth.tenant == "acme"
    assert settings.silences[0].matchers[0].value == "staging"


def test_env_overrides_yaml_and_explicit_overrides_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_yaml(tmp_path, "port: 9001\nhost: 0.0.0.0\n")
    monkeypatch.setenv("VIGIL_PORT", "9002")
    settings = load_settings(path)
    assert settings.port == 9002
    assert settings.host == "0.0.0.0"  # not in the environment: the file's value stays
    assert load_settings(path, port=9003).port == 9003


def test_nested_env_override_merges_with_yaml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_yaml(
        tmp_path, "webhooks:\n  alertmanager: {mode: bearer, token: from-yaml, tenant: acme}\n"
    )
    monkeypatch.setenv("VIGIL_WEBHOOKS__ALERTMANAGER__TOKEN", "from-env")
    monkeypatch.setenv("VIGIL_WEBHOOKS__PAGERDUTY__MODE", "hmac")
    monkeypatch.setenv("VIGIL_WEBHOOKS__PAGERDUTY__SECRET", "pd-secret")
    settings = load_settings(path)
    alertmanager = settings.auth_for("alertmanager")
    assert alertmanager.mode == "bearer"
    assert alertmanager.tenant == "acme"
    assert alertmanager.token is not None
    assert alertmanager.token.get_secret_value() == "from-env"
    pagerduty = settings.auth_for("pagerduty")
    assert pagerduty.mode == "hmac"
    assert pagerduty.secret is not None
    assert pagerduty.secret.get_secret_value() == "pd-secret"


def test_config_file_named_by_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_yaml(tmp_path, "port: 9100\n")
    monkeypatch.setenv("VIGIL_CONFIG", str(path))
    assert load_settings().port == 9100


def test_user_config_file_is_used_when_present(tmp_path: Path) -> None:
    config_dir = tmp_path / "xdg-config" / "vigil"
    config_dir.mkdir(parents=True)
    (config_dir / "vigil.yaml").write_text("port: 9200\n")
    assert load_settings().port == 9200


def test_unknown_key_in_yaml_is_an_error(tmp_path: Path) -> None:
    path = write_yaml(tmp_path, "port: 9001\ndedup_windw_seconds: 60\n")
    with pytest.raises(ValidationError, match="dedup_windw_seconds"):
        load_settings(path)


def test_unknown_nested_key_in_yaml_is_an_error(tmp_path: Path) -> None:
    path = write_yaml(tmp_path, "webhooks:\n  alertmanager: {mode: bearer, tokn: x}\n")
    with pytest.raises(ValidationError, match="tokn"):
        load_settings(path)


def test_missing_config_file_is_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(FileNotFoundError, match=r"nope\.yaml"):
        load_settings(missing)


def test_missing_config_file_named_by_env_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIGIL_CONFIG", str(tmp_path / "gone.yaml"))
    with pytest.raises(FileNotFoundError, match=r"gone\.yaml"):
        load_settings()


def test_invalid_value_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIL_DEDUP_WINDOW_SECONDS", "0")
    with pytest.raises(ValidationError, match="dedup_window_seconds"):
        load_settings()


def test_settings_are_frozen() -> None:
    settings = load_settings()
    with pytest.raises(ValidationError):
        settings.port = 1  # type: ignore[misc]


@pytest.mark.parametrize(("mode", "missing"), [("bearer", "token"), ("hmac", "secret")])
def test_webhook_auth_needs_its_credential(mode: str, missing: str) -> None:
    with pytest.raises(ValidationError, match=missing):
        WebhookAuth(mode=mode)  # type: ignore[arg-type]


def test_auth_for_unconfigured_source_is_open_on_default_tenant() -> None:
    settings = load_settings(default_tenant="acme")
    auth = settings.auth_for("grafana")
    assert auth.mode == "none"
    assert auth.tenant == "acme"


def test_secrets_do_not_show_in_repr() -> None:
    settings = Settings(webhooks={"alertmanager": WebhookAuth(mode="bearer", token="hunter2")})
    assert "hunter2" not in repr(settings)


def test_the_documented_example_configuration_loads() -> None:
    example = Path(__file__).parents[2] / "docs" / "vigil.example.yaml"
    settings = load_settings(example)
    assert settings.retention.intake_days == 7


def test_retention_null_from_the_environment_and_at_most_a_century(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VIGIL_RETENTION__INTAKE_DAYS", "null")
    assert load_settings().retention.intake_days is None
    monkeypatch.setenv("VIGIL_RETENTION__INTAKE_DAYS", "40000")
    with pytest.raises(ValidationError, match="less than or equal to 36500"):
        load_settings()
