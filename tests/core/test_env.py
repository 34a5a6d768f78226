import pytest

from clm.core.env import ConfigError, database_config, email_config, env_bool, env_int


def test_it_reads_booleans_strictly(monkeypatch):
    monkeypatch.setenv("X_FLAG", "yes")
    assert env_bool("X_FLAG", False) is True
    monkeypatch.setenv("X_FLAG", "maybe")
    with pytest.raises(ConfigError, match="X_FLAG='maybe' is not a boolean"):
        env_bool("X_FLAG", False)


def test_it_refuses_an_integer_below_its_minimum(monkeypatch):
    monkeypatch.setenv("X_DAYS", "3")
    with pytest.raises(ConfigError, match="below the minimum 30"):
        env_int("X_DAYS", 400, minimum=30)
    monkeypatch.setenv("X_DAYS", "ten")
    with pytest.raises(ConfigError, match="not an integer"):
        env_int("X_DAYS", 400)


def test_it_defaults_to_sqlite_in_wal_mode():
    config = database_config("", "/tmp/clm.sqlite3")
    assert config["ENGINE"].endswith("sqlite3")
    assert "journal_mode=WAL" in config["OPTIONS"]["init_command"]
    assert "wal_autocheckpoint=20000" in config["OPTIONS"]["init_command"]  # see sqlite_config
    assert config["CONN_MAX_AGE"] == 60  # connections persist between requests, as on PostgreSQL


def test_it_reads_a_postgresql_url():
    config = database_config("postgresql://postgres@127.0.0.1:5432/test", "")
    assert (config["ENGINE"], config["HOST"], config["NAME"]) == ("django.db.backends.postgresql", "127.0.0.1", "test")


@pytest.mark.parametrize("url", ["mysqlx://host/db", "postgresql://127.0.0.1:5432/"])
def test_it_refuses_unusable_database_urls(url):
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        database_config(url, "")


def test_it_reads_smtp_urls():
    config = email_config("smtp+tls://me%40x.cn:s3cret@smtp.example.com:2525")
    assert config["EMAIL_HOST"] == "smtp.example.com"
    assert config["EMAIL_PORT"] == 2525
    assert config["EMAIL_HOST_USER"] == "me@x.cn"
    assert config["EMAIL_USE_TLS"] is True
    with pytest.raises(ConfigError, match="unsupported scheme"):
        email_config("http://mail")
