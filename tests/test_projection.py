import numpy as np
import pytest

from nver_demo import projection


def clusters(seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 5, (3, 20))
    labels = np.repeat(np.arange(3), 15)
    return centers[labels] + rng.normal(0, 0.5, (45, 20)), labels, centers


def test_pca_places_a_point_near_its_cluster():
    refs, labels, centers = clusters()
    m = projection.project("pca", refs, centers[1] + 0.01)
    assert m.refs.shape == (45, 2) and m.points.shape == (1, 2)
    own = m.refs[labels == 1].mean(0)
    others = [m.refs[labels == c].mean(0) for c in (0, 2)]
    dist = np.linalg.norm(m.points[0] - own)
    assert all(dist < np.linalg.norm(m.points[0] - o) for o in others)
    assert set(labels[m.neighbours[0]]) == {1}


def test_umap_layout_is_stored_and_placement_uses_neighbours():
    refs, labels, centers = clusters()
    coords = projection.reference_coords({"v": refs}, seed=0)["umap.v"]
    assert coords.shape == (45, 2)
    again = projection.reference_coords({"v": refs}, seed=0)["umap.v"]
    np.testing.assert_allclose(coords, again)  # fixed seed: same map every time
    m = projection.project("umap", refs, centers[2], ref_coords=coords)
    own = coords[labels == 2]
    assert np.linalg.norm(m.points[0] - own.mean(0)) < np.ptp(coords, axis=0).max() / 3


def test_unknown_method_lists_valid():
    refs, _, _ = clusters()
    with pytest.raises(ValueError, match="pca"):
        projection.project("tsne", refs, refs[:1])
