"""The build: stages in order, each step from the cache or made, the image committed.

    result = await Builder(images, runner, cache, work_dir, events).build(dockerfile,
                                                                          context_dir, options)

Only the stages the target needs are built (the target, the stages it starts
FROM and those it copies `--from`). A step prints one line when it starts and
one when it ends (`CACHED` when the cache had it); RUN output is streamed in
between. Nothing is named until the last step succeeded: a failing step
leaves layers that the image GC may take, but no image.
"""

from __future__ import annotations

import json
import os
import posixpath
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from agent.build import fssteps, metasteps
from agent.build.cache import BuildCache, chain
from agent.build.dockerfile import Dockerfile, Instruction
from agent.build.errors import BaseImageError, BuildError
from agent.build.expand import ExpandError, word, words
from agent.build.instructions import Plan, Stage, plan
from agent.build.ports import Events, ImageStorePort, Layer, RunnerPort, RunSpec
from agent.build.state import PROXY_ARGS, State, now_rfc3339
from agent.build.view import View

FS_STEPS = frozenset({"RUN", "COPY", "ADD", "WORKDIR"})


@dataclass
class BuildOptions:
    tags: list[str]
    build_args: dict[str, str] = field(default_factory=dict)
    target: str = ""
    no_cache: bool = False
    network: str = "none"
    memory_bytes: int = 0
    os: str = "linux"
    architecture: str = "amd64"
    variant: str = ""


@dataclass
class BuildResult:
    image_id: str
    manifest_digest: str
    names: list[str]


class Builder:
    def __init__(self, images: ImageStorePort, runner: RunnerPort, cache: BuildCache,
                 work_dir: str, events: Events, build_id: str) -> None:
        self.images, self.runner, self.cache = images, runner, cache
        self.work_dir, self.ev, self.build_id = work_dir, events, build_id

    async def build(self, df: Dockerfile, context_dir: str, opts: BuildOptions) -> BuildResult:
        p = plan(df, opts.target)
        self.df, self.opts, self.context = df, opts, View([context_dir])
        platform = "/".join(x for x in (opts.os, opts.architecture, opts.variant) if x)
        self.args = metasteps.ArgContext(dict(opts.build_args), {}, {
            "TARGETPLATFORM": platform, "TARGETOS": opts.os, "TARGETARCH": opts.architecture,
            "TARGETVARIANT": opts.variant, "BUILDPLATFORM": platform, "BUILDOS": opts.os,
            "BUILDARCH": opts.architecture, "BUILDVARIANT": opts.variant})
        gv = self.args.global_values
        for name, default in p.global_args:
            head = Instruction("ARG", "", 0)
            metasteps.declare_arg(name, default, {**self.args.automatic, **gv}, self.args, df,
                                  head, gv)
        self.proxies = {k: v for k, v in opts.build_args.items() if k in PROXY_ARGS}
        self.args.consumed.update(self.proxies)
        self.states: dict[int, State] = {}
        for stage in p.stages:
            if stage.index in self._needed(p):
                self.states[stage.index] = await self._stage(p, stage)
        unused = sorted(set(opts.build_args) - self.args.consumed)
        if unused:
            await self.ev.message(f"[warning] build-args not consumed by any ARG: "
                                  f"{', '.join(unused)}")
        final = self.states[p.target.index]
        config = final.image_config(opts.architecture, opts.os, opts.variant)
        await self.ev.message(f"exporting: {len(final.layers)} layers, config "
                              f"{len(config)} bytes")
        image_id, mdigest, names = await self.images.commit(final.layers, config, opts.tags)
        return BuildResult(image_id, mdigest, names)

    # -- stages ---------------------------------------------------------------------------

    def _base_of(self, stage: Stage) -> str:
        try:
            return word(stage.base, {**self.args.automatic, **self.args.global_values},
                        self.df.escape)
        except ExpandError as e:
            raise self.df.error(stage.from_line.line, f"FROM: {e}") from None

    def _needed(self, p: Plan) -> set[int]:
        need: set[int] = set()
        todo = [p.target]
        while todo:
            s = todo.pop()
            if s.index in need:
                continue
            need.add(s.index)
            refs = [self._base_of(s)] + [i.flags["from"] for i in s.steps if "from" in i.flags]
            for ref in refs:
                dep = p.stage(ref)
                if dep is not None and dep.index < s.index:
                    todo.append(dep)
        return need

    async def _stage(self, p: Plan, stage: Stage) -> State:
        total = len(stage.steps) + 1
        base = self._base_of(stage)
        label = stage.label
        t0 = time.monotonic()
        text = f"FROM {base}" + (f" AS {stage.name}" if stage.name else "")
        await self.ev.step(label, 1, total, text)
        dep = p.stage(base)
        if dep is not None and dep.index < stage.index:
            state = self.states[dep.index].fork()
        elif base == "scratch":
            state = State.scratch(chain("scratch", self.opts.os, self.opts.architecture))
        else:
            try:
                img = await self.images.base(base)
            except BuildError as e:
                raise self.df.error(stage.from_line.line, str(e)) from None
            state = State.of(img, chain("from", img.id))
        await self.ev.step(label, 1, total, text, done=True, seconds=time.monotonic() - t0)
        for i, inst in enumerate(stage.steps, start=2):
            t0 = time.monotonic()
            await self.ev.step(label, i, total, str(inst))
            cached = await self._step(p, state, inst, f"[{label} {i}/{total}] {inst.keyword}")
            await self.ev.step(label, i, total, str(inst), cached=cached, done=True,
                               seconds=time.monotonic() - t0)
        return state

    # -- steps ----------------------------------------------------------------------------

    async def _step(self, p: Plan, state: State, inst: Instruction, where: str) -> bool:
        if inst.keyword not in FS_STEPS:
            text = metasteps.apply(state, inst, self.df, self.args)
            state.key = chain(state.key, text)
            if inst.keyword != "ARG":
                state.record(text, None)
            return False
        if inst.keyword == "WORKDIR":
            text = metasteps.apply(state, inst, self.df, self.args)
            path = state.config["WorkingDir"]
            owner = None
            user = state.config.get("User") or ""
            if user:
                owner = fssteps.resolve_owner(View([la.dir for la in state.layers]), user, where)
            key_text = json.dumps(["WORKDIR", path, owner])

            async def make(layer_dir: str) -> None:
                fssteps.make_workdir(path, owner, state.layers, layer_dir)
            return await self._cached_layer(state, text, key_text, make, None)
        if inst.keyword == "RUN":
            return await self._run(state, inst, where)
        return await self._copy(p, state, inst, where)

    async def _cached_layer(self, state: State, text: str, key_text: str,
                            make_dir: Callable[[str], Awaitable[None]] | None,
                            run: Callable[[], Awaitable[Layer | None]] | None) -> bool:
        """Look the step up in the cache, else make its layer; True on a hit."""
        key = chain(state.key, key_text)
        hit = None if self.opts.no_cache else self.cache.get(key)
        layer: Layer | None = None
        if hit is not None:
            if hit.get("empty"):
                state.key = key
                state.record(text, None)
                return True
            layer = await self.images.find_layer(str(hit.get("diff_id")), str(hit.get("digest")),
                                                 str(hit.get("media_type")))
            if layer is not None:
                state.key = key
                state.record(text, layer, str(hit.get("created") or state.created))
                return True
        created = now_rfc3339()
        if run is not None:
            layer = await run()
        elif make_dir is not None:
            with fssteps.Scratch(self.work_dir) as layer_dir:
                await make_dir(layer_dir)
                layer = None if not os.listdir(layer_dir) else \
                    await self.images.layer_of_dir(layer_dir)
        entry = {"empty": True, "created": created} if layer is None else {
            "diff_id": layer.diff_id, "digest": layer.digest, "size": layer.size,
            "media_type": layer.media_type, "created": created}
        self.cache.put(key, entry)
        state.key = key
        state.record(text, layer, created)
        return False

    async def _run(self, state: State, inst: Instruction, where: str) -> bool:
        argv = list(inst.json) if inst.json is not None else [*state.shell(), inst.args]
        env = state.run_env(self.proxies)
        network = inst.flags.get("network", self.opts.network)
        network = "none" if network == "default" else network
        user = str(state.config.get("User") or "")
        workdir = str(state.config.get("WorkingDir") or "/")
        keyed_env = [(k, v) for k, v in env if k not in self.proxies]
        key_text = json.dumps(["RUN", argv, keyed_env, user, workdir, network])
        text = f"RUN {json.dumps(argv) if inst.json is not None else ' '.join(argv)}"
        spec = RunSpec(self.build_id, argv, env, [la.dir for la in state.layers], workdir,
                       user, network, self.opts.memory_bytes)

        async def run() -> Layer | None:
            return await fssteps.run_step(self.runner, spec, where, " ".join(argv), self.ev.log,
                                          self.images.layer_of_dir)
        return await self._cached_layer(state, text, key_text, None, run)

    async def _copy(self, p: Plan, state: State, inst: Instruction, where: str) -> bool:
        env = state.expansion_env()
        try:
            items = [word(x, env, self.df.escape) for x in inst.json] if inst.json is not None \
                else words(inst.args, env, self.df.escape)
            flags = {k: word(v, env, self.df.escape) for k, v in inst.flags.items()}
        except ExpandError as e:
            raise self.df.error(inst.line, f"{inst.keyword}: {e}") from None
        srcs, dest = items[:-1], items[-1]
        src_view, in_context = self.context, True
        if flags.get("from"):
            src_view, in_context = await self._from_view(p, flags["from"], inst), False
        image = View([la.dir for la in state.layers])
        cp = fssteps.plan_copy(inst.keyword, srcs, dest, str(state.config.get("WorkingDir") or "/"),
                               flags, src_view, in_context, image, where)
        flag_text = "".join(f"--{k}={v} " for k, v in sorted(flags.items()))
        text = f"{inst.keyword} {flag_text}{' '.join(srcs)} {posixpath.normpath(cp.dest)}"

        async def make(layer_dir: str) -> None:
            fssteps.make_copy(cp, state.layers, layer_dir)
        return await self._cached_layer(state, text, cp.key_text, make, None)

    async def _from_view(self, p: Plan, ref: str, inst: Instruction) -> View:
        dep = p.stage(ref)
        if dep is not None and dep.index in self.states:
            return View([la.dir for la in self.states[dep.index].layers])
        if dep is not None:
            raise self.df.error(inst.line, f"--from={ref}: a stage can only copy from an "
                                           f"earlier stage")
        try:
            img = await self.images.base(ref)
        except BaseImageError as e:
            raise self.df.error(inst.line, f"--from={ref}: {e}") from None
        return View([la.dir for la in img.layers])
