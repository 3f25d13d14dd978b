import numpy as np

import dialogue.features as features_module
from dialogue.acts import Act, DialogueAct, Slot, UserTurn
from dialogue.context import Conversation
from dialogue.features import Featurizer
from dialogue.prompts import PromptId, SystemPrompt
from recommender.history import HistoryProfile


def test_layout_is_documented(catalog):
    base = Featurizer(catalog.genre_names, "base").layout
    hist = Featurizer(catalog.genre_names, "history").layout
    assert base.size == base.n_base == 73
    assert hist.names[: base.size] == base.names and hist.size == 73 + 20 + len(catalog.genre_names)
    doc = features_module.__doc__
    for name in hist.names:
        stem = name.split("_<")[0]
        documented = stem in doc or any(name.startswith(p) for p in ("slot_", "asked_", "last_prompt_", "last_act_", "hist_genre_", "hist_energy_", "aff_"))
        assert documented, name
    assert len(set(hist.names)) == hist.size


def test_features_reflect_the_state(catalog):
    rng = np.random.default_rng(2)
    jazz = np.flatnonzero(catalog.primary_genre == catalog.genre_index["jazz"])
    profile = HistoryProfile(catalog, rng.choice(jazz, 60))
    conv = Conversation(catalog, profile=profile)
    feat = Featurizer(catalog.genre_names, "history")
    names = feat.layout.names
    f0 = feat(conv)
    assert f0.dtype == np.float32 and f0.min() >= -1 and f0.max() <= 1
    assert f0[names.index("turn_frac")] == 0 and f0[names.index("cand_frac")] == 1.0
    assert f0[names.index("hist_genre_jazz")] == 1.0 and f0[names.index("hist_entropy")] == 0.0
    conv.observe(SystemPrompt(PromptId.ASK_ENERGY), UserTurn((DialogueAct(Act.INFORM, Slot.ENERGY, "upbeat"),), sentiment=0.5, confidence=0.8))
    f1 = feat(conv)
    assert f1[names.index("turn_frac")] == 1 / 20
    assert f1[names.index("slot_energy_known")] == 1 and abs(f1[names.index("slot_energy_conf")] - 0.8) < 1e-6
    assert f1[names.index("last_prompt_ask_energy")] == 1 and f1[names.index("last_act_inform")] == 1
    assert f1[names.index("asked_ask_energy")] == 1 / 3 and abs(f1[names.index("sent_last")] - 0.5) < 1e-6
    upbeat = int(catalog.mask("energy", "upbeat").sum())
    assert abs(f1[names.index("cand_frac")] - upbeat / catalog.n) < 1e-6
    assert abs(f1[names.index("hist_in_candidates")] - np.mean(catalog.energy[profile.plays] == 2)) < 1e-6
    top = conv.view().ranking.indices[0]
    assert abs(f1[names.index("aff_play_sample")] - profile.affinity(np.array([top]))[0]) < 1e-6
    base = Featurizer(catalog.genre_names, "base")(conv)
    assert np.array_equal(base, f1[:73])
