"""controlplane/apiserver."""
