"""controlplane/controllers."""
