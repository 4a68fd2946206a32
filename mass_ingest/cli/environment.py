"""What the command sets before Prefect (or DataJoint) is imported; :mod:`mass_ingest.cli` imports it first."""

import os
import warnings

# No phoning home (labs' workers often have no internet).
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
# A first start on a fresh PREFECT_HOME runs database migrations, which can exceed the 20 s default.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")

warnings.filterwarnings("ignore", message="No datajoint.json found")
warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
