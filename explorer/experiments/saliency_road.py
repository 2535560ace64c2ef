"""ROAD's noisy linear imputation: what a removed pixel becomes in the benchmark's second deletion and insertion.

Rong, Leemann, Borisov, Kasneci and Kasneci 2022, "A Consistent and Efficient Evaluation Strategy for Attribution
Methods" (ICML), section 4: setting scattered pixels to one colour leaks the class through the *shape* of what was
removed (a mask of the object's edges is itself evidence). ROAD fills each removed pixel with the weighted mean of
its 8 neighbours (1/6 for the 4 direct ones, 1/12 for the diagonal ones), all removed pixels solved jointly as one
sparse linear system, then adds Gaussian noise (sigma 0.01 on [0, 1] images) so the fill is not a tell either.

The system for the removed pixels u, with w the neighbour weights and d_i the summed weight of pixel i's
neighbours inside the image: d_i u_i - sum_{removed j} w_ij u_j = sum_{kept j} w_ij x_j. It is symmetric and
positive definite on every region of removed pixels that touches a kept one, so it is solved here by conjugate
gradients, one sparse product per step for a whole batch at once (no sparse solver needed). A region
with no kept neighbour at all (every pixel removed) has nothing to average: it stays at the mean colour (0 after
normalisation). The noise is added to the removed pixels only; the kept ones are the image's own.
"""

from __future__ import annotations

import functools
import warnings

import torch

NOISE = 0.01  # ROAD's sigma on [0, 1] images
# (dy, dx, weight) of the 8 neighbours: 1/6 for the direct ones, 1/12 for the diagonal ones (ROAD, eq. 4)
OFFSETS = [(dy, dx, 1 / 6 if dy == 0 or dx == 0 else 1 / 12) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx]


@functools.lru_cache(maxsize=8)
def neighbour_matrix(h: int, w: int) -> torch.Tensor:
    """(H*W, H*W) sparse CSR: row i holds pixel i's neighbour weights, only neighbours inside the image."""
    idx = torch.arange(h * w).view(h, w)
    rows, cols = [], []
    weights = []
    for dy, dx, weight in OFFSETS:
        ys, xs = slice(max(0, -dy), h - max(0, dy)), slice(max(0, -dx), w - max(0, dx))
        ny, nx = slice(ys.start + dy, ys.stop + dy), slice(xs.start + dx, xs.stop + dx)
        rows.append(idx[ys, xs].reshape(-1))
        cols.append(idx[ny, nx].reshape(-1))
        weights.append(torch.full((rows[-1].numel(),), weight))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Ss]parse")
        coo = torch.sparse_coo_tensor(torch.stack([torch.cat(rows), torch.cat(cols)]), torch.cat(weights), (h * w,) * 2)
        return coo.coalesce().to_sparse_csr()


def _cg(apply, rhs: torch.Tensor, diag: torch.Tensor, tol: float, max_iter: int) -> torch.Tensor:
    """Jacobi-preconditioned conjugate gradients for many systems at once, one per column of rhs (P, N)."""
    u = torch.zeros_like(rhs)
    r = rhs.clone()
    z = r / diag
    p = z.clone()
    rz = (r * z).sum(0)
    limit = (tol * rhs.norm(dim=0)).clamp_min(1e-12)
    for _ in range(max_iter):
        if bool((r.norm(dim=0) <= limit).all()):
            break
        ap = apply(p)
        alpha = rz / (p * ap).sum(0).clamp_min(1e-30)
        u = u + alpha * p
        r = r - alpha * ap
        z = r / diag
        rz_new = (r * z).sum(0)
        p = z + (rz_new / rz.clamp_min(1e-30)) * p
        rz = rz_new
    return u


def impute(
    x: torch.Tensor,
    removed: torch.Tensor,
    noise: torch.Tensor | float = 0.0,
    generator: torch.Generator | None = None,
    tol: float = 1e-3,
    max_iter: int = 300,
) -> torch.Tensor:
    """ROAD's noisy linear imputation of the ``removed`` pixels of each image.

    Args:
        x: (B, C, H, W) images (normalised or not: the fill is linear).
        removed: (B, 1, H, W) or (B, H, W) bool, True where a pixel is removed.
        noise: the noise's standard deviation in x's units, a number or (C,) per channel
            (``NOISE / std`` for normalised images).
        generator: the noise's random numbers.
        tol: conjugate gradients stop when every residual is below ``tol`` times its right-hand side.
    Returns:
        (B, C, H, W): x where kept, the neighbours' weighted mean plus noise where removed.
    """
    b, c, h, w = x.shape
    k = neighbour_matrix(h, w)
    holes = removed.reshape(b, 1, h * w).expand(b, c, h * w).reshape(b * c, h * w).T.to(x.dtype)  # (P, B*C)
    v = x.reshape(b * c, h * w).T  # (P, B*C): one column per image and channel
    diag = (k @ torch.ones(h * w, 1, dtype=x.dtype)).clamp_min(1e-12)  # d_i, smaller at the border
    rhs = holes * (k @ (v * (1 - holes)))
    u = _cg(lambda p: holes * (diag * p - k @ (p * holes)), rhs, diag, tol, max_iter)
    filled = u.T.reshape(b, c, h, w)
    sigma = noise.to(x.dtype).reshape(-1, 1, 1) if torch.is_tensor(noise) else noise
    jitter = torch.randn(x.shape, generator=generator, dtype=x.dtype) * sigma
    return torch.where(holes.T.reshape(b, c, h, w).bool(), filled + jitter, x)
