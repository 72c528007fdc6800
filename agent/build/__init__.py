"""agent/build: building images from a Dockerfile with the node's own runtime.

Rooms, one job each (none imports agent.runtime, agent.images or agent.network:
ports.py says what the builder needs, agent/adapters/build.py provides it):

    dockerfile    syntax: directives, comments, continuations, flags, JSON forms
    instructions  what each instruction may say (checked before anything runs); stages
    expand        $VAR / ${VAR:-x} expansion and word splitting (BuildKit's rules)
    state         a stage's layers, config, history, ARGs and cache key; the OCI config
    metasteps     ENV ARG LABEL CMD ENTRYPOINT EXPOSE VOLUME STOPSIGNAL HEALTHCHECK SHELL USER
    fssteps       RUN COPY ADD WORKDIR: what decides their result, and making the layer
    copying       COPY/ADD into a layer directory (Docker's rules, never outside it)
    sources       the received context, COPY sources (globs, escapes), content digests
    view          a merged read-only view of layer directories (whiteouts, opaque dirs)
    cache         BuildKit-like cache keys and the index of what each step made
    executor      the build: stages, steps from the cache or made, the image committed
    errors        the error tree (drawn there)

agent/buildrpc.py serves it as the Agent service's Build and SaveImage calls.
"""
