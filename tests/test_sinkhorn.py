import numpy as np
import pytest
import torch

from nver_demo.heads.sinkhorn import sinkhorn

ot = pytest.importorskip("ot")


def random_problem(seed: int, n: int = 7, m: int = 5, batch: int = 3):
    g = torch.Generator().manual_seed(seed)
    cost = torch.rand(batch, n, m, generator=g, dtype=torch.float64) * 2
    a = torch.rand(batch, n, generator=g, dtype=torch.float64) + 0.1
    b = torch.rand(batch, m, generator=g, dtype=torch.float64) + 0.1
    return cost, a / a.sum(-1, keepdim=True), b / b.sum(-1, keepdim=True)


@pytest.mark.parametrize("eps", [0.05, 0.2, 1.0])
def test_converged_plan_matches_pot(eps):
    cost, a, b = random_problem(0)
    plan = sinkhorn(cost, a, b, eps=eps, n_iters=2000)
    for i in range(len(cost)):
        ref = ot.sinkhorn(a[i], b[i], cost[i], eps, method="sinkhorn_log", numItermax=2000, stopThr=1e-12)
        torch.testing.assert_close(plan[i], ref, rtol=1e-6, atol=1e-10)
        # POT's numpy backend gives the same plan as its torch backend.
        ref_np = ot.bregman.sinkhorn_log(
            a[i].numpy(), b[i].numpy(), cost[i].numpy(), eps, numItermax=2000, stopThr=1e-12
        )
        np.testing.assert_allclose(plan[i].numpy(), ref_np, rtol=1e-6, atol=1e-10)


@pytest.mark.parametrize("n_iters", [1, 3, 10])
def test_same_iterates_as_pot_before_convergence(n_iters):
    # Same update order as ot.bregman.sinkhorn_log: identical plans after any number of steps.
    cost, a, b = random_problem(1)
    plan = sinkhorn(cost, a, b, eps=0.1, n_iters=n_iters)
    for i in range(len(cost)):
        ref = ot.bregman.sinkhorn_log(a[i], b[i], cost[i], 0.1, numItermax=n_iters, stopThr=0.0, warn=False)
        torch.testing.assert_close(plan[i], ref, rtol=1e-9, atol=1e-12)


def test_uniform_marginals_are_met():
    cost = torch.rand(4, 10, 10)
    plan = sinkhorn(cost, eps=0.1, n_iters=50)
    assert (plan >= 0).all()
    torch.testing.assert_close(plan.sum(-1), torch.full((4, 10), 0.1), atol=1e-6, rtol=0)
    torch.testing.assert_close(plan.sum(-2), torch.full((4, 10), 0.1), atol=1e-4, rtol=0)


def test_given_marginals_are_met():
    cost, a, b = random_problem(2, n=6, m=9)
    plan = sinkhorn(cost, a, b, eps=0.1, n_iters=300)
    torch.testing.assert_close(plan.sum(-1), a, atol=1e-10, rtol=0)
    torch.testing.assert_close(plan.sum(-2), b, atol=1e-8, rtol=0)


def test_small_eps_stays_finite_and_approaches_the_assignment():
    # A permutation is the unique optimum of this cost; log-domain iterations stay finite at eps=1e-3.
    perm = torch.tensor([2, 0, 3, 1])
    cost = torch.ones(4, 4)
    cost[torch.arange(4), perm] = 0.0
    plan = sinkhorn(cost, eps=1e-3, n_iters=20)
    assert torch.isfinite(plan).all()
    assert (plan.argmax(-1) == perm).all()
    torch.testing.assert_close(plan.max(-1).values, torch.full((4,), 0.25), atol=1e-4, rtol=0)


def test_gradients_flow_to_the_cost():
    cost, a, b = random_problem(3, n=4, m=3, batch=2)
    cost.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda c: sinkhorn(c, a, b, eps=0.5, n_iters=20), (cost,))


def test_transport_cost_gradient_matches_pot():
    # <P, C> differentiated through the unrolled iterations, here and in POT's torch backend.
    cost, a, b = random_problem(4, n=5, m=6, batch=1)
    c_ours = cost[0].clone().requires_grad_(True)
    c_pot = cost[0].clone().requires_grad_(True)
    (sinkhorn(c_ours, a[0], b[0], eps=0.2, n_iters=100) * c_ours).sum().backward()
    ot.sinkhorn2(
        a[0], b[0], c_pot, 0.2, method="sinkhorn_log", numItermax=100, stopThr=0.0, warn=False
    ).backward()
    torch.testing.assert_close(c_ours.grad, c_pot.grad, rtol=1e-7, atol=1e-10)


def test_rejects_bad_arguments():
    with pytest.raises(ValueError, match="eps"):
        sinkhorn(torch.rand(3, 3), eps=0.0)
    with pytest.raises(ValueError, match="size"):
        sinkhorn(torch.rand(3, 4), a=torch.full((4,), 0.25))
    with pytest.raises(ValueError, match="positive"):
        sinkhorn(torch.rand(2, 2), a=torch.tensor([1.0, 0.0]))
