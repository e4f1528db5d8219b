"""The subprocess tests start servers the way the benchmarks do: one implementation."""

from bench.processes import clean_env as clean_env
from bench.processes import free_port as free_port
from bench.processes import running as running
