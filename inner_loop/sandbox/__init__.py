"""The sandbox that runs harness code: a confined child process and the parent's end of its RPC.

`start_child(...)` spawns `inner_loop.sandbox.child` with a scrubbed environment (no API keys),
a fresh working dir, its own process group, the RPC on two inherited pipes, and sends it the
init payload (paper, prompts, limits, filesystem policy). The child confines itself (rlimits,
Landlock, seccomp) before any harness code runs; see README.md. The parent side decides nothing
here: `inner_loop.runner` reads requests from `ChildProcess.channel` and answers them.

Stdlib only, and nothing imported here: every child imports this package before it runs a
line of harness code, and must not pay for subprocess, tempfile, shutil, pathlib or dataclasses
(together ~40 ms of CPU per episode in a fresh interpreter). The parent's side is
`inner_loop.sandbox.spawn` (import it from there).
"""
