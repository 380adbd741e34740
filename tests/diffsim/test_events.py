"""Events and LHE I/O: the six reference files against pylhe, exact round trips, pylhe reading
our files, streaming and chunking, atomic completion, resuming, and malformed input."""

import gzip
import re
import shutil
import warnings
import weakref

import jax
import jax.numpy as jnp
import numpy as np
import pylhe
import pytest
from tolerance import assert_close

from diffsim.events import (
    Events,
    LHEReader,
    LHEWriter,
    ProcessInfo,
    RunInfo,
    iter_lhe,
    read_lhe,
    read_run_info,
    write_lhe,
)

LHE_FILES = [
    "pylhe-testfile-madgraph-2.0.0-wbj.lhe",
    "pylhe-testfile-powheg-box-v2-Z.lhe",
    "pylhe-testfile-powheg-box-v2-hvq.lhe",
    "pylhe-testfile-pr180.lhe",
    "pylhe-testfile-pythia-6.413-ttbar.lhe",
    "pylhe-testfile-pythia-8.3.14-weakbosons.lhe",
]
MIXED_MULTIPLICITY_FILES = ["pylhe-testfile-madgraph-2.0.0-wbj.lhe", "pylhe-testfile-powheg-box-v2-hvq.lhe"]
ARRAY_FIELDS = ("momenta", "mass", "pdg_id", "status", "mothers", "colour", "lifetime", "helicity", "mask",
                "weight", "process_id", "scale", "alpha_qed", "alpha_qcd", "weights")
RUN_INFO = RunInfo(
    beam_ids=(2212, 2212),
    beam_energies=(6500.0, 6500.0),
    pdf_groups=(0, 0),
    pdf_sets=(331700, 331700),
    weighting_strategy=-4,
    processes=[ProcessInfo(1, 1.2345678901234567e3, 0.1234567890123456, 9.87e4),
               ProcessInfo(2, 3.0e-7, 1.0e-9, 2.5e-3)],
)
WEIGHT_NAMES = ("muR=2 muF=2", "pdf:331701", "a&b<c>\"d'%s")


# -- helpers -----------------------------------------------------------------------------------


def reference(shared_data, name):
    return shared_data / "lhe" / name


def read_with_pylhe(path):
    """pylhe's events, with its parse-error warnings turned into errors."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        lhef = pylhe.LHEFile.fromfile(path)
        return lhef, list(lhef.events)


def assert_events_equal(actual, expected, fields=ARRAY_FIELDS):
    """Bit-for-bit equality of every field (exact comparison: tolerance 0)."""
    assert actual.weight_names == expected.weight_names or "weights" not in fields
    assert (actual.n_events, actual.n_particles) == (expected.n_events, expected.n_particles)
    for name in fields:
        a, b = np.asarray(getattr(actual, name)), np.asarray(getattr(expected, name))
        assert a.dtype.kind == b.dtype.kind, name
        assert_close(a, b, rtol=0.0, atol=0.0, what=name)
        if a.dtype.kind == "f":  # also the sign of zero
            np.testing.assert_array_equal(np.signbit(a), np.signbit(b), err_msg=name)


def assert_matches_pylhe(events, run_info, path):
    """Every number our reader gives equals pylhe's, event by event."""
    lhef, ref = read_with_pylhe(path)
    assert events.n_events == len(ref) == pylhe.LHEFile.count_events(path)
    info = lhef.init.initInfo
    assert run_info.beam_ids == (info.beamA, info.beamB)
    assert run_info.beam_energies == (info.energyA, info.energyB)
    assert run_info.pdf_groups == (info.PDFgroupA, info.PDFgroupB)
    assert run_info.pdf_sets == (info.PDFsetA, info.PDFsetB)
    assert run_info.weighting_strategy == info.weightingStrategy
    assert [(p.process_id, p.cross_section, p.error, p.max_weight) for p in run_info.processes] == [
        (p.procId, p.xSection, p.error, p.unitWeight) for p in lhef.init.procInfo
    ]
    n = events.n_particles
    table = np.zeros((len(ref), n, 13))
    mask = np.zeros((len(ref), n), bool)
    head = np.array([[e.eventinfo.pid, e.eventinfo.weight, e.eventinfo.scale, e.eventinfo.aqed,
                      e.eventinfo.aqcd] for e in ref])
    named = np.full((len(ref), len(events.weight_names)), np.nan)
    for i, event in enumerate(ref):
        assert event.eventinfo.nparticles == len(event.particles)
        mask[i, : len(event.particles)] = True
        for j, p in enumerate(event.particles):
            table[i, j] = [p.e, p.px, p.py, p.pz, p.m, p.id, p.status, p.mother1, p.mother2, p.color1,
                           p.color2, p.lifetime, p.spin]
        assert set(event.weights) <= set(events.weight_names)
        for name, value in event.weights.items():
            named[i, events.weight_names.index(name)] = value
    np.testing.assert_array_equal(np.asarray(events.mask), mask)
    assert_close(events.momenta, table[..., 0:4], what="momenta")
    assert_close(events.mass, table[..., 4], what="mass")
    assert_close(events.pdg_id, table[..., 5], what="pdg_id")
    assert_close(events.status, table[..., 6], what="status")
    assert_close(events.mothers, table[..., 7:9], what="mothers")
    assert_close(events.colour, table[..., 9:11], what="colour")
    assert_close(events.lifetime, table[..., 11], what="lifetime")
    assert_close(events.helicity, table[..., 12], what="helicity")
    assert_close(events.process_id, head[:, 0], what="process_id")
    assert_close(events.weight, head[:, 1], what="weight")
    assert_close(events.scale, head[:, 2], what="scale")
    assert_close(events.alpha_qed, head[:, 3], what="alpha_qed")
    assert_close(events.alpha_qcd, head[:, 4], what="alpha_qcd")
    assert_close(events.weights, named, what="named weights")


def random_events(seed, n_events, weight_names=WEIGHT_NAMES, max_n=7):
    """Synthetic events with mixed multiplicities and full-precision (and extreme) floats."""
    rng = np.random.default_rng(seed)
    nup = rng.integers(3, max_n + 1, n_events)
    nup[0] = max_n
    mask = np.arange(max_n) < nup[:, None]

    def floats(*shape):
        return rng.standard_normal(shape) * 10.0 ** rng.uniform(-3, 4, shape)

    momenta = floats(n_events, max_n, 4)
    momenta[0, 0] = [5e-324, -0.0, 1.7976931348623157e308, -2.2250738585072014e-308]
    mothers = np.minimum(rng.integers(0, max_n + 1, (n_events, max_n, 2)), nup[:, None, None])
    weights = floats(n_events, len(weight_names))

    def padded(values):
        return np.where(mask.reshape(mask.shape + (1,) * (values.ndim - 2)), values, 0).astype(values.dtype)

    return Events(
        momenta=padded(momenta), mass=padded(np.abs(floats(n_events, max_n))),
        pdg_id=padded(rng.choice([21, 1, -2, 11, -13, 6, 1000022, -24], (n_events, max_n)).astype(np.int32)),
        status=padded(rng.choice([-1, 1, 2], (n_events, max_n)).astype(np.int32)),
        mothers=padded(mothers.astype(np.int32)),
        colour=padded(rng.integers(0, 600, (n_events, max_n, 2)).astype(np.int32)),
        lifetime=padded(np.abs(floats(n_events, max_n))),
        helicity=padded(rng.choice([-1.0, 1.0, 9.0], (n_events, max_n))),
        mask=mask, weight=floats(n_events), process_id=rng.choice([1, 2], n_events).astype(np.int32),
        scale=np.abs(floats(n_events)), alpha_qed=np.abs(floats(n_events)),
        alpha_qcd=np.abs(floats(n_events)),
        weights=weights, weight_names=weight_names,
    )


# -- reading the reference files ------------------------------------------------------------


@pytest.mark.parametrize("name", LHE_FILES)
def test_reference_file_matches_pylhe(shared_data, name):
    path = reference(shared_data, name)
    events, run_info = read_lhe(path)
    assert_matches_pylhe(events, run_info, path)
    assert read_run_info(path) == run_info
    assert events.n_particles == int(np.max(events.multiplicity))


def test_reference_weights_and_multiplicities(shared_data):
    """Spot checks of what the files say: MadGraph's <rwgt>, POWHEG's <weights>, mixed NUP."""
    wbj, _ = read_lhe(reference(shared_data, "pylhe-testfile-madgraph-2.0.0-wbj.lhe"))
    assert wbj.weight_names == tuple(str(i) for i in range(1001, 1010))
    assert_close(wbj.weights[0, :3], [50.109, 45.746, 52.581], what="first event <rwgt>")
    assert set(np.asarray(wbj.multiplicity).tolist()) == {5, 6}
    hvq, _ = read_lhe(reference(shared_data, "pylhe-testfile-powheg-box-v2-hvq.lhe"))
    assert len(hvq.weight_names) == 45 and hvq.weight_names[0] == "MUR1.0_MUF1.0_PDF99208082"
    assert_close(hvq.weights[0, [0, 1, 44]], [0.11148e8, 0.11098e8, 0.10951e8], what="first event <weights>")
    padding = ~np.asarray(hvq.mask)
    assert padding.any() and not np.asarray(hvq.momenta)[padding].any()


@pytest.mark.parametrize("name", LHE_FILES)
def test_gzip_reads_like_plain(shared_data, tmp_path, name):
    compressed = tmp_path / (name + ".gz")
    with open(reference(shared_data, name), "rb") as source, gzip.open(compressed, "wb") as target:
        shutil.copyfileobj(source, target)
    plain, plain_info = read_lhe(reference(shared_data, name))
    events, run_info = read_lhe(compressed)
    assert run_info == plain_info
    assert_events_equal(events, plain)


@pytest.mark.parametrize("name", MIXED_MULTIPLICITY_FILES)
@pytest.mark.parametrize("chunk_size", [1, 4, 7])
def test_iter_lhe_chunks_concatenate_to_read_lhe(shared_data, name, chunk_size):
    path = reference(shared_data, name)
    chunks = list(iter_lhe(path, chunk_size))
    assert all(len(chunk) <= chunk_size for chunk in chunks[:-1]) and len(chunks[-1]) <= chunk_size
    assert all(chunk.n_particles == int(np.max(chunk.multiplicity)) for chunk in chunks)
    assert_events_equal(Events.concatenate(chunks), read_lhe(path)[0])


# -- writing and round trips ----------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".lhe", ".lhe.gz"])
@pytest.mark.parametrize("version", ["1.0", "3.0"])
def test_round_trip_is_exact(tmp_path, version, suffix):
    events = random_events(0, 300)
    names = WEIGHT_NAMES if version == "3.0" else ()
    path = tmp_path / ("events" + suffix)
    assert write_lhe(path, events, RUN_INFO, version=version, weight_names=names) == 300
    back, run_info = read_lhe(path)
    assert run_info == RUN_INFO
    with LHEReader(path) as reader:
        assert reader.version == version
    if version == "3.0":
        assert_events_equal(back, events)
    else:
        assert back.weight_names == ()
        assert_events_equal(back, events, [f for f in ARRAY_FIELDS if f != "weights"])


@pytest.mark.parametrize("name", LHE_FILES)
def test_reference_files_round_trip(shared_data, tmp_path, name):
    events, run_info = read_lhe(reference(shared_data, name))
    write_lhe(tmp_path / "copy.lhe", events, run_info, header="<!-- copied from a reference file -->")
    back, back_info = read_lhe(tmp_path / "copy.lhe")
    assert back_info == run_info
    assert_events_equal(back, events)


@pytest.mark.parametrize("suffix", [".lhe", ".lhe.gz"])
@pytest.mark.parametrize("version", ["1.0", "3.0"])
def test_pylhe_reads_our_files(tmp_path, version, suffix):
    events = random_events(1, 50)
    path = tmp_path / ("events" + suffix)
    header = "<generator>diffsim test</generator><!-- a run card: x < y & z -->"
    names = WEIGHT_NAMES if version == "3.0" else ()
    write_lhe(path, events, RUN_INFO, version=version, weight_names=names, header=header)
    expected = events if version == "3.0" else Events(
        **{f: getattr(events, f) for f in ARRAY_FIELDS if f != "weights"},
        weights=np.zeros((50, 0)), weight_names=(),
    )
    assert_matches_pylhe(expected, RUN_INFO, path)
    lhef, _ = read_with_pylhe(path)
    assert lhef.version == version
    if version == "3.0":
        assert lhef.header.initrwgt.list_weights_ids() == list(WEIGHT_NAMES)


@pytest.mark.parametrize("suffix", [".lhe", ".lhe.gz"])
def test_chunked_write_equals_one_shot(tmp_path, suffix):
    events = random_events(2, 100)
    one_shot, chunked = tmp_path / ("one" + suffix), tmp_path / ("chunked" + suffix)
    write_lhe(one_shot, events, RUN_INFO)
    chunks = (events[i:i + 13] for i in range(0, 100, 13))
    assert write_lhe(chunked, chunks, RUN_INFO) == 100
    assert chunked.read_bytes() == one_shot.read_bytes()


def test_write_lhe_holds_one_chunk_at_a_time(tmp_path):
    """Each chunk is released before the next is produced: memory does not grow with the file."""
    alive = []

    def chunks():
        for seed in range(4):
            chunk = random_events(seed, 20)
            alive.append(weakref.ref(chunk))
            yield chunk
            del chunk
            assert all(ref() is None for ref in alive), "a written chunk is still referenced"

    assert write_lhe(tmp_path / "lazy.lhe", chunks(), RUN_INFO) == 80


def test_exception_mid_stream_leaves_no_final_file(tmp_path):
    path = tmp_path / "events.lhe"

    def failing():
        yield random_events(3, 10)
        raise RuntimeError("generator crashed")

    with pytest.raises(RuntimeError, match="generator crashed"):
        write_lhe(path, failing(), RUN_INFO)
    assert list(tmp_path.iterdir()) == []
    path.write_text("an older, complete file")
    with pytest.raises(RuntimeError, match="generator crashed"):
        write_lhe(path, failing(), RUN_INFO)
    assert path.read_text() == "an older, complete file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["events.lhe"]


@pytest.mark.parametrize("suffix", [".lhe", ".lhe.gz"])
def test_interrupted_writer_resumes(tmp_path, suffix):
    events = random_events(4, 120)
    path = tmp_path / ("events" + suffix)
    with pytest.raises(KeyboardInterrupt):
        with LHEWriter(path, RUN_INFO, weight_names=WEIGHT_NAMES) as writer:
            writer.write(events[:50])
            writer.write(events[50:80])
            raise KeyboardInterrupt
    part = tmp_path / (path.name + ".part")
    assert part.exists() and not path.exists()
    # A hard kill: the file is cut inside an event (inside the gzip stream for .gz).
    data = part.read_bytes()
    part.write_bytes(data[: len(data) - 300])
    with LHEWriter(path, RUN_INFO, weight_names=WEIGHT_NAMES, resume=True) as writer:
        kept = writer.n_written
        assert 0 < kept < 80 if suffix == ".lhe.gz" else kept == 79
        writer.write(events[kept:])
    assert not part.exists()
    assert_events_equal(read_lhe(path)[0], events)
    if suffix == ".lhe":
        write_lhe(tmp_path / "one.lhe", events, RUN_INFO)
        assert path.read_bytes() == (tmp_path / "one.lhe").read_bytes()


def test_resume_checks_the_run(tmp_path):
    path = tmp_path / "events.lhe"
    with pytest.raises(KeyboardInterrupt), LHEWriter(path, RUN_INFO) as writer:
        writer.write(random_events(5, 5, weight_names=()))
        raise KeyboardInterrupt
    other = RunInfo((2212, 2212), (7000.0, 7000.0), (0, 0), (0, 0), 3, [ProcessInfo(1, 1.0, 0.1, 1.0)])
    with pytest.raises(ValueError, match="cannot resume"):
        LHEWriter(path, other, resume=True)
    writer = LHEWriter(path, RUN_INFO, resume=True)
    assert writer.n_written == 5
    writer.abort()
    assert list(tmp_path.iterdir()) == []


def test_float32_events_write_and_read(tmp_path):
    momenta = jax.random.normal(jax.random.key(0), (10, 4, 4), dtype=jnp.float32)
    events = Events.from_momenta(momenta, [21, 21, 6, -6], scale=173.0)
    assert events.momenta.dtype == jnp.float32 and events.mass.dtype == jnp.float32
    write_lhe(tmp_path / "f32.lhe", events, RUN_INFO)
    back, _ = read_lhe(tmp_path / "f32.lhe")
    assert_close(back.momenta, np.asarray(events.momenta, np.float64), what="float32 values survive exactly")


def test_empty_run_writes_a_valid_file(tmp_path):
    path = tmp_path / "empty.lhe"
    assert write_lhe(path, iter([]), RUN_INFO) == 0
    events, run_info = read_lhe(path)
    assert (events.n_events, events.n_particles, run_info) == (0, 0, RUN_INFO)
    assert list(iter_lhe(path)) == []
    assert pylhe.LHEFile.count_events(path) == 0


# -- writer input validation ----------------------------------------------------------------


def test_writer_rejects_bad_input(tmp_path):
    events = random_events(6, 5)
    path = tmp_path / "bad.lhe"
    with pytest.raises(ValueError, match="version"):
        write_lhe(path, events, RUN_INFO, version="2.5")
    with pytest.raises(ValueError, match="LHEF 1.0 has no named weights"):
        write_lhe(path, events, RUN_INFO, version="1.0")
    with pytest.raises(ValueError, match="no named weights"):
        write_lhe(path, events, RUN_INFO, weight_names=["not there"])
    holes = Events(**{f: getattr(events, f) for f in ARRAY_FIELDS if f != "mask"},
                   mask=np.asarray(events.mask).copy(), weight_names=events.weight_names)
    holes.mask[2, 0] = False
    with pytest.raises(ValueError, match="event 2 of the chunk has padding before a real particle"):
        write_lhe(path, holes, RUN_INFO)
    nan = Events(**{f: getattr(events, f) for f in ARRAY_FIELDS if f != "weight"},
                 weight=np.array([1.0, np.nan, 1.0, 1.0, 1.0]), weight_names=events.weight_names)
    with pytest.raises(ValueError, match="non-finite"):
        write_lhe(path, nan, RUN_INFO)
    with pytest.raises(ValueError, match=r"process ids \[7\] are not declared"):
        write_lhe(path, Events.from_momenta(np.ones((1, 3, 4)), [1, 2, 3], process_id=7), RUN_INFO)
    with pytest.raises(ValueError, match="well-formed XML"):
        write_lhe(path, events, RUN_INFO, header="x < y")
    with pytest.raises(ValueError, match="initrwgt"):
        write_lhe(path, events, RUN_INFO, header="<initrwgt></initrwgt>")
    with pytest.raises(TypeError, match="Events"):
        write_lhe(path, [events, "not events"], RUN_INFO)
    assert list(tmp_path.iterdir()) == []


# -- malformed files ------------------------------------------------------------------------

VALID_LINES = [
    '<LesHouchesEvents version="3.0">',
    "<header>",
    "<initrwgt>",
    '<weightgroup name="scale"><weight id="w1">x</weight></weightgroup>',
    "</initrwgt>",
    "</header>",
    "<init>",
    "2212 2212 6500 6500 0 0 0 0 3 1",
    "1.0 0.1 1.0 1",
    "</init>",
    "<event>",
    "3 1 1.0 91.0 0.0078 0.118",  # line 12
    "21 -1 0 0 501 502 0 0 100 100 0 0 9",
    "21 -1 0 0 502 501 0 0 -100 100 0 0 9",
    "23 1 1 2 0 0 0 0 0 200 200 0 9",  # line 15
    "#pdf 21 21 0.1 0.1",
    '<rwgt><wgt id="w1"> 0.5 </wgt></rwgt>',
    "</event>",
    "</LesHouchesEvents>",
]


def test_valid_minimal_file_reads(tmp_path):
    path = tmp_path / "ok.lhe"
    path.write_text("\n".join(VALID_LINES) + "\n")
    events, run_info = read_lhe(path)
    assert events.n_events == 1 and events.weight_names == ("w1",)
    assert_close(events.weights, [[0.5]], what="the one weight")
    assert_close(events.momenta[0, 2], [200.0, 0.0, 0.0, 0.0], what="the Z momentum")


@pytest.mark.parametrize(
    ("line", "replacement", "error_line", "message"),
    [
        (15, "23 1 1 2 0 0 0 0 0 200 200 0", 15, "13 fields, found 12"),
        (15, "23 1 1 2 0 0 0 abc 0 200 200 0 9", 15, "'abc' is not a number"),
        (15, "23 1.5 1 2 0 0 0 0 0 200 200 0 9", 15, "must be integers"),
        (12, "4 1 1.0 91.0 0.0078 0.118", 17, "declares NUP=4 but has only 3"),
        (12, "2 1 1.0 91.0 0.0078 0.118", 15, "declares NUP=2 but has more particle lines"),
        (12, "3 1 1.0 91.0 0.0078", 12, "6 fields"),
        (12, "x 1 1.0 91.0 0.0078 0.118", 12, "NUP must be an integer"),
        (17, '<rwgt><wgt id="w2"> 0.5 </wgt></rwgt>', 11, "weight id 'w2' is not among"),
        (17, '<rwgt><wgt id="w1"> half </wgt></rwgt>', 11, "'half' is not a number"),
        (19, "", 19, "truncated"),
        (9, "1.0 0.1 1.0", 7, "10 numbers plus 4 per process"),
        (1, "<html>", 1, "no <LesHouchesEvents> root tag"),
    ],
)
def test_malformed_file_names_the_line(tmp_path, line, replacement, error_line, message):
    lines = list(VALID_LINES)
    lines[line - 1] = replacement
    path = tmp_path / "bad.lhe"
    path.write_text("\n".join(lines) + "\n")
    expected = re.escape(f"{path}, line {error_line}: ") + ".*" + re.escape(message)
    with pytest.raises(ValueError, match=expected):
        read_lhe(path)


def test_file_without_init_is_refused(tmp_path):
    path = tmp_path / "empty.lhe"
    path.write_text('<LesHouchesEvents version="1.0">\n<!-- <init> in a comment -->\n</LesHouchesEvents>\n')
    with pytest.raises(ValueError, match=re.escape(f"{path}, line 3: no <init> block")):
        read_lhe(path)


# -- the Events pytree and RunInfo ----------------------------------------------------------


def test_from_momenta_defaults_and_jit():
    momenta = jax.random.normal(jax.random.key(1), (5, 4, 4))
    events = jax.jit(lambda p: Events.from_momenta(p, jnp.array([1, -1, 11, -11])))(momenta)
    assert len(events) == events.n_events == 5 and events.n_particles == 4
    assert_close(events.status[0], [-1, -1, 1, 1], what="status")
    assert_close(events.mothers[0], [[0, 0], [0, 0], [1, 2], [1, 2]], what="mothers")
    assert_close(events.helicity, np.full((5, 4), 9.0), what="helicity")
    assert_close(events.weight, np.ones(5), what="weight")
    m2 = momenta[..., 0] ** 2 - jnp.sum(momenta[..., 1:] ** 2, axis=-1)
    assert_close(events.mass, jnp.sign(m2) * jnp.sqrt(jnp.abs(m2)), rtol=1e-12, what="mass")
    decay = Events.from_momenta(momenta[:, :3], [6, 5, 24], n_incoming=1)
    assert_close(decay.mothers[0], [[0, 0], [1, 1], [1, 1]], what="decay mothers")
    total = jax.jit(lambda e: jnp.sum(e.weight * e.momenta[:, 2, 0]))(events)
    assert_close(total, jnp.sum(momenta[:, 2, 0]), rtol=1e-15, what="Events passes through jit")


def test_events_validation():
    momenta = np.ones((3, 4, 4))
    with pytest.raises(ValueError, match=r"momenta must have shape \(N, n, 4\)"):
        Events.from_momenta(np.ones((3, 4, 3)), [1, 2, 3, 4])
    with pytest.raises(ValueError, match="pdg_id must broadcast"):
        Events.from_momenta(momenta, [1, 2, 3])
    with pytest.raises(ValueError, match="weight_names"):
        Events.from_momenta(momenta, [1, 2, 3, 4], weight_names=["a"])
    events = Events.from_momenta(momenta, [1, 2, 3, 4], weights=np.ones((3, 2)), weight_names=["a", "b"])
    fields = {f: getattr(events, f) for f in ARRAY_FIELDS}
    with pytest.raises(ValueError, match=r"Events.mass must have shape \(3, 4\)"):
        Events(**{**fields, "mass": np.ones((3, 5))}, weight_names=events.weight_names)
    with pytest.raises(ValueError, match=r"Events.weights must have shape \(3, 1\)"):
        Events(**fields, weight_names=["a"])
    with pytest.raises(TypeError, match="pdg_id must be an integer array"):
        Events(**{**fields, "pdg_id": np.ones((3, 4))}, weight_names=events.weight_names)
    with pytest.raises(ValueError, match="distinct"):
        Events(**fields, weight_names=["a", "a"])


def test_indexing_padding_and_concatenation():
    a = random_events(7, 6, max_n=5)
    b = random_events(8, 4, max_n=7)
    with pytest.raises(TypeError, match=r"events\[i:i \+ 1\]"):
        a[0]
    assert_events_equal(a[np.array([1, 3])][1:], a[3:4])
    assert len(a[np.asarray(a.weight) > 0]) == int(np.sum(np.asarray(a.weight) > 0))
    joined = Events.concatenate([a, b])
    assert isinstance(joined.momenta, np.ndarray) and joined.n_particles == 7
    assert_events_equal(joined[6:], b)
    assert_events_equal(joined[:6], a.pad_particles(7))
    assert not np.asarray(joined.mask)[:6, 5:].any()
    with pytest.raises(ValueError, match="different weight names"):
        Events.concatenate([a, random_events(9, 2, weight_names=("x",))])
    with pytest.raises(ValueError, match="cannot pad"):
        b.pad_particles(3)


def test_run_info_validation():
    process = ProcessInfo(1, 2.0, 0.5, 3.0)
    with pytest.raises(ValueError, match="weighting_strategy"):
        RunInfo((2212, 2212), (1.0, 1.0), (0, 0), (0, 0), 5, [process])
    with pytest.raises(ValueError, match="distinct"):
        RunInfo((2212, 2212), (1.0, 1.0), (0, 0), (0, 0), 3, [process, process])
    with pytest.raises(ValueError, match="at least one process"):
        RunInfo((2212, 2212), (1.0, 1.0), (0, 0), (0, 0), 3, [])
    with pytest.raises(ValueError, match="pair"):
        RunInfo((2212,), (1.0, 1.0), (0, 0), (0, 0), 3, [process])
    assert_close(RUN_INFO.cross_section, 1.2345678901234567e3 + 3.0e-7, rtol=1e-15, what="total")
    assert RUN_INFO.process_ids == (1, 2)
