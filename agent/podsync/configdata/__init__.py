"""ConfigMaps and Secrets on the node: the objects its pods reference (objects.py, one
watch per object), what a volume or an environment takes from them (projection.py,
envsources.py), and writing volumes atomically (atomicwriter.py)."""
