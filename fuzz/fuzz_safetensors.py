"""Fuzzes the safetensors reader (pybertcore/checkpoints/safetensors_io.py): one input is one
``model.safetensors``, loaded with ``load_safetensors`` and every array read to the last byte (a view
past the mapping would fault here). Seeds: fuzz/corpus/safetensors/."""


import harness

with harness.instrumented_imports():
    from pybertcore.checkpoints import CheckpointError, load_safetensors

FOLDER = harness.work_folder("safetensors")
PATH = FOLDER / "model.safetensors"


def load() -> None:
    with harness.names_file(PATH):
        arrays = load_safetensors(PATH).values()
    for array in arrays:
        array.tobytes()


def test_one_input(data: bytes) -> None:
    PATH.write_bytes(data)
    harness.judge(load, data, allowed_types=(CheckpointError,))


if __name__ == "__main__":
    harness.limit_address_space()
    harness.run(test_one_input)
