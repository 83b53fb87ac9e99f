"""Fuzzes the shard index reader (pybertcore/checkpoints/sharding.py): one input is one index, written as
``model.safetensors.index.json`` (or, when it starts with "B", the rest as ``pytorch_model.bin.index.json``)
next to two valid shards of each format, and loaded with ``load_weights_file``. Seeds: fuzz/corpus/shard_index/."""


import harness

with harness.instrumented_imports():
    import numpy as np

    from pybertcore.checkpoints import CheckpointError, load_weights_file, save_safetensors, save_torch_bin

FOLDER = harness.work_folder("shard_index")
for i, name in enumerate(("a", "b")):  # the shards an index may name
    tensor = {name: np.arange(6, dtype=np.float32).reshape(2, 3) + i}
    save_safetensors(tensor, FOLDER / f"model-0000{i + 1}-of-00002.safetensors")
    save_torch_bin(tensor, FOLDER / f"pytorch_model-0000{i + 1}-of-00002.bin")


def test_one_input(data: bytes) -> None:
    if data[:1] == b"B":
        index, other = FOLDER / "pytorch_model.bin.index.json", FOLDER / "model.safetensors.index.json"
        index.write_bytes(data[1:])
    else:
        index, other = FOLDER / "model.safetensors.index.json", FOLDER / "pytorch_model.bin.index.json"
        index.write_bytes(data)
    other.unlink(missing_ok=True)

    def load() -> None:
        with harness.names_file(index):
            arrays = load_weights_file(index).values()
        for array in arrays:
            array.tobytes()

    harness.judge(load, data, allowed_types=(CheckpointError,))


if __name__ == "__main__":
    harness.limit_address_space()
    harness.run(test_one_input)
