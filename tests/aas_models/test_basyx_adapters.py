"""The gateway imports BaSyx's JSON adapter without lxml; XML, AASX and load_directory still work when asked for."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(code: str) -> str:
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_the_gateway_and_its_api_import_without_the_xml_and_aasx_adapters() -> None:
    out = _run("""
        import sys
        import gateway.app, gateway.api.app
        print(sorted(m for m in sys.modules if m.startswith(("lxml", "pyecma376_2", "basyx.aas.adapter.xml",
                                                             "basyx.aas.adapter.aasx"))))
        """)
    assert out.strip() == "[]"


def test_xml_aasx_and_load_directory_load_when_asked_for(tmp_path: Path) -> None:
    out = _run(f"""
        import io, sys
        import aas_models
        from basyx.aas import model
        from basyx.aas.adapter.json import AASToJsonEncoder
        from basyx.aas.adapter import aasx
        from basyx.aas.adapter.xml import write_aas_xml_file
        import basyx.aas.adapter as adapter
        store = model.DictIdentifiableStore([model.Submodel("urn:x:sm", id_short="S")])
        buf = io.BytesIO()
        write_aas_xml_file(buf, store)
        assert b"urn:x:sm" in buf.getvalue()
        with aasx.AASXWriter(str({str(tmp_path / "p.aasx")!r})) as w:
            w.write_all_aas_objects("/aasx/data.json", store, aasx.DictSupplementaryFileContainer(), write_json=True)
        assert callable(adapter.load_directory)  # runs the package's own __init__ on first use
        print("lxml" in sys.modules)
        """)
    assert out.strip() == "True"
    assert (tmp_path / "p.aasx").stat().st_size > 0
