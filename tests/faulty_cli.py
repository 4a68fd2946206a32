"""``python -m tests.faulty_cli ARGS``: ``mass-ingest ARGS`` with the fault point of MASS_INGEST_TEST_FAULT armed.

The resilience tests start the command this way (tests/e2e.py, when the variable is set), so the
fault points live with the tests and the flow module carries no test-only code.
"""

from mass_ingest.cli import main
from mass_ingest.cli.checkout import flows_module
from tests.fault_points import arm

arm(vars(flows_module("ingest")))
main()
