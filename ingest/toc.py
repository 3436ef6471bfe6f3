"""The report's table of contents: the 45 numbered sections the corpus must contain."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TocEntry:
    number: str
    title_en: str
    file: str  # corpus file expected to hold the section

    @property
    def depth(self) -> int:
        return self.number.count(".") + 1

    @property
    def parent(self) -> str | None:
        return self.number.rsplit(".", 1)[0] if "." in self.number else None


_RAW = [
    ("0", "Abstract", "00-abstract.md"),
    ("1", "Introduction", "01-introduction.md"),
    ("2", "Infrastructure", "02-infrastructure.md"),
    ("2.1", "InternEvo", "02-infrastructure.md"),
    ("2.2", "Model Structure", "02-infrastructure.md"),
    ("3", "Pre-train", "03-pre-train.md"),
    ("3.1", "Pre-training data", "03-pre-train.md"),
    ("3.1.1", "Text Data", "03-pre-train.md"),
    ("3.1.2", "Code Data", "03-pre-train.md"),
    ("3.1.3", "Long Context Data", "03-pre-train.md"),
    ("3.2", "Pre-training Settings", "03-pre-train.md"),
    ("3.2.1", "Tokenization", "03-pre-train.md"),
    ("3.2.2", "Pre-training Hyper-parameters", "03-pre-train.md"),
    ("3.3", "Pre-training Phases", "03-pre-train.md"),
    ("3.3.1", "4k Context Training", "03-pre-train.md"),
    ("3.3.2", "Long Context Training", "03-pre-train.md"),
    ("3.3.3", "Capability Specific Enhancement Training", "03-pre-train.md"),
    ("4", "Alignment", "04-alignment.md"),
    ("4.1", "Supervised Fine-Tuning", "04-alignment.md"),
    ("4.2", "COOL Reinforcement Learning from Human Feedback", "04-alignment.md"),
    ("4.2.1", "Conditional Reward Model", "04-alignment.md"),
    ("4.2.2", "Online RLHF", "04-alignment.md"),
    ("4.2.3", "PPO Training Details", "04-alignment.md"),
    ("4.3", "Long-Context Finetuning", "04-alignment.md"),
    ("4.4", "Tool-Augmented LLMs", "04-alignment.md"),
    ("5", "Evaluation and Analysis", "05-evaluation.md"),
    ("5.1", "Overview", "05-evaluation.md"),
    ("5.2", "Performance on Downstream Tasks", "05-evaluation.md"),
    ("5.2.1", "Comprehensive Examination", "05-evaluation.md"),
    ("5.2.2", "Language and Knowledge", "05-evaluation.md"),
    ("5.2.3", "Reasoning and Mathematics", "05-evaluation.md"),
    ("5.2.4", "Coding", "05-evaluation.md"),
    ("5.2.5", "Performance Before and After Enhancement Training", "05-evaluation.md"),
    ("5.2.6", "Long-context Modeling", "05-evaluation.md"),
    ("5.2.7", "Tool Utilization", "05-evaluation.md"),
    ("5.3", "Performance on Alignment", "05-evaluation.md"),
    ("5.3.1", "English Subjective Evaluation", "05-evaluation.md"),
    ("5.3.2", "Chinese Subjective Evaluation", "05-evaluation.md"),
    ("5.3.3", "Instruct Following Evaluation", "05-evaluation.md"),
    ("5.3.4", "Ablation Study of Conditional Reward Model", "05-evaluation.md"),
    ("5.4", "Discussion on Data Contamination", "05-evaluation.md"),
    ("6", "Conclusion", "06-conclusion.md"),
    ("A", "Appendix", "07-appendix.md"),
    ("A.1", "Acknowledgements", "07-appendix.md"),
    ("A.2", "Prompts for Evaluation", "07-appendix.md"),
]

TOC: tuple[TocEntry, ...] = tuple(TocEntry(*row) for row in _RAW)
TOC_BY_NUMBER: dict[str, TocEntry] = {e.number: e for e in TOC}
TOC_ORDER: dict[str, int] = {e.number: i for i, e in enumerate(TOC)}
CORPUS_FILES: tuple[str, ...] = tuple(dict.fromkeys(e.file for e in TOC))

assert len(TOC) == 45
