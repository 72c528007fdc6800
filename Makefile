# Entry points; the scripts do the work.
.PHONY: test test-vm proto

test:
	scripts/test.sh

# the VM lane: 3 QEMU VMs in a private network namespace (root; see scripts/vm/)
test-vm:
	scripts/vm/lane.sh

proto:
	scripts/genproto.sh
