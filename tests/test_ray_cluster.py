"""pybertcore.ray on a simulated two-node cluster (ray.cluster_utils.Cluster, 1 CPU per node): the pool
sized from the cluster's CPUs, one actor per node, per id exactly the vectors of a local encode."""

from __future__ import annotations

import numpy as np

import ray  # the ray extra, in the test extra too: CI runs these, never skips them

import pybertcore
import pybertcore.ray as pbray
from ray_helpers import outside_repository, runtime_env, uneven_texts


def test_two_nodes_give_local_encode_per_id(minilm_dir):
    with outside_repository():
        _two_nodes(minilm_dir)


def _two_nodes(minilm_dir):
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    try:
        cluster.add_node(num_cpus=1)
        ray.init(address=cluster.address, runtime_env=runtime_env(), log_to_driver=False)
        cluster.wait_for_nodes()
        assert len([n for n in ray.nodes() if n["Alive"]]) == 2
        assert pbray._pool_size(ray, None, 1) == 2
        texts = uneven_texts(40, seed=2)
        ds = ray.data.from_items([{"id": f"t{i}", "text": t} for i, t in enumerate(texts)])
        rows = pbray.embed_dataset(ds, minilm_dir, batch_size=5).take_all()
        expected = pybertcore.SentenceEncoder.from_pretrained(minilm_dir).encode(texts)
        got = {r["id"]: np.asarray(r["embedding"], dtype=np.float32) for r in rows}
        assert sorted(got) == sorted(f"t{i}" for i in range(len(texts)))
        for i in range(len(texts)):
            np.testing.assert_array_equal(got[f"t{i}"], expected[i])
    finally:
        ray.shutdown()
        cluster.shutdown()
