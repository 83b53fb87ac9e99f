"""bfloat16 and int8 compute: kernels per ISA level against fp64 references, whole models against float32.

Kernel references are computed in fp64 from the *same rounded inputs* the kernels use
(pybertcore._core.testing.bf16_round / quantize_weights / quantize_activations expose quantize.h's formats),
so what is tested is the arithmetic, not the quantization:
  bf16:  fp32 FMAs over exact bf16 weights, K ≤ 700 → relative 2e-6 of the output's scale.
  int8:  the int32 sums are exact; what remains is the fp32 folding of groups and epilogue → relative 1e-6.
Model tolerances against our own float32 (the quantization itself):
  bf16:  mean-pooled cosine ≥ 0.9999 on MiniLM text, ≥ 0.999 on random small models.
  int8:  mean-pooled cosine ≥ 0.998 on MiniLM text (the issue's bound; the measured minimum over the
         bundled 276 sentences is 0.9987, README "Precision"), mean ≥ 0.9995; ≥ 0.98 on random small
         models (a few random tokens, no trained structure to average over).
"""

from __future__ import annotations

import numpy as np
import pytest

import pybertcore
from pybertcore import _core
from pybertcore.precision import accuracy_report, sample_sentences

from family_models import FAMILIES, make_transformers_model, ragged_inputs

SHAPES = [(1, 1, 1), (1, 5, 3), (7, 33, 9), (13, 17, 131), (37, 100, 255), (130, 70, 257), (64, 48, 700)]


def _problem(M, N, K, seed=0, outlier=True):
    rng = np.random.default_rng(seed + M * 1000 + N * 10 + K)
    x = rng.standard_normal((M, K)).astype(np.float32)
    if outlier and K > 2:
        x[:, 1] *= 25.0  # an outlier channel, as BERT's hidden states have
    w = (rng.standard_normal((N, K)) * 0.2).astype(np.float32)
    b = rng.standard_normal(N).astype(np.float32)
    r = rng.standard_normal((M, N)).astype(np.float32)
    return x, w, b, r


GROUP = 128  # k per weight scale (quantize.h kWeightGroup)


def _int8_reference(x, w, b):
    """fp64 result of the int8 GEMM from the kernels' own quantized integers (quantize.h's formula):
    exact int64 sums per weight group, then the scales and zero points in fp64, plus each row's
    outliers times their bf16 weights."""
    q, sa, za, oi, ov = _core.testing.quantize_activations(x)
    qw, sw, qsum = _core.testing.quantize_weights(w)
    K = x.shape[1]
    dot = np.zeros((x.shape[0], w.shape[0]))
    for g in range(sw.shape[1]):
        ks = slice(g * GROUP, min(K, (g + 1) * GROUP))
        acc = q[:, ks].astype(np.int64) @ qw[:, ks].astype(np.int64).T
        dot += (acc - za[:, None].astype(np.int64) * qsum[None, :, g]) * sw[None, :, g].astype(np.float64)
    v = dot * sa[:, None].astype(np.float64)
    if K:
        wt = _core.testing.bf16_round(w).astype(np.float64)
        for o in range(oi.shape[1]):
            v += ov[:, o:o + 1].astype(np.float64) * wt[:, oi[:, o]].T
    return v if b is None else v + b


def test_formats():
    x = np.array([1.0, 1.00390625, 1.01171875, -3.0e38, np.inf, 1e-40, 0.1], dtype=np.float32)
    y = _core.testing.bf16_round(x)
    assert y[0] == 1.0 and y[1] == 1.0  # halfway rounds to even (mantissa 0)
    assert y[2] == np.float32(1.015625)  # halfway rounds to even (up)
    assert np.isinf(y[4])
    assert y[6] == np.float32(0.10009765625)
    w = np.array([[0.5, -1.0, 0.25], [0.0, 0.0, 0.0]], dtype=np.float32)
    qw, sw, qsum = _core.testing.quantize_weights(w)
    assert qw.tolist() == [[64, -127, 32], [0, 0, 0]] and sw[0, 0] == np.float32(1.0 / 127) and sw[1, 0] == 1.0
    assert qsum.tolist() == [[-31], [0]]
    w = np.concatenate([np.full((1, GROUP), 0.5), np.full((1, 6), -2.0)], axis=1).astype(np.float32)
    qw, sw, qsum = _core.testing.quantize_weights(w)  # one scale per group of GROUP k
    assert sw.shape == (1, 2) and sw[0, 0] == np.float32(1.0 / 128) and sw[0, 1] == np.float32(4.0 / 128)
    assert qsum.tolist() == [[GROUP * 64, -6 * 64]]  # equal same-sign neighbours: 64 + 64 = 128
    # pair-safe weights: a same-sign pair (k even, k+1) sums to at most 128 in magnitude, so 8-bit
    # activations cannot saturate vpmaddubsw's int16 (255 · 128 < 32768)
    w = np.array([[1.0, 1.0, -0.5, 1.0, -1.0, -0.99]], dtype=np.float32)
    qw, sw, qsum = _core.testing.quantize_weights(w)
    assert sw[0, 0] == np.float32(2.0 / 128)  # max same-sign pair (2.0) / 128 beats max|w| / 127
    assert qw.tolist() == [[64, 64, -32, 64, -64, -63]]
    x = np.array([[0.0, 1.0, -1.0, 0.5, 100.0, -50.0, 40.0, 30.0, -20.0, 15.0, 12.0, -11.0, 10.0, 0.25]],
                 dtype=np.float32)
    q, sa, za, oi, ov = _core.testing.quantize_activations(x)
    assert q.shape == (1, 14) and oi.shape == (1, 8) and q.dtype == np.uint8
    # Of the 8 largest |a|, largest first, those above 1.5x the largest other value (10) stay outliers;
    # 15, 12 and -11 join the range, and the slots left hold index 0, value 0.
    assert oi[0].tolist() == [4, 5, 6, 7, 8, 0, 0, 0]
    assert ov[0].tolist() == [100.0, -50.0, 40.0, 30.0, -20.0, 0.0, 0.0, 0.0]  # multiplied in fp32
    assert (q[0, oi[0, :5]] == za[0]).all()  # their codes add nothing to the integer sums
    assert abs(float(sa[0]) - 26.0 / 255) < 1e-7 and za[0] == round(11.0 / (26.0 / 255))  # range [-11, 15]
    assert q[0, 9] == 255 and q[0, 11] == 0  # 8-bit codes, both ends of the range
    # exactly 1.5x the rest is not an outlier; a row whose top values stand close to the rest has none
    x = np.array([[3.0, -2.0, 1.0, 0.5] * 4 + [2.0]], dtype=np.float32)
    q, sa, za, oi, ov = _core.testing.quantize_activations(x)
    assert (oi == 0).all() and (ov == 0).all() and q[0, 0] == 255
    x = np.array([[3.0000002] * 4 + [-2.0] * 4 + [2.0, 1.0, 0.5]], dtype=np.float32)  # just above 1.5x
    q, sa, za, oi, ov = _core.testing.quantize_activations(x)
    assert oi[0].tolist() == [0, 1, 2, 3, 0, 0, 0, 0] and ov[0, :4].tolist() == x[0, :4].tolist()
    assert (ov[0, 4:] == 0).all()


@pytest.mark.parametrize("M,N,K", SHAPES + [(300, 40, 1025), (5, 70, 1600)])  # past AVX512-BF16's K block of 768
def test_gemm_bf16(isa, M, N, K):
    x, w, b, r = _problem(M, N, K)
    info = _core.lowp_info(isa)
    a = _core.testing.bf16_round(x) if info["bf16_rounds_activations"] else x
    ref = a.astype(np.float64) @ _core.testing.bf16_round(w).astype(np.float64).T + b
    dense = _core.Dense(w, b, isa=isa, dtype="bfloat16")
    assert dense.dtype == "bfloat16"
    y = dense.forward(x)
    scale = np.abs(ref).max()
    assert np.abs(y - ref).max() <= 2e-6 * scale * max(1.0, np.sqrt(K / 64))
    # epilogue: activation and residual, as the fp32 GEMM applies them
    y = dense.forward(x, activation=_core.Activation.gelu_erf, residual=r)
    from math import erf

    gelu = np.vectorize(lambda v: 0.5 * v * (1.0 + erf(v / np.sqrt(2.0))))
    assert np.abs(y - (gelu(ref) + r)).max() <= 2e-6 * scale * max(1.0, np.sqrt(K / 64)) + 1e-5


@pytest.mark.parametrize("M,N,K", SHAPES + [(1, 770, 513), (300, 40, 1025)])
def test_gemm_bf16_widening_is_fp32_over_rounded_weights(isa, M, N, K):
    """Where the CPU has no bf16 arithmetic the bf16 GEMM is the fp32 one over widened weights: the same
    bits as an fp32 layer holding the bf16-rounded weights, epilogue included (odd K: a last lone k)."""
    if not _core.lowp_info(isa)["bf16_takes_fp32_packed"]:
        pytest.skip(f"{isa}'s bf16 GEMM is not the fp32 loop nest")
    x, w, b, r = _problem(M, N, K)
    bf16 = _core.Dense(w, b, isa=isa, dtype="bfloat16")
    fp32 = _core.Dense(_core.testing.bf16_round(w), b, isa=isa, dtype="float32")
    np.testing.assert_array_equal(bf16.forward(x), fp32.forward(x))
    epilogue = dict(activation=_core.Activation.gelu_erf, residual=r)
    np.testing.assert_array_equal(bf16.forward(x, **epilogue), fp32.forward(x, **epilogue))
    # a block of many rows runs each weight slice widened once, a few rows widen in the tile: same bits
    y = bf16.forward(x)
    for m in {0, M // 2, M - 1}:
        np.testing.assert_array_equal(bf16.forward(x[m:m + 1]), y[m:m + 1])


@pytest.mark.parametrize("M,N,K", [(600, 200, 100), (260, 300, 1500)])
def test_gemm_int8_in_runs_of_rows_and_blocks_of_panels(isa, M, N, K):
    """Shapes the int8 GEMM cuts into several runs of rows and blocks of weight panels (kernels/l2_grid.h):
    the reference's numbers, and each row's result the same bits as when it is computed alone."""
    x, w, b, _ = _problem(M, N, K)
    dense = _core.Dense(w, b, isa=isa, dtype="int8")
    y = dense.forward(x)
    ref = _int8_reference(x, w, b)
    assert np.abs(y - ref).max() <= 1e-6 * np.abs(ref).max() + 1e-6
    for m in (0, 63, 64, 255, M - 1):
        np.testing.assert_array_equal(dense.forward(x[m:m + 1]), y[m:m + 1])


@pytest.mark.parametrize("M,N,K", SHAPES)
def test_gemm_int8(isa, M, N, K):
    x, w, b, r = _problem(M, N, K)
    ref = _int8_reference(x, w, b)
    dense = _core.Dense(w, b, isa=isa, dtype="int8")
    assert dense.dtype == "int8"
    y = dense.forward(x)
    scale = np.abs(ref).max()
    assert np.abs(y - ref).max() <= 1e-6 * scale + 1e-6
    y = dense.forward(x, activation=_core.Activation.relu, residual=r)
    assert np.abs(y - (np.maximum(ref, 0) + r)).max() <= 1e-6 * scale + 1e-5
    # and it is a quantization of the fp32 product, not something else
    exact = x.astype(np.float64) @ w.T.astype(np.float64) + b
    assert np.abs(y - (np.maximum(exact, 0) + r)).max() <= 0.03 * scale


def test_int8_pair_safe_weights(isa):
    """Adversarial weights (equal same-sign neighbours, the worst case for vpmaddubsw's int16 pair sums)
    and activations that reach both code ends: every pair obeys the bound, and the GEMM is exact."""
    rng = np.random.default_rng(3)
    K = 300
    w = np.abs(rng.standard_normal((24, K))).astype(np.float32)
    w[0] = 1.0
    w[1, 0::2] = w[1, 1::2] = rng.uniform(0.5, 1.0, K // 2)  # pairs of equal values
    w[2] = -w[1]
    w[3, ::7] = 40.0  # a large weight next to a small one of the same sign
    qw, _, _ = _core.testing.quantize_weights(w)
    pairs = qw[:, 0::2].astype(int), qw[:, 1::2].astype(int)
    same_sign = pairs[0] * pairs[1] > 0
    assert (np.abs(pairs[0]) + np.abs(pairs[1]))[same_sign].max() == 128  # the bound, reached
    assert np.abs(qw).max() <= 127
    x = rng.uniform(0.0, 1.0, (9, K)).astype(np.float32)
    x[:, 10] = 1.0
    q = _core.testing.quantize_activations(x)[0]
    assert q.max() == 255
    ref = _int8_reference(x, w, None)
    y = _core.Dense(w, None, isa=isa, dtype="int8").forward(x)
    assert np.abs(y - ref).max() <= 1e-6 * np.abs(ref).max()


def test_int8_levels_agree_exactly_in_integers():
    """Every level quantizes with the same code: results differ only by the fp32 epilogue's rounding."""
    x, w, b, _ = _problem(50, 70, 300)
    ys = [_core.Dense(w, b, isa=i, dtype="int8").forward(x) for i in _supported()]
    for y in ys[1:]:
        assert np.abs(y - ys[0]).max() <= 1e-6 * np.abs(ys[0]).max()


def _awkward_rows():
    """Rows that stress the vectorised quantizer's shortcuts: lengths around the register widths,
    outlier channels, ties with the smallest outlier, fewer non-zeros than outliers, NaN and inf."""
    rng = np.random.default_rng(7)
    for K in [1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 100, 384, 768, 3072]:
        x = rng.standard_normal(K).astype(np.float32)
        yield x
        spiky = x.copy()
        spiky[[0, K // 2, K - 1]] *= 40.0  # outlier channels, first and last lanes included
        yield spiky
        yield np.round(rng.standard_normal(K) * 2)  # many exact ties, some with the 4th outlier
        yield np.zeros(K)
        yield np.ones(K)
        one = np.zeros(K)
        one[K // 2] = -3.0  # fewer non-zeros than outliers
        yield one
        lane = x.copy()
        lane[::16] *= 40.0  # every outlier in one lane of both register widths, beside the other lanes' maxima
        yield lane
        crowd = x.copy()
        crowd[::3] = np.sign(crowd[::3]) * 5.0  # a third of the row tied at the top: past any short list of candidates
        yield crowd
        nan = x.copy()
        nan[K // 3] = np.nan
        yield nan
        inf = x.copy()
        inf[K // 2] = np.inf
        yield inf


def test_int8_quantizer_identical_on_every_level(isa):
    """Each level's (vectorised) activation quantizer gives the scalar one's codes, scale, zero point,
    outliers (same order) and their values, bit for bit: the integer GEMM then sees the same inputs."""
    for row in _awkward_rows():
        x = np.asarray(row, dtype=np.float32)[None]
        want = _core.testing.quantize_activations(x, isa="scalar")
        got = _core.testing.quantize_activations(x, isa=isa)
        for name, a, b in zip(["codes", "scale", "zero point", "outlier index", "outlier value"], want, got):
            assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), (name, x.shape, a, b)


def test_int8_quantizer_identical_on_random_rows(isa):
    """Many rows of each kind the candidate shortcut meets (heavy tails, ties near the top, mostly zeros,
    an outlier channel): the same codes, scales, zero points and outliers as the scalar quantizer."""
    rng = np.random.default_rng(11)
    for K in [9, 17, 40, 100, 384, 1000]:
        rows = [rng.standard_normal((200, K)), rng.standard_t(2, (200, K)), np.round(rng.standard_normal((200, K)) * 3),
                rng.standard_normal((200, K)) * (rng.random((200, K)) < 0.1)]
        channel = rng.standard_normal((200, K))
        channel[:, K // 3] *= 60.0
        rows.append(channel)
        x = np.concatenate(rows).astype(np.float32)
        want = _core.testing.quantize_activations(x, isa="scalar")
        got = _core.testing.quantize_activations(x, isa=isa)
        for name, a, b in zip(["codes", "scale", "zero point", "outlier index", "outlier value"], want, got):
            assert np.array_equal(a, b), (name, K)


def test_int8_row_extremes():
    """Constant rows, zero rows, one huge value, NaN-free extremes: no overflow, no division by zero."""
    x = np.zeros((4, 40), dtype=np.float32)
    x[1] = 3.0
    x[2, 7] = 1e6
    x[3] = np.linspace(-1e4, 1e4, 40, dtype=np.float32)
    w = np.random.default_rng(0).standard_normal((9, 40)).astype(np.float32)
    for isa in _supported():
        y = _core.Dense(w, None, isa=isa, dtype="int8").forward(x)
        ref = x.astype(np.float64) @ w.T
        assert np.all(np.isfinite(y))
        assert np.abs(y - ref).max() <= 0.02 * np.abs(ref).max()


def test_bad_precision_names():
    w = np.ones((2, 2), dtype=np.float32)
    with pytest.raises(ValueError, match="unknown precision 'fp8'"):
        _core.Dense(w, dtype="fp8")


def test_cpu_features_reported():
    info = _core.lowp_info()
    for key in ("avx512_bf16", "avx512_vnni", "amx_tile", "amx_bf16", "amx_int8", "amx_permitted", "amx_kernels"):
        assert isinstance(info[key], bool), key
    # the AMX kernels run exactly when the active level is amx (the default where detected)
    assert info["amx_kernels"] is (_core.active_isa() == "amx")
    assert (info["amx_status"] == "on") is info["amx_kernels"]
    cpu = pybertcore.cpu_info()
    assert "avx512_bf16" in cpu and "bf16_kernel" in cpu and "int8_kernel" in cpu and "amx_status" in cpu


def _supported():
    from conftest import SUPPORTED_ISAS

    return SUPPORTED_ISAS


# --- whole models -----------------------------------------------------------------------------------

def _cosines(a, b, mask):
    m = mask[..., None].astype(np.float64)
    ea, eb = (a * m).sum(1) / m.sum(1), (b * m).sum(1) / m.sum(1)
    return (ea * eb).sum(1) / (np.linalg.norm(ea, axis=1) * np.linalg.norm(eb, axis=1))


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_families_in_each_precision(tmp_path, isa, family):
    stem, _ = FAMILIES[family]
    make_transformers_model(family, "Model", tmp_path)
    model = pybertcore.AutoModel.from_pretrained(tmp_path)
    pad = model.config.pad_token_id or 0
    inputs = ragged_inputs(family, pad, lengths=(9, 1, 5, 7), T=9)
    ref = model(**inputs).last_hidden_state
    mask = inputs["attention_mask"]
    for dtype, bound in (("bfloat16", 0.999), ("int8", 0.98)):
        low = pybertcore.AutoModel.from_pretrained(tmp_path, dtype=dtype)
        assert low.dtype == dtype
        out = low(**inputs).last_hidden_state
        cos = _cosines(ref, out, mask)
        assert cos.min() >= bound, (dtype, cos)
        # state_dict stays float32 under transformers' names
        sd = low.state_dict()
        assert all(v.dtype == np.float32 for v in sd.values())
        assert list(sd) == list(model.state_dict())


# Matrices a bf16 model keeps in float32 besides the tables (ALBERT's embedding projection; DeBERTa's
# relative-position projections): the bit-for-bit comparison below would have to round all but these.
_FP32_MATRICES_IN_BF16 = {"albert", "deberta-v2"}


@pytest.mark.parametrize("family", sorted(set(FAMILIES) - _FP32_MATRICES_IN_BF16))
def test_bf16_without_bf16_arithmetic_is_fp32_over_rounded_weights(tmp_path, isa, family):
    """On the levels whose bf16 GEMM is the fp32 loop nest, handovers included, a bf16 model gives the bits
    of the fp32 model holding its bf16-rounded matrices (the embedding and bias tables stay float32)."""
    if not _core.lowp_info(isa)["bf16_takes_fp32_packed"]:
        pytest.skip(f"{isa}'s bf16 GEMM is not the fp32 loop nest")
    make_transformers_model(family, "Model", tmp_path)
    bf16 = pybertcore.AutoModel.from_pretrained(tmp_path, dtype="bfloat16")
    fp32 = pybertcore.AutoModel.from_pretrained(tmp_path)
    tables = ("embeddings", "relative_attention_bias")
    fp32.load_state_dict({k: _core.testing.bf16_round(np.ascontiguousarray(v))
                          if v.ndim == 2 and not any(t in k for t in tables) else v
                          for k, v in fp32.state_dict().items()})
    inputs = ragged_inputs(family, fp32.config.pad_token_id or 0, lengths=(9, 1, 5, 7), T=9)
    np.testing.assert_array_equal(bf16(**inputs).last_hidden_state, fp32(**inputs).last_hidden_state)


def test_to_switches_and_round_trips(tmp_path):
    make_transformers_model("bert", "ForSequenceClassification", tmp_path)
    model = pybertcore.AutoModelForSequenceClassification.from_pretrained(tmp_path)
    inputs = ragged_inputs("bert", 0)
    ref = model(**inputs).logits
    assert model.dtype == "float32"
    assert model.to("bfloat16") is model and model.dtype == "bfloat16"
    bf = model(**inputs).logits
    assert 0 < np.abs(bf - ref).max() < 0.02
    model.to(dtype="int8")
    assert model.dtype == "int8"
    model.to("cpu")
    assert model.dtype == "int8"
    model.to("float32")
    np.testing.assert_array_equal(model(**inputs).logits, ref)  # repacked from the fp32 parameters
    with pytest.raises(NotImplementedError, match="CPU only"):
        model.to("cuda")
    with pytest.raises(NotImplementedError, match="float16"):
        model.to("float16")


def test_torch_dtype_objects(tmp_path):
    torch = pytest.importorskip("torch")
    make_transformers_model("bert", "Model", tmp_path)
    assert pybertcore.AutoModel.from_pretrained(tmp_path, torch_dtype=torch.bfloat16).dtype == "bfloat16"
    assert pybertcore.AutoModel.from_pretrained(tmp_path, dtype=torch.qint8).dtype == "int8"
    assert pybertcore.AutoModel.from_pretrained(tmp_path, dtype={"": "int8"}).dtype == "int8"
    model = pybertcore.AutoModel.from_pretrained(tmp_path)
    assert model.to(torch.bfloat16).dtype == "bfloat16"


def test_levels_agree_with_scalar_in_low_precision(tmp_path, isa):
    """Every level runs both precisions as the scalar reference does (the path CPUs without AVX2 take).

    bf16: levels that keep the activations in fp32 (scalar, AVX2, AVX-512 without AVX512_BF16) compute
    the same products in another order: 1e-4, as fp32. A level whose bf16 GEMM rounds the activations
    too (vdpbf16ps: ``bf16_rounds_activations``) computes something else by design: the same products
    with their second operand also rounded to bf16. Its distance from the scalar level is then bounded
    by twice what rounding the first operand (the weights) costs the scalar level against fp32 on the same
    model and inputs (measured on the seven families: 0.8-1.4 times it). int8: every level computes the
    same int32 sums; only the fp32 epilogue's rounding differs."""
    make_transformers_model("bert", "Model", tmp_path)
    inputs = ragged_inputs("bert", 0)
    outs = {}
    for level in ("scalar", isa):
        _core.set_isa(level)
        for dtype in ("float32", "bfloat16", "int8"):
            m = pybertcore.AutoModel.from_pretrained(tmp_path, dtype=dtype)
            outs[level, dtype] = m(**inputs).last_hidden_state
    _core.set_isa(isa)  # the fixture restores the level the session started with
    mask = inputs["attention_mask"].astype(bool)

    def diff(a, b):
        return float(np.abs(outs[a] - outs[b])[mask].max())

    if _core.lowp_info(isa)["bf16_rounds_activations"] == _core.lowp_info("scalar")["bf16_rounds_activations"]:
        bf16_bound = 1e-4
    else:
        bf16_bound = 2 * diff(("scalar", "float32"), ("scalar", "bfloat16"))
    assert diff(("scalar", "bfloat16"), (isa, "bfloat16")) <= bf16_bound
    assert diff(("scalar", "int8"), (isa, "int8")) < 1e-3


def test_minilm_accuracy_bounds(minilm_dir):
    """The issue's bounds on real text: bf16 min cosine ≥ 0.9999; int8 measured (see the module doc)."""
    assert len(sample_sentences()) >= 256
    bf = accuracy_report(minilm_dir, "bfloat16")
    assert bf["n_texts"] >= 256
    assert bf["cosine_min"] >= 0.9999, bf
    assert bf["max_abs_diff"] < 0.05, bf
    i8 = accuracy_report(minilm_dir, "int8")
    assert i8["cosine_min"] >= 0.998, i8
    assert i8["cosine_mean"] >= 0.9995, i8
    assert i8["max_abs_diff"] < 0.2, i8


def test_accuracy_report_on_a_model_with_given_texts(minilm_dir):
    model = pybertcore.AutoModel.from_pretrained(minilm_dir, dtype="int8")
    tokenizer = pybertcore.AutoTokenizer.from_pretrained(minilm_dir)
    report = accuracy_report(model, "bfloat16", texts=["A short one.", "Another, slightly longer sentence here."],
                             tokenizer=tokenizer)
    assert report["n_texts"] == 2 and report["dtype"] == "bfloat16"
    assert model.dtype == "int8"  # restored
