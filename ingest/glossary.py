"""English → Chinese query expansion, so English questions find the Chinese sections in
keyword mode. Keys are lower-case English words or phrases; values are the Chinese terms the
translation uses (see corpus/README.md for the terminology)."""

import hashlib
import json
from functools import lru_cache
from pathlib import Path


@lru_cache(maxsize=1)
def _parallel() -> dict:
    return json.loads(Path(__file__).with_name("parallel_lexicon.json").read_text(encoding="utf-8"))


def learned_lexicon() -> dict[str, list[str]]:
    """English word (lemma) → the Chinese words the translation uses for it, learned from the aligned
    English source and translation (benchmarks/fit_parallel_lexicon.py); only word pairs, no text."""
    return _parallel()["renderings"]


@lru_cache(maxsize=1)
def source_vocabulary() -> frozenset[str]:
    """The words (dictionary forms) the English report uses: what it speaks of in some rendering."""
    return frozenset(_parallel()["vocabulary"])


def unit_key(text: str) -> str:
    """A sentence's key in the learned table of source words (its text as the index holds it)."""
    return hashlib.sha256(" ".join(text.split()).encode()).hexdigest()[:16]


def source_words_fingerprint() -> str:
    """What the table of source words holds: an index tokenized with another one must be rebuilt."""
    return hashlib.sha256(json.dumps(_parallel().get("units", {}), sort_keys=True).encode()).hexdigest()[:12]


def source_words(text: str) -> str:
    """The content words (dictionary forms) of the English source sentence(s) that this sentence of the
    translation renders, learned by aligning the two (benchmarks/fit_parallel_lexicon.py); "" for a
    sentence the table does not know, such as one edited since. Words only: no source text."""
    return _parallel().get("units", {}).get(unit_key(text), "")


GLOSSARY: dict[str, list[str]] = {
    # training & optimisation
    "learning rate": ["学习率"], "lr": ["学习率"],
    # the abbreviations people type in a chat ("KL coeff", "bs", "ckpt", "max ctx len")
    "coeff": ["系数"], "coef": ["系数"], "bs": ["批大小"], "ctx": ["上下文"], "param": ["参数"], "ckpt": ["检查点"],
    "ckpts": ["检查点"], "hparams": ["超参数"], "hyperparams": ["超参数"], "wd": ["权重衰减"], "seq": ["序列"],
    "len": ["长度"], "tp": ["张量并行"], "dp": ["数据并行"], "pp": ["流水线并行"], "acc": ["准确率"], "perf": ["性能"],
    "intro": ["引言"], "init": ["初始化"], "ft": ["微调"], "mem": ["显存"], "sched": ["调度"], "max": ["最大", "最长", "最高"],
    "min": ["最小", "最短", "最低"], "num": ["数量"], "schedule": ["调度", "衰减"], "warmup": ["预热"],
    "weight decay": ["权重衰减"], "batch size": ["批大小", "批次"], "batch": ["批", "批次", "batch"], "epoch": ["epoch", "轮"],
    "epochs": ["epoch", "轮"], "optimizer": ["优化器"], "cosine": ["余弦"], "decay": ["衰减"],
    "hyperparameter": ["超参数"], "hyperparameters": ["超参数"], "hyper-parameters": ["超参数"],
    "iteration": ["迭代"], "iterations": ["迭代"], "step": ["步", "步骤"], "steps": ["步", "步骤"], "loss": ["损失"],
    "gradient": ["梯度"], "gradients": ["梯度"], "coefficient": ["系数"], "initialization": ["初始化"],
    "initialize": ["初始化"], "initialized": ["初始化"], "converge": ["收敛"], "convergence": ["收敛"],
    "stable": ["稳定"], "stability": ["稳定"], "train": ["训练"], "trained": ["训练"], "training": ["训练"],
    "pre-train": ["预训练"], "pre-trained": ["预训练"], "pretrained": ["预训练"], "pretrain": ["预训练"], "pre-training": ["预训练"], "pretraining": ["预训练"],
    "fine-tuning": ["微调"], "finetuning": ["微调"], "fine-tune": ["微调"], "finetune": ["微调"],
    "sft": ["监督微调", "sft"], "supervised": ["监督"], "alignment": ["对齐"], "align": ["对齐"],
    "phase": ["阶段"], "phases": ["阶段"], "stage": ["阶段"], "stages": ["阶段"], "round": ["轮"],
    "rounds": ["轮"], "speed": ["速度"], "throughput": ["吞吐", "速度"], "efficiency": ["效率"],
    # model & architecture
    "model": ["模型"], "models": ["模型"], "architecture": ["结构", "架构"], "structure": ["结构"],
    "layer": ["层"], "layers": ["层", "n_{\\mathrm{layers}}"], "head": ["头", "头数"], "heads": ["头", "头数"],
    "attention": ["注意力"], "hidden": ["隐藏"], "dimension": ["维度"], "dim": ["维度"],
    "parameter": ["参数"], "parameters": ["参数", "参数量"], "params": ["参数量"], "weight": ["权重"],
    "weights": ["权重"], "matrix": ["矩阵"], "matrices": ["矩阵"], "norm": ["rmsnorm", "归一化"],
    "normalization": ["归一化", "规范化"], "activation": ["激活"], "position": ["位置"],
    "positional": ["位置"], "embedding": ["嵌入", "编码"], "encoding": ["编码"], "interleave": ["交错"],
    "interleaved": ["交错"], "split": ["切分"], "merge": ["合并"], "merged": ["合并"],
    "base model": ["基座模型"], "base": ["基座", "基数"], "chat model": ["对话模型"], "chat": ["对话"],
    "size": ["规模", "大小", "尺寸"], "sizes": ["规模", "尺寸"], "version": ["版本"], "variant": ["变体"],
    "variants": ["变体"], "checkpoint": ["检查点"], "checkpoints": ["检查点"], "release": ["开源", "发布", "公开"],
    "released": ["开源", "发布", "公开"], "open-source": ["开源"], "open": ["开源"],
    # infrastructure
    "gpu": ["gpu"], "gpus": ["gpu"], "framework": ["框架"], "parallelism": ["并行"], "parallel": ["并行"],
    "tensor parallelism": ["张量并行"], "data parallelism": ["数据并行"], "pipeline parallelism": ["流水线并行"],
    "sequence parallelism": ["序列并行"], "sharding": ["分片"], "shard": ["分片"], "communication": ["通信"],
    "overlap": ["重叠"], "overhead": ["开销"], "memory": ["显存", "内存"], "fault": ["故障", "容错"],
    "failure": ["故障", "失败"], "failures": ["故障"], "tolerance": ["容错"], "recovery": ["恢复"],
    "cluster": ["集群", "数据中心"], "utilization": ["利用率"], "scaling": ["扩展"], "scale": ["规模", "扩展"],
    "interactive": ["交互式"], "deploy": ["部署"], "deployed": ["部署"], "inference": ["推理"],
    # data ("webpages", "en", "zh": how Table 1 names its rows, en-webpages, zh-books …)
    "data": ["数据"], "dataset": ["数据集"], "datasets": ["数据集"], "corpus": ["语料"], "corpora": ["语料"],
    "source": ["来源"], "sources": ["来源"], "web": ["网页", "webpages"], "webpage": ["网页", "webpages"], "webpages": ["网页"],
    "book": ["书籍"], "books": ["书籍"], "paper": ["论文"], "papers": ["论文"], "patent": ["专利"],
    "patents": ["专利"], "code": ["代码"], "programming": ["编程"], "language": ["语言"],
    "languages": ["语言"], "english": ["英文", "英语", "en"], "chinese": ["中文", "zh"], "text": ["文本"],
    "document": ["文档"], "documents": ["文档"], "quality": ["质量"], "high-quality": ["高质量"],
    "filter": ["过滤"], "filters": ["过滤"], "filtering": ["过滤"], "filtered": ["过滤"],
    "deduplication": ["去重"], "dedup": ["去重"], "deduplicate": ["去重"], "deduplicated": ["去重"],
    "deduplicating": ["去重"], "deduplicates": ["去重"], "duplicate": ["重复"], "safety": ["安全"],
    "safe": ["安全"], "toxic": ["毒性"], "toxicity": ["毒性"], "pornography": ["色情"],
    "blocklist": ["屏蔽"], "blocking": ["屏蔽"], "domain": ["域名", "领域"], "domains": ["域名", "领域"],
    "classifier": ["分类器"], "classifiers": ["分类器"], "score": ["分数", "得分", "打分", "评分", "成绩"],
    "scores": ["分数", "得分", "评分", "成绩"], "scorer": ["打分"], "annotation": ["标注"], "annotated": ["标注"],
    "labeled": ["标注"], "label": ["标注"], "sample": ["样本"], "samples": ["样本"], "proportion": ["占比"],
    "percentage": ["占比", "百分比", "比例"], "ratio": ["比例", "占比"], "distribution": ["分布"],
    "statistics": ["统计"], "format": ["格式"], "formatting": ["格式化"], "extraction": ["抽取"],
    "extract": ["抽取"], "repository": ["仓库"], "repositories": ["仓库"], "repo": ["仓库"],
    "repos": ["仓库"], "file": ["文件"], "files": ["文件"], "concatenate": ["拼接"], "concatenated": ["拼接"],
    "order": ["顺序"], "perplexity": ["困惑度"], "threshold": ["阈值"], "length": ["长度"],
    "long": ["长"], "context": ["上下文"], "window": ["窗口"], "long context": ["长上下文", "长文本"],
    "long-context": ["长上下文", "长文本"], "tokens": ["token"], "tokenizer": ["分词器", "分词"], "tokenization": ["分词"],
    "vocabulary": ["词表"], "vocab": ["词表"], "character": ["字符"], "characters": ["字符"],
    "compression": ["压缩"], "instruction": ["指令"], "instructions": ["指令"], "enhancement": ["增强"],
    "capability": ["能力"], "capabilities": ["能力"], "ability": ["能力"], "abilities": ["能力"],
    "reasoning": ["推理"], "math": ["数学"], "mathematics": ["数学"], "mathematical": ["数学"],
    "knowledge": ["知识"], "exam": ["考试"], "examination": ["考试"], "exams": ["考试"],
    "coding": ["代码", "编程"], "tool": ["工具"], "tools": ["工具"], "agent": ["智能体"],
    "function": ["函数", "工具调用", "function"], "calling": ["调用"], "call": ["调用"], "protocol": ["协议"], "protocols": ["协议"], "interpreter": ["解释器"],
    # RLHF
    "reward": ["奖励"], "reward model": ["奖励模型"], "preference": ["偏好"], "preferences": ["偏好"],
    "pair": ["对"], "pairs": ["对"], "conditional": ["条件"], "condition": ["条件"], "prompt": ["提示词"],
    "prompts": ["提示词"], "system prompt": ["系统提示词"], "user prompt": ["用户提示词"], "penalty": ["惩罚"], "ranking": ["排序", "排名"],
    "focal": ["焦点"], "barrier": ["障碍"], "logarithmic": ["对数"], "hacking": ["欺骗"],
    "reward hacking": ["奖励欺骗"], "critic": ["评论家"], "actor": ["策略模型"], "policy": ["策略"],
    "reference": ["参考"], "online": ["在线"], "fast path": ["快速路径"], "slow path": ["慢速路径"],
    # a phrase is its whole rendering, not any of its words ("data contamination" is not every 数据)
    "data contamination": ["数据污染"], "code interpreter": ["代码解释器"], "instruction following": ["指令遵循"],
    "helpful": ["有用"], "helpfulness": ["有用性"], "harmless": ["无害"], "harmlessness": ["无害性"],
    "human": ["人类"], "feedback": ["反馈"], "query": ["查询"], "queries": ["查询"], "response": ["回复"],
    "responses": ["回复"], "kl": ["kl"], "divergence": ["散度"], "conflict": ["冲突"],
    "conflicting": ["冲突"], "ablation": ["消融"], "multi-turn": ["多轮"], "dialogue": ["对话"],
    # evaluation
    "benchmark": ["基准", "评测"], "benchmarks": ["基准", "评测"], "evaluation": ["评测"], "eval": ["评测"], "evals": ["评测"], "toolkit": ["工具包"], "toolkits": ["工具包"],
    "evaluate": ["评测"], "evaluated": ["评测"], "performance": ["表现", "性能"], "result": ["结果"],
    "results": ["结果"], "accuracy": ["准确率", "精度", "acc"], "average": ["平均", "avg"], "avg": ["平均"], "best": ["最佳", "最高"],
    "highest": ["最高"], "top": ["最佳", "领先"], "top-p": ["top"], "top p": ["top"], "compare": ["比较", "对比"], "compared": ["比较", "对比"],
    "comparison": ["比较", "对比"], "improve": ["提升"], "improvement": ["提升"], "drop": ["下降"],
    "subjective": ["主观"], "objective": ["客观", "目标"], "contamination": ["污染"], "leakage": ["泄漏", "泄露", "污染"],
    "question": ["问题"], "questions": ["问题"], "subject": ["学科"], "subjects": ["学科"],
    "needle": ["大海捞针"], "haystack": ["大海捞针"], "zero-shot": ["零样本"], "few-shot": ["少样本"],
    "judge": ["评判", "裁判"], "win rate": ["胜率", "winrate"], "winrate": ["胜率"], "gaokao": ["高考"],
    "acknowledgements": ["致谢"], "acknowledgments": ["致谢"], "appendix": ["附录"],
    "conclusion": ["结论"], "conclusions": ["结论"], "conclude": ["结论"], "concludes": ["结论"],
    "takeaway": ["结论"], "takeaways": ["结论"], "introduction": ["引言"], "abstract": ["摘要"], "contribution": ["贡献"],
    "contributions": ["贡献"], "limitation": ["局限", "不足", "短板"], "future": ["未来"], "why": ["原因"],
    "issue": ["问题"], "issues": ["问题"], "problem": ["问题"], "problems": ["问题"], "handle": ["应对", "解决", "处理"],
    "solve": ["解决"], "address": ["解决", "应对"], "mitigate": ["缓解"], "reduce": ["降低", "减少"],
    "increase": ["提升", "增加"], "difference": ["区别", "差异", "差距", "不同"], "differ": ["区别", "差异", "不同"],
    "different": ["不同"], "same": ["相同"], "method": ["方法"], "approach": ["方法"], "technique": ["技术"],
    "proxy": ["代理"], "stand-in": ["代理"], "surrogate": ["代理"], "adaptive": ["自适应"], "granularity": ["粒度"],
    "lesson": ["经验"], "lessons": ["经验"], "well-known": ["知名"], "progress": ["进展"], "tackle": ["解决", "应对"],
    "meanwhile": ["其间", "同时"], "loop": ["环"], "loops": ["环"], "cap": ["限制", "上限"], "argument": ["参数"],
    "arguments": ["参数"], "structural": ["结构"], "consider": ["考虑"], "factor": ["因素", "方面"],
    "factors": ["因素", "方面"], "aspect": ["方面"], "aspects": ["方面"],
    "techniques": ["技术"], "purpose": ["目的", "旨在", "目标"], "goal": ["目标"], "reason": ["原因"], "role": ["角色", "作用"],
    "example": ["示例", "例子", "例如"], "examples": ["示例"], "rating": ["评分"], "rate": ["率"],
    "percent": ["%"], "count": ["数量"], "amount": ["数量"], "total": ["总计", "共"],
    "built": ["构建", "基于"], "build": ["构建"], "collect": ["收集"], "collected": ["收集"],
    "collecting": ["收集"], "select": ["选择", "挑选"], "selected": ["精选", "选择"], "detect": ["识别", "检测"],
    "detection": ["识别", "检测"], "identify": ["识别"], "identification": ["识别"], "star": ["star", "星标", "星标数"],
    "stars": ["star", "星标", "星标数"], "judge prompt": ["评判提示词"], "option": ["选项"], "options": ["选项"],
    "ops": ["操作"], "operation": ["操作"], "operations": ["操作"], "collective": ["集合通信"],
    # --- question vocabulary: comparisons, amounts, extremes (English paraphrases)
    "speedup": ["加速", "速度"], "faster": ["加速", "速度"], "slowdown": ["速度", "拖慢", "下降"],
    "fraction": ["比例", "部分"], "share": ["比例", "占比", "分享"], "proportions": ["比例"],
    "differences": ["区别", "差异", "差距", "不同"], "gap": ["差距"], "gaps": ["差距"], "compares": ["比较", "对比"],
    "comparing": ["比较", "对比"], "comparisons": ["比较", "对比"], "rank": ["排名", "位列", "位居", "排序"],
    "ranked": ["排名", "位列", "位居", "排序"], "maximum": ["最大", "最长", "最高", "上限"],
    "minimum": ["最低", "至少"], "largest": ["最大"], "longest": ["最长"], "lead": ["领先"], "leading": ["领先"],
    "outperform": ["超越", "优于", "超过"], "outperforms": ["超越", "优于", "超过"], "surpass": ["超越", "超过"],
    "exceed": ["超过"], "gain": ["提升"], "boost": ["提升", "增强"], "improvements": ["提升", "改进"],
    "enhance": ["增强", "提升"], "degradation": ["下降"], "decrease": ["下降", "降低"], "effect": ["影响", "效果"],
    "impact": ["影响"],
    # --- report structure and generic research vocabulary
    "gigabyte": ["GB"], "gigabytes": ["GB"], "figure": ["图"], "figures": ["图"], "table": ["表"], "tables": ["表"], "section": ["节", "部分"],
    "definition": ["定义"], "aim": ["旨在", "目标"], "target": ["目标"], "benefit": ["优势", "有助于"],
    "benefits": ["优势", "有助于"], "strength": ["长处", "优势"], "strengths": ["长处", "优势"],
    "weakness": ["短板", "不足"], "weaknesses": ["短板", "不足"], "drawback": ["不足", "短板", "局限"],
    "drawbacks": ["不足", "短板", "局限"], "shortcoming": ["不足", "短板"], "shortcomings": ["不足", "短板"],
    "limitations": ["局限", "不足"], "difficulty": ["难度", "困难"], "difficulties": ["困难", "难题"],
    "difficult": ["困难", "难度"], "easy": ["简单"], "insight": ["洞见", "经验"], "insights": ["洞见", "经验"],
    "experience": ["经验"], "finding": ["发现", "观察"], "findings": ["发现", "观察"], "observation": ["观察"],
    "experiment": ["实验"], "experiments": ["实验"], "setup": ["设置"], "configuration": ["配置"],
    "detailed": ["详细"], "strategy": ["策略"], "strategies": ["策略"], "workflow": ["流程"],
    "procedure": ["流程", "步骤"], "processing": ["处理"], "criterion": ["标准", "原则"],
    "criteria": ["标准", "原则"], "metric": ["指标"], "metrics": ["指标"], "categories": ["类别", "分类"],
    "effective": ["有效"], "effectiveness": ["有效性"], "robustness": ["鲁棒性"], "robust": ["鲁棒性"],
    "reliability": ["可靠性"], "consistency": ["一致性"], "diversity": ["多样性"],
    "scalability": ["可扩展性", "扩展性"], "flexibility": ["灵活性"], "cost": ["成本", "开销"], "trade-off": ["权衡"],
    "tradeoff": ["权衡"], "balance": ["平衡"], "bias": ["偏差"], "series": ["系列"], "baseline": ["基线"],
    "baselines": ["基线"], "state-of-the-art": ["sota", "先进"], "versions": ["版本"], "published": ["发布", "公开"],
    "public": ["公开"], "trillion": ["2.0t", "2.6t", "2t"], "base models": ["基座模型"], "chat models": ["对话模型"],
    "foundation model": ["基座模型"],
    # --- training, optimisation and architecture
    "learning rates": ["学习率"], "batch sizes": ["批大小"], "global batch size": ["全局", "批大小"],
    "batches": ["批次"], "microbatch": ["微批次"], "optimizers": ["优化器"], "adam": ["adamw"], "scheduler": ["调度"],
    "scheduling": ["调度"], "annealing": ["退火"], "penalties": ["惩罚"], "penalize": ["惩罚"], "losses": ["损失"],
    "initial": ["初始"], "frozen": ["冻结"], "freeze": ["冻结"], "forgetting": ["遗忘"],
    "catastrophic forgetting": ["灾难性", "遗忘"], "overfitting": ["拟合"], "precision": ["精度"],
    "mixed precision": ["混合", "精度", "bf16"], "hidden size": ["维度", "dim"], "activation function": ["激活函数"],
    "positional encoding": ["位置编码"], "rotary": ["旋转", "rope"], "theta": ["基数", "rope"],
    "extrapolation": ["外推"], "grouped query attention": ["分组查询注意力", "gqa"],
    "grouped-query attention": ["分组查询注意力", "gqa"], "qkv": ["wqkv", "矩阵"], "fused": ["合并"], "merging": ["合并"],
    "fusing": ["合并"], "fuse": ["合并"], "areas": ["领域"], "area": ["领域"], "scraped": ["爬取"], "scrape": ["爬取"], "crawled": ["爬取"], "heatmap": ["热力图"], "subtask": ["子任务"], "subtasks": ["子任务"],
    "fine-grained": ["细粒度"], "real-world": ["真实"], "libraries": ["库"], "library": ["库"], "consists": ["组成", "包括"],
    "layout": ["布局"], "mixture of experts": ["moe"], "mixture-of-experts": ["moe"],
    # --- tokenizer and sequence length
    "tokenizers": ["分词器"], "spare": ["备用"], "truncation": ["截断"], "truncate": ["截断"], "truncated": ["截断"],
    "packing": ["拼接"], "concatenation": ["拼接"], "context window": ["上下文窗口"], "context length": ["上下文长度", "上下文窗口"],
    # --- infrastructure
    "node": ["节点"], "nodes": ["节点"], "clusters": ["数据中心", "聚类"], "datacenter": ["数据中心"],
    "data center": ["数据中心"], "hardware": ["硬件"], "distributed": ["分布式"], "zero redundancy": ["零冗余"],
    "flash attention": ["flashattention"], "model flops utilization": ["浮点运算利用率", "mfu"],
    "hardware utilization": ["利用率"], "storage": ["存储"], "asynchronous": ["异步"], "fragmentation": ["碎片"],
    "oom": ["显存不足", "out-of-memory"], "simulator": ["模拟器"], "deployment": ["部署"],
    # --- data pipeline
    "mixture": ["混合", "配比"], "data mixture": ["配比", "混合"], "data mix": ["配比", "混合"],
    "mix": ["混合", "配比"], "upsampling": ["采样"], "sampling": ["采样"], "duplicates": ["重复", "去重"],
    "fuzzy": ["模糊"], "unsafe": ["安全"], "annotator": ["标注人员", "标注员"], "annotators": ["标注人员", "标注员"],
    "labeler": ["标注人员", "标注员"], "annotations": ["标注"], "labels": ["标签", "标注"], "manual": ["人工"],
    "expert": ["专家"], "iterative": ["迭代"], "crawled": ["爬取"], "hash": ["哈希"], "blacklist": ["屏蔽"],
    "keyword": ["关键词", "关键字"], "keywords": ["关键词", "关键字"], "marketing": ["营销", "广告"],
    "pornographic": ["色情"], "nsfw": ["色情"], "harmful": ["有害"], "internet": ["互联网"],
    "website": ["网站", "网页"], "dependencies": ["依赖"], "topological": ["拓扑"], "regex": ["正则表达式"],
    "regular expression": ["正则表达式"], "low-resource": ["低资源"], "coherence": ["连贯性"],
    "textbooks": ["教科书"], "novel": ["新颖", "小说"], "style": ["风格"], "depth-first": ["深度优先"],
    "confidence": ["置信度"], "correlation": ["相关性"],
    # --- alignment and RLHF
    "supervised fine-tuning": ["监督微调"], "instruction tuning": ["监督微调", "指令"],
    "human feedback": ["人类反馈"], "rm": ["奖励模型"], "reward models": ["奖励模型"],
    "preference data": ["偏好数据"], "ranking loss": ["排序损失"], "patch": ["补丁"], "nucleus sampling": ["采样"],
    "system prompts": ["系统提示词"], "prompt template": ["提示词", "模板"], "template": ["模板"],
    # --- evaluation and benchmarks
    "evaluator": ["裁判", "评判", "评估"], "grader": ["裁判", "评分"], "win ratio": ["胜率"], "win-rate": ["胜率"],
    "win rates": ["胜率"], "leak": ["泄露"], "contaminated": ["污染"], "test set": ["测试集"],
    "training set": ["训练集"], "validation set": ["验证集"], "validation": ["验证"], "verify": ["验证", "核验"],
    "exact match": ["精确", "匹配"], "probability": ["概率"], "recall": ["回忆", "检出率"], "double-blind": ["双盲"],
    "swap": ["交换"], "adversarial": ["对抗"], "replies": ["回复"], "single-turn": ["单轮"], "turns": ["轮次"],
    "roleplay": ["角色扮演"], "creative writing": ["创作", "写作"], "poetry": ["诗歌"], "translation": ["翻译"],
    "translate": ["翻译"], "summary": ["摘要", "总结", "汇总"], "question answering": ["问答"],
    "reading comprehension": ["阅读", "理解"], "comprehension": ["理解"], "commonsense": ["常识"],
    "common sense": ["常识"], "arithmetic": ["算术"], "algebra": ["代数"], "calculus": ["微积分"],
    "theorem": ["定理"], "proof": ["证明"], "competition": ["竞赛"], "grade school": ["小学"],
    "high school": ["高中"], "university": ["大学"], "physics": ["物理"], "finance": ["金融"], "financial": ["金融"],
    "legal": ["法律"], "history": ["历史"], "music": ["音乐"], "economics": ["经济"], "humanities": ["人文"],
    "social science": ["社会科学"], "science": ["科学"], "computer science": ["计算机科学"], "engineering": ["工程"],
    "multiple choice": ["选择题"], "multiple-choice": ["选择题"], "closed-ended": ["封闭式"],
    "multilingual": ["语言", "双语"], "bilingual": ["双语"], "entrance exam": ["入学考试"],
    "college entrance exam": ["高考"], "wikipedia": ["维基百科"], "code generation": ["代码生成"],
    "code completion": ["补全", "代码生成"], "completion": ["补全"],
    # --- tools and agents
    "tool usage": ["工具"], "retrieval": ["检索"], "retrieve": ["检索"], "search engine": ["搜索"],
    "analyze": ["分析"], "streaming": ["流式"], "insertion": ["插入"],
    # --- colloquial Chinese → the terms the translation uses (keys are single jieba words)
    "尺寸": ["规模", "大小"], "名字": ["命名", "名"], "名称": ["命名", "名"], "总分": ["得分", "平均"],
    "平均分": ["平均", "平均值", "得分"], "平均数": ["平均", "平均值"], "均分": ["平均", "得分"],
    "考题": ["题目", "试题", "考试题"], "高考题": ["高考", "试题"], "显卡": ["gpu"], "吞吐量": ["速度"],
    "吞吐": ["速度"], "提速": ["加速", "速度"], "服务器": ["节点"], "集群": ["数据中心"], "通讯": ["通信"],
    "容灾": ["容错"], "切片": ["分片", "切分"], "型号": ["版本", "规模"], "体量": ["规模"], "量级": ["规模"],
    "底座": ["基座"], "聊天": ["对话"], "精调": ["微调"], "超参": ["超参数"], "测评": ["评测", "评估"],
    "评委": ["裁判", "评判"], "评审": ["评判", "裁判"], "准确度": ["准确率", "精度"], "正确率": ["准确率"],
    "精确度": ["精度", "准确率"], "榜单": ["leaderboard"], "排行榜": ["leaderboard"],
    "名次": ["排名", "位列", "位居"], "第一名": ["最佳", "领先", "最高"], "语料库": ["语料"], "爬虫": ["爬取"],
    "涉黄": ["色情"], "比重": ["比例"], "份额": ["比例"], "层数": ["层", "layers"], "头数": ["头", "heads"], "上下文长度": ["上下文窗口"], "分词器": ["分词"],
    "维数": ["维度"], "词汇表": ["词表"], "词典": ["词表"], "词元": ["token"], "令牌": ["token"], "切词": ["分词"],
    "打标": ["标注"], "门槛": ["阈值"], "临界值": ["阈值"], "采样率": ["采样"], "逻辑推理": ["推理", "逻辑"],
    "算数": ["算术"], "汉语": ["中文"], "泄漏": ["泄露"], "安全性": ["安全", "无害"], "轮数": ["epoch", "轮次"],
    "例子": ["示例", "例如"], "举例": ["示例", "例如"], "样例": ["示例", "样本"], "样本数": ["样本", "数量"],
    "条数": ["数量", "样本"], "个数": ["数量", "总数"], "亮点": ["贡献", "创新"], "优点": ["优势", "长处"],
    "缺点": ["短板", "不足", "局限"], "局限性": ["局限", "不足"], "好处": ["优势", "有助于"],
    "目的": ["旨在", "目标", "为了"], "断点": ["检查点"], "存档": ["检查点", "归档"],
    "函数调用": ["工具调用", "function"], "捞针": ["大海捞针"], "网络结构": ["模型结构", "结构"],
    "差别": ["区别", "差异", "不同"], "增长": ["提升", "增加"], "涨幅": ["提升", "幅度"], "退化": ["下降"],
    "办法": ["方法", "做法"], "管线": ["流程", "流水线"], "管道": ["流程", "流水线"], "感谢": ["致谢", "谢意"],
    "贡献者": ["贡献", "人员"], "公布": ["公开", "发布"], "图表": ["图", "表"], "表格": ["表"], "章节": ["节"],
    "批评家": ["评论家"], "黑客": ["奖励欺骗", "欺骗"],
}

# Chinese question words → words the report uses when it states the answer. These only add
# BM25 query terms (a boost); they are not required for a passage to count as evidence.
ZH_HINTS: dict[str, list[str]] = {
    "一共": ["总数", "总计", "共"], "总共": ["总数", "总计", "共"], "总数": ["总计", "共"],
    "多长": ["长度"], "多大": ["规模", "大小"], "几层": ["层数", "层"], "多少层": ["层数", "层"],
    "占比": ["比例", "占"], "比例": ["占比"], "多少分": ["得分", "分数"], "得分": ["分数"],
    "区别": ["不同", "差异", "区别在于"], "为什么": ["因为", "原因", "由于"], "为啥": ["因为", "原因", "由于"],
    "怎么训练": ["训练", "损失"], "用的什么": ["采用", "使用"], "用什么": ["采用", "使用"],
}
