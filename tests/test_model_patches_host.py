"""Core model patches in front of the queue samplers: TorchCompileModel is recognised through its wrapper; EasyCache,
LazyCache and APG with momentum (state carried from one call to the next, i.e. from one window to another) are
refused before any model call; APG without momentum runs. Tiny real Wan, real core nodes."""

from __future__ import annotations

import pytest
import torch

from infinite_video.tools.testing.tiny_models import tiny_conditioning

pytestmark = pytest.mark.host


def _run(model, frames=6):
    from infinite_video.nodes.sampler import InfiniteVideoSampler
    from infinite_video.samplers.config import QueueConfig

    latent = {"samples": torch.zeros(1, 16, 4, 4, 4)}
    return InfiniteVideoSampler.execute(model, tiny_conditioning(1), tiny_conditioning(2), latent,
                                        QueueConfig(4, 1, False, "noise"), 0, frames, 3.0, "euler", 1.0,
                                        "simple").args[0]["samples"]


@pytest.mark.parametrize("node,name", [("EasyCacheNode", "EasyCache"), ("LazyCacheNode", "LazyCache")])
def test_step_caches_are_refused_before_any_model_call(tiny_wan, node, name):
    import comfy_extras.nodes_easycache as caches

    from infinite_video.tools.testing.probe import probe_model

    cached = getattr(caches, node).execute(tiny_wan, 0.2, 0.15, 0.95, False).args[0]
    probed, probe = probe_model(cached)
    with pytest.raises(ValueError, match=rf"has {name}, which skips model calls .* Remove the {name} node"):
        _run(probed)
    assert probe.calls == []


def test_apg_momentum_is_refused_and_apg_without_it_runs(tiny_wan):
    from comfy_extras.nodes_apg import APG

    from infinite_video.tools.testing.probe import probe_model

    probed, probe = probe_model(APG.execute(tiny_wan, 1.0, 0.0, -0.5).args[0])
    with pytest.raises(ValueError, match="APG has momentum -0.5: .* Set APG's momentum to 0"):
        _run(probed)
    assert probe.calls == []
    plain = _run(tiny_wan)
    apg = _run(APG.execute(tiny_wan, 0.5, 0.0, 0.0).args[0])
    assert apg.shape == plain.shape and not torch.equal(apg, plain)


def test_torch_compiled_model_is_recognised_by_its_network(tiny_wan):
    """TorchCompileModel swaps an ``OptimizedModule`` in for ``apply_model``; the family is still the network's."""
    from comfy_extras.nodes_torch_compile import TorchCompileModel

    from infinite_video.nodes.adapter import per_frame_family

    compiled = TorchCompileModel.execute(tiny_wan, "inductor").args[0]
    bm = compiled.model
    seen = []

    def look(executor, *args, **kwargs):  # inside the compile wrapper: the compiled module is in place
        seen.append((type(executor.class_obj.diffusion_model).__name__, per_frame_family(executor.class_obj)))
        raise StopIteration  # no need to run (and compile) the network for the recognition

    probe = compiled.clone()
    probe.add_wrapper_with_key("apply_model", "test_look", look)
    with pytest.raises(StopIteration):
        _run(probe)
    assert seen == [("OptimizedModule", "wan")]
    assert per_frame_family(bm) == "wan"


def test_torch_compiled_model_runs_the_queue(tiny_wan):
    """The same core helper TorchCompileModel calls (``set_torch_compile_wrapper``) with dynamo's ``eager`` backend:
    the graph is captured through the per-frame adapter and the video equals the uncompiled one. (TorchCompileModel's
    own ``inductor`` backend also runs on CPU, but compiling C++ takes minutes, too long for the suite.)"""
    from comfy_api.torch_helpers.torch_compile import set_torch_compile_wrapper

    compiled = tiny_wan.clone()
    set_torch_compile_wrapper(compiled, backend="eager")
    torch._dynamo.reset()
    try:
        out = _run(compiled)
    finally:
        torch._dynamo.reset()
    torch.testing.assert_close(out, _run(tiny_wan), rtol=1e-4, atol=1e-4)
