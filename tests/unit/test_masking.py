"""Masking: secrets in URLs, password= parameters and every store's own secrets."""

from __future__ import annotations

from polyalembic.masking import mask_dsn, mask_text
from polyalembic.settings import Settings


def test_url_userinfo_and_password_parameters_are_masked() -> None:
    assert mask_dsn("postgresql://app:s3cret@db:5432/app") == "postgresql://app:***@db:5432/app"
    assert mask_text("bolt://neo4j:pw1234@graph:7687 failed") == "bolt://neo4j:***@graph:7687 failed"
    assert mask_text("host=db password=s3cret user=app") == "host=db password=*** user=app"
    assert mask_dsn(None) is None


def test_known_secret_values_are_masked_wherever_they_appear() -> None:
    assert mask_text("auth failed for s3cret-value", ("s3cret-value", None, "")) == "auth failed for ***"
    assert mask_text("abc is short", ("abc",)) == "abc is short"  # too short to mask safely


def test_settings_know_every_store_secret_and_locations_never_show_them() -> None:
    settings = Settings({"POSTGRES_DSN": "postgresql://app:pg-pass@db/app",
                         "TIMESCALE_DSN": "postgresql://ts:ts-pass@tsdb/metrics",
                         "NEO4J_URI": "bolt://neo4j:uri-pass@graph:7687", "NEO4J_PASSWORD": "neo-pass",
                         "CHROMA_HOST": "vectors", "CHROMA_PORT": "8000"})
    assert {"pg-pass", "ts-pass", "uri-pass", "neo-pass"} <= set(settings.secrets())
    for store in ("postgres", "timescaledb", "neo4j", "chromadb"):
        location = settings.location(store)
        assert not any(secret in location for secret in settings.secrets()), location
    assert settings.mask("neo-pass and pg-pass") == "*** and ***"


def test_a_password_parameter_keeps_the_text_around_it() -> None:
    assert mask_text("postgresql://a@db/x?password=s3cret: connection refused") == \
        "postgresql://a@db/x?password=***: connection refused"
    assert mask_text("postgresql://a@db/x?password=s3cret&sslmode=off") == "postgresql://a@db/x?password=***&sslmode=off"
    assert mask_text("host=db password='two words' user=app") == "host=db password=*** user=app"
    assert mask_text("password=a:b:c failed") == "password=*** failed"  # a colon inside the value is masked
    assert mask_text("(password=s3cret)") == "(password=***)"
