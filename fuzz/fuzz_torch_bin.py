"""Fuzzes the ``pytorch_model.bin`` reader (pybertcore/checkpoints/torch_bin.py): one input is one file,
zip (torch >= 1.6) or legacy pickle stream, loaded with ``load_torch_bin`` and every array read to the
last byte. zipfile and pickletools are instrumented too, so mutations reach into the archive and the
opcode stream. Seeds (fuzz/corpus/torch_bin/) include the audit's hostile files, scaled down."""


import harness

with harness.instrumented_imports("zipfile", "pickletools"):
    import pickletools  # noqa: F401 (instrumented before the reader imports it)
    import zipfile  # noqa: F401

    from pybertcore.checkpoints import CheckpointError, load_torch_bin

FOLDER = harness.work_folder("torch_bin")
PATH = FOLDER / "pytorch_model.bin"


def load() -> None:
    with harness.names_file(PATH):
        arrays = load_torch_bin(PATH).values()
    for array in arrays:
        array.tobytes()


def test_one_input(data: bytes) -> None:
    PATH.write_bytes(data)
    harness.judge(load, data, allowed_types=(CheckpointError,))


if __name__ == "__main__":
    harness.limit_address_space()
    harness.run(test_one_input)
