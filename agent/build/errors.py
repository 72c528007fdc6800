"""The builder's errors: one tree, translated to gRPC codes in agent/buildrpc.py.

    BuildError                  anything that stops a build (message for the user)
     +-- DockerfileError        the Dockerfile is wrong: names the file and the line
     +-- ContextError           a source outside the context, a missing source, a bad tar,
     |                          a context over the size limit
     +-- StepFailed             a RUN step exited non-zero (its step, command and exit code)
     +-- BaseImageError         FROM names an image that is neither on the node nor pullable
"""

from __future__ import annotations


class BuildError(Exception):
    """A build stopped; str(e) says why, for the person who started it."""


class DockerfileError(BuildError):
    def __init__(self, file: str, line: int, message: str) -> None:
        self.file, self.line, self.message = file, line, message
        super().__init__(f"{file}:{line}: {message}" if line else f"{file}: {message}")


class ContextError(BuildError):
    pass


class BaseImageError(BuildError):
    pass


class StepFailed(BuildError):
    def __init__(self, step: str, command: str, exit_code: int, detail: str = "") -> None:
        self.step, self.command, self.exit_code = step, command, exit_code
        msg = f"{step}: process {command!r} did not complete successfully: exit code: {exit_code}"
        super().__init__(msg + (f" ({detail})" if detail else ""))
