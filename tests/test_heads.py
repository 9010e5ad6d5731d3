import pytest
import torch

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
    assert out.views["fused"].shape == (batch, 30 if name == "linear" else 128)


@pytest.mark.parametrize("name", SINGLE + PAIR)
def test_rejects_wrong_embedding_size(name):
    head = make(name).eval()
    xs = [torch.randn(2, d + 1) for d in head.dims]
    with pytest.raises(ValueError, match="shape"):
        head(*xs)


@pytest.mark.parametrize("name", SINGLE + PAIR)
def test_can_overfit_a_tiny_set(name):
    torch.manual_seed(0)
    dims = (40,) if name in SINGLE else (40, 24)
    head = heads.build(name, dims, 4)
    xs = [torch.randn(16, d) for d in dims]
    y = torch.arange(16) % 4
    head.fit_normalization(xs)
    opt = torch.optim.Adam(head.parameters(), lr=3e-3)
    for _ in range(150):
        out = head(*xs)
        loss = head.loss(out, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    head.eval()
    assert (head(*xs).logits.argmax(-1) == y).float().mean() == 1.0


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
    for dims in [(960, 768), (3840, 768), (768, 768), (256, 88)]:
        assert 1.3e6 <= count_parameters(heads.build("reno", dims, 30)) <= 1.5e6


def test_renyi_zero_for_identical_and_positive_otherwise():
    x = torch.randn(8, 100)
    for alpha in (0.5, 1.0, 2.0):
        assert float(renyi_divergence(x, x.clone(), alpha=alpha)) == pytest.approx(0.0, abs=1e-6)
        assert float(renyi_divergence(x, torch.randn(8, 100), alpha=alpha)) > 1e-3


def test_renyi_alpha_one_is_kl():
    p, q = torch.randn(3, 10), torch.randn(3, 10)
    lp, lq = torch.log_softmax(p, -1), torch.log_softmax(q, -1)
    kl = (lp.exp() * (lp - lq)).sum(-1).mean()
    assert float(renyi_divergence(p, q, alpha=1.0, eps=0.0)) == pytest.approx(float(kl), rel=1e-5)
    # Continuity around alpha = 1.
    assert float(renyi_divergence(p, q, alpha=0.999, eps=0.0)) == pytest.approx(float(kl), rel=1e-2)


def test_renyi_alpha_half_is_twice_bhattacharyya():
    p, q = torch.randn(4, 12), torch.randn(4, 12)
    pp, qq = torch.softmax(p, -1), torch.softmax(q, -1)
    bhatt = -torch.log((pp * qq).sqrt().sum(-1))
    assert float(renyi_divergence(p, q, 0.5, eps=0.0)) == pytest.approx(float(2 * bhatt.mean()), rel=1e-5)


def test_reno_aux_loss_is_lambda_times_divergence():
    torch.manual_seed(0)
    head = heads.build("reno", (30, 30), 3, lam=0.0).eval()
    assert float(head(torch.randn(2, 30), torch.randn(2, 30)).aux_loss) == 0.0
    head = heads.build("reno", (30, 30), 3, lam=0.5).eval()
    assert float(head(torch.randn(2, 30), torch.randn(2, 30)).aux_loss) > 0.0


def test_standardisation_is_stored_in_state_dict():
    head = heads.build("cnn", (20,), 3)
    x = torch.randn(50, 20) * 100 + 7
    head.fit_normalization([x])
    state = head.state_dict()
    assert torch.allclose(state["norms.0.mean"], x.mean(0))
