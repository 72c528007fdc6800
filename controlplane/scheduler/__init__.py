"""controlplane/scheduler."""
