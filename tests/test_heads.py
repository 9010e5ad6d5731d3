import subprocess

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from nver_demo import heads
from nver_demo.heads import count_parameters, renyi_divergence

SINGLE = heads.available(n_inputs=1)
PAIR = heads.available(n_inputs=2)


def make(name, dims=None, n_classes=30):
    dims = dims or ((768,) if name in SINGLE else (960, 768))
    return heads.build(name, dims, n_classes)


def test_registry_lists_paper_heads():
    assert {"fcn", "cnn"} <= set(SINGLE)
    assert {"concat", "reno"} <= set(PAIR)


def test_unknown_head_lists_valid_names():
    with pytest.raises(ValueError, match="reno"):
        heads.build("transformer", (10,), 3)


def test_wrong_number_of_inputs_is_rejected():
    with pytest.raises(ValueError, match="2 backbone"):
        heads.build("reno", (768,), 30)


@pytest.mark.parametrize("name", SINGLE + PAIR)
@pytest.mark.parametrize("batch", [1, 5])
def test_shapes_and_probabilities(name, batch):
    head = make(name).eval()
    xs = [torch.randn(batch, d) for d in head.dims]
    out = head(*xs)
    assert out.logits.shape == (batch, 30)
    probs = torch.softmax(out.logits, -1)
    assert torch.allclose(probs.sum(-1), torch.ones(batch), atol=1e-5)
    assert out.aux_loss.ndim == 0 and out.aux_loss.item() >= 0
    assert out.views["fused"].shape == (batch, 30 if name in ("linear", "lda") else 128)


@pytest.mark.parametrize("name", SINGLE + PAIR)
def test_rejects_wrong_embedding_size(name):
    head = make(name).eval()
    xs = [torch.randn(2, d + 1) for d in head.dims]
    with pytest.raises(ValueError, match="shape"):
        head(*xs)


def _train_accuracy_and_ce(head, xs, y):
    head.eval()
    with torch.no_grad():
        logits = head(*xs).logits
    head.train()
    return (logits.argmax(-1) == y).float().mean().item(), F.cross_entropy(logits, y).item()


@pytest.mark.parametrize("name", SINGLE + PAIR)
def test_can_overfit_a_tiny_set(name):
    """16 random points, 4 classes: every head must be able to memorise them.

    What "can overfit" means here, so that no single borderline sample or BLAS kernel decides it:
    starting below the target (chance is 25 %), within a generous step budget the head reaches 100 %
    training accuracy in eval mode *with* a confident fit (cross-entropy below a tenth of chance's
    ln 4). A seed sweep at lr 1e-3 (seeds 0-9, AVX2 kernels on 1 thread and default kernels on 2)
    reached it within 5-25 steps for the conv/attention heads and 295-365 steps for linear and lda;
    the budget, 1500, is 4x the slowest. lr 3e-3 (this test's old setting) lets RENO's Renyi term
    spike the loss after it has fitted, so a check after a fixed 150 steps hinged on one sample.
    """
    torch.manual_seed(0)
    dims = (40,) if name in SINGLE else (40, 24)
    head = heads.build(name, dims, 4)
    xs = [torch.randn(16, d) for d in dims]
    y = torch.arange(16) % 4
    head.fit_normalization(xs)
    start_acc, start_ce = _train_accuracy_and_ce(head, xs, y)
    assert start_acc < 1.0
    opt = torch.optim.Adam(head.parameters(), lr=1e-3)
    fitted = False
    for step in range(1, 1501):
        loss = head.loss(head(*xs), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 5 == 0:
            acc, ce = _train_accuracy_and_ce(head, xs, y)
            if acc == 1.0 and ce < np.log(4) / 10:
                fitted = True
                break
    assert fitted, f"{name}: {acc:.0%} training accuracy, CE {ce:.3f} (start {start_acc:.0%}, {start_ce:.3f})"


@pytest.mark.parametrize("name", PAIR)
def test_both_branches_get_gradients(name):
    head = make(name, (50, 30), 5)
    xs = [torch.randn(4, 50), torch.randn(4, 30)]
    head.loss(head(*xs), torch.tensor([0, 1, 2, 3])).backward()
    for branch in head.branches:
        grads = [p.grad for p in branch.parameters() if p.requires_grad]
        assert all(g is not None and g.abs().sum() > 0 for g in grads)


def test_parameter_counts_in_paper_bands():
    # Seed paper: CNN 0.9-1.1M, RENO 1.3-1.5M trainable parameters, for every backbone size.
    for dims in [(768,), (960,), (3840,), (6373,)]:
        assert 0.9e6 <= count_parameters(heads.build("cnn", dims, 30)) <= 1.1e6
    # The paper's pairs (Audio-MAMBA tiny/base 960/3840-d, 768-d attention models) and ours.
    for dims in [(960, 768), (3840, 768), (768, 768), (3072, 768), (3072, 88), (3072, 6373)]:
        for name in ("reno", "reno_token"):
            assert 1.3e6 <= count_parameters(heads.build(name, dims, 30)) <= 1.5e6, (name, dims)


def direct_renyi(a, b, beta, delta):
    """1/(beta-1) log sum (p+delta)^beta (q+delta)^(1-beta), p, q = softmax rows, with p + delta
    and q + delta renormalised to sum to 1 (the normalisation nver_demo.heads.renyi states)."""
    p = torch.softmax(a.double(), -1) + delta
    q = torch.softmax(b.double(), -1) + delta
    p, q = p / p.sum(-1, keepdim=True), q / q.sum(-1, keepdim=True)
    return (torch.log((p**beta * q ** (1 - beta)).sum(-1)) / (beta - 1)).mean()


@pytest.mark.parametrize("beta,delta", [(2.0, 0.2), (0.5, 0.2), (2.0, 0.0), (3.0, 1e-3)])
def test_renyi_equals_direct_computation(beta, delta):
    torch.manual_seed(int(beta * 10))
    a, b = torch.randn(6, 256) * 3, torch.randn(6, 256) * 3
    ours = renyi_divergence(a, b, beta=beta, delta=delta)
    assert float(ours) == pytest.approx(float(direct_renyi(a, b, beta, delta)), rel=1e-4, abs=1e-7)
    assert float(ours) > 0


def test_renyi_normalisation_only_shifts_the_authors_expression():
    # Without renormalisation (the authors' form) the value differs by log(1 + d delta) / (beta - 1).
    a, b = torch.randn(4, 256), torch.randn(4, 256)
    p, q = torch.softmax(a, -1) + 0.2, torch.softmax(b, -1) + 0.2
    authors = (torch.log((p**2 * q ** (1 - 2)).sum(-1)) / (2 - 1)).mean()
    shift = np.log(1 + 256 * 0.2)
    assert float(renyi_divergence(a, b)) == pytest.approx(float(authors) - shift, rel=1e-4)


def test_renyi_zero_for_identical_and_positive_otherwise():
    x = torch.randn(8, 100)
    for beta in (0.5, 1.0, 2.0):
        for delta in (0.0, 0.2):
            assert float(renyi_divergence(x, x.clone(), beta, delta)) == pytest.approx(0.0, abs=1e-6)
            assert float(renyi_divergence(x, torch.randn(8, 100) * 3, beta, delta)) > 1e-4


def test_renyi_beta_one_is_kl():
    p, q = torch.randn(3, 10), torch.randn(3, 10)
    lp, lq = torch.log_softmax(p, -1), torch.log_softmax(q, -1)
    kl = (lp.exp() * (lp - lq)).sum(-1).mean()
    assert float(renyi_divergence(p, q, beta=1.0, delta=0.0)) == pytest.approx(float(kl), rel=1e-5)
    # Continuity around beta = 1.
    assert float(renyi_divergence(p, q, beta=0.999, delta=0.0)) == pytest.approx(float(kl), rel=1e-2)


def test_renyi_beta_half_is_twice_bhattacharyya():
    p, q = torch.randn(4, 12), torch.randn(4, 12)
    pp, qq = torch.softmax(p, -1), torch.softmax(q, -1)
    bhatt = -torch.log((pp * qq).sqrt().sum(-1))
    assert float(renyi_divergence(p, q, 0.5, delta=0.0)) == pytest.approx(float(2 * bhatt.mean()), rel=1e-5)


def test_reno_defaults_are_the_authors_values():
    head = heads.build("reno", (3840, 768), 6)
    cfg = head.config()
    assert (cfg["beta"], cfg["delta"], cfg["lam"], cfg["align_dim"], cfg["heads"]) == (2.0, 0.2, 0.4, 256, 2)
    assert cfg["attention"] is True and head.ce_weight == 0.4


def test_reno_attends_over_two_aligned_vectors():
    head = heads.build("reno", (50, 30), 5).eval()
    seen = {}
    head.fuse_attn.register_forward_hook(lambda m, args, out: seen.update(shape=args[0].shape))
    out = head(torch.randn(3, 50), torch.randn(3, 30))
    assert seen["shape"] == (3, 2, 256)
    assert out.views["branch1"].shape == out.views["branch2"].shape == (3, 256)


def test_reno_loss_is_lambda_ce_plus_one_minus_lambda_divergence():
    torch.manual_seed(0)
    xs, y = [torch.randn(6, 50), torch.randn(6, 30)], torch.tensor([0, 1, 2, 3, 4, 0])
    for lam in (0.2, 0.4, 0.7):
        head = heads.build("reno", (50, 30), 5, lam=lam).eval()
        out = head(*xs)
        d = renyi_divergence(out.views["branch1"], out.views["branch2"], beta=2.0, delta=0.2)
        expected = lam * F.cross_entropy(out.logits, y) + (1 - lam) * d
        assert float(d) > 0
        assert float(head.loss(out, y)) == pytest.approx(float(expected), rel=1e-6)
    # lam = 1: no Rényi term at all, plain cross-entropy (the ablation's "without the Rényi term").
    head = heads.build("reno", (50, 30), 5, lam=1.0).eval()
    out = head(*xs)
    assert float(out.aux_loss) == 0.0
    assert float(head.loss(out, y)) == pytest.approx(float(F.cross_entropy(out.logits, y)), rel=1e-6)
    with pytest.raises(ValueError, match="lam"):
        heads.build("reno", (50, 30), 5, lam=0.0)


def test_reno_divergence_is_zero_for_identical_branches():
    torch.manual_seed(0)
    head = heads.build("reno", (40, 40), 5)
    x = torch.randn(64, 40)
    head.fit_normalization([x, x])
    for one, two in [(head.norms[0], head.norms[1]), (head.branches[0], head.branches[1]),
                     (head.branch_attn[0], head.branch_attn[1]), (head.align[0], head.align[1])]:  # fmt: skip
        two.load_state_dict(one.state_dict())
    head.eval()
    out = head(x[:8], x[:8].clone())
    assert float(out.aux_loss) == pytest.approx(0.0, abs=1e-7)
    assert float(head(x[:8], torch.randn(8, 40)).aux_loss) > 0


def test_reno_without_attention_has_no_attention_blocks():
    head = heads.build("reno", (50, 30), 5, attention=False)
    assert not any(isinstance(m, torch.nn.MultiheadAttention) for m in head.modules())
    assert head(torch.randn(2, 50), torch.randn(2, 30)).logits.shape == (2, 5)


def test_token_reno_aux_loss_is_lambda_times_divergence():
    torch.manual_seed(0)
    head = heads.build("reno_token", (30, 30), 3, lam=0.0).eval()
    assert float(head(torch.randn(2, 30), torch.randn(2, 30)).aux_loss) == 0.0
    head = heads.build("reno_token", (30, 30), 3, lam=0.5).eval()
    out = head(torch.randn(2, 30), torch.randn(2, 30))
    d = renyi_divergence(out.views["branch1"], out.views["branch2"], beta=0.5, delta=1e-8)
    assert float(out.aux_loss) == pytest.approx(0.5 * float(d), rel=1e-6)


def test_conv_block_compile_keeps_state_and_numbers():
    """torch.compile runs in a child process (an inductor crash aborts a process, it does not
    raise): where it works, its numbers match eager mode and the state dict is unchanged."""
    from nver_demo.heads import compile_probe

    works, why = compile_probe.compile_works()
    assert "state dict" not in why, why  # ours: the compiled function must stay outside the module tree
    if not works:  # inductor crashes, has no compiler, or gives other numbers (NaN under AVX2 kernels on
        # one machine): training then stays eager (next test), so results never depend on it
        assert why.startswith("torch.compile"), why
        pytest.skip(f"torch.compile does not work on this machine: {why}")


def test_training_with_compile_falls_back_to_eager_when_the_probe_fails(monkeypatch):
    from nver_demo.heads import compile_probe
    from nver_demo.heads.blocks import ConvBlock
    from nver_demo.training import train

    monkeypatch.setattr(train, "compile_works", lambda: (False, "torch.compile killed the process"))
    head = heads.build("cnn", (16,), 3)
    with pytest.warns(RuntimeWarning, match="training eagerly: torch.compile killed"):
        train._compile_conv_blocks(head)
    blocks = [m for m in head.modules() if isinstance(m, ConvBlock)]
    assert blocks and not any(b.compiled for b in blocks)
    monkeypatch.setattr(train, "compile_works", lambda: (True, ""))
    monkeypatch.setattr(ConvBlock, "compile", lambda self: self.__dict__.update(_compiled_net=self.net))
    train._compile_conv_blocks(head)
    assert all(b.compiled for b in blocks)
    assert compile_probe.compile_works.cache_info().maxsize == 1  # asked once per process


def test_compile_probe_reports_a_child_killed_by_a_signal(monkeypatch):
    from nver_demo.heads import compile_probe

    killed = subprocess.CompletedProcess([], -6, "", "terminate called\nAborted")
    monkeypatch.setattr(compile_probe.subprocess, "run", lambda *a, **k: killed)
    compile_probe.compile_works.cache_clear()
    try:
        assert compile_probe.compile_works() == (
            False,
            "torch.compile killed the process (signal 6): terminate called | Aborted",
        )
    finally:
        compile_probe.compile_works.cache_clear()


def test_standardisation_is_stored_in_state_dict():
    head = heads.build("cnn", (20,), 3)
    x = torch.randn(50, 20) * 100 + 7
    head.fit_normalization([x])
    state = head.state_dict()
    assert torch.allclose(state["norms.0.mean"], x.mean(0))
