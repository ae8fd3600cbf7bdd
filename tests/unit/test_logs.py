import json
import logging
from collections.abc import Iterator

import pytest

from gateway.logs import JsonFormatter, TextFormatter, setup_logging


def _record(msg: str, *args: object, **extra: object) -> logging.LogRecord:
    r = logging.LogRecord("connectors.opcua", logging.WARNING, __file__, 1, msg, args, None)
    for k, v in extra.items():
        setattr(r, k, v)
    return r


def test_json_lines_carry_level_logger_message_and_extras() -> None:
    line = JsonFormatter().format(_record("point %s is bad", "A/B/C", endpoint="opc.tcp://x"))
    out = json.loads(line)
    assert out["level"] == "WARNING" and out["logger"] == "connectors.opcua"
    assert out["msg"] == "point A/B/C is bad" and out["endpoint"] == "opc.tcp://x"
    assert out["ts"].endswith("Z")


def test_text_format_is_one_line_with_utc_time() -> None:
    line = TextFormatter().format(_record("hello"))
    assert line.endswith("WARNING connectors.opcua: hello") and "Z " in line


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root, aua = logging.getLogger(), logging.getLogger("asyncua")
    saved = (list(root.handlers), root.level, aua.level, logging.getLogger("uvicorn.access").level)
    yield
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    aua.setLevel(saved[2])
    logging.getLogger("uvicorn.access").setLevel(saved[3])


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_setup_quietens_asyncua(fmt: str, restore_logging: None) -> None:
    setup_logging("INFO", fmt)
    assert logging.getLogger().level == logging.INFO
    assert not logging.getLogger("asyncua").isEnabledFor(logging.INFO)
    setup_logging("DEBUG", fmt)
    assert logging.getLogger("asyncua").isEnabledFor(logging.DEBUG)
