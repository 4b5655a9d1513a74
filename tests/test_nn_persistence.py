"""Model files: bit-exact round trips, atomic saves, and loads that trust nothing."""

import json
import math
import os
import pickle
import stat

import pytest
from chainrule.engine import Value
from chainrule.nn import (
    MLP,
    SGD,
    Activation,
    Dropout,
    Layer,
    Maxout,
    ModelFormatError,
    Module,
    Neuron,
    Sequential,
    load,
    persistence,
    save,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


def bits(model):
    return [(name, p.data.hex()) for name, p in model.named_parameters()]


@pytest.fixture
def saved(tmp_path):
    """A saved MLP(2 -> [3, 1]) and its path."""
    model = MLP(2, [3, 1], seed=0)
    path = tmp_path / "model.json"
    model.save(path)
    return model, path


def document(path):
    return json.loads(path.read_text())


def write_doc(path, doc):
    path.write_text(json.dumps(doc))
    return path


# -- round trips ---------------------------------------------------------------------------------

def test_round_trip_is_bit_exact(tmp_path):
    model = MLP(2, [4, 1], activation="tanh", output_activation="sigmoid", seed=0)
    tricky = [0.1 + 0.2, -0.0, 5e-324, 1e308, -1.0000000000000002, 1 / 3]
    for p, v in zip(model.parameters(), tricky):
        p.data = v
    path = tmp_path / "m.json"
    model.save(path)
    again = load(path)
    assert bits(again) == bits(model)
    assert repr(again) == repr(model)
    x = [0.3, -0.7]
    assert again(x).data == model(x).data


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=13, max_size=13))
def test_any_finite_floats_round_trip_bit_exactly(tmp_path, numbers):
    model = MLP(2, [3, 1], seed=0)
    model.load_state_dict(dict(zip(model.state_dict(), numbers)))
    path = tmp_path / "h.json"
    model.save(path)
    assert bits(load(path)) == bits(model)


@pytest.mark.parametrize(
    "model",
    [
        Neuron(3, "sigmoid", seed=0),
        Layer(2, 3, Activation("leaky_relu", alpha=0.1), seed=0),
        MLP(2, [5, 4, 2], Activation("elu", alpha=0.5), "tanh", seed=0),
        Maxout(2, 3, pieces=3, seed=0),
        Sequential(Layer(2, 4, seed=0), Dropout(0.25, seed=7), Maxout(4, 2, seed=1),
                   Sequential(Layer(2, 1, "linear", seed=2))),
    ],
    ids=["neuron", "layer", "mlp", "maxout", "sequential"],
)
def test_every_module_type_is_rebuilt(tmp_path, model):
    path = tmp_path / "m.json"
    model.save(path)
    again = load(path)
    assert type(again) is type(model) and repr(again) == repr(model)
    assert again.architecture() == model.architecture()
    assert bits(again) == bits(model)


def test_the_file_is_tagged_versioned_json(saved):
    model, path = saved
    doc = document(path)
    assert list(doc) == ["format", "version", "architecture", "parameters"]
    assert doc["format"] == "chainrule.model" and doc["version"] == 1
    assert doc["architecture"] == {"type": "MLP", "nin": 2, "nouts": [3, 1],
                                   "activation": "relu", "output_activation": "linear"}
    assert doc["parameters"] == model.state_dict()


def test_loading_into_a_model_updates_data_in_place_and_keeps_optimizer_state(saved, tmp_path):
    source, path = saved
    target = MLP(2, [3, 1], seed=5)
    params = target.parameters()
    opt = SGD(target, lr=0.1, momentum=0.9)
    target([1.0, 2.0]).backward()
    opt.step()
    buf = opt.state["momentum_buffer"].copy()
    assert load(path, into=target) is target
    assert target.parameters() == params and opt.params == params
    assert target.state_dict() == source.state_dict()
    opt.zero_grad()
    target([1.0, 2.0]).backward()
    grads = [p.grad for p in params]
    before = [p.data for p in params]
    opt.step()  # uses the old momentum buffer on the loaded values
    for p, x0, b, g in zip(params, before, buf, grads):
        assert p.data == pytest.approx(x0 - 0.1 * (0.9 * b + g), rel=1e-12, abs=1e-15)


def test_custom_modules_save_and_load_into_an_instance(tmp_path):
    class Affine(Module):
        def __init__(self):
            self.w = Value(2.0)
            self.b = Value(-1.0)

        def __call__(self, x):
            return self.w * x + self.b

    path = tmp_path / "affine.json"
    Affine().save(path)
    assert document(path)["architecture"] == {"type": "custom", "class": "Affine"}
    with pytest.raises(ModelFormatError,
                       match=r"custom model \(Affine\) .* load\(path, into=model\)"):
        load(path)
    other = Affine()
    other.w.data = 0.0
    load(path, into=other)
    assert other.w.data == 2.0


def test_module_save_and_function_save_agree(tmp_path):
    model = MLP(2, [3, 1], seed=0)
    model.save(tmp_path / "a.json")
    save(model, tmp_path / "b.json")
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    with pytest.raises(TypeError, match="save needs a Module, got dict"):
        save({}, tmp_path / "c.json")


# -- atomic saving ------------------------------------------------------------------------------

@pytest.mark.parametrize("where", ["write", "fsync", "replace"])
def test_a_crash_mid_save_leaves_the_old_file_and_no_temp_file(saved, monkeypatch, where):
    model, path = saved
    old = path.read_bytes()

    class CrashError(Exception):
        pass

    def boom(*args, **kwargs):
        raise CrashError(where)

    if where == "write":
        real_fdopen = os.fdopen

        def fdopen(fd, *args, **kwargs):
            f = real_fdopen(fd, *args, **kwargs)

            class HalfWriter:
                def __enter__(self):
                    return self

                def __exit__(self, *exc):
                    f.close()

                def write(self, data):
                    f.write(data[: len(data) // 2])
                    f.flush()
                    raise CrashError("disk full")

                def __getattr__(self, name):
                    return getattr(f, name)

            return HalfWriter()

        monkeypatch.setattr(persistence.os, "fdopen", fdopen)
    else:
        monkeypatch.setattr(persistence.os, where, boom)
    for p in model.parameters():
        p.data += 1.0
    with pytest.raises(CrashError):
        model.save(path)
    monkeypatch.undo()
    assert path.read_bytes() == old
    assert sorted(os.listdir(path.parent)) == ["model.json"]


def test_a_keyboard_interrupt_mid_save_cleans_up_too(saved, monkeypatch):
    model, path = saved
    old = path.read_bytes()

    def interrupt(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(persistence.os, "fsync", interrupt)
    with pytest.raises(KeyboardInterrupt):
        model.save(path)
    monkeypatch.undo()
    assert path.read_bytes() == old and os.listdir(path.parent) == ["model.json"]


def test_file_modes(saved):
    model, path = saved
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    path.chmod(0o600)
    model.save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_saving_into_a_missing_directory_fails_cleanly(tmp_path):
    with pytest.raises(FileNotFoundError):
        MLP(2, [1], seed=0).save(tmp_path / "no" / "such" / "m.json")


# -- non-finite parameters ------------------------------------------------------------------------

def test_non_finite_parameters_are_not_saved_unless_allowed(tmp_path):
    model = MLP(2, [2, 1], seed=0)
    model.layers[1].neurons[0].b.data = math.nan
    path = tmp_path / "nan.json"
    with pytest.raises(ValueError, match=r"refusing to save .*nan.json: parameter "
                                         r"'layers.1.neurons.0.b' is nan"):
        model.save(path)
    assert not path.exists()
    model.save(path, allow_nonfinite=True)
    assert "NaN" in path.read_text()
    with pytest.raises(ModelFormatError, match=r"NaN is not allowed"):
        load(path)
    again = load(path, allow_nonfinite=True)
    assert math.isnan(again.layers[1].neurons[0].b.data)


# -- corrupt and malicious files ------------------------------------------------------------------

class Payload:
    """Unpickling this would create a file: the loader must never do it."""

    marker = None

    def __reduce__(self):
        return (open, (str(Payload.marker), "w"))


def test_a_pickle_is_rejected_without_running_it(tmp_path):
    Payload.marker = tmp_path / "pwned"
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(Payload()))
    with pytest.raises(ModelFormatError, match=r"model.pkl: this is a Python pickle"):
        load(path)
    assert not Payload.marker.exists()
    path.write_bytes(pickle.dumps({"format": "chainrule.model"}, protocol=0))  # ASCII pickle
    with pytest.raises(ModelFormatError, match="not valid JSON"):
        load(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b"  \n", "the file is empty"),
        (b"\xff\xfe{}", r"not UTF-8 text \(byte 0xff at offset 0\)"),
        (b"hello", "not valid JSON"),
        (b"[1, 2]", "the top level must be a JSON object, got list"),
        (b"{}", r"not a chainrule model file \(format tag None"),
        (b'{"format": "keras"}', r"not a chainrule model file \(format tag 'keras'"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"format": "chainrule.model", "format": "x"}', "duplicate key 'format'"),
    ],
)
def test_unreadable_files(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(ModelFormatError, match=message) as info:
        load(path)
    assert str(info.value).startswith(str(path) + ": ")
    assert info.value.path == str(path) and isinstance(info.value, ValueError)


def test_a_truncated_file(saved):
    _, path = saved
    text = path.read_bytes()
    path.write_bytes(text[: len(text) // 2])
    with pytest.raises(ModelFormatError, match=r"ends too early \(truncated file\?\)"):
        load(path)


def test_a_file_cut_inside_a_string_reads_as_one_sentence(tmp_path):
    path = tmp_path / "cut.json"
    path.write_bytes(b'{"format": "chainrule.mo')
    with pytest.raises(ModelFormatError) as info:
        load(path)
    assert str(info.value).endswith("cut.json: the JSON ends too early (truncated file?): "
                                    "Unterminated string starting at line 1 column 12")


def test_a_null_parameter_is_named_once(saved):
    _, path = saved
    _mutate(path, lambda d: d["parameters"].update({_first(d): None}))
    with pytest.raises(ModelFormatError) as info:
        load(path)
    assert str(info.value).endswith("must be a number, got null")


def test_an_oversize_file_is_refused_before_reading(saved):
    _, path = saved
    with pytest.raises(ModelFormatError, match="more than the limit of 100"):
        load(path, max_bytes=100)
    with pytest.raises(ValueError, match="max_bytes must be a positive int"):
        load(path, max_bytes=0)


def _mutate(path, change):
    doc = document(path)
    change(doc)
    return write_doc(path, doc)


def _first(doc):
    return next(iter(doc["parameters"]))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(version=2),
         r"unsupported version 2 \(this chainrule reads version 1\)"),
        (lambda d: d.update(version="1"), "version must be an integer, got str '1'"),
        (lambda d: d.update(version=True), "version must be an integer, got bool True"),
        (lambda d: d.update(extra=1), "unexpected key.*'extra'"),
        (lambda d: d.pop("parameters"), "missing 'parameters'"),
        (lambda d: d.update(parameters=[0.5]), "parameters must be an object"),
        (lambda d: d["parameters"].update({_first(d): "0.5"}), "must be a number, got str"),
        (lambda d: d["parameters"].update({_first(d): True}), "must be a number, got bool"),
        (lambda d: d["parameters"].update({_first(d): None}), "must be a number, got null"),
        (lambda d: d["parameters"].update({_first(d): [0.5]}), "must be a number, got list"),
        (lambda d: d["parameters"].update({_first(d): {"v": 0.5}}), "must be a number, got object"),
        (lambda d: d["parameters"].pop(_first(d)), "has 13 parameters, the file lists 12"),
        (lambda d: d["parameters"].update({"layers.7.neurons.0.b": 0.0}),
         "has 13 parameters, the file lists 14"),
        (lambda d: d.update(parameters={("x" + k): v for k, v in d["parameters"].items()}),
         r"do not match the architecture: expected 13 parameters, found 13; missing: "),
        (lambda d: d["architecture"].update(nin=True),
         r"architecture.nin must be an integer, got bool"),
        (lambda d: d["architecture"].update(nin=0), r"architecture.nin must be between 1 and"),
        (lambda d: d["architecture"].update(nin=2.0),
         r"architecture.nin must be an integer, got float"),
        (lambda d: d["architecture"].update(nouts="31"), "nouts must be a non-empty list"),
        (lambda d: d["architecture"].update(nouts=[3, "1"]), r"nouts\[1\] must be an integer"),
        (lambda d: d["architecture"].update(nouts=[10**6, 10**6]),
         "has 1000004000000 parameters, the file lists 13"),
        (lambda d: d["architecture"].update(activation="rleu"), "unknown activation 'rleu'"),
        (lambda d: d["architecture"].update(activation={"name": "elu", "alpha": "1"}),
         "alpha must be a number, got str"),
        (lambda d: d["architecture"].update(type="Transformer"), "type must be one of"),
        (lambda d: d["architecture"].update(depth=3), "unexpected key.*'depth'"),
        (lambda d: d["architecture"].pop("output_activation"), "missing 'output_activation'"),
    ],
)
def test_malformed_documents(saved, change, message):
    _, path = saved
    _mutate(path, change)
    with pytest.raises(ModelFormatError, match=message):
        load(path)


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity", "1e999", "-1e400"])
def test_non_finite_numbers_in_the_file(saved, token):
    _, path = saved
    text = path.read_text()
    name = next(iter(document(path)["parameters"]))
    start = text.index(f'"{name}": ') + len(name) + 4
    end = text.index(",", start)
    path.write_text(text[:start] + token + text[end:])
    with pytest.raises(ModelFormatError, match=r"not allowed|overflows a float"):
        load(path)


def test_duplicate_parameter_names_and_huge_integers(saved):
    _, path = saved
    text = path.read_text()
    name = next(iter(document(path)["parameters"]))
    path.write_text(text.replace(f'"{name}": ', f'"{name}": 1.0, "{name}": ', 1))
    with pytest.raises(ModelFormatError, match=f"duplicate key '{name}'"):
        load(path)
    path.write_text(text.replace('"version": 1', '"version": 1' + "0" * 5000))
    with pytest.raises(ModelFormatError, match="integer of 5001 digits is too large"):
        load(path)


def test_deeply_nested_sequentials_are_refused(tmp_path):
    arch = {"type": "Layer", "nin": 1, "nout": 1, "activation": "relu"}
    for _ in range(20):
        arch = {"type": "Sequential", "layers": [arch]}
    path = write_doc(tmp_path / "deep.json", {"format": "chainrule.model", "version": 1,
                                              "architecture": arch, "parameters": {}})
    with pytest.raises(ModelFormatError, match="nested more than 16 deep"):
        load(path)


def test_architecture_mismatch_lists_expected_and_found(saved):
    _, path = saved
    target = MLP(2, [4, 1], seed=0)
    before = target.state_dict()
    with pytest.raises(ModelFormatError, match=(r"architecture mismatch: the model is "
                                                r"\{.*\"nouts\":\[4,1\].*\}, the file has "
                                                r"\{.*\"nouts\":\[3,1\].*\}")):
        load(path, into=target)
    assert target.state_dict() == before


def test_nothing_is_assigned_unless_everything_is_valid(saved):
    _, path = saved
    target = MLP(2, [3, 1], seed=9)
    before = target.state_dict()

    def break_last(doc):
        last = list(doc["parameters"])[-1]
        doc["parameters"][last] = "oops"

    _mutate(path, break_last)
    with pytest.raises(ModelFormatError, match="must be a number, got str 'oops'"):
        load(path, into=target)
    assert target.state_dict() == before


def test_missing_file_and_bad_into(tmp_path, saved):
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "missing.json")
    with pytest.raises(TypeError, match=r"load\(into=...\) needs a Module, got int"):
        load(saved[1], into=3)
