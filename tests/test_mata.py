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
    assert out.views["branch1"].shape == out.views["branch2"].shape == (batch, 20 * 64)


def test_transport_plan_has_uniform_marginals():
    xs = torch.randn(6, 50), torch.randn(6, 30)
    with torch.no_grad():
        plan = build().eval().transport_plan(*xs)
        converged = build(n_iters=1000).eval().transport_plan(*xs)
    assert plan.shape == (6, 20, 20) and (plan >= 0).all()
    torch.testing.assert_close(plan.sum(-1), torch.full((6, 20), 0.05), atol=1e-6, rtol=0)
    # Defaults (eps 0.03, 50 iterations): columns within 5 % of 1/T; more iterations converge.
    torch.testing.assert_close(plan.sum(-2), torch.full((6, 20), 0.05), atol=2.5e-3, rtol=0)
    torch.testing.assert_close(converged.sum(-2), torch.full((6, 20), 0.05), atol=1e-5, rtol=0)


def test_smaller_eps_gives_sharper_plans():
    xs = torch.randn(8, 50), torch.randn(8, 30)
    entropy = {}
    for eps in (0.01, 1.0):
        with torch.no_grad():
            plan = build(eps=eps, n_iters=100).eval().transport_plan(*xs)
        entropy[eps] = float(-(plan * plan.clamp_min(1e-30).log()).sum((-1, -2)).mean())
    assert entropy[0.01] < entropy[1.0] <= np.log(20 * 20) + 1e-4


def test_gradients_reach_both_branches_and_the_key_and_value_maps():
    head = build()
    xs = torch.randn(4, 50), torch.randn(4, 30)
    head.loss(head(*xs), torch.tensor([0, 1, 2, 3])).backward()
    for module in (*head.branches, *head.keys, *head.values):
        for p in module.parameters():
            assert p.grad is not None and p.grad.abs().sum() > 0


def test_transport_changes_the_output():
    # The key maps act only through the plan: changing them must change the logits.
    head = build().eval()
    xs = torch.randn(3, 50), torch.randn(3, 30)
    before = head(*xs).logits
    with torch.no_grad():
        head.keys[0].weight.normal_(std=2.0)
    assert not torch.allclose(before, head(*xs).logits)


def test_parameter_count_in_renos_band_for_paper_pairs():
    for dims in [(960, 768), (3840, 768), (3072, 88), (256, 88)]:
        assert 1.3e6 <= count_parameters(heads.build("mata", dims, 30)) <= 1.5e6


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


def test_cli_train_writes_a_mata_checkpoint_the_predictor_uses(
    tiny_dataset, tiny_checkpoint, tmp_path, capsys
):
    """`python -m nver_demo train --head mata ...`: the same command as for RENO and Concat.

    Reuses the embedding cache of the session's tiny RENO checkpoint (no re-extraction)."""
    from nver_demo import cli
    from nver_demo.predict import Predictor
    from tests.conftest import tone

    out = tmp_path / "mata-tiny"
    cache = tiny_checkpoint.parent / "cache"
    argv = ["train", "--head", "mata", "--backbones", "logmel-stats", "egemaps", "--dataset", "csv",
            "--data", str(tiny_dataset), "--cache", str(cache), "--folds", "3", "--epochs", "4",
            "--set", "eps=0.2", "n_iters=10", "--out", str(out)]  # fmt: skip
    assert cli.main(argv) == 0
    assert "mata on logmel-stats+egemaps: accuracy" in capsys.readouterr().out
    ck = checkpoint.load(out)
    assert ck.meta["head"] == "mata" and ck.meta["head_config"]["eps"] == 0.2
    assert len(ck.meta["metrics"]["cv"]["folds"]) == 3
    assert set(ck.references.views) == {"logmel-stats", "egemaps", "fused"}
    pred = Predictor.load(out).predict(tone(0.6, 16000, 330.0), 16000)
    assert sum(pred.probs.values()) == pytest.approx(1.0, abs=1e-6) and pred.views["fused"].shape == (128,)


# --- the authors' batch-transport reading (mata_batch) ---------------------------------------


def test_batch_transport_is_a_barycentric_projection_across_clips():
    from nver_demo.heads.mata_batch import batch_transport

    torch.manual_seed(0)
    x1, x2 = torch.randn(6, 120), torch.randn(6, 120)
    t21, t12, plan = batch_transport(x1, x2)
    assert plan.shape == (6, 6)
    torch.testing.assert_close(plan.sum(-1), torch.full((6,), 1 / 6), atol=1e-6, rtol=0)
    torch.testing.assert_close(t21, (6 * plan) @ x2)
    torch.testing.assert_close(t12, (6 * plan).T @ x1)
    assert not torch.allclose(t21, x2, atol=1e-3)  # clips really are mixed


def test_batch_transport_of_one_clip_is_the_identity_swap():
    # The documented degenerate case: with one clip the plan is [[1]], so x2->x1 = x2 and
    # x1->x2 = x1, whatever the vectors.
    from nver_demo.heads.mata_batch import batch_transport

    x1, x2 = torch.randn(1, 120), torch.randn(1, 120)
    t21, t12, plan = batch_transport(x1, x2)
    torch.testing.assert_close(plan, torch.ones(1, 1))
    torch.testing.assert_close(t21, x2)
    torch.testing.assert_close(t12, x1)


def test_batch_head_alone_sees_tokens_x2_x1_x2_x1_x2_x1():
    torch.manual_seed(0)
    head = heads.build("mata_batch", (50, 30), 5).eval()
    xs = [torch.randn(1, 50), torch.randn(1, 30)]
    seen = {}
    head.attn.register_forward_hook(lambda m, args, out: seen.update(tokens=args[0].detach().clone()))
    with torch.no_grad():
        head(*xs)
        v1, v2 = head.project(head.norms[0](xs[0]), head.norms[1](xs[1]))
    torch.testing.assert_close(seen["tokens"], torch.stack([v2, v1, v2, v1, v2, v1], dim=1))


def test_batch_head_output_depends_on_the_batch_and_is_scored_per_clip():
    from nver_demo.training import train

    torch.manual_seed(0)
    head = heads.build("mata_batch", (50, 30), 5).eval()
    assert head.batch_dependent and not heads.build("mata", (50, 30), 5).batch_dependent
    xs = [torch.randn(8, 50), torch.randn(8, 30)]
    with torch.no_grad():
        together = torch.softmax(head(*xs).logits, -1)
        alone = torch.cat(
            [torch.softmax(head(xs[0][i : i + 1], xs[1][i : i + 1]).logits, -1) for i in range(8)]
        )
    assert not torch.allclose(together, alone, atol=1e-4)
    # Training scripts score it one clip at a time: what the app, which sees one clip, delivers.
    np.testing.assert_allclose(train.predict_proba(head, [x.numpy() for x in xs]), alone.numpy(), atol=1e-6)


def test_batch_head_gets_gradients_in_both_branches():
    head = heads.build("mata_batch", (50, 30), 5)
    out = head(torch.randn(4, 50), torch.randn(4, 30))
    head.loss(out, torch.tensor([0, 1, 2, 3])).backward()
    for branch in head.branches:
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in branch.parameters())
