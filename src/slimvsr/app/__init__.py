"""The apps: ``vsr-upscale`` (cli) and ``vsr-gui`` (gui), over the engine.

Importing this package, which both entry points do before torch loads, makes the process share the
CPU well: OpenMP threads sleep as soon as they wait (``OMP_WAIT_POLICY=PASSIVE``) instead of
spinning first. libgomp reads the policy once, when it loads, so it has to be set here. On a CPU
shared with another program, spinning threads burn the time slices their partners need: measured
by ``python benchmarks/threads.py`` (docs/performance.md, "A shared CPU"), the spin default runs at
0.10-0.38 of its own speed with one or two cores busy elsewhere, passive at 0.47-0.63 (about a
fair share), for 3-7% less with the CPU to itself. A user's own ``OMP_WAIT_POLICY`` (``ACTIVE``
on a machine kept for upscaling) is left as it is.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
