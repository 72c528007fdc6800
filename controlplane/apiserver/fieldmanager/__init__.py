"""Field ownership (metadata.managedFields) and server-side apply, for both doors.

    fieldpath.py   paths and sets of fields over objects in Kubernetes' JSON form
    entries.py     managedFields entries; what an Update changes (track)
    apply.py       server-side apply: merge, conflicts (ApplyConflict), removal, ownership

Writes through the Kubernetes API record their manager (fieldManager, else the user
agent's program name); writes of the control loops and of the gRPC API keep the entries
they find but add none.
"""
