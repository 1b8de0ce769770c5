"""Networks by the names users have for them: RUN#TRIAL, RUN#DIGEST, a bare digest (of a backbone, or in
--run RUN), a spec file or a backbone name; everything that names nothing, or more than one, is one line."""
import optuna
import pytest

from nas.cli import main
from nas.search.config import SearchError
from nas.search.records import DIGEST, FAILURE, SPEC, STATUS
from nas.search.refs import RefError, resolve
from search_spaces import backbones
from search_spaces.errors import SpecError
from tests.test_export import make_run


@pytest.fixture
def run(tmp_path):
    run_dir = make_run(tmp_path / "run", [(0.6, "squeezenet1_1"), (0.7, "alexnet")])  # trials 0 and 1
    study = optuna.load_study(study_name="nas", storage=f"sqlite:///{run_dir / 'study.db'}")
    study.add_trial(optuna.trial.create_trial(state=optuna.trial.TrialState.FAIL, user_attrs={  # trial 2
        STATUS: "invalid", FAILURE: "groups do not divide the channels"}))
    for fake in ("abcdef01", "abcdef02"):  # trials 3 and 4: two digests sharing six digits
        spec = backbones.get("resnet18")
        study.add_trial(optuna.trial.create_trial(state=optuna.trial.TrialState.FAIL, user_attrs={
            SPEC: spec.to_json(None), DIGEST: fake + "0" * 56, STATUS: "over_budget"}))
    return run_dir


def test_a_trial_by_number_or_digest(run):
    ref = resolve(f"{run}#0")
    assert ref.spec == backbones.get("squeezenet1_1") and (ref.run_dir, ref.trial) == (run, 0)
    assert ref.label == f"trial0_{ref.spec.digest()[:12]}"
    digest = backbones.get("alexnet").digest()
    for prefix in (digest[:6], digest[:20].upper(), digest):
        ref = resolve(f"{run}#{prefix}")
        assert ref.spec == backbones.get("alexnet") and ref.trial == 1
    assert resolve(digest[:8], run=run).trial == 1  # a bare digest looked up in --run RUN
    assert resolve(f"{run}#3").spec == backbones.get("resnet18")  # any trial with a network, over budget too


@pytest.mark.parametrize("text,message", [
    ("{run}#9", r"has trials 0 to 4; there is no trial 9"),
    ("{run}#2", r"trial 2 of .* proposed no network \(status invalid: groups do not divide the channels\)"),
    ("{run}#abcdef", r"digest prefix abcdef is ambiguous in .*: abcdef0100000000 \(trial 3\), abcdef0200000000 "
                     r"\(trial 4\); type more of it"),
    ("{run}#123abc0", r"no network of .* has a digest starting 123abc0 \(5 trials"),
    ("{run}#abc", r"'abc' is neither a trial number nor a digest \(at least 6 hex digits\)"),
    ("{run}#zz1234", r"neither a trial number nor a digest"),
    ("#3", r"a trial of a search is RUN#TRIAL or RUN#DIGEST"),
])
def test_what_names_nothing_is_one_line(run, text, message):
    with pytest.raises(RefError, match=message):
        resolve(text.format(run=run))


def test_bare_digests_name_backbones_and_other_text_is_a_spec_file_or_name(tmp_path):
    digest = backbones.get("resnet18").digest()
    assert resolve(digest[:10]).spec == backbones.get("resnet18") and resolve(digest[:10]).label == "resnet18"
    with pytest.raises(RefError, match="no named backbone has a digest starting 000000; a digest of a search is "
                                       "RUN#DIGEST"):
        resolve("000000")
    with pytest.raises(SpecError, match="neither a spec JSON file nor a backbone name"):
        resolve("resnet_eighteen")
    with pytest.raises(SearchError, match="is not a search run directory"):
        resolve(f"{tmp_path / 'nowhere'}#3")
    path = tmp_path / "a#1.json"  # a file is a file, whatever its name holds
    path.write_text(backbones.get("resnet18").to_json())
    assert resolve(str(path)).spec == backbones.get("resnet18")


def test_count_and_sample_take_them(run, tmp_path, capsys):
    assert main(["count", f"{run}#1"]) == 0
    assert capsys.readouterr().out.startswith(f"{run}#1  (digest {backbones.get('alexnet').digest()[:12]}")
    assert main(["count", backbones.get("alexnet").digest()[:8], "--run", str(run)]) == 0
    assert "(digest " + backbones.get("alexnet").digest()[:12] in capsys.readouterr().out
    assert main(["count", f"{run}#9"]) == 2
    assert capsys.readouterr().err == f"nas count: error: {run} has trials 0 to 4; there is no trial 9\n"
    assert main(["sample", "--space", "mobile", "-n", "2", "--save", str(tmp_path / "specs")]) == 0
    digest = capsys.readouterr().out.splitlines()[2].split()[-1]
    assert main(["count", str(tmp_path / "specs" / f"{digest}.json")]) == 0
    assert f"(digest {digest[:12]}" in capsys.readouterr().out
