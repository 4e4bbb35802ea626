"""The compiled ``bit_trains`` kernel (crossbar/trains.py) against the closed-form statistics of
shared row and column trains, beside the torch path that draws the same process."""

import pytest
import torch

from analogsgd.crossbar import AnalogTile, TileConfig, UpdateConfig, fused
from analogsgd.crossbar.pulse_trains import pulse_probabilities
from analogsgd.devices import IdealDevice
from analogsgd.devices.presets import aihwkit_soft_bounds

pytestmark = pytest.mark.skipif(not fused.NUMBA_AVAILABLE, reason="numba not installed")

F64 = torch.float64
DW = 0.01
REPLICAS = 20000
Z = 4.5  # standard errors: 78 covariance entries per path, a false alarm rate ~5e-4


def _batch():
    g = torch.Generator().manual_seed(4)
    x, d = torch.randn(2, 4, generator=g, dtype=F64), torch.randn(2, 3, generator=g, dtype=F64)
    x[1, 2] = 0.0  # a column that never fires in sample 1
    return x, d, 0.03


def exact_net_count_moments(x, d, lr):
    """Mean and covariance of the net counts N_ij = Σ_b s_bij Σ_t X_btj Y_bti (s = −sign(d x)):
    X ~ Bernoulli(p_bj) shared by column j, Y ~ Bernoulli(q_bi) shared by row i, slot by slot:
    Var = Σ_b BL_b p q (1 − p q); same row: Σ_b s s' BL_b q(1 − q) p_j p_j'; same column:
    Σ_b s s' BL_b p(1 − p) q_i q_i'; otherwise 0."""
    p, q, bl = pulse_probabilities(x, d, lr, DW, 31, True, True, 1.0)
    out, n_in = d.shape[1], x.shape[1]
    mean = torch.zeros(out * n_in, dtype=F64)
    cov = torch.zeros(out * n_in, out * n_in, dtype=F64)
    for b in range(x.shape[0]):
        s = -torch.sign(d[b])[:, None] * torch.sign(x[b])[None, :]
        big_l = float(bl[b])
        pq = q[b][:, None] * p[b][None, :]
        mean += (s * big_l * pq).reshape(-1)
        for e in range(out * n_in):
            i, j = divmod(e, n_in)
            for f in range(out * n_in):
                k, m = divmod(f, n_in)
                if e == f:
                    c = pq[i, j] * (1 - pq[i, j])
                elif i == k:
                    c = q[b, i] * (1 - q[b, i]) * p[b, j] * p[b, m]
                elif j == m:
                    c = p[b, j] * (1 - p[b, j]) * q[b, i] * q[b, k]
                else:
                    continue
                cov[e, f] += s[i, j] * s[k, m] * big_l * c
    return mean, cov, bl


def sampled_net_counts(kernel: str, counting: str = "bit_trains", seed: int = 9,
                       per_replica_lr: bool = False):
    x, d, lr = _batch()
    cfg = TileConfig(device=IdealDevice(dw_min=DW),
                     update=UpdateConfig(counting=counting, kernel=kernel))
    tile = AnalogTile((REPLICAS, 3, 4), cfg, seed, dtype=F64)
    rate = torch.full((REPLICAS,), lr, dtype=F64) if per_replica_lr else lr
    tile.update(x.expand(REPLICAS, -1, -1), d.expand(REPLICAS, -1, -1), rate)
    return (tile.weight / DW).reshape(REPLICAS, -1), tile.last_update_path


def moment_problems(n: torch.Tensor) -> list[str]:
    """Entries of the sample mean and covariance further than Z standard errors (estimated from
    the samples' own fourth moments) from the closed form."""
    mean, cov, _ = exact_net_count_moments(*_batch())
    c = n - n.mean(0)
    emp = c.T @ c / (REPLICAS - 1)
    se_cov = ((c[:, :, None] * c[:, None, :]).var(0) / REPLICAS).sqrt()
    se_mean = (n.var(0) / REPLICAS).sqrt()
    bad = [f"mean[{e}] {float(n.mean(0)[e]):.4f} vs {float(mean[e]):.4f}"
           for e in range(mean.numel()) if abs(n.mean(0)[e] - mean[e]) > Z * se_mean[e] + 1e-12]
    for e in range(cov.shape[0]):
        for f in range(e + 1):
            if abs(emp[e, f] - cov[e, f]) > Z * se_cov[e, f] + 1e-12:
                bad.append(f"cov[{e},{f}] {float(emp[e, f]):.4f} vs {float(cov[e, f]):.4f}")
    return bad


@pytest.mark.parametrize("kernel", ["auto", "torch"])
def test_bit_trains_match_shared_train_statistics(kernel):
    """Mean and full covariance of the 12 net counts of a 3×4 tile after one batch of 2 (BL > 1,
    one x = 0) over 20 000 replicas: the compiled kernel and the torch path both match the closed
    form of shared trains within Z standard errors."""
    n, path = sampled_net_counts(kernel)
    assert path == ("trains-numba" if kernel == "auto" else "torch")
    assert float(exact_net_count_moments(*_batch())[2].min()) > 1  # several slots per sample
    assert float((n - n.round()).abs().max()) < 1e-9  # the ideal device: whole pulses
    problems = moment_problems(n.round())
    assert not problems, "\n".join(problems)


def test_bit_trains_with_given_probabilities_match_shared_train_statistics():
    """A learning rate per replica takes torch's probabilities and the kernel without the fused
    probability pass (trains.apply_trains): the same closed form holds."""
    n, path = sampled_net_counts("auto", seed=10, per_replica_lr=True)
    assert path == "trains-numba"
    assert float((n - n.round()).abs().max()) < 1e-9
    problems = moment_problems(n.round())
    assert not problems, "\n".join(problems)


def test_shared_train_statistics_reject_independent_elements():
    """The comparison above can fail: the moments sampler (elements drawn independently, the
    same mean and variance) misses the covariances of shared trains."""
    n, path = sampled_net_counts("sparse", counting="moments")
    assert path == "sparse-numba"
    problems = moment_problems(n)
    assert any(p.startswith("cov") for p in problems)
    assert not any(p.startswith("mean") for p in problems)


def test_trains_kernel_is_seeded_and_leaves_untouched_rows_exact():
    """The same seed gives the same weights; a row whose d is 0 never fires, so its weights are
    exactly what they were (aihwkit's soft bounds with cycle-to-cycle noise, float32)."""
    preset = aihwkit_soft_bounds()  # c2c 0.3 and device-to-device spread
    cfg = TileConfig(device=preset.device, variation=preset.variation,
                     update=UpdateConfig(counting="bit_trains"))
    g = torch.Generator().manual_seed(2)
    x, d = torch.rand(8, 784, generator=g), torch.randn(8, 256, generator=g) * 0.05
    d[:, 7] = 0.0
    weights = []
    for _ in range(2):
        tile = AnalogTile((256, 784), cfg, 11)
        w0 = tile.weight.clone()
        tile.update(x, d, 0.05)
        assert tile.last_update_path == "trains-numba"
        weights.append(tile.weight)
    assert torch.equal(weights[0], weights[1])
    assert torch.equal(weights[0][7], w0[7])
    assert int((weights[0] != w0).sum()) > 10000  # most of the batch's ~50 000 pulses landed


def test_column_loops_draw_the_same_bits():
    """A slot's columns are drawn over the active columns when fewer than half have p > 0 (and
    their elements warmed first when at most a few), else over all pairs: both give the same
    bits. x' adds columns whose p (~1e-9, below the smallest uniform 2⁻²⁵) never fires and
    which change neither max|x| nor BL, so x and x' must give identical weights."""
    preset = aihwkit_soft_bounds()
    cfg = TileConfig(device=preset.device, variation=preset.variation,
                     update=UpdateConfig(counting="bit_trains"))
    g = torch.Generator().manual_seed(5)
    d = torch.randn(2, 64, generator=g) * 0.3
    for n_active in (3, 40):  # the warmed sparse loop, the plain sparse loop
        x = torch.zeros(2, 101)
        x[:, :n_active] = torch.rand(2, n_active, generator=g) + 0.5
        x_all = torch.where(x == 0, torch.full_like(x, 1e-9), x)
        weights = []
        for xs in (x, x_all):
            tile = AnalogTile((64, 101), cfg, 3)
            w0 = tile.weight.clone()
            tile.update(xs, d, 0.05)
            weights.append(tile.weight)
        assert torch.equal(weights[0], weights[1])
        changed = weights[0] != w0
        assert int(changed.sum()) > 20 and not changed[:, n_active:].any()
