"""The pipeline's funnel logic on a scripted chat client (milliseconds, deterministic).

A real-server test can only assert what the pipeline does with whatever a small model says; here the model's
words are fixed, so each guard and check is asserted to fire on exactly the answer it exists for.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from clinqa_synth.documents.model import Document, Section
from clinqa_synth.llm.protocol import Completion, Usage
from clinqa_synth.methods import load_method
from clinqa_synth.pipeline.prompts import PromptSet
from clinqa_synth.pipeline.steps import process_document

REPORT = Section(
    "report",
    "FINDINGS: Abnormal signal in the medial meniscus. Mild degenerative changes in the right "
    "knee joint. No joint effusion. Comparison: None.",
)
IMPRESSION = Section("impression", "IMPRESSION: Meniscal tear. Right knee osteoarthritis.")
QUESTIONS = [
    "What does the medial meniscus show?",  # 1 exact span
    "what does medial meniscus show?",  # 2 near-duplicate of 1: dropped before answering
    "What is the patient's name?",  # 3 identity question: dropped before answering
    "Is the meniscus normal?",  # 4 "normal" only inside "Abnormal": refused
    "Which knee has degenerative changes?",  # 5 fuzzy answer with the wrong side: refused
    "What was the prior study?",  # 6 "None" is a verbatim quote: answerable
    "What is the degenerative changes about?",  # 7 echo answer: dropped
    "Is there a fracture?",  # 8 Unanswerable
]
# the answers call sees the 6 questions left after the pre-answer checks, numbered 1..6
ANSWERS = {
    "report": [
        "Abnormal signal",
        "normal",
        "mild degenerative changes in the left knee joint",
        "None",
        "degenerative changes",
        "Unanswerable",
    ],
    "impression": ["Unanswerable", "Unanswerable", "Unanswerable", "Unanswerable", "Unanswerable", "Meniscal tear"],
}


# the verifier's answers (one question per call), by (section, question); absent: "Unanswerable"
VERIFIER = {
    ("report", QUESTIONS[0]): "Abnormal signal in the medial meniscus",  # overlaps the first span: agrees
    ("report", QUESTIONS[5]): "None",  # the verbatim "None" again: agrees
    ("impression", QUESTIONS[0]): "Meniscal tear",  # the pair says unanswerable, the verifier quotes: dropped
    # ("impression", QUESTIONS[7]) -> Unanswerable, but the pair quoted "Meniscal tear": dropped
}


class ScriptedChat:
    """A ChatClient that answers by what the prompt asks for (the project's own chat protocol)."""

    model_id = "scripted"

    def __init__(self) -> None:
        self.prompts: list[str] = []

    async def chat(self, messages: list, **params: Any) -> Completion:
        prompt = messages[0]["content"]
        self.prompts.append(prompt)
        section = "impression" if "IMPRESSION:" in prompt.split("---")[0] else "report"
        if "numbered list" in prompt:
            text = "\n".join(f"{i}. {q}" for i, q in enumerate(QUESTIONS, 1))
        elif "Reply with the quotation only" in prompt:
            question = prompt.split("Question: ", 1)[1].split("\n", 1)[0]
            text = VERIFIER.get((section, question), "Unanswerable")
        else:
            text = json.dumps({"answers": [{"number": i, "answer": a} for i, a in enumerate(ANSWERS[section], 1)]})
        return Completion(text, "stop", Usage(10, 10))


def process_knee(chat: ScriptedChat, method: Any, report: Section = REPORT) -> Any:
    """One knee report (`report` and the impression) through the pipeline on the scripted chat."""
    document = Document("knee", "radiology", (report, IMPRESSION))
    return asyncio.run(
        process_document(chat, document, method, PromptSet("radiology"), question_temperature=0.0, model_id="s")
    )


def run(method_name: str = "direct") -> tuple[Any, ScriptedChat]:
    chat = ScriptedChat()
    document = Document("knee", "radiology", (REPORT, IMPRESSION))
    method = load_method(method_name).model_copy(
        update={"radiology": load_method(method_name).radiology.model_copy(update={"num_questions": 8, "keep": 8})}
    )
    result = asyncio.run(
        process_document(chat, document, method, PromptSet("radiology"), question_temperature=0.0, model_id="scripted")
    )
    return result, chat


def test_every_check_fires_on_the_answer_it_exists_for() -> None:
    result, chat = run()
    assert result.error is None
    answers_prompt = next(p for p in chat.prompts if "Questions:" in p)
    assert "patient's name" not in answers_prompt and answers_prompt.count("What does the medial meniscus") == 1
    drops = {k: v for k, v in result.drops.items() if v}
    assert drops == {
        "near_duplicate": 2,
        "identity_question": 2,
        "refused_part_of_word": 1,
        "refused_laterality": 1,
        "echo_answer": 1,  # per section for the pre-answer drops
        "verify_answerable": 1,
        "verify_unanswerable": 1,
    }
    kept = {(r["section"], r["question"]): r for r in result.records}
    exact = kept[("report", QUESTIONS[0])]
    assert exact["answers"]["text"] == ["Abnormal signal"] and not exact["is_impossible"]
    none_quote = kept[("report", QUESTIONS[5])]
    assert none_quote["answers"]["text"] == ["None"] and none_quote["context"][
        none_quote["answers"]["answer_start"][0] :
    ].startswith("None")
    assert kept[("report", QUESTIONS[7])]["is_impossible"]
    assert ("impression", QUESTIONS[7]) not in kept and ("impression", QUESTIONS[0]) not in kept
    assert all(r["verified"] for r in result.records)
    assert kept[("report", QUESTIONS[0])]["verifier_answer"] == "Abnormal signal in the medial meniscus"
    # the funnel adds up: per section, parsed = dropped before answering + answered; answered = placed + dropped after
    funnel = result.funnel
    assert funnel["parsed"] == 2 * len(QUESTIONS)
    assert funnel["answered"] == funnel["parsed"] - drops["near_duplicate"] - drops["identity_question"]
    after = sum(drops.get(k, 0) for k in ("refused_part_of_word", "refused_laterality", "echo_answer"))
    assert funnel["placed"] == funnel["answered"] - after
    assert funnel["verified"] == funnel["placed"] - drops["verify_answerable"] - drops["verify_unanswerable"]
    assert len(result.records) == funnel["kept"] == funnel["verified"] == 7
    for record in result.records:
        assert 0.0 <= record["question_source_overlap"] <= 1.0
    # how the answers came back, before any check: the echo and the verbatim "None" are spans as written; the
    # part-of-word and wrong-side answers are not (the refused placements); 6 "Unanswerable"
    assert dict(result.answers_as_written) == {"span": 4, "unanswerable": 6, "not_a_span": 2}
    assert sum(result.answers_as_written.values()) == funnel["answered"]


def test_the_papers_pipeline_is_reachable_without_the_checks(tmp_path) -> None:
    (tmp_path / "plain.yaml").write_text("description: paper pipeline\nanswer_checks: false\nverify: false\n")
    from clinqa_synth.methods import load_method as load

    method = load("plain", tmp_path)
    assert method.answer_checks is False
    chat = ScriptedChat()
    document = Document("knee", "radiology", (REPORT, IMPRESSION))
    result = asyncio.run(
        process_document(
            chat,
            document,
            method.model_copy(
                update={"radiology": method.radiology.model_copy(update={"num_questions": 8, "keep": 8})}
            ),
            PromptSet("radiology"),
            question_temperature=0.0,
            model_id="s",
        )
    )
    assert not result.drops.get("near_duplicate") and not result.drops.get("echo_answer")
    assert not any(k.startswith("verify") for k in result.drops) and not any("Question: " in p for p in chat.prompts)
    # the safety guards are not optional: a flipped side or a part-of-word span is never placed
    assert result.drops["refused_laterality"] == 1 and result.drops["refused_part_of_word"] == 1


class HardeningChat(ScriptedChat):
    """ScriptedChat plus the harden step: rewrites by question, and a verifier that knows the rewrites."""

    REWRITES = {
        QUESTIONS[0]: "Which abnormality appears in the cartilage pad of the inner knee?",  # same meaning: verifies
        QUESTIONS[5]: "Which earlier imaging was used as a reference?",  # the verifier finds nothing: falls back
    }

    def __init__(self) -> None:
        super().__init__()
        self.harden_prompts: list[str] = []

    async def chat(self, messages: list, **params: Any) -> Completion:
        prompt = messages[0]["content"]
        if "Rewrite it so that" in prompt:
            self.harden_prompts.append(prompt)
            question = prompt.split(":\n\n", 1)[1].split("\n", 1)[0]
            return Completion(self.REWRITES.get(question, "Sorry, I cannot rephrase that."), "stop", Usage(10, 10))
        rewrite = self.REWRITES.get(QUESTIONS[0])  # None when a test swaps the questions
        if "Reply with the quotation only" in prompt and rewrite and rewrite in prompt:
            self.prompts.append(prompt)
            return Completion("Abnormal signal in the medial meniscus", "stop", Usage(10, 10))
        return await super().chat(messages, **params)


def test_hardening_keeps_a_rewrite_only_when_the_verifier_lands_on_the_same_span(tmp_path) -> None:
    (tmp_path / "hard.yaml").write_text(
        "description: hardened direct\nharden: true\nmax_overlap: 0.25\nharden_rounds: 1\n"
    )
    method = load_method("hard", tmp_path)
    method = method.model_copy(
        update={"radiology": method.radiology.model_copy(update={"num_questions": 8, "keep": 8})}
    )
    chat = HardeningChat()
    document = Document("knee", "radiology", (REPORT, IMPRESSION))
    result = asyncio.run(
        process_document(chat, document, method, PromptSet("radiology"), question_temperature=0.0, model_id="scripted")
    )
    kept = {(r["section"], r.get("original_question") or r["question"]): r for r in result.records}
    hard = kept[("report", QUESTIONS[0])]
    assert hard["question"] == HardeningChat.REWRITES[QUESTIONS[0]] and hard["original_question"] == QUESTIONS[0]
    assert hard["answers"]["text"] == ["Abnormal signal"] and hard["harden_rounds"] == 1
    assert hard["question_context_overlap"] < 0.25 and hard["id"] != kept[("report", QUESTIONS[5])]["id"]
    fallback = kept[("report", QUESTIONS[5])]
    assert fallback["question"] == QUESTIONS[5] and fallback["original_question"] == ""
    # the words to avoid are the question's own words found in the document, never side/negation/numbers
    first = next(p for p in chat.harden_prompts if QUESTIONS[0] in p)
    assert "none of these words: medial, meniscus." in first
    assert result.hardening["kept_hardened"] == 1 and result.hardening["fell_back"] >= 1
    assert sum(1 for p in chat.harden_prompts if QUESTIONS[0] in p) == 1, "one rewrite per question per document"
    assert all(r["verified"] for r in result.records)


def test_hardening_words_to_avoid_keep_side_negation_and_numbers() -> None:
    from clinqa_synth.pipeline.hardening import parse_rewrite, reused_words

    text = "Left knee: 5 mm effusion in March. No fracture of the left tibia."
    assert reused_words("Is there no fracture of the left tibia in March, 5 mm?", text) == ["fracture", "tibia"]
    assert parse_rewrite('1. "Is the shin bone broken?"\n') == "Is the shin bone broken?"
    assert parse_rewrite("Here is the rewritten question:\nIs the shin bone broken?") is None
    assert parse_rewrite("Broken?") is None


def test_the_unanswerable_share_is_capped_per_section(tmp_path) -> None:
    (tmp_path / "capped.yaml").write_text("description: capped\nmax_unanswerable_share: 0.0\n")
    method = load_method("capped", tmp_path)
    method = method.model_copy(
        update={"radiology": method.radiology.model_copy(update={"num_questions": 8, "keep": 8})}
    )
    result = asyncio.run(
        process_document(
            ScriptedChat(),
            Document("knee", "radiology", (REPORT, IMPRESSION)),
            method,
            PromptSet("radiology"),
            question_temperature=0.0,
            model_id="s",
        )
    )
    assert result.records and not any(r["is_impossible"] for r in result.records)
    assert result.drops["over_unanswerable_share"] >= 1


def test_hardening_without_verification_is_refused(tmp_path) -> None:
    import pytest

    from clinqa_synth.methods import MethodError

    (tmp_path / "unchecked.yaml").write_text("description: x\nharden: true\nmax_overlap: 0.2\nverify: false\n")
    with pytest.raises(MethodError, match="harden: true needs verify: true"):
        load_method("unchecked", tmp_path)


def test_a_rewrite_about_another_body_part_is_not_used() -> None:
    from clinqa_synth.pipeline.hardening import drifted_anatomy

    thyroid = "Right lobe 5.1 cm. Left lobe 4.6 cm. A 7 mm left spongiform nodule."
    # from the benchmark (docs/benchmarks.md §8): both were kept by the verifier before this guard
    assert drifted_anatomy(
        "What is the size and shape of the left lung?",
        "What is the size and shape of the left spongiform nodule?",
        thyroid,
    ) == {"lung"}
    assert drifted_anatomy(
        "What is the significance of the fluid around the lungs?",
        "What is the significance of the joint effusion?",
        "Small joint effusion of the knee.",
    )
    assert not drifted_anatomy(
        "How big is the spongy growth on the left?", "What is the size of the left spongiform nodule?", thyroid
    )


def test_a_rewrite_about_another_organism_is_not_used() -> None:
    """Read on COVID-QA (sitting 7): "…promotes inflammation in bats?" was rewritten "…in mice?" and kept."""
    from clinqa_synth.pipeline.hardening import drifted_organism

    passage = "Now, Brook et al. have studied this exact question using bat cells grown in the laboratory."
    original = "How did Brook et al. determine that the loss of certain genes promotes inflammation in bats?"
    assert drifted_organism(
        "Why did the group conclude that the loss of some genes contributes to inflammation in mice?", original, passage
    ) == {"mice"}
    assert not drifted_organism("How did the team show that losing some genes inflames bat tissue?", original, passage)
    # only whole words and their plurals: "batch", "catch" and "ticket" name no bat, cat or tick
    assert not drifted_organism("Was the batch caught in a catch or a ticket?", original, passage)
    # conservative: a broader word the document does not use counts as drift too (the easy question is kept)
    assert drifted_organism("What did the group find in the animals?", "What was found?", "Camels and bats.") == {
        "animal"
    }


def test_an_unanswerable_verdict_on_a_finding_the_section_negates_is_dropped_before_verification() -> None:
    # the same script, but the report now says "No fracture": its "Unanswerable" to "Is there a fracture?" is wrong
    report = Section("report", REPORT.text + " No fracture.")
    chat = ScriptedChat()
    method = load_method("direct")
    method = method.model_copy(
        update={"radiology": method.radiology.model_copy(update={"num_questions": 8, "keep": 8})}
    )
    result = process_knee(chat, method, report)
    kept = {(r["section"], r["question"]) for r in result.records}
    assert result.drops["mentioned_unanswerable"] == 1
    assert ("report", QUESTIONS[7]) not in kept
    assert ("report", QUESTIONS[5]) in kept, "the other unanswerable-looking pairs are untouched"
    verified = [p for p in chat.prompts if "Reply with the quotation only" in p and "No fracture." in p]
    assert verified and not any(f"Question: {QUESTIONS[7]}" in p for p in verified), "the dropped pair cost no call"


def test_a_rewrite_that_changes_side_negation_or_number_is_not_used() -> None:
    from clinqa_synth.pipeline.hardening import drifted_meaning

    # seen on COVID-QA passages with the 1.5B model: the rewrite invented a side
    assert (
        drifted_meaning(
            "Which technique was applied to analyze the tissue on the left side?",
            "What was the flow cytometry method used to analyze hepatocytes?",
        )
        == "laterality"
    )
    assert drifted_meaning("Is the effusion present?", "Is there no effusion?") == "negation"
    assert drifted_meaning("How big is the 5 mm nodule?", "What is the size of the 7 mm nodule?") == "number"
    # same meaning in other words: used
    assert drifted_meaning("Which cases did not report exposure?", "Which cases reported no exposure?") is None
    assert drifted_meaning("What appears in the inner knee's cartilage?", "What does the medial meniscus show?") is None


def test_a_quote_of_the_wrong_sentence_is_dropped_and_kept_for_review(monkeypatch) -> None:
    """ "What does the medial meniscus show?" answered with the knee-joint sentence: another sentence names the
    meniscus, so the pair is `outranked_answer`, costs no verification call, and lands in the dropped pairs."""
    wrong = "Mild degenerative changes in the right knee joint"
    monkeypatch.setitem(ANSWERS, "report", [wrong, *ANSWERS["report"][1:]])
    chat = ScriptedChat()
    result = process_knee(chat, load_method("direct"), REPORT)
    assert result.drops["outranked_answer"] == 1
    [dropped] = [r for r in result.rejected if r["drop_reason"] == "outranked_answer"]
    assert dropped["question"] == QUESTIONS[0] and dropped["answers"]["text"] == [wrong]
    assert ("report", QUESTIONS[0]) not in {(r["section"], r["question"]) for r in result.records}
    asked_again = [p for p in chat.prompts if "Reply with the quotation only" in p and "Abnormal signal" in p]
    assert not any(f"Question: {QUESTIONS[0]}" in p for p in asked_again), "the dropped pair cost no call"


def test_a_span_kept_for_three_questions_of_a_section_answers_none_of_them(monkeypatch) -> None:
    """The model quoting one sentence for everything (0 of 27 such pairs right in the labelled audits): all three
    go as `shared_answer` and into the dropped pairs; a fourth question with that span costs no verification."""
    sentence = "Abnormal signal in the medial meniscus"
    questions = [
        "What does the medial meniscus show?",
        "Where is the abnormal signal located?",
        "Which structure shows the abnormal signal?",
        "What abnormality is seen in the medial meniscus?",
        "Is there a joint effusion?",
    ]
    monkeypatch.setattr(sys.modules[__name__], "QUESTIONS", questions)
    monkeypatch.setitem(ANSWERS, "report", [sentence] * 4 + ["No joint effusion"])
    monkeypatch.setitem(ANSWERS, "impression", ["Unanswerable"] * 5)
    for question in questions[:4]:
        monkeypatch.setitem(VERIFIER, ("report", question), sentence)
    monkeypatch.setitem(VERIFIER, ("report", questions[4]), "No joint effusion")
    chat = ScriptedChat()
    method = load_method("direct")
    method = method.model_copy(update={"radiology": method.radiology.model_copy(update={"keep": 5})})
    result = process_knee(chat, method, REPORT)
    kept = [(r["question"], r["answers"]["text"]) for r in result.records if r["section"] == "report"]
    assert kept == [(questions[4], ["No joint effusion"])]
    assert result.drops["shared_answer"] == 4
    assert {r["question"] for r in result.rejected if r["drop_reason"] == "shared_answer"} == set(questions[:4])
    verified = [p for p in chat.prompts if "Reply with the quotation only" in p and "FINDINGS:" in p]
    assert not any(f"Question: {questions[3]}" in p for p in verified), "a burnt span costs no more calls"


class TimedChat(ScriptedChat):
    """ScriptedChat whose calls report a prompt size and a server time, as a real server's would."""

    async def chat(self, messages: list, **params: Any) -> Completion:
        reply = await super().chat(messages, **params)
        return Completion(reply.text, "stop", Usage(len(messages[0]["content"]), 7), latency_s=0.5)


def test_every_call_is_costed_under_its_step() -> None:
    """Issue 17 asks where a kept pair's price goes: each call's prompt tokens, completion tokens and server time
    land under the step that made it, so a bench can divide them by the kept pairs."""
    chat = TimedChat()
    result = process_knee(chat, load_method("direct"), REPORT)
    costs = result.costs
    verify_prompts = [p for p in chat.prompts if "Reply with the quotation only" in p]
    assert dict(costs.calls) == {"questions": 1, "answers": 2, "verify": len(verify_prompts)} and verify_prompts
    assert sum(costs.calls.values()) == len(chat.prompts)
    assert costs.prompt_tokens["verify"] == sum(len(p) for p in verify_prompts)
    assert all(costs.completion_tokens[step] == 7 * n for step, n in costs.calls.items())
    assert costs.as_json()["latency_s_by_step"] == {step: 0.5 * n for step, n in costs.calls.items()}
    assert not any(costs.cache_hits.values())


class OrderedHardeningChat(HardeningChat):
    """HardeningChat that logs each call's step, in the order the server would see them."""

    def __init__(self) -> None:
        super().__init__()
        self.steps: list[tuple[str, str]] = []  # (step, question)

    async def chat(self, messages: list, **params: Any) -> Completion:
        prompt = messages[0]["content"]
        if "Rewrite it so that" in prompt:
            self.steps.append(("harden", prompt.split(":\n\n", 1)[1].split("\n", 1)[0]))
        elif "Reply with the quotation only" in prompt:
            section = "impression" if "IMPRESSION:" in prompt.split("---")[0] else "report"
            self.steps.append((f"verify {section}", prompt.split("Question: ", 1)[1].split("\n", 1)[0]))
        return await super().chat(messages, **params)


def test_a_sections_rewrites_come_before_its_verifications_so_the_section_prefix_stays_cached(tmp_path) -> None:
    """llama.cpp reuses only the previous call's prefix: a harden call between two verify calls made the second
    re-read its whole section (152 times on the COVID-QA runs, ~9 s each). The rewrites a section's verification
    needs are made first, and no question is rewritten that is not then verified."""
    (tmp_path / "hard.yaml").write_text("description: hardened\nharden: true\nmax_overlap: 0.25\nharden_rounds: 1\n")
    method = load_method("hard", tmp_path)
    chat = OrderedHardeningChat()
    result = process_knee(chat, method, REPORT)
    assert result.error is None and result.hardening["rounds"] >= 2
    steps = [step for step, _ in chat.steps]
    assert steps[0] == "harden" and {"verify report", "verify impression"} <= set(steps), steps
    for i, step in enumerate(steps):
        if step == "harden":  # never between two verifications of one section
            before = [s for s in steps[:i] if s.startswith("verify")][-1:]
            after = [s for s in steps[i:] if s.startswith("verify")][:1]
            assert not before or before != after, steps
    hardened = {q for step, q in chat.steps if step == "harden"}
    verified = {q for step, q in chat.steps if step.startswith("verify")}
    rewrites = {HardeningChat.REWRITES.get(q) for q in hardened}
    assert all(q in verified or HardeningChat.REWRITES.get(q) in verified for q in hardened), (hardened, verified)
    assert rewrites & verified, "a rewrite was verified"


def test_a_candidate_the_unanswerable_cap_will_skip_is_not_rewritten_ahead(monkeypatch, tmp_path) -> None:
    """Rewriting ahead may not cost a call the one-by-one order would not make: with a cap of one unanswerable
    pair per section, the second "Unanswerable" candidate is skipped without verification, so never rewritten."""
    questions = [
        "What is the thickness of the medial meniscus?",  # Unanswerable: verified, the section's one allowed
        "What is the volume of the medial meniscus?",  # Unanswerable: over the cap, skipped without a call
        "What does the medial meniscus show?",
    ]
    monkeypatch.setattr(sys.modules[__name__], "QUESTIONS", questions)
    monkeypatch.setitem(ANSWERS, "report", ["Unanswerable", "Unanswerable", "Abnormal signal"])
    monkeypatch.setitem(ANSWERS, "impression", ["Unanswerable", "Unanswerable", "Unanswerable"])
    monkeypatch.setitem(VERIFIER, ("report", questions[2]), "Abnormal signal in the medial meniscus")
    (tmp_path / "capped.yaml").write_text(
        "description: capped\nharden: true\nmax_overlap: 0.25\nharden_rounds: 1\nmax_unanswerable_share: 0.2\n"
    )
    chat = OrderedHardeningChat()
    result = process_knee(chat, load_method("capped", tmp_path), REPORT)
    assert result.drops["over_unanswerable_share"] >= 1 and result.records
    hardened = [q for step, q in chat.steps if step == "harden"]
    assert questions[0] in hardened and questions[2] in hardened
    assert questions[1] not in hardened, chat.steps


def test_a_kept_number_carries_its_qualifier(monkeypatch) -> None:
    """The model quotes "5 mm" where the report says "up to 5 mm": the row's answer is the bounded quantity."""
    report = Section("report", "FINDINGS: Nodules measuring up to 5 mm in the right lobe. No effusion.")
    question = "What size are the nodules in the right lobe?"
    monkeypatch.setattr(sys.modules[__name__], "QUESTIONS", [question])
    monkeypatch.setitem(ANSWERS, "report", ["5 mm"])
    monkeypatch.setitem(ANSWERS, "impression", ["Unanswerable"])
    monkeypatch.setitem(VERIFIER, ("report", question), "5 mm")
    result = process_knee(ScriptedChat(), load_method("direct"), report)
    [row] = [r for r in result.records if r["section"] == "report"]
    assert row["answers"]["text"] == ["up to 5 mm"]
    assert report.text[row["answers"]["answer_start"][0] :].startswith("up to 5 mm")


def test_a_rewrite_about_another_modality_is_not_used() -> None:
    """Read on the benchmark reports (sitting 11): "…findings of the CT pulmonary angiogram?" was rewritten
    "…findings of the X-ray imaging?" and kept; synonyms of the document's own modality stay allowed."""
    from clinqa_synth.pipeline.hardening import drifted_modality

    report = "EXAMINATION: CT pulmonary angiogram. FINDINGS: Filling defects in the right lower lobe arteries."
    original = "What are the main findings of the CT pulmonary angiogram?"
    assert drifted_modality("What are the significant findings of the X-ray imaging?", original, report) == {
        "radiograph"
    }
    assert not drifted_modality("What did the chest study with contrast show?", original, report)
    assert not drifted_modality("What did the angiographic study show?", original, report)  # a synonym
    film = "EXAMINATION: Chest radiograph, single portable AP view. FINDINGS: No pneumothorax."
    assert not drifted_modality("Is air around the lung seen on the x-ray?", "Is there a pneumothorax?", film)
    assert drifted_modality("Does the ultrasound show air?", "Is there a pneumothorax?", film) == {"ultrasound"}


def test_a_question_about_nothing_in_particular_is_dropped_before_the_answer_call(monkeypatch) -> None:
    """ "Are there any complications mentioned in the report?" names nothing a span could be judged against (in the
    labels such questions were wrong 31 times of 35): dropped before answering, so it costs no answer tokens."""
    vague = "Are there any complications mentioned in the report?"
    questions = ["What does the medial meniscus show?", vague, "Is there a joint effusion?"]
    monkeypatch.setattr(sys.modules[__name__], "QUESTIONS", questions)
    monkeypatch.setitem(ANSWERS, "report", ["Abnormal signal", "No joint effusion"])
    monkeypatch.setitem(ANSWERS, "impression", ["Unanswerable", "Unanswerable"])
    monkeypatch.setitem(VERIFIER, ("report", questions[2]), "No joint effusion")
    chat = ScriptedChat()
    result = process_knee(chat, load_method("direct"), REPORT)
    assert result.drops["vague_question"] == 2  # once per section, as the other pre-answer drops
    assert not any(vague in p for p in chat.prompts), "the dropped question reached no prompt"
    report = {r["question"]: r["answers"]["text"] for r in result.records if r["section"] == "report"}
    assert report.get(questions[2]) == ["No joint effusion"], "the numbering of the questions left stays aligned"


def test_a_rewrite_that_loses_the_questions_topic_is_not_used() -> None:
    """Read on the benchmark reports (sitting 11): "…findings of the CT pulmonary angiogram?" became "…findings of
    the X-ray imaging?"; without the modality drift, "…findings of the imaging?" still asks about nothing."""
    from clinqa_synth.pipeline.hardening import REWRITE_PROBLEMS, rewrite_problem

    report = "EXAMINATION: CT pulmonary angiogram. FINDINGS: Filling defects in the right lower lobe arteries."
    original = "What are the main findings of the CT pulmonary angiogram?"
    assert rewrite_problem("What are the significant findings of the imaging?", original, report) == "vague_rewrite"
    assert rewrite_problem("What are the significant findings of the X-ray imaging?", original, report) == (
        "modality_drift"
    )
    assert rewrite_problem("What blocks the arteries of the lower lobe?", original, report) is None
    # the finding asked about renamed "the abnormality" (read on the knee report, sitting 12): which one?
    knee = "IMPRESSION: Minimally displaced lateral tibial plateau fracture with lipohemarthrosis."
    assert (
        rewrite_problem(
            "What is the cause of the abnormality observed in the knee?",
            "What is the cause of the lipohemarthrosis observed in the patient's knee?",
            knee,
        )
        == "vague_rewrite"
    )
    # asking *which* abnormality is a question, not a lost reference; "main finding" → "primary observation" is fine
    assert (
        rewrite_problem(
            "Which abnormality appears in the cartilage pad of the inner knee?",
            "What does the medial meniscus show?",
            REPORT.text,
        )
        is None
    )
    assert (
        rewrite_problem(
            "What is the primary observation of the right lower lobe arteries?",
            "What is the main finding of the right lower lobe arteries?",
            report,
        )
        is None
    )
    # a fact asked for may not become a reason asked for (read on the knee report, sitting 12)
    assert (
        rewrite_problem(
            "Why was the body part affected?",
            "What are the symptoms that led to the fall on ice and inability to bear weight?",
            knee,
        )
        == "kind_drift"
    )
    # an original that was already vague is the pre-answer check's business, not a reason to refuse its rewrite
    assert rewrite_problem("What did the exam show?", "What are the findings of the study?", report) is None
    assert set(REWRITE_PROBLEMS) >= {"anatomy_drift", "organism_drift", "modality_drift", "meaning_drift", "kind_drift"}


def test_a_span_from_the_section_that_never_names_the_questions_topic_is_dropped(monkeypatch) -> None:
    """ "Is there a joint effusion?" asked of the impression, which names no effusion and no joint, answered with
    "Meniscal tear": the findings name the effusion, and "meniscal tear" is their other sentence, so the impression's
    span answers something else. It is dropped as `topic_elsewhere_answer` before verification, and the same
    question keeps its findings answer."""
    report = Section("report", "FINDINGS: Meniscal tear of the posterior horn. No joint effusion.")
    questions = ["Is there a joint effusion?"]
    monkeypatch.setattr(sys.modules[__name__], "QUESTIONS", questions)
    monkeypatch.setitem(ANSWERS, "report", ["No joint effusion"])
    monkeypatch.setitem(ANSWERS, "impression", ["Meniscal tear"])
    monkeypatch.setitem(VERIFIER, ("report", questions[0]), "No joint effusion")
    monkeypatch.setitem(VERIFIER, ("impression", questions[0]), "Meniscal tear")
    chat = ScriptedChat()
    result = process_knee(chat, load_method("direct"), report)
    assert result.drops["topic_elsewhere_answer"] == 1
    [dropped] = [r for r in result.rejected if r["drop_reason"] == "topic_elsewhere_answer"]
    assert dropped["section"] == "impression" and dropped["answers"]["text"] == ["Meniscal tear"]
    kept = {(r["section"], r["question"]): r["answers"]["text"] for r in result.records}
    assert kept == {("report", questions[0]): ["No joint effusion"]}
    verified = [p for p in chat.prompts if "Reply with the quotation only" in p and "IMPRESSION:" in p.split("---")[0]]
    assert not verified, "the dropped pair cost no verification call"


class BiasRecordingChat(ScriptedChat):
    """The scripted chat on a server that can bias against words: records the bias each call was sent."""

    supports_word_bias = True

    def __init__(self) -> None:
        super().__init__()
        self.biases: list[dict[str, float] | None] = []

    async def chat(self, messages: list, **params: Any) -> Completion:
        self.biases.append(params.get("word_bias"))
        return await super().chat(messages, **params)


def test_the_question_step_is_biased_against_the_documents_words_and_no_other_step_is(recwarn) -> None:
    """`question_word_bias`: the questions call carries {word: bias} for the report's content words (never its
    side, negation or numbers, which a question may need); answers and verification calls carry none."""
    method = load_method("direct").model_copy(update={"question_word_bias": -5.0})
    chat = BiasRecordingChat()
    process_knee(chat, method, REPORT)
    questions_call = next(i for i, p in enumerate(chat.prompts) if "numbered list" in p)
    bias = chat.biases[questions_call]
    assert bias is not None and set(bias.values()) == {-5.0}
    assert {"meniscus", "degenerative", "effusion", "knee", "osteoarthritis", "Meniscal", "FINDINGS"} <= set(bias)
    assert not {"right", "no"} & {word.lower() for word in bias}, "side and negation stay available"
    assert all(b is None for i, b in enumerate(chat.biases) if i != questions_call)
    # a server that cannot tokenize on request: asked without the bias, and the run says so
    plain = ScriptedChat()
    plain_biases: list[Any] = []
    original = plain.chat

    async def recording(messages: list, **params: Any) -> Completion:
        plain_biases.append(params.get("word_bias"))
        return await original(messages, **params)

    plain.chat = recording  # type: ignore[method-assign]
    process_knee(plain, method, REPORT)
    assert plain_biases and not any(plain_biases)
    assert any("question_word_bias" in str(w.message) for w in recwarn.list)
    # without the key nothing changes: no bias on any call
    unbiased = BiasRecordingChat()
    process_knee(unbiased, load_method("direct"), REPORT)
    assert not any(unbiased.biases)
