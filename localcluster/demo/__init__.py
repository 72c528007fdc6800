"""`corral demo NAME`: narrated, scripted demos on a local cluster.

A demo is a short script of steps. Each step says in plain words what is
about to happen and why, prints the command as a shell prompt (`$ corral
...`) and runs it through the same CLI code path (corral.cli.main.run, in
process), then waits, with a deadline, for a condition that proves the claim
("deployment web: 3/3 ready") and prints the proof. Waits poll the API; they
are never sleeps. `--pace` only adds pauses between steps for a live audience.

Every demo applies its manifest from manifests/demos/ into its own namespace
(demo-NAME) and deletes that namespace at the end unless --keep is given.

The package: run (one run's connection, commands and queries), script (the
format), runner (running a demo), conditions (what the waits check), healing,
rollout and failures (the demos), verb (the CLI).
"""

from localcluster.demo.conditions import deployment_ready
from localcluster.demo.run import Run
from localcluster.demo.runner import run_demo
from localcluster.demo.script import MANIFESTS, Demo, DemoFailed, Step, Wait
from localcluster.demo.verb import DEMO_HELP, DEMOS, cmd_demo, register

__all__ = ["DEMOS", "DEMO_HELP", "MANIFESTS", "Demo", "DemoFailed", "Run", "Step", "Wait",
           "cmd_demo", "deployment_ready", "register", "run_demo"]
