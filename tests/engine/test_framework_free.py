"""workers/engine never imports Django: importing every engine module leaves django unloaded."""

import pkgutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_engine_modules_do_not_import_django():
    import workers.engine

    names = [m.name for m in pkgutil.walk_packages(workers.engine.__path__, "workers.engine.")]
    assert names, "no engine modules found"
    code = (
        "import importlib, sys\n"
        f"for name in {names!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m == 'django' or m.startswith('django.'))\n"
        "print(','.join(bad))\n"
    )
    # Import through the package path only (not `workers`, whose __init__ wires Celery to Django).
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"engine pulled in Django modules: {out.stdout.strip()}"
