import numpy as np
import pytest
import torch

from nver_demo import checkpoint, heads
from nver_demo.heads import MATAHead, count_parameters


def build(dims=(50, 30), n_classes=5, **config) -> MATAHead:
    torch.manual_seed(0)
    return heads.build("mata", dims, n_classes, **config)


def test_registered_as_a_pair_head():
    assert "mata" in heads.available(n_inputs=2)
    assert heads.spec("mata").cls is MATAHead


@pytest.mark.parametrize("batch", [1, 4])
def test_shapes_and_probabilities(batch):
    head = build((960, 768), 30).eval()
    out = head(torch.randn(batch, 960), torch.randn(batch, 768))
    assert out.logits.shape == (batch, 30)
    torch.testing.assert_close(torch.softmax(out.logits, -1).sum(-1), torch.ones(batch))
    assert float(out.aux_loss) == 0.0
    assert out.views["fused"].shape == (batch, 128)
    assert out.views["branch1"].shape == out.views["branch2"].shape == (batch, 10 * 64)


def test_transport_plan_has_uniform_marginals():
    head = build().eval()
    plan = head.transport_plan(torch.randn(6, 50), torch.randn(6, 30))
    assert plan.shape == (6, 10, 10) and (plan >= 0).all()
    torch.testing.assert_close(plan.sum(-1), torch.full((6, 10), 0.1), atol=1e-6, rtol=0)
    torch.testing.assert_close(plan.sum(-2), torch.full((6, 10), 0.1), atol=1e-4, rtol=0)


def test_smaller_eps_gives_sharper_plans():
    xs = torch.randn(8, 50), torch.randn(8, 30)
    entropy = {}
    for eps in (0.01, 1.0):
        with torch.no_grad():
            plan = build(eps=eps, n_iters=100).eval().transport_plan(*xs)
        entropy[eps] = float(-(plan * plan.clamp_min(1e-30).log()).sum((-1, -2)).mean())
    assert entropy[0.01] < entropy[1.0] <= np.log(100) + 1e-4


def test_gradients_reach_both_branches_and_the_cost_projections():
    head = build()
    xs = torch.randn(4, 50), torch.randn(4, 30)
    head.loss(head(*xs), torch.tensor([0, 1, 2, 3])).backward()
    for module in (*head.branches, *head.keys):
        for p in module.parameters():
            assert p.grad is not None and p.grad.abs().sum() > 0


def test_transport_changes_the_output():
    # The cost projections act only through the plan: changing them must change the logits.
    head = build().eval()
    xs = torch.randn(3, 50), torch.randn(3, 30)
    before = head(*xs).logits
    with torch.no_grad():
        head.keys[0].weight.normal_(std=2.0)
    assert not torch.allclose(before, head(*xs).logits)


def test_parameter_count_in_renos_band_for_any_pair():
    counts = {
        count_parameters(heads.build("mata", dims, 30)) for dims in [(960, 768), (3840, 768), (256, 88)]
    }
    assert len(counts) == 1 and 1.3e6 <= counts.pop() <= 1.5e6


def test_rejects_bad_sinkhorn_settings():
    with pytest.raises(ValueError, match="eps"):
        build(eps=0.0)
    with pytest.raises(ValueError, match="n_iters"):
        build(n_iters=0)


def test_checkpoint_round_trip(tmp_path):
    head = build((20, 12), 4, eps=0.05, n_iters=40, tokens=6)
    head.fit_normalization([torch.randn(30, 20) * 5, torch.randn(30, 12) + 3])
    head.eval()
    checkpoint.save(tmp_path / "ck", head, "mata", ["x", "y"], list("abcd"), {"metrics": {}})
    ck = checkpoint.load(tmp_path / "ck")
    assert ck.meta["head"] == "mata"
    assert ck.head.config() == {"tokens": 6, "eps": 0.05, "n_iters": 40, "dropout": 0.3}
    assert ck.meta["parameters"] == count_parameters(head)
    xs = [torch.randn(5, 20), torch.randn(5, 12)]
    with torch.no_grad():
        assert torch.equal(head(*xs).logits, ck.head(*xs).logits)
