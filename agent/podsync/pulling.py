"""A container's image: ensured through the ImagePort with its pull policy, pull
failures backed off per container (ErrImagePull, then ImagePullBackOff), and the
Pulling/Pulled events."""

from __future__ import annotations

from agent import status as st
from agent.podsync.configdata.envsources import pull_secret_configs
from agent.podsync.configdata.objects import NotSynced
from agent.podsync.events import NORMAL, WARNING
from agent.podsync.run import PodRun
from agent.ports import ImageInfo, ImageNeverPullError, ImagePullError
from proto import core_pb2

NOT_SYNCED_RETRY = 1.0


def pull_policy(c: core_pb2.Container) -> str:
    """Kubernetes' default: Always for :latest or no tag, else IfNotPresent."""
    if c.image_pull_policy:
        return c.image_pull_policy
    latest = c.image.endswith(":latest") or ":" not in c.image.rsplit("/", 1)[-1]
    return "Always" if latest else "IfNotPresent"


class ImagePuller:
    def __init__(self, run: PodRun) -> None:
        self.run = run
        self.ctx = run.ctx

    async def pull(self, c: core_pb2.Container) -> ImageInfo | None:
        """The image, or None with the container's waiting reason set."""
        run = self.run
        key = f"{run.uid}/{c.name}"
        bo = self.ctx.pull_backoff
        left = bo.remaining(key)
        if left > 0:
            reason, msg = run.waiting.get(c.name, ("", ""))
            if reason in (st.ERR_IMAGE_PULL, st.IMAGE_PULL_BACKOFF):
                run.waiting[c.name] = (st.IMAGE_PULL_BACKOFF,
                                       f'Back-off pulling image "{c.image}": {msg}'
                                       if not msg.startswith("Back-off") else msg)
            run.soon(left)
            return None
        secrets = self._pull_secrets()
        if secrets is None:
            run.waiting[c.name] = (st.CONTAINER_CREATING, "reading the image pull secrets")
            run.soon(NOT_SYNCED_RETRY)
            return None
        try:
            image = await self.ctx.images.ensure(c.image, pull_policy(c), lambda: run.event(
                NORMAL, "Pulling", f'Pulling image "{c.image}"', c.name), secrets)
        except ImageNeverPullError as e:
            run.waiting[c.name] = (st.ERR_IMAGE_NEVER_PULL, str(e))
            bo.fail(key)
            run.soon(bo.remaining(key))
            return None
        except ImagePullError as e:
            run.log.warning("pod %s: pulling %s failed: %s", run.key, c.image, e)
            run.waiting[c.name] = (st.ERR_IMAGE_PULL, str(e))
            run.event(WARNING, "Failed", f'Failed to pull image "{c.image}": {e}', c.name)
            bo.fail(key)
            run.soon(bo.remaining(key))
            return None
        bo.reset(key)
        took = image.pull_seconds       # -1: present, no pull
        took_text = f"{took * 1000:.0f}ms" if took < 1 else \
            f"{took:.3g}s" if took < 100 else f"{took:.0f}s"
        run.event(NORMAL, "Pulled", f'Successfully pulled image "{c.image}" in {took_text}. '
                  f"Image size: {image.size_bytes} bytes." if took >= 0 else
                  f'Container image "{c.image}" already present on machine', c.name)
        return image

    def _pull_secrets(self) -> list[bytes] | None:
        """The Docker configs of the pod's imagePullSecrets (None: not read yet). Missing
        ones are reported, and the pull goes on without them, as the kubelet does."""
        run = self.run
        if not run.pod.spec.image_pull_secrets:
            return []
        ns = run.pod.metadata.namespace
        try:
            configs, unusable = pull_secret_configs(
                run.pod, lambda r, n: self.ctx.config.lookup(r, ns, n))
        except NotSynced:
            return None
        if unusable:
            run.event(WARNING, "FailedToRetrieveImagePullSecret",
                      f"Unable to retrieve some image pull secrets ({', '.join(unusable)}); "
                      "attempting to pull the image may not succeed.")
        return configs
