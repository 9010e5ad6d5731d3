import numpy as np

from nver_demo import families
from tests.conftest import needs_emogator

EMOGATOR_30 = sorted(families.GLOSSARY)


def test_every_label_in_exactly_one_family():
    members = [m for fam in families.FAMILIES for m in fam.members]
    assert len(members) == len(set(members)) == 30
    assert sorted(members) == EMOGATOR_30
    assert all(families.family_of(m) is not None for m in members)


@needs_emogator
def test_families_cover_the_dataset_labels():
    from nver_demo.training import datasets

    labels = datasets.read_emogator(datasets.EMOGATOR_DIR).labels
    assert families.covers(labels)
    assert sorted(families.GLOSSARY) == sorted(labels)


def test_family_probs_sum_and_order():
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(30))
    probs = dict(zip(EMOGATOR_30, p))
    fp = families.family_probs(probs)
    assert list(fp) == [f.name for f in families.FAMILIES]
    assert abs(sum(fp.values()) - 1) < 1e-9
    joy = sum(probs[m] for m in families.FAMILIES[0].members)
    assert abs(fp[families.FAMILIES[0].name] - joy) < 1e-12


def test_unknown_labels_have_no_family():
    assert families.family_of("achievement") is None
    assert not families.covers(["achievement", "Amusement"])
    assert families.family_index(["Amusement", "x"]).tolist() == [0, -1]
    assert len({f.color for f in families.FAMILIES}) == len(families.FAMILIES)
